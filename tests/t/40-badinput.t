#!/bin/bash
# Bad input to `netimg build`: every refused build ends with one stderr line
# naming the file (and the entry, where there is one), a non-zero exit, no
# image, no record and no temporary file in the output folder; an image and
# record already at the -o path stay byte-identical.
#   unsafe entries in patches and in the base: '..', writing through a
#     symlink the same archive creates, hard links to missing targets,
#     device nodes in a patch (accepted in the base);
#   truncated and corrupt archives, as the base and as patches;
#   hash mismatches (patch file changed after `patch add`, [base] sha256);
#   a catalog.json with a supersedence cycle or duplicate ids;
#   a base that is missing, a FIFO, a character device, not an archive, empty;
#   a full disk while writing (tmpfs), and a record that cannot be written.
source "$(dirname "$0")/../lib.sh"
export TZ=UTC LC_ALL=C
unset SOURCE_DATE_EPOCH

plan 109

# build ARGS...: `netimg build`, bounded in time (TMO seconds, default 120).
build() { timeout "${TMO:-120}" "$NETIMG" build "$@"; }
skip() { _n=$((_n + 1)); echo "ok $_n # skip $1"; }

# mktar OUT SPEC...: a tar with exactly these entries, in this order (names
# kept as given, '..' included). SPEC is f:NAME:CONTENT, d:NAME, l:NAME:TARGET
# (symlink), h:NAME:TARGET (hard link), c:NAME:MAJ,MIN or b:NAME:MAJ,MIN.
mktar() {
	perl -MArchive::Tar -MArchive::Tar::Constant -e '
		my $out = shift; my $tar = Archive::Tar->new;
		for my $spec (@ARGV) {
			my ($k, $name, $arg) = split /:/, $spec, 3;
			my %o = (mtime => 1600000000, uid => 0, gid => 0,
				 uname => "root", gname => "root", mode => 0644);
			my $data = "";
			if ($k eq "f") { $data = $arg; $o{type} = FILE }
			elsif ($k eq "d") { $o{type} = DIR; $o{mode} = 0755 }
			elsif ($k eq "l") { $o{type} = SYMLINK; $o{linkname} = $arg; $o{mode} = 0777 }
			elsif ($k eq "h") { $o{type} = HARDLINK; $o{linkname} = $arg }
			elsif ($k eq "c" || $k eq "b") {
				$o{type} = $k eq "c" ? CHARDEV : BLOCKDEV;
				@o{qw(devmajor devminor)} = split /,/, $arg;
			} else { die "mktar: bad spec $spec\n" }
			$tar->add_data($name, $data, \%o) or die "mktar: $name: ", $tar->error, "\n";
		}
		$tar->write($out) or die "mktar: ", $tar->error, "\n";' "$@"
}
# recipe NAME SOURCE [CATALOG] [SHA256]: writes $T/NAME.ini (absolute paths).
recipe() {
	{
		printf '[image]\nname = %s\nversion = 1\nepoch = 1700000000\n' "$1"
		printf '[base]\nsource = %s\n' "$2"
		if [ -n "${4:-}" ]; then printf 'sha256 = %s\n' "$4"; fi
		if [ -n "${3:-}" ]; then printf '[patches]\ncatalog = %s\n' "$3"; fi
	} >"$T/$1.ini"
}
# patched NAME FILE: a catalog $T/cat-NAME holding FILE as the approved patch
# P-1, and the recipe $T/NAME.ini on the good base with that catalog.
patched() {
	mkdir -p "$T/cat-$1"
	"$NETIMG" patch add --catalog "$T/cat-$1" "$2" --id P-1 --severity important >/dev/null &&
		"$NETIMG" patch approve --catalog "$T/cat-$1" P-1 --by alice >/dev/null ||
		echo "# cannot make the catalog for $1"
	recipe "$1" "$T/base" "$T/cat-$1"
}
# empty_or_absent DIR: nothing at all was left in DIR.
empty_or_absent() {
	[ ! -e "$1" ] && return 0
	local left; left=$(ls -A "$1")
	[ -z "$left" ] || { echo "left in $1: $left"; return 1; }
}
# untouched DIR RC: the build failed (RC) and DIR holds the old image and
# record, byte-identical, and nothing else.
untouched() {
	[ "$2" != 0 ] || { echo "the build succeeded"; return 1; }
	cmp "$T/good.sqfs" "$1/img.sqfs" && cmp "$T/good.json" "$1/img.json" || return 1
	local left; left=$(ls -A "$1" | grep -v -x -e img.sqfs -e img.json)
	[ -z "$left" ] || { echo "left in $1: $left"; return 1; }
}
# bad NAME PATTERN RECIPE: three tests. Into a fresh folder the build fails
# with one stderr line matching PATTERN and leaves nothing; over an old image
# and record it fails and leaves them untouched.
nbad=0
bad() {
	local name=$1 pat=$2 recipe=$3 fresh old rc
	nbad=$((nbad + 1))
	fresh=$T/out/$nbad/new old=$T/out/$nbad/old
	mkdir -p "$old"
	cp "$T/good.sqfs" "$old/img.sqfs"
	cp "$T/good.json" "$old/img.json"
	fails "$name" "$pat" build "$recipe" -o "$fresh/img.sqfs"
	ok "$name: no image, record or temporary file" empty_or_absent "$fresh"
	build "$recipe" -o "$old/img.sqfs" >"$T/.bout" 2>&1; rc=$?
	ok "$name: an old image and record stay untouched" untouched "$old" "$rc"
}
# devices IMG: the character and block devices in the image, one a line.
devices() { unsquashfs -lln "$1" 2>/dev/null | awk '/^[cb]/ { print $1, $3, $4, $NF }'; }

# --- the good base, its image, and archives of various sizes -----------
B=$T/base
mkdir -p "$B/etc" "$B/usr/bin" "$B/dev" "$B/tmp"
echo host >"$B/etc/hostname"
echo tool >"$B/usr/bin/tool"
mknod "$B/dev/null" c 1 3
mknod "$B/dev/sda" b 8 0
recipe good "$B"
build "$T/good.ini" -o "$T/good.sqfs" >"$T/.out" 2>&1 || { sed 's/^/# /' "$T/.out"; }
ok "the good base builds" test -s "$T/good.sqfs" -a -s "$T/good.json"

# device nodes in the base are accepted: as a folder and as a tar
is "$(devices "$T/good.sqfs")" "crw-r--r-- 1, 3 squashfs-root/dev/null
brw-r--r-- 8, 0 squashfs-root/dev/sda" "device nodes in a base folder are kept"
tar --sort=name --numeric-owner -C "$B" -cf "$T/base.tar" .
recipe devtar "$T/base.tar"
ok "a base tar with device nodes builds" build "$T/devtar.ini" -o "$T/devtar.sqfs"
is "$(devices "$T/devtar.sqfs")" "$(devices "$T/good.sqfs")" "device nodes in a base tar are kept"

# BIG: 40 text files of 20 KB (compressible, deterministic); RND: one
# 256 KB file of random bytes (gzip stores it: no Huffman code to break).
mkdir -p "$T/big/etc" "$T/rnd/etc"
perl -e 'srand(1); for my $i (1 .. 40) {
	open(my $f, ">", "$ARGV[0]/etc/f$i") or die;
	print $f join(" ", map { int rand 100000 } 1 .. 3500), "\n" }' "$T/big"
perl -e 'srand(2); open(my $f, ">", "$ARGV[0]/etc/blob") or die;
	print $f pack("C*", map { int rand 256 } 1 .. 262144)' "$T/rnd"
tar --sort=name --numeric-owner -C "$T/big" -cf "$T/big.tar" .
tar --sort=name --numeric-owner -C "$T/rnd" -cf "$T/rnd.tar" .
zstd -q -f "$T/big.tar" -o "$T/big.tar.zst"
gzip -n -c "$T/big.tar" >"$T/big.tar.gz"
gzip -n -c "$T/rnd.tar" >"$T/rnd.tar.gz"
# halve FILE OUT: the first half of FILE. smash FILE OUT: FILE with 64 fixed
# "random" bytes written over its middle.
halve() { head -c $(($(stat -c %s "$1") / 2)) "$1" >"$2"; }
smash() {
	cp "$1" "$2"
	perl -e 'srand(42); print pack("C*", map { int rand 256 } 1 .. 64)' |
		dd of="$2" bs=1 seek=$(($(stat -c %s "$2") / 2)) conv=notrunc status=none
}
halve "$T/big.tar" "$T/cut.tar"
halve "$T/big.tar.zst" "$T/cut.tar.zst"
smash "$T/big.tar.gz" "$T/bad.tar.gz"
# flip GZ DATA OUT: GZ with 64 bytes of DATA inverted where gzip stored them
# as they are (a stored block): only the CRC-32 in gzip's trailer tells.
flip() {
	perl -e 'local $/; open(my $g, "<", $ARGV[0]) or die; my $gz = <$g>;
		open(my $d, "<", $ARGV[1]) or die; my $piece = substr(<$d>, 100000, 64);
		my $at = index($gz, $piece); die "flip: not stored as is\n" if $at < 0;
		substr($gz, $at, 64) = $piece ^ ("\xff" x 64);
		open(my $o, ">", $ARGV[2]) or die; print $o $gz' "$@"
}
flip "$T/rnd.tar.gz" "$T/rnd/etc/blob" "$T/badstored.tar.gz"
ok "the smashed .tar.gz files are corrupt for gzip" \
	sh -c "! gzip -t '$T/bad.tar.gz' 2>/dev/null && ! gzip -t '$T/badstored.tar.gz' 2>/dev/null"
head -c 100000 /dev/urandom >"$T/random.bin"
: >"$T/empty.tar"
mkfifo "$T/fifo"

# --- unsafe entries in a patch ----------------------------------------
mktar "$T/up1.tar" 'f:../x:evil'
patched up1 "$T/up1.tar"
bad "patch: '../x'" "files/P-1/up1\.tar: entry '\.\./x': path climbs out of the root" "$T/up1.ini"
mktar "$T/up2.tar" 'f:etc/a:ok' 'f:etc/../../x:evil'
patched up2 "$T/up2.tar"
bad "patch: 'etc/../../x'" "files/P-1/up2\.tar: entry 'etc/\.\./\.\./x': path climbs out" "$T/up2.ini"
mktar "$T/up3.tar" 'l:etc2:/tmp' 'f:etc2/x:evil'
patched up3 "$T/up3.tar"
bad "patch: a file through a symlink it creates" \
	"files/P-1/up3\.tar: entry 'etc2/x': would be written through a symlink the same archive creates" "$T/up3.ini"
mktar "$T/up4.tar" 'l:etc2:../../..' 'd:etc2/sub'
patched up4 "$T/up4.tar"
bad "patch: a folder through a symlink it creates" \
	"files/P-1/up4\.tar: entry 'etc2/sub': would be written through a symlink" "$T/up4.ini"
mktar "$T/up5.tar" 'd:d' 'l:d/l:/' 'h:d/l/etc/h:etc/hostname'
patched up5 "$T/up5.tar"
bad "patch: a hard link through a symlink it creates" \
	"files/P-1/up5\.tar: entry 'd/l/etc/h': would be written through a symlink" "$T/up5.ini"
mktar "$T/up6.tar" 'h:etc/h:etc/nope'
patched up6 "$T/up6.tar"
bad "patch: a hard link to a missing target" \
	"files/P-1/up6\.tar: entry 'etc/h': hard link to missing target 'etc/nope'" "$T/up6.ini"
mktar "$T/up7.tar" 'h:etc/h:../etc/hostname'
patched up7 "$T/up7.tar"
bad "patch: a hard link target with '..'" \
	"files/P-1/up7\.tar: entry 'etc/h': hard link target climbs out of the root" "$T/up7.ini"
mkdir -p "$T/devp/dev"
mknod "$T/devp/dev/null2" c 1 3
tar -C "$T/devp" -cf "$T/up8.tar" dev/null2
patched up8 "$T/up8.tar"
bad "patch: a character device" "files/P-1/up8\.tar: entry 'dev/null2': device node inside a patch" "$T/up8.ini"
mktar "$T/up9.tar" 'b:dev/sdb:8,16'
patched up9 "$T/up9.tar"
bad "patch: a block device" "files/P-1/up9\.tar: entry 'dev/sdb': device node inside a patch" "$T/up9.ini"

# --- unsafe entries in the base ----------------------------------------
mktar "$T/ub1.tar" 'd:etc' 'f:etc/../../x:evil'
recipe ub1 "$T/ub1.tar"
bad "base: 'etc/../../x'" "ub1\.tar: entry 'etc/\.\./\.\./x': path climbs out of the root" "$T/ub1.ini"
mktar "$T/ub2.tar" 'l:etc2:/tmp' 'f:etc2/x:evil'
recipe ub2 "$T/ub2.tar"
bad "base: a file through a symlink it creates" \
	"ub2\.tar: entry 'etc2/x': would be written through a symlink" "$T/ub2.ini"
mktar "$T/ub3.tar" 'h:etc/h:etc/nope'
recipe ub3 "$T/ub3.tar"
bad "base: a hard link to a missing target" "ub3\.tar: entry 'etc/h': hard link to missing target" "$T/ub3.ini"

# --- truncated and corrupt archives -------------------------------------
recipe tb1 "$T/cut.tar"
bad "base: truncated .tar" "cut\.tar: .*truncated" "$T/tb1.ini"
recipe tb2 "$T/cut.tar.zst"
bad "base: truncated .tar.zst" "cut\.tar\.zst: .*[Tt]runcated" "$T/tb2.ini"
recipe tb3 "$T/bad.tar.gz"
bad "base: corrupt .tar.gz" "bad\.tar\.gz: .*corrupt" "$T/tb3.ini"
recipe tb4 "$T/badstored.tar.gz"
bad "base: corrupt .tar.gz (damage in stored data, CRC-32 wrong)" "badstored\.tar\.gz: " "$T/tb4.ini"
patched tp1 "$T/cut.tar"
bad "patch: truncated .tar" "files/P-1/cut\.tar: .*truncated" "$T/tp1.ini"
patched tp2 "$T/cut.tar.zst"
bad "patch: truncated .tar.zst" "files/P-1/cut\.tar\.zst: .*[Tt]runcated" "$T/tp2.ini"
patched tp3 "$T/bad.tar.gz"
bad "patch: corrupt .tar.gz" "files/P-1/bad\.tar\.gz: .*corrupt" "$T/tp3.ini"
patched tp4 "$T/badstored.tar.gz"
bad "patch: corrupt .tar.gz (damage in stored data, CRC-32 wrong)" "files/P-1/badstored\.tar\.gz: " "$T/tp4.ini"
patched tp5 "$T/random.bin"
bad "patch: random bytes" "files/P-1/random\.bin: .*Unrecognized archive format" "$T/tp5.ini"

# --- hash mismatches --------------------------------------------------
mktar "$T/hp.tar" 'f:etc/motd:hello'
patched hp1 "$T/hp.tar"
echo >>"$T/cat-hp1/files/P-1/hp.tar"
bad "patch file changed after patch add" "files/P-1/hp\.tar: SHA-256 mismatch \(pinned [0-9a-f]{64}, file has [0-9a-f]{64}\)" "$T/hp1.ini"
patched hp2 "$T/hp.tar"
rm "$T/cat-hp2/files/P-1/hp.tar"
bad "patch file removed after patch add" "files/P-1/hp\.tar: No such file or directory" "$T/hp2.ini"
recipe hb "$T/base.tar" "" "$(printf '0%.0s' $(seq 64))"
bad "[base] sha256 pin mismatch" "base\.tar: SHA-256 mismatch \(pinned 0{64}, file has $(sha256sum "$T/base.tar" | cut -c1-64)\)" "$T/hb.ini"

# --- a hand-edited catalog.json: cycle, duplicate ids -------------------
mktar "$T/c2.tar" 'f:etc/two:2'
patched cy "$T/hp.tar"
"$NETIMG" patch add --catalog "$T/cat-cy" "$T/c2.tar" --id P-2 --severity important --supersedes P-1 >/dev/null
"$NETIMG" patch approve --catalog "$T/cat-cy" P-2 --by alice >/dev/null
cp -r "$T/cat-cy" "$T/cat-dup"
recipe dup "$T/base" "$T/cat-dup"
ok "the two-patch catalog builds" build "$T/cy.ini" -o "$T/cy-ok.sqfs"
perl -MJSON::PP -i -0777 -pe '$d = decode_json($_); $d->{patches}[0]{supersedes} = ["P-2"];
	$_ = JSON::PP->new->pretty->canonical->encode($d)' "$T/cat-cy/catalog.json"
bad "a supersedence cycle in catalog.json" "cat-cy/catalog\.json: patch P-[12]: supersedence cycle P-[12] -> P-[12] -> P-[12]" "$T/cy.ini"
perl -MJSON::PP -i -0777 -pe '$d = decode_json($_); $d->{patches}[1]{id} = "P-1";
	$d->{patches}[1]{supersedes} = []; $_ = JSON::PP->new->pretty->canonical->encode($d)' "$T/cat-dup/catalog.json"
bad "duplicate patch ids in catalog.json" "cat-dup/catalog\.json: patch P-1: duplicate id" "$T/dup.ini"

# --- bases that cannot be read as a root file system --------------------
recipe nb1 "$T/nothere.tar"
bad "a base that does not exist" "nothere\.tar: No such file or directory" "$T/nb1.ini"
recipe nb2 "$T/random.bin"
bad "a base of random bytes" "random\.bin: .*Unrecognized archive format" "$T/nb2.ini"
TMO=5
recipe nb3 "$T/fifo"
bad "a base that is a FIFO (refused, not waited on)" "fifo: " "$T/nb3.ini"
recipe nb4 /dev/zero
bad "a base that is a character device (refused, not read forever)" "/dev/zero: " "$T/nb4.ini"
TMO=120
recipe nb5 "$T/empty.tar"
bad "an empty (0-byte) base file" "empty\.tar: " "$T/nb5.ini"

# --- a full disk while writing ------------------------------------------
# FULL: a 2 MiB tmpfs; the image of an 8 MB random file does not fit.
FULL=$T/full
FIT=$T/fit
cleanup() {
	mountpoint -q "$FULL" && umount "$FULL"
	mountpoint -q "$FIT" && umount "$FIT"
	rm -rf "$T"
}
mkdir -p "$FULL" "$FIT" "$T/huge/etc"
head -c 8000000 /dev/urandom >"$T/huge/etc/blob"
recipe huge "$T/huge"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=2m tmpfs "$FULL" 2>/dev/null; then
	fails "full disk: the build fails" "full/img\.sqfs.*: No space left on device$" \
		build "$T/huge.ini" -o "$FULL/img.sqfs"
	like "$(cat "$T/.ferr")" "^netimg: $FULL/img\.sqfs: .*No space left on device$" \
		"full disk: the line names the image, not a temporary file that is gone"
	ok "full disk: nothing is left in the folder" empty_or_absent "$FULL"
	is "$(df -k --output=used "$FULL" | tail -1 | tr -d ' ')" 0 "full disk: all the space is given back"
	cp "$T/good.sqfs" "$FULL/img.sqfs"
	cp "$T/good.json" "$FULL/img.json"
	build "$T/huge.ini" -o "$FULL/img.sqfs" >"$T/.bout" 2>&1
	ok "full disk: an old image and record stay untouched" untouched "$FULL" $?
	umount "$FULL"
else
	for i in 1 2 3 4 5; do skip "full disk: needs root and tmpfs"; done
fi

# FIT: exactly as large as the image: the image fits, its record does not.
# The build must fail as a whole: no image without its record.
recipe small "$T/rnd"
build "$T/small.ini" -o "$T/ref/img.sqfs" >/dev/null 2>&1
pg=$(getconf PAGESIZE)
size=$(( ($(stat -c %s "$T/ref/img.sqfs") + pg - 1) / pg * pg ))
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=$size tmpfs "$FIT" 2>/dev/null; then
	fails "no room for the record: the build fails" "fit/img\.json.*No space left on device" \
		build "$T/small.ini" -o "$FIT/img.sqfs"
	ok "no room for the record: no image is left without its record" empty_or_absent "$FIT"
	umount "$FIT"
else
	for i in 1 2; do skip "full disk: needs root and tmpfs"; done
fi

# The record's path is taken by a folder: same rule, and an old image at
# the -o path must not be replaced by an image the build reports as failed.
mkdir -p "$T/jd/img.json"
cp "$T/good.sqfs" "$T/jd/img.sqfs"
fails "the record cannot be written: the build fails" "jd/img\.json: .*Is a directory" \
	build "$T/small.ini" -o "$T/jd/img.sqfs"
ok "the record cannot be written: the old image stays untouched" cmp "$T/good.sqfs" "$T/jd/img.sqfs"
mkdir -p "$T/jd2/img.json"
build "$T/small.ini" -o "$T/jd2/img.sqfs" >/dev/null 2>&1
ok "the record cannot be written: no new image is left" test ! -e "$T/jd2/img.sqfs"

done_testing
