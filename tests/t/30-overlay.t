#!/bin/bash
# Layer semantics with real archives: later layers win, OCI whiteouts
# (.wh.NAME, .wh..wh..opq), hard links, symlinks, device nodes, owners,
# modes and xattrs kept, paths resolved inside the image like dpkg does on
# a merged-/usr system (and never on the build machine), files replaced by
# folders and back. Then the image is read by its peers: unsquashfs,
# sqfs2tar, the kernel (mount -o loop) and squashfuse.
source "$(dirname "$0")/../lib.sh"
export TZ=UTC LC_ALL=C
unset SOURCE_DATE_EPOCH

MNTS=()
# teardown: unmounts whatever this test mounted, then lib.sh's cleanup.
teardown() {
	local m
	for m in "${MNTS[@]+"${MNTS[@]}"}"; do
		if mountpoint -q "$m" 2>/dev/null; then
			timeout 30 umount "$m" 2>/dev/null || timeout 30 umount -l "$m" 2>/dev/null
		fi
	done
	cleanup
}
trap teardown EXIT
trap 'exit 129' HUP INT TERM

EPOCH=1700000000
nb() { timeout 60 "$NETIMG" "$@"; }
extract() { rm -rf "$2"; timeout 60 unsquashfs -no-progress -d "$2" "$1" >/dev/null 2>&1; }
# snap DIR: every path with its type, mode, owner, link count, size, time
# and link target (folders without size and link count, which depend on
# the file system holding them: see dirlinks).
snap() {
	(cd "$1" && find . \( -type d -printf '%p d %m %U %G %T@\n' \) -o \
		\( -printf '%p %y %m %U %G %n %s %T@ %l\n' \) | sort)
}
# dirlinks DIR: every folder's link count (2 + its subfolders on Linux
# file systems, and in what mksquashfs writes).
dirlinks() {
	(cd "$1" && find . -type d -printf '%p %n\n' | sort)
}
# same NAME A B: A and B are the same text (a diff on failure).
same() {
	if [ -n "$2" ] && [ "$2" = "$3" ]; then _result 0 "$1"; else _result 1 "$1"
		diff <(echo "$2") <(echo "$3") | head -15 | sed 's/^/#   /'; fi
}
# tarp OUT DIR PATH...: a patch tar of the PATHs of DIR, in that order,
# owned by root.
tarp() {
	local out=$1 dir=$2; shift 2
	tar --numeric-owner --owner=0 --group=0 --no-recursion -C "$dir" -cf "$out" "$@"
}
# build_with NAME BASE ARCHIVE...: a recipe NAME on BASE with a catalog of
# the ARCHIVEs, each approved, in that order; the image is $T/NAME/x.sqfs.
build_with() {
	local name=$1 base=$2 i=0 p; shift 2
	mkdir -p "$T/$name/cat"
	for p in "$@"; do
		i=$((i + 1))
		"$NETIMG" patch add --catalog "$T/$name/cat" "$p" --id "$name-$i" --severity low >/dev/null &&
		"$NETIMG" patch approve --catalog "$T/$name/cat" "$name-$i" --by t >/dev/null
	done
	printf '[image]\nname = %s\nversion = 1\nepoch = %s\n[base]\nsource = %s\n[patches]\ncatalog = cat\n' \
		"$name" "$EPOCH" "$base" >"$T/$name/recipe.ini"
	nb build "$T/$name/recipe.ini" -q -o "$T/$name/x.sqfs"
}

# ========================================================================
# the base: a merged-/usr root with every kind of inode
# ========================================================================
B=$T/base
mkdir -p "$B/etc" "$B/usr/lib/x86_64-linux-gnu" "$B/usr/bin" "$B/opt/real" \
	"$B/data/gone/sub" "$B/data/opq/sub" "$B/data/wsame" "$B/srv/f2d" \
	"$B/dev" "$B/tmp" "$B/home/u"
ln -s usr/lib "$B/lib"
ln -s usr/bin "$B/bin"
echo base-a >"$B/etc/a"
echo base-b >"$B/etc/b"
echo base-later >"$B/etc/later"
echo keep >"$B/etc/keep"
echo libc >"$B/usr/lib/x86_64-linux-gnu/libc.so.6"
ln -s libc.so.6 "$B/usr/lib/x86_64-linux-gnu/libc.so"
echo dash >"$B/usr/bin/dash"
ln -s dash "$B/usr/bin/sh"
ln -s /opt/real "$B/etc/alt"
ln -s ../../../../../opt/real "$B/etc/up"
echo r >"$B/opt/real/r"
echo g >"$B/data/gone/g"
echo s >"$B/data/gone/sub/s"
echo o1 >"$B/data/opq/old1"
echo o2 >"$B/data/opq/sub/old2"
echo w >"$B/data/wsame/w"
echo top >"$B/data/top"
echo inner >"$B/srv/f2d/inner"
echo file >"$B/srv/d2f"
echo sym >"$B/etc/symfile"
ln -s symfile "$B/etc/tosym"
echo link >"$B/etc/hl1"
ln "$B/etc/hl1" "$B/etc/hl2"
echo wlink >"$B/etc/hw1"
ln "$B/etc/hw1" "$B/etc/hw2"
echo olink >"$B/etc/hlo"
ln "$B/etc/hlo" "$B/data/opq/hlo"
: >"$B/etc/empty"
echo space >"$B/etc/with space"
echo utf8 >"$B/etc/ünïcödé"
truncate -s 2M "$B/usr/lib/sparse"
echo middle | dd of="$B/usr/lib/sparse" bs=1 seek=1048576 conv=notrunc status=none
mknod "$B/dev/null" c 1 3
mknod "$B/dev/sda" b 8 0
mkfifo "$B/dev/initctl"
echo suid >"$B/usr/bin/suid"
chown 1234:1234 "$B/usr/bin/suid"
chmod 4755 "$B/usr/bin/suid"
echo t >"$B/tmp/.keep"
chmod 1777 "$B/tmp"
echo u >"$B/home/u/f"
chown -R 1234:1234 "$B/home/u"
chmod 0750 "$B/home/u"
head -c 400000 /dev/urandom >"$B/usr/lib/big"
touch -d @1000000000 "$B/etc/keep"
XATTRS=yes
setfattr -n user.test -v hello "$B/etc/keep" 2>/dev/null &&
	setfattr -n user.dir -v d "$B/home/u" 2>/dev/null || XATTRS=no
HOST_BEFORE=$(ls -d /opt/real /opt/real/file /opt/real/file2 2>/dev/null)

# ========================================================================
# the patches, in catalog order
# ========================================================================
P=$T/p1
mkdir -p "$P/etc" "$P/data/opq/sub2" "$P/lib/x86_64-linux-gnu" "$P/etc/alt" "$P/etc/up" \
	"$P/srv/d2f" "$P/usr/bin"
echo p1-a >"$P/etc/a"
echo p1 >"$P/etc/later"
: >"$P/etc/.wh.b"
: >"$P/data/.wh.gone"
echo n1 >"$P/data/opq/new1"
: >"$P/data/opq/.wh..wh..opq"
echo n2 >"$P/data/opq/sub2/new2"
echo lzma >"$P/lib/x86_64-linux-gnu/liblzma.so.5.4.1"
ln -s liblzma.so.5.4.1 "$P/lib/x86_64-linux-gnu/liblzma.so.5"
echo through-alt >"$P/etc/alt/file"
echo through-up >"$P/etc/up/file2"
echo now-a-file >"$P/srv/f2d"
echo now-in-a-folder >"$P/srv/d2f/inside"
echo replaced >"$P/etc/tosym"
echo plink >"$P/etc/phl1"
ln "$P/etc/phl1" "$P/etc/phl2"
: >"$P/etc/.wh.hw1"
: >"$P/etc/.wh.nothere"
mkdir -p "$P/new/deep/er"
echo deep >"$P/new/deep/er/file"
head -c 300000 /dev/urandom >"$P/usr/bin/big2"
tarp "$T/p1.tar" "$P" ./etc/ ./etc/a ./etc/later ./etc/.wh.b ./data/ ./data/.wh.gone \
	./data/opq/ ./data/opq/new1 ./data/opq/.wh..wh..opq ./data/opq/sub2/ ./data/opq/sub2/new2 \
	./lib/ ./lib/x86_64-linux-gnu/ ./lib/x86_64-linux-gnu/liblzma.so.5.4.1 \
	./lib/x86_64-linux-gnu/liblzma.so.5 ./etc/alt/file ./etc/up/file2 \
	./srv/f2d ./srv/d2f/ ./srv/d2f/inside ./etc/tosym ./etc/phl1 ./etc/phl2 \
	./etc/.wh.hw1 ./etc/.wh.nothere ./new/deep/er/file ./usr/bin/big2
# p2, a gzip tar: a later patch over an earlier one
mkdir -p "$T/p2/etc"
echo p2 >"$T/p2/etc/later"
tar --numeric-owner --owner=0 --group=0 -C "$T/p2" -czf "$T/p2.tar.gz" ./etc/later
# p3, a pax tar with an owner, a setuid mode and an xattr
mkdir -p "$T/p3/usr/bin"
echo ptool >"$T/p3/usr/bin/ptool"
chown 1234:1234 "$T/p3/usr/bin/ptool"
chmod 4755 "$T/p3/usr/bin/ptool"
[ $XATTRS = yes ] && setfattr -n user.px -v fromtar "$T/p3/usr/bin/ptool"
tar --format=pax --xattrs --numeric-owner -C "$T/p3" -cf "$T/p3.tar" ./usr/bin/ptool
# p4 a zip, p5 a cpio: any format libarchive reads
mkdir -p "$T/p4/opt" "$T/p5/opt"
echo zip >"$T/p4/opt/fromzip"
echo cpio >"$T/p5/opt/fromcpio"
# (bsdtar is libarchive-tools; without it they are tars, and the format
# checks are skipped)
if command -v bsdtar >/dev/null; then
	BSDTAR=yes
	(cd "$T/p4" && bsdtar --format=zip -cf "$T/p4.zip" ./opt/fromzip) 2>/dev/null
	(cd "$T/p5" && bsdtar --format=newc -cf "$T/p5.cpio" ./opt/fromcpio) 2>/dev/null
else
	BSDTAR=no
	tar --numeric-owner --owner=0 --group=0 -C "$T/p4" -cf "$T/p4.zip" ./opt/fromzip
	tar --numeric-owner --owner=0 --group=0 -C "$T/p5" -cf "$T/p5.cpio" ./opt/fromcpio
fi

C=$T/main/cat
mkdir -p "$C"
i=0
for p in p1.tar p2.tar.gz p3.tar p4.zip p5.cpio; do
	i=$((i + 1))
	"$NETIMG" patch add --catalog "$C" "$T/$p" --id "P$i" --severity low >/dev/null
done
# approved in reverse: the order of `patch add` decides, not the approval
for i in 5 4 3 2 1; do "$NETIMG" patch approve --catalog "$C" "P$i" --by t >/dev/null; done
cat >"$T/main/recipe.ini" <<EOF
[image]
name = ov
version = 1
epoch = $EPOCH
[base]
source = ../base
[patches]
catalog = cat
EOF
nb build "$T/main/recipe.ini" -q -o "$T/main/x.sqfs" >"$T/main.log" 2>&1; rc=$?
is "$rc" 0 "the layered image builds"
[ $rc = 0 ] || sed 's/^/# /' "$T/main.log" | head -5
IMG=$T/main/x.sqfs
X=$T/ex
extract "$IMG" "$X"
L=$(unsquashfs -lln "$IMG" 2>&1)
is "$(unsquashfs -cat "$IMG" etc/netimg-release 2>&1 | tail -1)" 'PATCHES="P1 P2 P3 P4 P5"' \
	"the patches are applied in catalog order"

# --- later layers win ----------------------------------------------------
is "$(cat "$X/etc/a")" p1-a "a patch's file wins over the base's"
is "$(cat "$X/etc/later")" p2 "a later patch's file wins over an earlier patch's (catalog order, not approval order)"
is "$(stat -c %Y "$X/etc/a")" "$EPOCH" "a patch's file is clamped to the epoch"
is "$(stat -c %Y "$X/etc/keep")" 1000000000 "an older base file keeps its time"
is "$(cat "$X/data/top")" top "files no layer touched stay"
is "$(stat -c '%s' "$X/etc/empty")" 0 "an empty file is kept"
is "$(cat "$X/etc/with space") $(cat "$X/etc/ünïcödé")" "space utf8" "names with a space and UTF-8 are kept"
ok "a sparse file reads back" cmp "$B/usr/lib/sparse" "$X/usr/lib/sparse"
ok "a 300 kB file from a patch reads back" cmp "$P/usr/bin/big2" "$X/usr/bin/big2"
is "$(cat "$X/new/deep/er/file" 2>&1)" deep "a patch file whose folders are not in the archive gets them"
is "$(stat -c '%F %a %u %g %Y' "$X/new/deep")" "directory 755 0 0 $EPOCH" \
	"... made as root-owned 0755 folders stamped with the epoch"

# --- whiteouts -------------------------------------------------------------
ok ".wh.NAME deletes a file" test ! -e "$X/etc/b"
ok ".wh.NAME deletes a folder and what is in it" test ! -e "$X/data/gone"
is "$(cd "$X/data/opq" && find . | sort | tr '\n' ' ')" ". ./new1 ./sub2 ./sub2/new2 " \
	".wh..wh..opq clears the base's content of the folder, keeps what the same patch adds (before and after it)"
is "$(echo "$L" | grep -c '\.wh\.')" 0 "no whiteout file lands in the image"

# --- hard links --------------------------------------------------------------
is "$(stat -c %i "$X/etc/hl1")" "$(stat -c %i "$X/etc/hl2")" "a hard link in the base stays a hard link"
is "$(stat -c %h "$X/etc/hl1")" 2 "... with a link count of 2"
is "$(stat -c %i "$X/etc/phl1")" "$(stat -c %i "$X/etc/phl2")" "a hard link in a patch stays a hard link"
is "$(cat "$X/etc/phl2")" plink "... with its data"
is "$(cat "$X/etc/hw2") $(stat -c %h "$X/etc/hw2")" "wlink 1" "whiting out one name of a hard link keeps the other"
is "$(cat "$X/etc/hlo") $(stat -c %h "$X/etc/hlo")" "olink 1" "an opaque folder dropping one name of a hard link keeps the other"

# --- symlinks ----------------------------------------------------------------
is "$(readlink "$X/usr/bin/sh")" dash "a relative symlink is kept"
is "$(readlink "$X/etc/alt")" /opt/real "an absolute symlink is kept as written"
is "$(readlink "$X/usr/lib/x86_64-linux-gnu/liblzma.so.5")" liblzma.so.5.4.1 "a symlink from a patch is kept"

# --- device nodes, owners, modes -------------------------------------------
is "$(stat -c '%F %t %T' "$X/dev/null")" "character special file 1 3" "a character device is kept"
is "$(stat -c '%F %t %T' "$X/dev/sda")" "block special file 8 0" "a block device is kept"
is "$(stat -c %F "$X/dev/initctl")" fifo "a fifo is kept"
is "$(stat -c '%a %u %g' "$X/usr/bin/suid")" "4755 1234 1234" "owner 1234:1234 and mode 4755 are kept"
is "$(stat -c '%a %u %g' "$X/tmp")" "1777 0 0" "mode 1777 on a folder is kept"
is "$(stat -c '%a %u %g' "$X/home/u")" "750 1234 1234" "a folder's owner and mode are kept"
is "$(stat -c '%a %u %g' "$X/usr/bin/ptool")" "4755 1234 1234" "a patch file's owner and mode are kept"

# --- merged-/usr: paths resolve through the base's symlinks --------------------
is "$(cat "$X/usr/lib/x86_64-linux-gnu/liblzma.so.5.4.1" 2>&1)" lzma \
	"./lib/x86_64-linux-gnu/liblzma.so.5.4.1 lands in usr/lib/x86_64-linux-gnu/"
ok "lib is still a symlink" test -L "$X/lib"
is "$(readlink "$X/lib")" usr/lib "... to usr/lib"
is "$(echo "$L" | grep -c 'squashfs-root/lib/')" 0 "nothing is listed under lib/"
is "$(cat "$X/usr/lib/x86_64-linux-gnu/libc.so.6")" libc "the base's files in usr/lib stay"

# --- absolute symlinks resolve against the image's root -------------------------
is "$(cat "$X/opt/real/file" 2>&1)" through-alt "etc/alt -> /opt/real: etc/alt/file lands in the image's opt/real/file"
ok "... etc/alt is still a symlink" test -L "$X/etc/alt"
is "$(cat "$X/opt/real/file2" 2>&1)" through-up "a symlink climbing above the root stops at the image's root"
ok "... and stays a symlink" test -L "$X/etc/up"
is "$(ls -d /opt/real /opt/real/file /opt/real/file2 2>/dev/null)" "$HOST_BEFORE" \
	"nothing was written to the build machine's /opt"

# --- a file replaced by a folder and back --------------------------------------
ok "a folder replaced by a file is a file" test -f "$X/srv/f2d"
is "$(cat "$X/srv/f2d")" now-a-file "... with the patch's data"
is "$(echo "$L" | grep -c 'squashfs-root/srv/f2d/')" 0 "... and nothing of the old folder is left"
ok "a file replaced by a folder is a folder" test -d "$X/srv/d2f"
is "$(cat "$X/srv/d2f/inside")" now-in-a-folder "... holding the patch's file"
ok "a symlink replaced by a file is a file" test -f "$X/etc/tosym" -a ! -L "$X/etc/tosym"
is "$(cat "$X/etc/symfile")" sym "... and its old target was not written through"

# --- other formats ---------------------------------------------------------------
if [ $BSDTAR = yes ]; then
	is "$(cat "$X/opt/fromzip" 2>&1)" zip "a zip patch is applied"
	is "$(cat "$X/opt/fromcpio" 2>&1)" cpio "a cpio patch is applied"
else
	for t in zip cpio; do echo "ok $((_n + 1)) # SKIP bsdtar missing: no $t patch"; _n=$((_n + 1)); done
fi

# ========================================================================
# the same base as a tar: the same image
# ========================================================================
tar --numeric-owner --format=pax --xattrs -C "$B" -cf "$T/base.tar" .
ok "the base tar has the device nodes" sh -c "tar -tvf '$T/base.tar' | grep -q '^c.* ./dev/null'"
mkdir -p "$T/tarb"
sed 's|^source = ../base$|source = ../base.tar|; s|^catalog = cat$|catalog = ../main/cat|' \
	"$T/main/recipe.ini" >"$T/tarb/recipe.ini"
nb build "$T/tarb/recipe.ini" -q -o "$T/tarb/x.sqfs" >/dev/null 2>&1
same "a tar base gives the same files, modes, owners and times as the folder" \
	"$L" "$(unsquashfs -lln "$T/tarb/x.sqfs" 2>&1)"
extract "$T/tarb/x.sqfs" "$T/tex"
is "$(stat -c '%F %t %T' "$T/tex/dev/null" 2>&1)" "character special file 1 3" "tar base: a character device is kept"
is "$(stat -c '%F %t %T' "$T/tex/dev/sda" 2>&1)" "block special file 8 0" "tar base: a block device is kept"
is "$(stat -c %i "$T/tex/etc/hl1")" "$(stat -c %i "$T/tex/etc/hl2")" "tar base: a hard link is kept"
ok "tar base: the same data" diff -r "$X/usr" "$T/tex/usr"

# ========================================================================
# same-layer edge cases
# ========================================================================
# OCI: a whiteout hides what lower layers put there, never what its own
# layer adds, whatever the order of the entries.
mkdir -p "$T/w/data/wsame"
echo new >"$T/w/data/wsame/new"
: >"$T/w/data/.wh.wsame"
tarp "$T/w.tar" "$T/w" ./data/ ./data/wsame/ ./data/wsame/new ./data/.wh.wsame
build_with wsame "$B" "$T/w.tar" >/dev/null 2>&1
extract "$T/wsame/x.sqfs" "$T/wsame/d"
is "$(cd "$T/wsame/d/data" 2>/dev/null && find wsame 2>/dev/null | sort | tr '\n' ' ')" "wsame wsame/new " \
	".wh.NAME removes the base's folder but not what the same patch put in it"
# a whiteout reaches through the merged-/usr symlink
mkdir -p "$T/wl/lib/x86_64-linux-gnu"
: >"$T/wl/lib/x86_64-linux-gnu/.wh.libc.so.6"
tarp "$T/wl.tar" "$T/wl" ./lib/ ./lib/x86_64-linux-gnu/ ./lib/x86_64-linux-gnu/.wh.libc.so.6
build_with wlib "$B" "$T/wl.tar" >/dev/null 2>&1
L2=$(unsquashfs -lln "$T/wlib/x.sqfs" 2>&1)
is "$(echo "$L2" | grep -c 'usr/lib/x86_64-linux-gnu/libc.so.6')" 0 "./lib/x86_64-linux-gnu/.wh.libc.so.6 deletes usr/lib/x86_64-linux-gnu/libc.so.6"
like "$L2" "squashfs-root/lib -> usr/lib" "... and lib stays a symlink"
# a replaced hard link: the other name keeps the old data, alone
mkdir -p "$T/hr/etc"
echo new >"$T/hr/etc/hl1"
tarp "$T/hr.tar" "$T/hr" ./etc/hl1
build_with hlrep "$B" "$T/hr.tar" >/dev/null 2>&1
extract "$T/hlrep/x.sqfs" "$T/hlrep/d"
is "$(cat "$T/hlrep/d/etc/hl1") $(cat "$T/hlrep/d/etc/hl2")" "new link" \
	"replacing one name of a hard link leaves the other with the old data"

# a hard link whose target is reached through the merged-/usr symlink
mkdir -p "$T/hs/lib/x86_64-linux-gnu"
echo so >"$T/hs/lib/x86_64-linux-gnu/libz.so.1.2.13"
ln "$T/hs/lib/x86_64-linux-gnu/libz.so.1.2.13" "$T/hs/lib/x86_64-linux-gnu/libz.so.1"
tarp "$T/hs.tar" "$T/hs" ./lib/ ./lib/x86_64-linux-gnu/ ./lib/x86_64-linux-gnu/libz.so.1.2.13 \
	./lib/x86_64-linux-gnu/libz.so.1
build_with hlsym "$B" "$T/hs.tar" >/dev/null 2>&1
extract "$T/hlsym/x.sqfs" "$T/hlsym/d"
is "$(stat -c %i "$T/hlsym/d/usr/lib/x86_64-linux-gnu/libz.so.1.2.13" 2>&1)" \
	"$(stat -c %i "$T/hlsym/d/usr/lib/x86_64-linux-gnu/libz.so.1" 2>&1)" \
	"a hard link through lib -> usr/lib lands beside its target, as a hard link"
# a chain of absolute symlinks: etc/alt -> /opt/real, opt/real -> /srv/deep
mkdir -p "$T/cb/etc" "$T/cb/srv/deep" "$T/cb/opt"
ln -s /opt/real "$T/cb/etc/alt"
ln -s /srv/deep "$T/cb/opt/real"
mkdir -p "$T/cp/etc/alt"
echo chained >"$T/cp/etc/alt/file"
tarp "$T/cp.tar" "$T/cp" ./etc/alt/file
build_with chain "$T/cb" "$T/cp.tar" >/dev/null 2>&1
is "$(unsquashfs -cat "$T/chain/x.sqfs" srv/deep/file 2>&1)" chained \
	"a chain of absolute symlinks is followed inside the image"
ok "... and both links stay links" sh -c "unsquashfs -lln '$T/chain/x.sqfs' | grep -q 'etc/alt -> /opt/real' &&
	unsquashfs -lln '$T/chain/x.sqfs' | grep -q 'opt/real -> /srv/deep'"
# the same path twice in one archive: the last entry wins
mkdir -p "$T/dup/etc"
echo first >"$T/dup/etc/a"
tarp "$T/dup.tar" "$T/dup" ./etc/a
echo second >"$T/dup/etc/a"
tar --numeric-owner --owner=0 --group=0 -C "$T/dup" -rf "$T/dup.tar" ./etc/a
build_with dup "$B" "$T/dup.tar" >/dev/null 2>&1
is "$(unsquashfs -cat "$T/dup/x.sqfs" etc/a 2>&1)" second "the same path twice in one archive: the last one wins"
# a squashfs base keeps its xattrs, owners and devices
mksquashfs "$B" "$T/base.sqfs" -noappend -no-progress -quiet >/dev/null 2>&1
build_with sqb "$T/base.sqfs" >/dev/null 2>&1
build_with plain "$B" >/dev/null 2>&1
same "a .sqfs base gives the same files as the folder" \
	"$(unsquashfs -lln "$T/plain/x.sqfs" 2>&1 | grep -v 'squashfs-root/etc/netimg-release$')" \
	"$(unsquashfs -lln "$T/sqb/x.sqfs" 2>&1 | grep -v 'squashfs-root/etc/netimg-release$')"
extract "$T/sqb/x.sqfs" "$T/sqb/d"
if [ $XATTRS = yes ]; then
	like "$(getfattr -d "$T/sqb/d/etc/keep" 2>&1)" 'user\.test="hello"' "a .sqfs base keeps its xattrs"
else
	echo "ok $((_n + 1)) # SKIP no user xattrs"; _n=$((_n + 1))
fi
# unsafe patches are refused
mkdir -p "$T/dv/dev"
mknod "$T/dv/dev/evil" c 1 1
tarp "$T/dv.tar" "$T/dv" ./dev/evil
fails "a device node inside a patch is refused" "dev/evil.*device node" build_with devp "$B" "$T/dv.tar"
mkdir -p "$T/dd"
echo x >"$T/escape"
tar -P --numeric-owner --owner=0 --group=0 -C "$T/dd" -cf "$T/dotdot.tar" ../escape 2>/dev/null
fails "a patch entry with .. is refused" "escape.*climbs out" build_with dotdot "$B" "$T/dotdot.tar"

# ========================================================================
# peers read the image
# ========================================================================
ok "unsquashfs -l reads the image" timeout 60 unsquashfs -l "$IMG"
ok "unsquashfs -s reads the superblock" timeout 60 unsquashfs -s "$IMG"
US=$(unsquashfs -l "$IMG" 2>/dev/null | sed -n 's|^squashfs-root/||p' | sort)
ST=$(timeout 60 sqfs2tar "$IMG" 2>/dev/null | tar --quoting-style=literal -t 2>/dev/null | sed 's|^\./||; s|/$||' | grep -v '^$' | sort)
same "sqfs2tar IMAGE | tar -t lists the same files as unsquashfs" "$US" "$ST"
XSNAP=$(snap "$X")

M=$T/mnt
mkdir -p "$M"
if ! [ -e /dev/loop-control ] && ! ls /dev/loop[0-9]* >/dev/null 2>&1; then
	for t in mount files dirlinks data hardlink nlink xattr1 xattr2 xattr3; do
		echo "ok $((_n + 1)) # SKIP no loop devices"; _n=$((_n + 1))
	done
else
	MNTS+=("$M")
	timeout 60 mount -o loop,ro "$IMG" "$M" 2>"$T/mount.err"; rc=$?
	is "$rc" 0 "the kernel mounts the image (mount -o loop,ro)"
	[ $rc = 0 ] || sed 's/^/# /' "$T/mount.err"
	same "the kernel sees the same files, modes, owners, link counts, times as unsquashfs" "$XSNAP" "$(snap "$M")"
	bad=0
	while IFS= read -r f; do cmp -s "$X/$f" "$M/$f" || { bad=1; echo "# differs: $f"; }; done \
		< <(cd "$X" && find . -type f)
	same "the kernel's folder link counts are 2 + subfolders" "$(dirlinks "$X")" "$(dirlinks "$M")"
	ok "every file's data is the same through the kernel" test $bad = 0 -a -f "$M/usr/lib/big"
	ok "the kernel's hard links share an inode" test "$(stat -c %i "$M/etc/hl1")" = "$(stat -c %i "$M/etc/hl2")"
	is "$(stat -c %h "$M/etc/hl1") $(stat -c %h "$M/etc/phl1") $(stat -c %h "$M/etc/hw2") $(stat -c %h "$M/etc/hlo")" \
		"2 2 1 1" "the kernel's link counts follow the names left"
	if [ $XATTRS = yes ]; then
		like "$(getfattr -d "$M/etc/keep" 2>&1)" 'user\.test="hello"' "a base file's xattr is kept (kernel)"
		like "$(getfattr -d "$M/home/u" 2>&1)" 'user\.dir="d"' "a base folder's xattr is kept (kernel)"
		like "$(getfattr -d "$M/usr/bin/ptool" 2>&1)" 'user\.px="fromtar"' "a pax patch's xattr is kept (kernel)"
	else
		for t in 1 2 3; do echo "ok $((_n + 1)) # SKIP no user xattrs on $T"; _n=$((_n + 1)); done
	fi
	timeout 30 umount "$M"
	# the tar base keeps the xattrs too
	if [ $XATTRS = yes ] && timeout 60 mount -o loop,ro "$T/tarb/x.sqfs" "$M" 2>/dev/null; then
		like "$(getfattr -d "$M/etc/keep" 2>&1)" 'user\.test="hello"' "tar base: an xattr is kept (kernel)"
		timeout 30 umount "$M"
	else
		echo "ok $((_n + 1)) # SKIP xattrs or mount unavailable"; _n=$((_n + 1))
	fi
fi

if [ ! -e /dev/fuse ] || ! command -v squashfuse >/dev/null; then
	for t in 1 2 3 4; do echo "ok $((_n + 1)) # SKIP /dev/fuse or squashfuse missing"; _n=$((_n + 1)); done
else
	F=$T/fuse
	mkdir -p "$F"
	MNTS+=("$F")
	timeout 60 squashfuse "$IMG" "$F" 2>"$T/fuse.err"; rc=$?
	is "$rc" 0 "squashfuse mounts the image"
	same "squashfuse sees the same files, modes, owners, link counts, times" "$XSNAP" "$(timeout 60 bash -c "$(declare -f snap); snap '$F'")"
	ok "squashfuse reads the data" cmp "$B/usr/lib/big" "$F/usr/lib/big"
	if [ $XATTRS = yes ]; then
		like "$(getfattr -d "$F/etc/keep" 2>&1)" 'user\.test="hello"' "squashfuse sees the xattr"
	else
		echo "ok $((_n + 1)) # SKIP no user xattrs"; _n=$((_n + 1))
	fi
	if command -v fusermount >/dev/null; then timeout 30 fusermount -u "$F"; else timeout 30 umount "$F"; fi
fi

# ========================================================================
# edge cases found by review
# ========================================================================
# a tar that lists the same file twice stores the second as a hard link to
# its own path: the build must not free the file under itself
E=$T/edge
mkdir -p "$E/b/d/keep" "$E/p/d/keep"
echo x >"$E/f"
tar --numeric-owner --owner=0 --group=0 -C "$E" -cf "$E/self.tar" ./f ./f
echo base >"$E/b/g"
ok "a patch with a hard link to its own path builds" build_with selfln "$E/b" "$E/self.tar"
is "$(unsquashfs -cat "$T/selfln/x.sqfs" f 2>&1)" x "... and keeps the file"
# .wh..wh..opq hides every lower-layer entry of the folder, even below a
# subfolder the same patch declared before the marker
echo old >"$E/b/d/keep/old"
echo new >"$E/p/d/keep/new"
: >"$E/p/d/.wh..wh..opq"
tarp "$E/opq.tar" "$E/p" ./d/ ./d/keep/ ./d/keep/new ./d/.wh..wh..opq
ok "an opaque folder after a re-declared subfolder builds" build_with opq2 "$E/b" "$E/opq.tar"
is "$(unsquashfs -lln "$T/opq2/x.sqfs" 2>/dev/null | awk '{print $6}' | grep '/d/' | sed 's|^squashfs-root/||' | sort | tr '\n' ' ')" \
	"d/keep d/keep/new " "... shows only what the patch put there"

plan $_n
done_testing
