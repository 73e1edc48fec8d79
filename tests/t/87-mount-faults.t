#!/bin/bash
# Faults under a real mount of a version from a repository, each against a
# real server (netimg serve, and nginx for a cold mount), and each checked
# for what read returns: never a wrong byte.
# - nginx: a cold mount through Debian's nginx matches unsquashfs;
# - the server stops in the middle of a read: with a second mirror the read
#   completes from it; without, the rest gets EIO within --wait, no hang;
# - a replayed (older, validly signed) pointer is refused by the mount;
# - the disk under the cache fills: every read is still served right, and
#   the cache stays consistent (cache verify);
# - kill -9 of the mount during a download, then mount again: the dead
#   mount is cleared and everything reads right;
# - a cache edited by hand (a chunk truncated, one altered): the damaged
#   chunks are never served; fetched again when a mirror answers, EIO when
#   none does.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (FUSE mounts, tmpfs)"
[ -c /dev/fuse ] || skip_all "no /dev/fuse"
command -v nginx >/dev/null || skip_all "nginx is not installed"
plan 38

. "$TOP/tests/mount.sh"
EXTRA_MOUNTS=("$T/small")
# files_ok MNT REF: every regular file of REF reads from MNT with the same
# bytes; prints the ones that differ or fail
files_ok() {
	local f bad=0
	while IFS= read -r -d '' f; do
		timeout 30 cmp -s "$1/${f#"$2"/}" "$f" || { echo "differs or fails: ${f#"$2"/}"; bad=1; }
	done < <(find "$2" -type f -print0)
	return $bad
}
# start_serve PORT-OR-0: netimg serve of $R; sets SURL, SPID
start_serve() {
	local out=$T/.serve.$RANDOM i
	"$NETIMG" serve --repo "$R" --listen "127.0.0.1:$1" >"$out" 2>>"$T/serve.log" &
	SPID=$!
	BG_PIDS+=($SPID)
	for i in $(seq 50); do grep -q http "$out" 2>/dev/null && break; sleep 0.1; done
	SURL=$(sed -n 's|.*\(http://[^ ]*/\).*|\1|p' "$out")
	[ -n "$SURL" ]
}
stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; true; }
# partial_read FILE OUT GO: copies FILE to OUT, 1 MiB first, then touches
# OUT.half and waits (30 s at most) for the file GO before reading the
# rest; exit 0 when all of FILE was read.
partial_read() {
	perl -e '
		my ($in, $out, $go) = @ARGV;
		open(my $f, "<", $in) or die "$in: $!\n";
		open(my $o, ">", $out) or die "$out: $!\n";
		binmode $f; binmode $o;
		my ($b, $got) = ("", 0);
		while ($got < 1048576) {
			my $n = sysread($f, $b, 1048576 - $got);
			die "$in: first MiB: " . (defined $n ? "end of file" : $!) . "\n" unless $n;
			print $o $b;
			$got += $n;
		}
		open(my $h, ">", "$out.half"); close $h;
		for (1 .. 300) { last if -e $go; select(undef, undef, undef, 0.1) }
		while (1) { my $n = sysread($f, $b, 262144); die "$in: $!\n" unless defined $n; last if !$n; print $o $b }
		close $o or die; exit 0' "$@"
}
wait_file() { local i; for i in $(seq 300); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }

# One version: busybox plus three 6 MB files of random bytes (several
# chunks each).
R=$T/repo
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null
mkdir -p "$T/root/data" && tar -xf "$CACHE/busybox-base.tar" -C "$T/root"
for i in 1 2 3; do
	perl -e 'srand($ARGV[0]); print pack("C*", map { int rand 256 } 1 .. 6000000)' "$i" >"$T/root/data/blob$i"
done
printf '[image]\nname = bb\nversion = 1\nepoch = 1767225600\n[base]\nsource = %s\n' "$T/root" >"$T/bb1.ini"
"$NETIMG" build -q "$T/bb1.ini" -o "$T/bb1.sqfs" >/dev/null
"$NETIMG" publish --repo "$R" "$T/bb1.sqfs" >/dev/null
unsquashfs -q -n -d "$T/ref" "$T/bb1.sqfs" >/dev/null
"$NETIMG" point --repo "$R" stable bb@1 >/dev/null
K=$R/repo.pub
MNT=("$NETIMG" mount --key "$K")
mkdir -p "$T"/m1 "$T"/m2 "$T"/m3 "$T"/m4 "$T"/m5 "$T"/m6 "$T"/m7 "$T/small"

# ---- nginx: a cold mount ------------------------------------------------------
serve_nginx "$R"
ok "cold mount through nginx" $TO "${MNT[@]}" --repo "$URL" --state "$T/st1" --cache "$T/c1" stable "$T/m1"
ok "through nginx: every entry matches unsquashfs" same_tree "$T/m1" "$T/ref"
ok "through nginx: every file's bytes match" files_ok "$T/m1" "$T/ref"
ok "unmount" umnt "$T/m1"

# ---- the server stops in the middle of a read -----------------------------------
start_serve 0; A=$SURL; APID=$SPID
start_serve 0; B=$SURL
ok "mount with two mirrors" $TO "${MNT[@]}" --repo "$A,$B" --state "$T/st2" --cache "$T/c2" --wait 5s stable "$T/m2"
partial_read "$T/m2/data/blob1" "$T/got1" "$T/go1" &
RP=$!
wait_file "$T/got1.half"
stop "$APID"
touch "$T/go1"
ok "first mirror killed mid-read: the read completes from the second" wait "$RP"
ok "and its bytes are right" cmp "$T/got1" "$T/ref/data/blob1"
ok "every other file reads right from the second mirror" files_ok "$T/m2" "$T/ref"
ok "unmount" umnt "$T/m2"

start_serve 0; A=$SURL; APID=$SPID
ok "mount with one mirror" $TO "${MNT[@]}" --repo "$A" --state "$T/st3" --cache "$T/c3" --wait 2s stable "$T/m3"
partial_read "$T/m3/data/blob2" "$T/got2" "$T/go2" 2>"$T/got2.err" &
RP=$!
wait_file "$T/got2.half"
stop "$APID"
t0=$(date +%s)
touch "$T/go2"
wait "$RP"; rc=$?
isnt_zero() { [ "$1" != 0 ]; }
ok "only mirror killed mid-read: the read fails" isnt_zero "$rc"
like "$(cat "$T/got2.err")" "Input/output error" "with EIO"
ok "within the --wait bound, not a hang" test $(( $(date +%s) - t0 )) -lt 20
ok "what was read before is right" cmp -n "$(stat -c %s "$T/got2")" "$T/got2" "$T/ref/data/blob2"
ok "read again at once, still offline: EIO again" sh -c "! timeout 30 cat '$T/m3/data/blob2' >/dev/null 2>&1"
p=${A##*:}; start_serve "${p%/}"; A=$SURL; APID=$SPID
sleep 2   # the mount waits 2 s after a network failure before it tries again
ok "the mirror is back: the same mount reads the file whole" timeout 30 cmp "$T/m3/data/blob2" "$T/ref/data/blob2"
ok "unmount" umnt "$T/m3"

# ---- a replayed pointer -------------------------------------------------------------
start_serve 0; A=$SURL
C=$R/public/channels/stable.json
cp "$C" "$T/stable-serial1.json"
"$NETIMG" point --repo "$R" stable bb@1 >/dev/null
ok "mount sees serial 2" $TO "${MNT[@]}" --repo "$A" --state "$T/st4" --cache "$T/c4" stable "$T/m4"
umnt "$T/m4"
cp "$T/stable-serial1.json" "$C"
fails "a replayed older pointer: the mount is refused" "replayed pointer: serial 1 is lower than 2" \
	$TO "${MNT[@]}" --repo "$A" --state "$T/st4" --cache "$T/c4b" stable "$T/m4"
ok "and nothing is mounted" sh -c "! mountpoint -q '$T/m4'"

# ---- the disk under the cache fills ---------------------------------------------
mount -t tmpfs -o size=4m tmpfs "$T/small"
ok "mount with the cache on a 4 MiB tmpfs (the files are 18 MB)" \
	$TO "${MNT[@]}" --repo "$A" --state "$T/st5" --cache "$T/small/c" stable "$T/m5"
ok "disk full while caching: every file still reads right" files_ok "$T/m5" "$T/ref"
"$NETIMG" cache status --cache "$T/small/c" --json >"$T/status5.json"
cached=$(jget "$T/status5.json" '$d->{versions}[0]{bytes_cached}')
ok "the disk did fill: the cache kept only part of the 18 MB (${cached:-?} bytes)" test "${cached:-99999999}" -lt 4194304
ok "unmount" umnt "$T/m5"
ok "the cache stays consistent (cache verify)" $TO "$NETIMG" cache verify --cache "$T/small/c"

# ---- kill -9 of the mount during a download ---------------------------------------
ok "mount, cold" $TO "${MNT[@]}" --repo "$A" --state "$T/st6" --cache "$T/c6" stable "$T/m6"
pid=$(daemon_of "$T/m6")
partial_read "$T/m6/data/blob3" "$T/got3" "$T/go3" 2>/dev/null &
RP=$!
wait_file "$T/got3.half"
kill -9 "$pid"
touch "$T/go3"
wait "$RP" 2>/dev/null
ok "mount again after kill -9 (the dead mount is cleared)" $TO "${MNT[@]}" --repo "$A" --state "$T/st6" --cache "$T/c6" stable "$T/m6"
ok "after kill -9: every file reads right" files_ok "$T/m6" "$T/ref"
ok "unmount" umnt "$T/m6"
ok "the cache verifies" $TO "$NETIMG" cache verify --cache "$T/c6"

# ---- a cache edited by hand -----------------------------------------------------------
ok "sync into a fresh cache" $TO "$NETIMG" sync --quiet --repo "$A" --key "$K" --state "$T/st7" --cache "$T/c7" stable
big=$(find "$T/c7/chunks" -type f -size +200k | sort | head -2)
set -- $big
truncate -s 1000 "$1"
flip_byte "$2" 5000
stop "$SPID"
ok "offline mount of the damaged cache" $TO "${MNT[@]}" --repo "$A" --state "$T/st7" --cache "$T/c7" --wait 1s stable "$T/m7"
read_files "$T/m7/data" "$T/ref/data"
is "$BAD" 0 "damaged cache, offline: no wrong byte is ever returned"
ok "damaged cache, offline: the files with damaged chunks get EIO" test "$EIO" -ge 1
umnt "$T/m7"
start_serve 0
ok "online again (another mirror): mount" $TO "${MNT[@]}" --repo "$SURL" --state "$T/st7" --cache "$T/c7" stable "$T/m7"
ok "online again: the damaged chunks are fetched again, every file reads right" files_ok "$T/m7" "$T/ref"
ok "unmount" umnt "$T/m7"
ok "the cache verifies" $TO "$NETIMG" cache verify --cache "$T/c7"
done_testing
