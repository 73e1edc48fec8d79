#!/bin/bash
# Reproducible builds: the same inputs give the same image (SHA-256) and the
# same build record, whatever the number of workers, whether the base is a
# folder or a tar of it, and however new the files' times are (clamped to
# the epoch). A change in one file changes only the blocks that hold it:
# other files' data blocks and other fragment groups keep their bytes.
source "$(dirname "$0")/../lib.sh"
export TZ=UTC LC_ALL=C
unset SOURCE_DATE_EPOCH

plan 44

EPOCH=1700000000
skip() { _n=$((_n + 1)); echo "ok $_n # skip $1"; }
build() { timeout 120 "$NETIMG" build "$@" >"$T/.bout" 2>&1 || { sed 's/^/# build: /' "$T/.bout"; return 1; }; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
listing() { unsquashfs -lln "$1" 2>&1; }
# recipe NAME SOURCE [CATALOG]: $T/NAME.ini, absolute paths.
recipe() {
	{
		printf '[image]\nname = repro\nversion = 1\nepoch = %s\n' "$EPOCH"
		printf '[base]\nsource = %s\n' "$2"
		if [ -n "${3:-}" ]; then printf '[patches]\ncatalog = %s\n' "$3"; fi
	} >"$T/$1.ini"
}
# rnd FILE SEED SIZE: SIZE deterministic pseudo-random bytes.
rnd() { perl -e 'srand($ARGV[1]); open(my $f, ">", $ARGV[0]) or die;
	print $f pack("C*", map { int rand 256 } 1 .. $ARGV[2])' "$@"; }
# frags IMG: the SHA-256 of every fragment block, read through the
# superblock and the fragment table, one a line.
frags() {
	perl -MDigest::SHA=sha256_hex -MCompress::Zlib -e '
		open(my $h, "<:raw", $ARGV[0]) or die; local $/; my $img = <$h>;
		my ($magic, $count, $comp) = unpack "a4 x12 V v", $img;
		die "not squashfs\n" unless $magic eq "hsqs";
		my $tab = unpack "Q<", substr($img, 80, 8);
		my $n = int(($count + 511) / 512); my $ents = "";
		for my $p (unpack "Q<$n", substr($img, $tab, 8 * $n)) {
			my $hdr = unpack "v", substr($img, $p, 2);
			my $d = substr($img, $p + 2, $hdr & 0x7fff);
			if (!($hdr & 0x8000)) {
				if ($comp == 1) { $d = uncompress($d) }
				elsif ($comp == 6) {
					open(my $o, ">:raw", "$ARGV[1]") or die; print $o $d; close $o;
					$d = `zstd -dcq "$ARGV[1]"`; undef $d if $?;
				}
				defined $d or die "cannot read the fragment table\n";
			}
			$ents .= $d;
		}
		for my $i (0 .. $count - 1) {
			my ($start, $size) = unpack "Q< V", substr($ents, 16 * $i, 12);
			print sha256_hex(substr($img, $start, $size & 0xffffff)), "\n";
		}' "$1" "$T/.meta"
}
# runs IMG: "PATH SHA-256" of the data blocks of every file that has any
# (rdsquashfs -s gives where they start and their sizes).
runs() {
	local f
	unsquashfs -lln "$1" | awk '/^-/ { sub(/^squashfs-root/, "", $NF); print $NF }' |
	while read -r f; do
		rdsquashfs -s "$f" "$1" | perl -MDigest::SHA=sha256_hex -e '
			my ($img, $path) = @ARGV[0, 1]; my ($start, $len) = (0, 0);
			while (<STDIN>) {
				$start = $1 if /^Blocks start: (\d+)/;
				$len += $1 if /^\s*Block #\d+ size: (\d+)/;
			}
			exit 0 unless $len;
			open(my $h, "<:raw", $img) or die; seek($h, $start, 0); read($h, my $b, $len);
			print "$path ", sha256_hex($b), "\n";' "$1" "$f"
	done
}
# new_in A B: how many lines of B's output are not in A's (as sets).
new_in() { comm -13 <(sort -u "$1") <(sort -u "$2") | wc -l; }

# --- the base: every kind of inode, times newer and older than EPOCH ----
B=$T/base
mkdir -p "$B/etc/default" "$B/usr/bin" "$B/usr/share/doc" "$B/dev" "$B/var/empty"
echo host >"$B/etc/hostname"
echo 'LANG=C' >"$B/etc/default/locale"
rnd "$B/usr/bin/big" 1 400000
rnd "$B/usr/bin/mid" 2 150000
for i in 1 2 3 4 5 6 7 8; do rnd "$B/usr/share/doc/d$i" $((10 + i)) $((700 * i)); done
ln "$B/usr/bin/mid" "$B/usr/bin/mid2"
ln -s mid "$B/usr/bin/mid3"
ln -s /etc/hostname "$B/etc/name"
mknod "$B/dev/null" c 1 3
mkfifo "$B/dev/initctl"
chmod 4755 "$B/usr/bin/big"
chown 1000:1001 "$B/etc/default/locale"
setfattr -n user.note -v base "$B/etc/hostname" 2>/dev/null
touch -d @1000000000 "$B/etc/default/locale"
touch -d @1000000000 "$B/etc/default"

# --- a catalog with two approved patches (tar and tar.zst) --------------
C=$T/cat
mkdir -p "$C" "$T/p1/etc" "$T/p1/usr/lib" "$T/p2/usr/share/doc"
echo "patched motd" >"$T/p1/etc/motd"
rnd "$T/p1/usr/lib/libbig.so" 3 300000
for i in 1 2 3 4 5; do rnd "$T/p1/usr/lib/small$i" $((20 + i)) $((900 * i)); done
tar --sort=name --numeric-owner --mtime=@1600000000 -C "$T/p1" -cf "$T/p1.tar" .
echo "doc two" >"$T/p2/usr/share/doc/two"
tar --sort=name --numeric-owner -C "$T/p2" -cf - . | zstd -q -o "$T/p2.tar.zst"
"$NETIMG" patch add --catalog "$C" "$T/p1.tar" --id P-1 --severity important >/dev/null
"$NETIMG" patch add --catalog "$C" "$T/p2.tar.zst" --id P-2 --severity low >/dev/null
"$NETIMG" patch approve --catalog "$C" P-1 --by alice >/dev/null
"$NETIMG" patch approve --catalog "$C" P-2 --by bob >/dev/null
recipe full "$B" "$C"

# --- the same recipe twice, and with other numbers of workers ------------
ok "first build" build "$T/full.ini" -o "$T/a/img.sqfs"
ok "second build" build "$T/full.ini" -o "$T/b/img.sqfs"
is "$(sha "$T/b/img.sqfs")" "$(sha "$T/a/img.sqfs")" "two builds: the same SHA-256"
ok "two builds: byte-identical build records" cmp "$T/a/img.json" "$T/b/img.json"
is "$(jget "$T/a/img.json" '$d->{image}{sha256}')" "$(sha "$T/a/img.sqfs")" "the record holds the image's SHA-256"
ok "build with -j 1" build "$T/full.ini" -j 1 -o "$T/j1/img.sqfs"
ok "-j 1: identical image" cmp "$T/a/img.sqfs" "$T/j1/img.sqfs"
ok "-j 1: identical record" cmp "$T/a/img.json" "$T/j1/img.json"
ok "build with --jobs 7" build "$T/full.ini" --jobs 7 -o "$T/j7/img.sqfs"
ok "--jobs 7: identical image and record" sh -c "cmp '$T/a/img.sqfs' '$T/j7/img.sqfs' && cmp '$T/a/img.json' '$T/j7/img.json'"

# --- a folder base and a tar of it ----------------------------------------
recipe dir "$B"
ok "base as a folder" build "$T/dir.ini" -o "$T/dir/img.sqfs"
tar --sort=name --xattrs --format=posix --numeric-owner -C "$B" -cf "$T/base.tar" .
recipe tar "$T/base.tar"
ok "base as a tar of it" build "$T/tar.ini" -o "$T/tar/img.sqfs"
if cmp -s "$T/dir/img.sqfs" "$T/tar/img.sqfs"; then
	ok "folder and tar: identical images" true
else
	ok "folder and tar: identical images" diff <(listing "$T/dir/img.sqfs") <(listing "$T/tar/img.sqfs")
	echo "# they differ in $(cmp -l "$T/dir/img.sqfs" "$T/tar/img.sqfs" | wc -l) bytes"
fi
zstd -q -c "$T/base.tar" >"$T/base.tar.zst"
recipe zst "$T/base.tar.zst"
ok "base as a .tar.zst" build "$T/zst.ini" -o "$T/zst/img.sqfs"
ok "folder and .tar.zst: identical images" cmp "$T/dir/img.sqfs" "$T/zst/img.sqfs"
# the same tree with the tar's members in another order: the same files,
# modes and times; the bytes follow the archive's order (noted, not required).
(cd "$B" && find . | sort -r) >"$T/rev.list"
tar --no-recursion --xattrs --format=posix --numeric-owner -C "$B" -cf "$T/rev.tar" -T "$T/rev.list"
recipe rev "$T/rev.tar"
ok "base as a tar in reverse order" build "$T/rev.ini" -o "$T/rev/img.sqfs"
ok "reverse-order tar: the same listing" diff <(listing "$T/dir/img.sqfs") <(listing "$T/rev/img.sqfs")
echo "# reverse-order tar: $(cmp -l "$T/dir/img.sqfs" "$T/rev/img.sqfs" | wc -l) of $(stat -c %s "$T/dir/img.sqfs") bytes differ"
# the image as the base of the same recipe: a fixed point
recipe again "$T/dir/img.sqfs"
ok "the image as a base" build "$T/again.ini" -o "$T/again/img.sqfs"
ok "the image as a base gives the same image" cmp "$T/dir/img.sqfs" "$T/again/img.sqfs"

# --- times newer than the epoch are clamped ---------------------------------
touch -d @2000000000 "$B/etc/hostname" "$B/usr/share/doc" "$B"
ok "newer mtimes (a file, its folder, the root)" build "$T/dir.ini" -o "$T/touched/img.sqfs"
ok "newer mtimes change nothing" cmp "$T/dir/img.sqfs" "$T/touched/img.sqfs"
touch -d @1600000000 "$B/etc/hostname"
ok "an older mtime" build "$T/dir.ini" -o "$T/older/img.sqfs"
ok "an older mtime is kept (and changes the image)" sh -c "! cmp -s '$T/dir/img.sqfs' '$T/older/img.sqfs'"
touch -d @2000000000 "$B/etc/hostname"

# --- xattrs: the same set in another order is the same tree -----------------
if setfattr -n user.x -v 1 "$T" 2>/dev/null; then
	mkdir -p "$T/xa/etc" "$T/xb/etc"
	echo v >"$T/xa/etc/f"
	echo v >"$T/xb/etc/f"
	setfattr -n user.a -v 1 "$T/xa/etc/f"; setfattr -n user.b -v 2 "$T/xa/etc/f"
	setfattr -n user.b -v 2 "$T/xb/etc/f"; setfattr -n user.a -v 1 "$T/xb/etc/f"
	recipe xa "$T/xa"; recipe xb "$T/xb"
	build "$T/xa.ini" -o "$T/xa.sqfs"; build "$T/xb.ini" -o "$T/xb.sqfs"
	ok "xattrs set in another order: the same image" cmp "$T/xa.sqfs" "$T/xb.sqfs"
	recipe xaa "$T/xa.sqfs"
	build "$T/xaa.ini" -o "$T/xaa.sqfs"
	ok "an image with several xattrs on a file, as a base: the same image" cmp "$T/xa.sqfs" "$T/xaa.sqfs"
else
	skip "no user xattrs here"
	skip "no user xattrs here"
fi

# --- one file of a patch changed: only its blocks change -------------------
# libbig.so (300000 bytes: 2 full blocks and a tail) gets 16 new bytes at
# offset 1000: its first data block changes; every other file's data blocks
# and the fragment blocks of other groups keep their bytes.
C2=$T/cat2
perl -e 'open(my $f, "+<", $ARGV[0]) or die; seek($f, 1000, 0); print $f "sixteen new byte"' \
	"$T/p1/usr/lib/libbig.so"
tar --sort=name --numeric-owner --mtime=@1600000000 -C "$T/p1" -cf "$T/p1b.tar" .
mkdir -p "$C2"
"$NETIMG" patch add --catalog "$C2" "$T/p1b.tar" --id P-1 --severity important >/dev/null
"$NETIMG" patch add --catalog "$C2" "$T/p2.tar.zst" --id P-2 --severity low >/dev/null
"$NETIMG" patch approve --catalog "$C2" P-1 --by alice >/dev/null
"$NETIMG" patch approve --catalog "$C2" P-2 --by bob >/dev/null
sed "s|$C\$|$C2|" "$T/full.ini" >"$T/full2.ini"
ok "a patch with one file changed" build "$T/full2.ini" -o "$T/c/img.sqfs"
ok "the image changes" sh -c "! cmp -s '$T/a/img.sqfs' '$T/c/img.sqfs'"
sa=$(stat -c %s "$T/a/img.sqfs"); sc=$(stat -c %s "$T/c/img.sqfs")
d=$((sa > sc ? sa - sc : sc - sa))
ok "the image size changes by less than 8 KiB ($sa -> $sc)" test $d -lt 8192
runs "$T/a/img.sqfs" >"$T/a.runs"; runs "$T/c/img.sqfs" >"$T/c.runs"
is "$(comm -3 <(sort "$T/a.runs") <(sort "$T/c.runs") | awk '{ print $1 }' | sort -u | tr '\n' ' ')" \
	"/usr/lib/libbig.so " "only the changed file's data blocks differ"
is "$(awk '{ print $1 }' "$T/a.runs" | tr '\n' ' ')" "/usr/bin/big /usr/bin/mid /usr/bin/mid2 /usr/lib/libbig.so " \
	"(the files with data blocks: big, mid and its hard link mid2, libbig.so)"
frags "$T/a/img.sqfs" >"$T/a.frags"; frags "$T/c/img.sqfs" >"$T/c.frags"
is "$(new_in "$T/a.frags" "$T/c.frags")" 0 "no fragment block changes (the change is in a full block)"

# --- the fragment-group rule on 200 small files ------------------------
# 200 files of 1-5 KB of random bytes in 20 folders: every tail goes to a
# fragment block. One file changed (same length, then longer): only the
# blocks of its group may change.
G=$T/g
mkdir -p "$G"
perl -e 'srand(7); for my $d (1 .. 20) { mkdir "$ARGV[0]/d$d";
	for my $f (1 .. 10) { open(my $h, ">", "$ARGV[0]/d$d/f$f") or die;
		print $h pack("C*", map { int rand 256 } 1 .. 1024 + int rand 4096) } }' "$G"
recipe groups "$G"
ok "200 small files" build "$T/groups.ini" -o "$T/g1.sqfs"
perl -e 'open(my $f, "+<", $ARGV[0]) or die; seek($f, 500, 0); print $f "x" x 32' "$G/d11/f4"
ok "one changed in place" build "$T/groups.ini" -o "$T/g2.sqfs"
head -c 300 /dev/zero >>"$G/d3/f7"
ok "another grown by 300 bytes" build "$T/groups.ini" -o "$T/g3.sqfs"
size=$(stat -c %s "$T/g1.sqfs")
diff12=$(cmp -l "$T/g1.sqfs" "$T/g2.sqfs" | wc -l)
diff23=$(cmp -l "$T/g2.sqfs" "$T/g3.sqfs" | wc -l)
echo "# 200 files, image $size bytes: same-length change: $diff12 bytes differ in place; grown file: $diff23 bytes differ in place"
ok "same-length change: under 25% of the bytes differ in place" test $((diff12 * 4)) -lt "$size"
frags "$T/g1.sqfs" >"$T/g1.frags"; frags "$T/g2.sqfs" >"$T/g2.frags"; frags "$T/g3.sqfs" >"$T/g3.frags"
echo "# fragment blocks: $(wc -l <"$T/g1.frags"), new after the change in place: $(new_in "$T/g1.frags" "$T/g2.frags"), after the grown file: $(new_in "$T/g2.frags" "$T/g3.frags")"
ok "several fragment blocks" test "$(wc -l <"$T/g1.frags")" -ge 4
ok "same-length change: at most 2 fragment blocks are new" test "$(new_in "$T/g1.frags" "$T/g2.frags")" -le 2
ok "grown file: at most 2 fragment blocks are new" test "$(new_in "$T/g2.frags" "$T/g3.frags")" -le 2

# --- a patch that replaces a base file keeps the file's place -------------
# The patched file is written where the base had it, so only its own group
# changes, not also the group it left and a new one at the end.
perl -e 'open(my $f, "+<", $ARGV[0]) or die; seek($f, 500, 0); print $f "x" x 32' "$G/d11/f4"
mkdir -p "$T/gp/d15"
perl -e 'srand(99); open(my $h, ">", $ARGV[0]) or die; print $h pack("C*", map { int rand 256 } 1 .. 3000)' "$T/gp/d15/f6"
tar --numeric-owner --owner=0 --group=0 -C "$T/gp" -cf "$T/gp.tar" ./d15/f6
"$NETIMG" patch add --catalog "$T/gcat" "$T/gp.tar" --id GP-1 --severity low >/dev/null 2>&1 || mkdir -p "$T/gcat"
"$NETIMG" patch add --catalog "$T/gcat" "$T/gp.tar" --id GP-1 --severity low >/dev/null 2>&1
"$NETIMG" patch approve --catalog "$T/gcat" GP-1 --by t >/dev/null 2>&1
recipe gpatched "$G" "$T/gcat"
ok "the same tree with one file replaced by a patch" build "$T/gpatched.ini" -o "$T/g4.sqfs"
frags "$T/g4.sqfs" >"$T/g4.frags"
echo "# a patch replacing one small file: $(new_in "$T/g3.frags" "$T/g4.frags") new fragment blocks"
is "$(unsquashfs -cat "$T/g4.sqfs" d15/f6 | sha256sum | cut -d' ' -f1)" "$(sha256sum <"$T/gp/d15/f6" | cut -d' ' -f1)" \
	"the patch's file is in the image"
ok "a patch replacing one small base file: at most 2 fragment blocks are new" \
	test "$(new_in "$T/g3.frags" "$T/g4.frags")" -le 2

# --- a compressed file's tail is not packed with others --------------------
# A .gz file of 2 KiB or more keeps its tail in a data block of its own:
# changed (other content, other length), it changes no fragment block.
perl -e 'srand(5); print pack("C*", map { int rand 256 } 1 .. 6000)' | gzip -n >"$G/d7/notes.gz"
ok "the tree with a .gz file" build "$T/groups.ini" -o "$T/g5.sqfs"
perl -e 'srand(6); print pack("C*", map { int rand 256 } 1 .. 7000)' | gzip -n >"$G/d7/notes.gz"
ok "the .gz file changed" build "$T/groups.ini" -o "$T/g6.sqfs"
frags "$T/g5.sqfs" >"$T/g5.frags"; frags "$T/g6.sqfs" >"$T/g6.frags"
is "$(new_in "$T/g5.frags" "$T/g6.frags")" 0 "a changed .gz file: no fragment block changes"

done_testing
