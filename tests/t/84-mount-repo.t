#!/bin/bash
# netimg mount of a version from a repository, through the local cache:
# cold (chunks fetched and verified on first read), after `sync` fully
# offline (a CHANNEL mounts the version the cache holds, with zero
# requests), a chunk neither cached nor reachable gives EIO within the
# --wait bound, and a tampered chunk on the server is never served.
# Every mount is compared entry by entry with `unsquashfs -d`.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (FUSE mounts)"
[ -c /dev/fuse ] || skip_all "no /dev/fuse"
plan 31

. "$TOP/tests/mount.sh"
# requests LOG: GET requests in a netimg serve access log
requests() { grep -c '"GET ' "$1" 2>/dev/null || true; }

# Two versions: busybox plus a few MiB of files (several data chunks).
R=$T/repo
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null
for v in 1 2; do
	mkdir -p "$T/root$v" && tar -xf "$CACHE/busybox-base.tar" -C "$T/root$v"
	mkdir -p "$T/root$v/data"
	for i in 1 2 3; do
		perl -e 'srand($ARGV[0]); print pack("C*", map { int rand 256 } 1 .. 1500000)' "$i$v" >"$T/root$v/data/blob$i"
	done
	echo "version $v" >"$T/root$v/etc/release"
	printf '[image]\nname = bb\nversion = %s\nepoch = 1767225600\n[base]\nsource = %s\n' "$v" "$T/root$v" >"$T/bb$v.ini"
	"$NETIMG" build -q "$T/bb$v.ini" -o "$T/bb$v.sqfs" >/dev/null
	"$NETIMG" publish --repo "$R" "$T/bb$v.sqfs" >/dev/null
	unsquashfs -q -n -d "$T/ref$v" "$T/bb$v.sqfs" >/dev/null
done
"$NETIMG" point --repo "$R" stable bb@1 >/dev/null
LOG=$T/serve.log
"$NETIMG" serve --repo "$R" --listen 127.0.0.1:0 >"$T/serve.out" 2>"$LOG" &
SPID=$!
BG_PIDS+=($SPID)
for i in $(seq 50); do grep -q http "$T/serve.out" && break; sleep 0.1; done
URL=$(sed -n 's|.*\(http://[^ ]*/\).*|\1|p' "$T/serve.out")
PORT=${URL##*:}; PORT=${PORT%/}
K=$R/repo.pub
C1=$T/cache1
M=("$NETIMG" mount --repo "$URL" --key "$K" --state "$T/state")

# Cold: an empty cache, every chunk fetched on first read.
mkdir -p "$T/m1"
ok "mount CHANNEL with an empty cache (resolved online)" $TO "${M[@]}" --cache "$C1" stable "$T/m1"
like "$(grep " $T/m1 " /proc/mounts)" "^bb@1 " "/proc/mounts names the version"
ok "cold mount: every entry matches unsquashfs" same_tree "$T/m1" "$T/ref1"
ok "cold mount: every file's bytes match" $TO diff -r "$T/m1" "$T/ref1"
ok "unmount" umnt "$T/m1"

# Sync, then the server goes away: a fully cached channel mounts and
# serves everything with zero requests.
ok "sync the channel into a second cache" $TO "$NETIMG" sync --quiet --repo "$URL" --key "$K" --state "$T/state" --cache "$T/cache2" stable
before=$(requests "$LOG")
kill "$SPID"; wait "$SPID" 2>/dev/null
mkdir -p "$T/m2"
t0=$(date +%s%N)
ok "offline: mount CHANNEL from the cache's record" $TO "${M[@]}" --cache "$T/cache2" stable "$T/m2"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "offline: mounted in under 5 s (no waiting on timeouts; took ${ms} ms)" test "$ms" -lt 5000
ok "offline: every entry matches unsquashfs" same_tree "$T/m2" "$T/ref1"
ok "offline: every file's bytes match" $TO diff -r "$T/m2" "$T/ref1"
is "$(requests "$LOG")" "$before" "offline: no request reached the server"
ok "unmount the offline mount" umnt "$T/m2"

# A version the cache lacks, server down: the mount itself needs the
# metadata, so it fails clearly and promptly.
mkdir -p "$T/m3"
t0=$(date +%s)
fails "mount of an uncached version with the server down fails clearly" "127.0.0.1:$PORT" \
	$TO "${M[@]}" --cache "$T/cache2" --wait 2s bb@2 "$T/m3"
ok "and promptly (bounded)" test $(( $(date +%s) - t0 )) -lt 30

# Partly cached: metadata and some chunks cached, then the server goes
# down; the chunks not cached get EIO within --wait, cached ones read.
"$NETIMG" serve --repo "$R" --listen "127.0.0.1:$PORT" >/dev/null 2>>"$LOG" &
SPID=$!
BG_PIDS+=($SPID)
for i in $(seq 50); do curl -sf "${URL}repo.json" >/dev/null && break; sleep 0.1; done
mkdir -p "$T/m4"
ok "mount bb@2 (cold, a fresh cache)" $TO "${M[@]}" --cache "$T/cache3" --wait 2s bb@2 "$T/m4"
# (the start of a file only: reading a file through makes the mount
# fetch far ahead, sequential read-ahead)
head4k() { cmp <(head -c 4096 "$1") <(head -c 4096 "$2"); }
ok "read the start of one file while online" head4k "$T/m4/data/blob1" "$T/ref2/data/blob1"
kill "$SPID"; wait "$SPID" 2>/dev/null
t0=$(date +%s)
out=$(timeout 30 cat "$T/m4/data/blob3" 2>&1 >/dev/null)
like "$out" "Input/output error" "an uncached chunk with the server down: EIO"
ok "within the --wait bound, not a hang" test $(( $(date +%s) - t0 )) -lt 15
ok "the cached part still reads offline" head4k "$T/m4/data/blob1" "$T/ref2/data/blob1"
ok "unmount" umnt "$T/m4"

# A tampered chunk on the server is never served: a pack byte flipped.
cp -a "$R" "$T/good"
for p in "$R"/public/packs/*.pack; do
	flip_byte "$p" 300000
done
"$NETIMG" serve --repo "$R" --listen "127.0.0.1:$PORT" >/dev/null 2>>"$LOG" &
BG_PIDS+=($!)
for i in $(seq 50); do curl -sf "${URL}repo.json" >/dev/null && break; sleep 0.1; done
mkdir -p "$T/m5"
if $TO "${M[@]}" --cache "$T/cache4" --wait 2s bb@1 "$T/m5" 2>"$T/m5.err"; then
	read_files "$T/m5/data" "$T/ref1/data"
	is "$BAD" 0 "tampered pack: no wrong byte is ever returned by read"
	ok "tampered pack: the file holding the bad chunk gets EIO" test "$EIO" -ge 1
	umnt "$T/m5"
else
	like "$(cat "$T/m5.err")" "hash|mismatch|tamper" "tampered pack: the mount refuses the bad chunk"
	ok "and leaves no mount" sh -c "! mountpoint -q '$T/m5'"
fi

# The same tampered server first, a good mirror second: each tampered
# chunk (found in the middle of a range, after good ones were kept) is
# fetched again from the second mirror, and every file reads right.
"$NETIMG" serve --repo "$T/good" --listen 127.0.0.1:0 >"$T/good.out" 2>"$T/good.log" &
BG_PIDS+=($!)
for i in $(seq 50); do grep -q http "$T/good.out" && break; sleep 0.1; done
GURL=$(sed -n 's|.*\(http://[^ ]*/\).*|\1|p' "$T/good.out")
mkdir -p "$T/m6"
ok "mount: tampered mirror first, good mirror second" $TO "$NETIMG" mount --repo "$URL,$GURL" \
	--key "$K" --state "$T/state6" --cache "$T/cache6" --wait 5s bb@1 "$T/m6"
read_files "$T/m6/data" "$T/ref1/data"
is "$BAD/$EIO" "0/0" "tampered first mirror: every file reads right, from the second"
ok "the second mirror served the packs" grep -q 'GET /packs/' "$T/good.log"
ok "the mount is the image" same_tree "$T/m6" "$T/ref1"
ok "unmount" umnt "$T/m6"

# Memory stays within its bound (--memory) however much is read: 24 MiB
# of random data read through 2 MiB, fetched with 4 threads (each may hold
# a chunk of up to 1 MiB being loaded, and so may the read-ahead), then
# from the cache by one reader.
mkdir -p "$T/root9/data" && tar -xf "$CACHE/busybox-base.tar" -C "$T/root9"
head -c 25165824 /dev/urandom >"$T/root9/data/big"
printf '[image]\nname = bb\nversion = 9\nepoch = 1767225600\n[base]\nsource = %s\n' "$T/root9" >"$T/bb9.ini"
"$NETIMG" build -q "$T/bb9.ini" -o "$T/bb9.sqfs" >/dev/null && "$NETIMG" publish --repo "$T/good" "$T/bb9.sqfs" >/dev/null
"$NETIMG" cache read --cache "$T/cache9" --repo "$GURL" --key "$K" --memory 2M --threads 4 --json \
	-o "$T/r9.sqfs" bb@9 >"$T/r9.json"
ok "24 MiB read through 2 MiB of memory (cold, 4 threads): byte for byte" cmp "$T/bb9.sqfs" "$T/r9.sqfs"
P=$(jget "$T/r9.json" '$d->{mem_peak}')
ok "... chunk memory at most 2 MiB + 5 chunks being loaded ($P bytes)" test "${P:-99999999}" -le $(( (2 + 5) << 20 ))
"$NETIMG" cache read --cache "$T/cache9" --key "$K" --memory 2M --json -o "$T/r9b.sqfs" bb@9 >"$T/r9b.json"
ok "... again from the cache alone (1 thread): byte for byte" cmp "$T/bb9.sqfs" "$T/r9b.sqfs"
P=$(jget "$T/r9b.json" '$d->{mem_peak}')
ok "... chunk memory at most 2 MiB + 2 chunks being loaded ($P bytes)" test "${P:-99999999}" -le $(( (2 + 2) << 20 ))
done_testing
