#!/bin/bash
# netimg mount: real FUSE mounts of (a) an image netimg builds from
# busybox-base.tar plus odd entries (a folder of 5,000 entries, hard
# links, a FIFO, a socket, devices, symlinks, xattrs, odd modes and
# owners, sparse and multi-MiB files), (b) the minbase image and (c) an
# mksquashfs image of the same tree; every entry of each mount is compared
# with `unsquashfs -d` of the same image (tests/tools/treedesc.pl). Then
# many readers at once, folder offsets, the kernel's permission checks,
# --record, clean unmounts, and corrupt images: EIO on read, a clear error
# on mount, never a hang (every command touching a mount runs under
# `timeout`).
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (FUSE mounts, device nodes)"
[ -c /dev/fuse ] || skip_all "no /dev/fuse"
command -v fusermount3 >/dev/null || skip_all "fusermount3 is not installed"
plan 74

. "$TOP/tests/mount.sh"
chmod 711 "$T"          # other users must reach the mount points

# mnt IMAGE DIR [OPTIONS]: mounts (the command returns once it serves)
mnt() { local img=$1 dir=$2; shift 2; mkdir -p "$dir"; $TO "$NETIMG" mount --image "$img" "$dir" "$@"; }



# ---- (a) the fixture tree ---------------------------------------------------
R=$T/root
mkdir "$R" && tar -C "$R" -xpf "$CACHE/busybox-base.tar"
mkdir "$R/big"
(cd "$R/big" && seq -f 'entry-%05g' 1 5000 | xargs touch &&
	for i in $(seq 1 97 5000); do printf 'content %d\n' "$i" >"$(printf 'entry-%05d' "$i")"; done)
echo hi >"$R/etc/hl1" && ln "$R/etc/hl1" "$R/etc/hl2" && ln "$R/etc/hl1" "$R/big/hl3"
touch -d @1234567890 "$R/etc/hl1"
mkfifo "$R/fifo"
mknod "$R/dev-null" c 1 3 && mknod "$R/dev-sda" b 8 0 && mknod "$R/dev-big" c 4000 1000000
perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $ARGV[0], Listen => 1) or die "$!"' "$R/sock"
ln -s ../etc/passwd "$R/link-rel" && ln -s /nonexistent/target "$R/link-dangling"
ln -s "$(printf 'x%.0s' $(seq 250))" "$R/link-long"
touch -h -d @1000000000 "$R/link-rel"
setfattr -n user.color -v blue "$R/etc/passwd"
setfattr -n security.label -v secret "$R/etc/passwd"
setfattr -n trusted.bin -v 0x00ff10 "$R/etc/group"
setfattr -n user.big -v "$(printf 'v%.0s' $(seq 3000))" "$R/etc/group"
setfattr -n user.dir -v yes "$R/big"
setfattr -h -n trusted.lnk -v l "$R/link-rel"
echo s >"$R/suid" && chmod 4755 "$R/suid"
echo g >"$R/sgid" && chmod 2711 "$R/sgid"
mkdir "$R/sticky" && chmod 1777 "$R/sticky"
echo z >"$R/nomode" && chmod 0 "$R/nomode"
echo r >"$R/rootonly" && chmod 600 "$R/rootonly"
echo o >"$R/owned" && chown 1234:5678 "$R/owned"
echo o >"$R/owned-big" && chown 100000:200000 "$R/owned-big"
truncate -s 5M "$R/sparse" && printf x | dd of="$R/sparse" bs=1 seek=2097152 conv=notrunc 2>/dev/null
head -c 6M /dev/urandom >"$R/random.bin"
yes 'compressible line of text' | head -c 3M >"$R/text.bin"
# deterministic, compressible but not trivially: the corruption test's file
perl -e 'srand(42); print map { chr(65 + int(rand(26))) } 1 .. 1500000' >"$R/letters.bin"
: >"$R/empty" && mkdir "$R/emptydir"
touch "$R/name with spaces" "$R/ünïcode-名前" "$R/$(printf 'l%.0s' $(seq 255))"
touch -d @1500000000 "$R/big"
printf '[image]\nname = fx\nversion = 1\n\n[base]\nsource = %s\n' "$R" >"$T/fx.ini"
ok "build the fixture image" "$NETIMG" build -q "$T/fx.ini" -o "$T/fx.sqfs"
unsquashfs -q -d "$T/fx.ex" "$T/fx.sqfs" >/dev/null

ok "mount it" mnt "$T/fx.sqfs" "$T/m1"
like "$(grep " $T/m1 " /proc/mounts)" "^$T/fx.sqfs $T/m1 fuse.netimg ro," "... read-only in /proc/mounts"
ok "every entry matches unsquashfs -d (content, modes, owners, times, links, devices, xattrs)" \
	same_tree "$T/fx.ex" "$T/m1"
is "$(stat -c '%i %h' "$T/m1/etc/hl1")" "$(stat -c '%i %h' "$T/m1/big/hl3")" "hard links share one inode number"
is "$(stat -c '%t:%T %F' "$T/m1/dev-big")" "fa0:f4240 character special file" "a device's numbers"
is "$(getfattr -h --absolute-names --only-values -n user.color "$T/m1/etc/passwd")" blue "getxattr of a user.* name"
is "$(getfattr -h --absolute-names --only-values -n security.label "$T/m1/etc/passwd")" secret "getxattr of a security.* name"
is "$(getfattr -h --absolute-names --only-values -n user.big "$T/m1/etc/group" | wc -c)" 3000 "a 3,000-byte value"
like "$(getfattr -h --absolute-names -n user.nope "$T/m1/etc/passwd" 2>&1)" "No such attribute" "an absent name: ENODATA"
is "$(readlink "$T/m1/link-long" | wc -c)" 251 "a 250-byte symlink target"
is "$(ls -f "$T/m1/big" | wc -l)" 5003 "the 5,000-entry folder lists whole"
ok "... and every name in it is found by lookup" \
	sh -c "cd '$T/m1/big' && ls -f | grep -v '^\\.' | xargs stat -c %n >/dev/null"
fails "a missing name: ENOENT" "No such file" stat "$T/m1/big/entry-99999"
is "$(perl -e 'opendir(my $d, $ARGV[0]) or die; readdir($d) for 1 .. 1000;
	my $pos = telldir($d); my @a = map { scalar readdir($d) } 1 .. 5;
	readdir($d) for 1 .. 2000; seekdir($d, $pos);
	my @b = map { scalar readdir($d) } 1 .. 5; print "@a" eq "@b" ? "same" : "@a / @b"' "$T/m1/big")" \
	same "seekdir back to a telldir position in a large folder"
like "$(touch "$T/m1/new" 2>&1)" "Read-only file system" "writes are refused (EROFS)"
like "$(sh -c "echo x >>'$T/m1/etc/passwd'" 2>&1)" "Read-only file system" "... also to an existing file"

# many readers at once, against unsquashfs's bytes
(cd "$T/fx.ex" && find . -type f -print0 | xargs -0 sha256sum | sort -k2) >"$T/sum.ex"
ok "8 readers at once over every file" \
	sh -c "cd '$T/m1' && find . -type f -print0 | $TO xargs -0 -P8 -n16 sha256sum | sort -k2 >'$T/sum.m1'"
ok "... the same bytes as unsquashfs" cmp "$T/sum.ex" "$T/sum.m1"
# 16 readers of one file, each its own slice
slices() {
	local i
	for i in $(seq 0 15); do
		$TO dd if="$1" bs=65536 skip=$((i * 6)) count=6 2>/dev/null >"$T/part.$i" &
	done
	wait
	for i in $(seq 0 15); do cat "$T/part.$i"; done | cmp - "$2"
}
ok "16 readers of one 6 MiB file at different offsets" slices "$T/m1/random.bin" "$T/fx.ex/random.bin"

# the kernel's squashfs gives the same inode numbers, if loop devices work
mkdir -p "$T/k"
if mount -t squashfs -o loop,ro "$T/fx.sqfs" "$T/k" 2>/dev/null; then
	(cd "$T/k" && find . -printf '%i %p\n' | sort -k2) >"$T/ino.k"
	umount "$T/k"
	(cd "$T/m1" && $TO find . -printf '%i %p\n' | sort -k2) >"$T/ino.m1"
	ok "inode numbers are the image's (as the kernel's squashfs shows them)" cmp "$T/ino.k" "$T/ino.m1"
else
	echo "ok $((_n += 1)) - # SKIP no loop device"
fi

# the kernel checks permissions against the image's modes
like "$(setpriv --reuid=65534 --regid=65534 --clear-groups cat "$T/m1/etc/passwd" 2>&1)" \
	"Permission denied" "without --allow-other, other users are kept out"
ok "unmount" umnt "$T/m1"
ok "... the mount is gone" sh -c "! grep -q ' $T/m1 ' /proc/mounts"
ok "mount with --allow-other" mnt "$T/fx.sqfs" "$T/m2" --allow-other
like "$(setpriv --reuid=65534 --regid=65534 --clear-groups cat "$T/m2/etc/passwd" 2>&1)" \
	"^root:" "... other users read what the modes allow"
like "$(setpriv --reuid=65534 --regid=65534 --clear-groups cat "$T/m2/rootonly" 2>&1)" \
	"Permission denied" "... and nothing else"
ok "... unmount" umnt "$T/m2"

# --record: first opens, in order, one path per line
ok "mount with --record" mnt "$T/fx.sqfs" "$T/m3" --record "$T/rec.txt" --record-interval 1
$TO cat "$T/m3/etc/group" "$T/m3/big/entry-00098" "$T/m3/etc/group" >/dev/null
$TO stat "$T/m3/etc/passwd" >/dev/null
for i in $(seq 50); do [ -s "$T/rec.txt" ] && break; sleep 0.1; done
is "$(cat "$T/rec.txt")" "$(printf '/etc/group\n/big/entry-00098')" "the record is written while mounted"
$TO cat "$T/m3/etc/hl2" "$T/m3/big/hl3" "$T/m3/ünïcode-名前" >/dev/null
ok "... unmount" umnt "$T/m3"
is "$(cat "$T/rec.txt")" "$(printf '/etc/group\n/big/entry-00098\n/etc/hl2\n/ünïcode-名前')" \
	"... and at unmount: a hard link once, under its first name; stat is no read"
fails "a record in a missing folder is refused before mounting" "cannot write the record" \
	mnt "$T/fx.sqfs" "$T/m4" --record "$T/nope/rec.txt"
ok "... and nothing is mounted" sh -c "! grep -q ' $T/m4 ' /proc/mounts"

# kill -9 leaves a dead mount; the next mount clears it
ok "mount again" mnt "$T/fx.sqfs" "$T/m3"
kill -9 "$(daemon_of "$T/m3")"
for i in $(seq 50); do stat "$T/m3" >/dev/null 2>&1 || break; sleep 0.1; done
like "$(stat "$T/m3" 2>&1)" "Transport endpoint is not connected" "kill -9: the mount is dead"
ok "... a new mount on it clears the dead one and serves" \
	sh -c "$TO '$NETIMG' mount --image '$T/fx.sqfs' '$T/m3' && $TO cat '$T/m3/etc/hl1' >/dev/null"
ok "... unmount" umnt "$T/m3"
ok "... nothing is left on the mount point" sh -c "! grep -q ' $T/m3 ' /proc/mounts"

# SIGTERM to the detached daemon unmounts cleanly (no dead mount)
ok "mount again" mnt "$T/fx.sqfs" "$T/m3"
DPID=$(daemon_of "$T/m3")
kill -TERM "$DPID"
for i in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
ok "SIGTERM: the daemon exits" sh -c "! kill -0 $DPID 2>/dev/null"
ok "... and the mount is gone, not dead" sh -c "! grep -q ' $T/m3 ' /proc/mounts && stat '$T/m3' >/dev/null"

# a read that waits (as one waiting on the network would) holds up
# nothing else: another thread serves the rest
mkdir -p "$T/m11"
ok "mount with every file read taking 3 s (a test hook)" \
	env NETIMG_TEST_READ_DELAY_MS=3000 $TO "$NETIMG" mount --image "$T/fx.sqfs" "$T/m11"
$TO cat "$T/m11/text.bin" >/dev/null &
SLOW=$!
sleep 0.3
t0=$(date +%s%N)
$TO stat "$T/m11/etc/passwd" >/dev/null && $TO ls "$T/m11/big" >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "... a stat and a listing meanwhile answer at once (${ms} ms)" test "$ms" -lt 1500
wait $SLOW
is "$?" 0 "... and the slow read completes"
ok "... unmount" umnt "$T/m11"

# the sanitizer build's daemon in the foreground: exit status 0 after a
# full walk and the unmount (leaks and errors would make it non-zero)
mkdir -p "$T/m5"
"$NETIMG" mount --foreground --image "$T/fx.sqfs" "$T/m5" --threads 4 2>"$T/fg.err" &
FG=$!
BG_PIDS+=($FG)
for i in $(seq 100); do mountpoint -q "$T/m5" && break; sleep 0.1; done
ok "--foreground serves" same_tree "$T/fx.ex" "$T/m5"
$TO fusermount3 -u "$T/m5"
for i in $(seq 100); do kill -0 $FG 2>/dev/null || break; sleep 0.1; done
wait $FG
is "$?" 0 "... and exits 0 after fusermount3 -u"
is "$(cat "$T/fg.err")" "" "... having said nothing"
"$NETIMG" mount --foreground --image "$T/fx.sqfs" "$T/m5" 2>"$T/fg.err" &
FG=$!
BG_PIDS+=($FG)
for i in $(seq 100); do mountpoint -q "$T/m5" && break; sleep 0.1; done
$TO cat "$T/m5/text.bin" >/dev/null
kill -TERM $FG
for i in $(seq 100); do kill -0 $FG 2>/dev/null || break; sleep 0.1; done
wait $FG
is "$?" 0 "SIGTERM: the foreground mount exits 0"
ok "... and unmounted" sh -c "! grep -q ' $T/m5 ' /proc/mounts"

# ---- (b) minbase, (c) mksquashfs ---------------------------------------------
printf '[image]\nname = mb\nversion = 1\n\n[base]\nsource = %s\n' "$CACHE/minbase.tar" >"$T/mb.ini"
ok "build the minbase image" "$NETIMG" build -q "$T/mb.ini" -o "$T/mb.sqfs"
unsquashfs -q -d "$T/mb.ex" "$T/mb.sqfs" >/dev/null
ok "mount it" mnt "$T/mb.sqfs" "$T/m6"
ok "every entry matches unsquashfs -d" same_tree "$T/mb.ex" "$T/m6"
ok "... unmount" umnt "$T/m6"
rm -rf "$T/mb.ex"
# gzip: its decompressor keeps state, so each thread needs its own
mksquashfs "$R" "$T/mk.sqfs" -comp gzip -b 65536 -noappend -quiet >/dev/null
unsquashfs -q -d "$T/mk.ex" "$T/mk.sqfs" >/dev/null
ok "mount an mksquashfs image (gzip, 64 KiB blocks)" mnt "$T/mk.sqfs" "$T/m7"
ok "every entry matches unsquashfs -d" same_tree "$T/mk.ex" "$T/m7"
ok "8 readers at once" \
	sh -c "cd '$T/m7' && find . -type f -print0 | $TO xargs -0 -P8 -n4 sha256sum | sort -k2 >'$T/sum.m7'"
(cd "$T/mk.ex" && find . -type f -print0 | xargs -0 sha256sum | sort -k2) >"$T/sum.mk"
ok "... the same bytes as unsquashfs" cmp "$T/sum.mk" "$T/sum.m7"
ok "... unmount" umnt "$T/m7"

# ---- corrupt images and bad use ----------------------------------------------
SIZE=$(stat -c %s "$T/fx.sqfs")
head -c $((SIZE / 2)) "$T/fx.sqfs" >"$T/trunc.sqfs"
fails "a truncated image is refused at mount" "trunc.sqfs: image is truncated" \
	mnt "$T/trunc.sqfs" "$T/m8"
ok "... and nothing is mounted" sh -c "! grep -q ' $T/m8 ' /proc/mounts"
head -c 4096 /dev/zero >"$T/zero.sqfs"
fails "a file that is no image is refused" "zero.sqfs: not a squashfs image" mnt "$T/zero.sqfs" "$T/m8"
# flipped bytes in a data block: a small image whose first data chunk is
# the start of letters.bin (netimg inspect --chunks lists the chunks). The
# bytes flipped are the block's zstd frame header: a flip inside zstd's
# entropy-coded data can decode to wrong bytes of the right size, which
# nothing in a bare image can tell (the repository's chunk hashes can).
mkdir "$T/cx" && cp "$R/letters.bin" "$T/cx/" && echo small >"$T/cx/small"
printf '[image]\nname = cx\nversion = 1\n\n[base]\nsource = %s\n' "$T/cx" >"$T/cx.ini"
"$NETIMG" build -q "$T/cx.ini" -o "$T/cx.sqfs"
OFF=$("$NETIMG" inspect --chunks "$T/cx.sqfs" | awk '$3 == "data" { print $1; exit }')
cp "$T/cx.sqfs" "$T/flip.sqfs"
printf '%016d' 0 | dd of="$T/flip.sqfs" bs=1 seek="$OFF" conv=notrunc 2>/dev/null
ok "an image with a corrupt data block mounts" mnt "$T/flip.sqfs" "$T/m9"
like "$({ $TO cat "$T/m9/letters.bin" 2>&1 >/dev/null; echo "rc=$?"; } | tr '\n' ' ')" "Input/output error.*rc=1" \
	"reading the corrupt block: EIO, not a hang"
like "$({ $TO dd if="$T/m9/letters.bin" bs=131072 count=1 2>&1 >/dev/null; echo "rc=$?"; } | tr '\n' ' ')" \
	"Input/output error.*rc=1" "... again (nothing bad was cached)"
tail_of() { $TO dd if="$1" bs=131072 skip=2 2>/dev/null; }
same_tail() { cmp <(tail_of "$1") <(tail_of "$2"); }
ok "... the blocks after it read right" same_tail "$T/m9/letters.bin" "$R/letters.bin"
is "$($TO cat "$T/m9/small")" small "... other files read right"
ok "... and the mount unmounts" umnt "$T/m9"
# the inode table made unreadable: refused at mount
IOFF=$("$NETIMG" inspect --chunks "$T/cx.sqfs" | awk '$3 == "inodes" { print $1; exit }')
cp "$T/cx.sqfs" "$T/noroot.sqfs"
printf '\377\177' | dd of="$T/noroot.sqfs" bs=1 seek="$IOFF" conv=notrunc 2>/dev/null
fails "an image whose inode table is corrupt is refused at mount" "noroot.sqfs: corrupt image" \
	mnt "$T/noroot.sqfs" "$T/m10"

fails "an image that does not exist" "nope.sqfs: cannot open: No such file" \
	mnt "$T/nope.sqfs" "$T/m10"
fails "a mount point that does not exist" "$T/nodir: cannot mount there: No such file" \
	"$NETIMG" mount --image "$T/fx.sqfs" "$T/nodir"
fails "a mount point that is a file" "cannot mount there: not a folder" \
	"$NETIMG" mount --image "$T/fx.sqfs" "$T/fx.ini"
fails "no --image and one argument" "expected CHANNEL or NAME@VERSION, and MOUNTPOINT" "$NETIMG" mount "$T/m10"
done_testing
