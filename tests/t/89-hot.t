#!/bin/bash
# The hot set: files recorded by `netimg mount --record` during a first
# use, attached to the version by `netimg hot`, are fetched first by
# `netimg sync` (metadata tables, then the hot files in the list's order,
# then the rest: proved with sync --verbose's chunk order against the
# files' places read by rdsquashfs) and prefetched in the background by a
# cold mount (read afterwards with the server stopped, while a file not in
# the hot set gets EIO within --wait). Bad lists and versions are refused
# with one line naming FILE:LINE; a tampered hot attachment is ignored
# with one line, and the mount and sync still work.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (FUSE mounts)"
[ -c /dev/fuse ] || skip_all "no /dev/fuse"
command -v rdsquashfs >/dev/null || skip_all "no rdsquashfs (squashfs-tools-ng)"
plan 54

. "$TOP/tests/mount.sh"
# wait_for FILE REGEX: up to 60 s for a line matching REGEX in FILE
wait_for() {
	local i
	for i in $(seq 600); do grep -Eq -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
# wait_gone PID: up to 20 s for the process to exit
wait_gone() {
	local i
	for i in $(seq 200); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}
# start_at DIR: the image offset of a file's data blocks (rdsquashfs)
start_at() { rdsquashfs -s "$1" "$T/bb.sqfs" | sed -n 's/^Blocks start: //p'; }
# line_of OFF TRACE: the number of the first trace line whose chunk holds OFF
line_of() {
	OFF=$1 perl -ne 'if (/^fetched image bytes (\d+) \+(\d+)$/) { $n++; if ($ENV{OFF} >= $1 && $ENV{OFF} < $1 + $2) { print $n; exit } }' "$2"
}

# One version: busybox plus three files of 1.5 MB (several data chunks
# each, in image order blob1, blob2, blob3).
R=$T/repo
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null
mkdir -p "$T/root/data" && tar -xf "$CACHE/busybox-base.tar" -C "$T/root"
for i in 1 2 3; do
	perl -e 'srand($ARGV[0]); print pack("C*", map { int rand 256 } 1 .. 1500000)' "$i" >"$T/root/data/blob$i"
done
echo "hot release" >"$T/root/etc/release"
printf '[image]\nname = bb\nversion = 1\nepoch = 1767225600\n[base]\nsource = %s\n' "$T/root" >"$T/bb.ini"
"$NETIMG" build -q "$T/bb.ini" -o "$T/bb.sqfs" >/dev/null
"$NETIMG" publish --repo "$R" "$T/bb.sqfs" >/dev/null
unsquashfs -q -n -d "$T/ref" "$T/bb.sqfs" >/dev/null
K=$R/repo.pub

# 1. Record a first use: the files opened, in order.
mkdir -p "$T/m0"
ok "mount --record of the image" $TO "$NETIMG" mount --image "$T/bb.sqfs" --record "$T/rec.txt" "$T/m0"
cat "$T/m0/data/blob3" "$T/m0/etc/release" >/dev/null
ls -l "$T/m0/data" >/dev/null
$TO fusermount3 -u "$T/m0"
ok "the record is written at unmount" wait_for "$T/rec.txt" release
is "$(cat "$T/rec.txt")" "$(printf '/data/blob3\n/etc/release')" "the record: the files opened, in order"

# 2. netimg hot: checked, then attached.
out=$("$NETIMG" hot --repo "$R" bb@1 "$T/rec.txt" 2>&1)
like "$out" "^attached the hot list to bb@1: 2 files" "netimg hot attaches the record"
like "$("$NETIMG" attachments --repo "$R" bb@1 2>&1)" "hot" "the version lists a 'hot' attachment"
ok "its record is a signed attachment record naming the manifest" \
	grep -q '"kind": *"hot"' "$R/public/attachments/bb/1/hot.json"
cp "$R/public/attachments/bb/1/hot.json" "$T/hot.json.good"
printf '/etc/release\n' >"$T/one.txt"
like "$("$NETIMG" hot --repo "$R" bb@1 "$T/one.txt" 2>&1)" "1 files.*replaces" "running it again replaces the list"
like "$("$NETIMG" hot --repo "$R" bb@1 "$T/rec.txt" 2>&1)" "2 files.*replaces" "and back"
cp "$R/public/attachments/bb/1/hot.json" "$T/hot.json.good"
scratch=$(ls -d /tmp/netimg-hot.* 2>/dev/null | wc -l)
printf '/etc/release\n/data/nothere\n' >"$T/bad1.txt"
fails "an unknown path: FILE:LINE" "bad1.txt:2: '/data/nothere': no such file in bb@1" \
	"$NETIMG" hot --repo "$R" bb@1 "$T/bad1.txt"
printf '/data\n' >"$T/bad2.txt"
fails "a folder: FILE:LINE" "bad2.txt:1: '/data': not a regular file" \
	"$NETIMG" hot --repo "$R" bb@1 "$T/bad2.txt"
head -c 2000 "$T/bb.sqfs" >"$T/bad3.txt"
fails "a garbage file" "bad3.txt:1: (a NUL byte|not an absolute path)" \
	"$NETIMG" hot --repo "$R" bb@1 "$T/bad3.txt"
printf '/etc/release\n/etc/release\n' >"$T/bad4.txt"
fails "a path twice" "bad4.txt:2: '/etc/release' is already on line 1" \
	"$NETIMG" hot --repo "$R" bb@1 "$T/bad4.txt"
printf 'etc/release\n' >"$T/bad5.txt"
fails "a relative path" "bad5.txt:1: not an absolute path" \
	"$NETIMG" hot --repo "$R" bb@1 "$T/bad5.txt"
: >"$T/bad6.txt"
fails "an empty list" "bad6.txt: empty" "$NETIMG" hot --repo "$R" bb@1 "$T/bad6.txt"
fails "an unknown version" "bb@9: no such version" "$NETIMG" hot --repo "$R" bb@9 "$T/rec.txt"
fails "a missing file" "nothere.txt" "$NETIMG" hot --repo "$R" bb@1 "$T/nothere.txt"
ok "the refused lists changed nothing" cmp "$R/public/attachments/bb/1/hot.json" "$T/hot.json.good"
is "$(ls -d /tmp/netimg-hot.* 2>/dev/null | wc -l)" "$scratch" "no scratch cache folder left behind"

# 3. Sync: the hot files' chunks before the others.
serve_repo "$R"
S=("$NETIMG" sync --repo "$URL" --key "$K" --state "$T/state")
B1=$(start_at /data/blob1)
B3=$(start_at /data/blob3)
ok "rdsquashfs places blob1 before blob3 in the image" test "$B1" -lt "$B3"
$TO "${S[@]}" --cache "$T/c1" --verbose --json bb@1 >"$T/s1.json" 2>"$T/s1.trace"
is "$?" 0 "sync --verbose --json"
is "$(line_of 0 "$T/s1.trace")" 1 "sync: the superblock first"
is "$(jget "$T/s1.json" '$d->{hot}{files}')" 2 "sync --json: both hot files found"
is "$(jget "$T/s1.json" '$d->{hot}{listed}')" 2 "sync --json: of 2 listed"
l1=$(line_of "$B1" "$T/s1.trace")
l3=$(line_of "$B3" "$T/s1.trace")
ok "sync: blob3 (hot, late in the image) fetched before blob1 (line $l3 < $l1)" test "$l3" -lt "$l1"
IT=$(perl -e 'open(my $f, "<", $ARGV[0]) or die; seek($f, 64, 0); read($f, my $b, 8); print unpack("Q<", $b)' "$T/bb.sqfs")
li=$(line_of "$IT" "$T/s1.trace")
ok "sync: the inode table before the hot files (line $li < $l3)" test "$li" -lt "$l3"
is "$(grep -vc '^fetched image bytes' "$T/s1.trace")" 0 "sync: nothing else on stderr"
ok "sync: the version is whole (cache verify)" $TO "$NETIMG" cache verify --cache "$T/c1" --key "$K"
"$NETIMG" point --repo "$R" stable bb@1 >/dev/null
$TO "$NETIMG" agent --repo "$URL" --key "$K" --state "$T/state" --cache "$T/c7" --once stable 2>"$T/agent.log"
is "$?" 0 "agent --once syncs the channel's version"
like "$(cat "$T/agent.log")" "sync bb@1: hot set first: 2 of 2 files" "the agent's sync takes the hot set first"

# 4. A cold mount prefetches the hot files in the background; with the
# server stopped they still read, a file outside the hot set gets EIO.
mkdir -p "$T/m1"
"$NETIMG" mount --foreground --repo "$URL" --key "$K" --state "$T/state" --cache "$T/c2" \
	--wait 2s bb@1 "$T/m1" 2>"$T/m1.log" &
MP=$!
BG_PIDS+=($MP)
ok "cold mount: the hot set is prefetched" wait_for "$T/m1.log" "hot set prefetched"
like "$(cat "$T/m1.log")" "bb@1: hot set prefetched: 2 of 2 files" "one log line says what was prefetched"
for p in "${BG_PIDS[@]}"; do [ "$p" = "$MP" ] || { kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; }; done
ok "server stopped: a hot file reads" $TO cmp "$T/m1/data/blob3" "$T/ref/data/blob3"
ok "server stopped: the other hot file reads" $TO cmp "$T/m1/etc/release" "$T/ref/etc/release"
t0=$(date +%s)
out=$(timeout 30 cat "$T/m1/data/blob1" 2>&1 >/dev/null)
like "$out" "Input/output error" "server stopped: a file not in the hot set gets EIO"
ok "within the --wait bound" test $(( $(date +%s) - t0 )) -lt 15
ok "unmount" $TO fusermount3 -u "$T/m1"
ok "the daemon exits at unmount" wait_gone "$MP"
is "$(grep -c 'hot set' "$T/m1.log")" 1 "one line about the hot set in the mount's log"

# 5. No hot attachment is normal: nothing to prefetch, nothing said.
rm -f "$R/public/attachments/bb/1/hot.json"
serve_repo "$R"
S=("$NETIMG" sync --repo "$URL" --key "$K" --state "$T/state")
mkdir -p "$T/m2"
"$NETIMG" mount --foreground --repo "$URL" --key "$K" --state "$T/state" --cache "$T/c3" \
	bb@1 "$T/m2" 2>"$T/m2.log" &
MP=$!
BG_PIDS+=($MP)
ok "no hot attachment: the mount serves" wait_for /proc/mounts " $T/m2 "
ok "and reads" $TO cmp "$T/m2/data/blob1" "$T/ref/data/blob1"
ok "unmount" $TO fusermount3 -u "$T/m2"
wait_gone "$MP"
is "$(cat "$T/m2.log")" "" "no hot attachment: nothing logged"
$TO "${S[@]}" --cache "$T/c4" --json --verbose bb@1 >"$T/s4.json" 2>"$T/s4.err"
is "$?" 0 "no hot attachment: sync works"
l1=$(line_of "$B1" "$T/s4.err")
l3=$(line_of "$B3" "$T/s4.err")
ok "no hot attachment: image order, blob1 before blob3 (line $l1 < $l3)" test "$l1" -lt "$l3"
is "$(grep -vc '^fetched image bytes' "$T/s4.err")" 0 "no hot attachment: nothing said"
is "$(jget "$T/s4.json" '$d->{hot}')" null "no hot attachment: --json says hot null"

# 6. A tampered hot attachment is never trusted: ignored with one line.
cp "$T/hot.json.good" "$R/public/attachments/bb/1/hot.json"
perl -0pi -e 's/"size": *(\d+)/"size": 9$1/' "$R/public/attachments/bb/1/hot.json"
mkdir -p "$T/m3"
"$NETIMG" mount --foreground --repo "$URL" --key "$K" --state "$T/state" --cache "$T/c5" \
	bb@1 "$T/m3" 2>"$T/m3.log" &
MP=$!
BG_PIDS+=($MP)
ok "tampered record: logged" wait_for "$T/m3.log" "hot set ignored"
is "$(wc -l <"$T/m3.log")" 1 "tampered record: one log line"
ok "tampered record: the mount still works" $TO cmp "$T/m3/etc/release" "$T/ref/etc/release"
ok "unmount" $TO fusermount3 -u "$T/m3"
wait_gone "$MP"
# the record intact, its blob altered on the server
cp "$T/hot.json.good" "$R/public/attachments/bb/1/hot.json"
for b in "$R"/public/blobs/*; do printf '/bin/busybox\n' >"$b"; done
$TO "${S[@]}" --cache "$T/c6" --json bb@1 >"$T/s6.json" 2>"$T/s6.err"
is "$?" 0 "tampered blob: sync works"
like "$(cat "$T/s6.err")" "^netimg: bb@1: hot set ignored: .*blobs/" "tampered blob: sync says so"
is "$(wc -l <"$T/s6.err")" 1 "in one line"
is "$(jget "$T/s6.json" '$d->{hot}')" null "tampered blob: not used"
done_testing
