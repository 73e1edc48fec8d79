#!/bin/bash
# The recipe: every key of [image], [base], [patches] and [boot] changes
# the image or its build record the way the recipe format says, and every
# malformed recipe is refused with FILE:LINE. Also `netimg build`'s -o and
# --json, the default output path and the build record beside the image.
source "$(dirname "$0")/../lib.sh"
export TZ=UTC LC_ALL=C
unset SOURCE_DATE_EPOCH

R=$T/r                   # the recipe folder: relative paths start here
mkdir -p "$R"
EPOCH=1500000000         # 2017-07-14 02:40:00 UTC
NEW=2000000000           # a file newer than EPOCH: clamped
OLD=1000000000           # a file older than EPOCH: kept

# nb ARGS...: netimg, bounded in time.
nb() { timeout 60 "$NETIMG" "$@"; }
# recipe FILE: writes stdin to FILE.
recipe() { cat >"$1"; }
# sq IMG FIELD: a line of `unsquashfs -s`, without its label.
sq() { unsquashfs -s "$1" 2>/dev/null | sed -n "s/^$2 //p"; }
# listing IMG: `unsquashfs -lln`, the image's files with modes, owners,
# sizes and times (TZ=UTC).
listing() { unsquashfs -lln "$1" 2>&1; }
# extract IMG DIR
extract() { rm -rf "$2"; unsquashfs -no-progress -d "$2" "$1" >/dev/null 2>&1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# image [KEY=VALUE...]: a recipe on the base folder with [image] keys.
image_recipe() {
	local f=$1; shift
	{
		echo "[image]"
		echo "name = demo"
		echo "version = 1.2.3"
		for kv in "$@"; do echo "$kv"; done
		echo "[base]"
		echo "source = base"
	} >"$f"
}

# --- the base: a small root with every kind of inode --------------------
B=$R/base
mkdir -p "$B/etc" "$B/usr/bin" "$B/usr/sbin" "$B/usr/share" "$B/dev" "$B/var/empty"
echo hello >"$B/etc/hello"
echo bin >"$B/usr/bin/x"
ln "$B/usr/bin/x" "$B/usr/bin/xx"
ln -s x "$B/usr/bin/y"
head -c 300000 /dev/urandom >"$B/usr/share/big"
echo su >"$B/usr/sbin/su"
chown 1234:1234 "$B/usr/sbin/su"
chmod 4755 "$B/usr/sbin/su"
mknod "$B/dev/null" c 1 3
touch -d "@$NEW" "$B/etc/hello"
touch -d "@$OLD" "$B/usr/bin/x"
touch -h -d "@$OLD" "$B/usr/bin/y"
# the archives and the squashfs image of the same tree
tar --numeric-owner -C "$B" -cf - . | zstd -q -o "$R/base.tar.zst"
tar --numeric-owner -C "$B" -cf - . | xz -c >"$R/base.tar.xz"
mksquashfs "$B" "$R/base.sqfs" -noappend -no-progress -quiet >/dev/null 2>&1

# ========================================================================
# [image] name and version: default output, record, /etc/netimg-release
# ========================================================================
image_recipe "$R/recipe.ini" "epoch = $EPOCH"
(cd / && nb build "$R/recipe.ini" --quiet) >"$T/out" 2>&1; rc=$?
is "$rc" 0 "a minimal recipe builds (run from another folder)"
IMG=$R/out/demo-1.2.3.sqfs
ok "default output is out/NAME-VERSION.sqfs next to the recipe" test -f "$IMG"
ok "the record is out/NAME-VERSION.json beside it" test -f "$R/out/demo-1.2.3.json"
ok "nothing was written in the current folder" test ! -e /out/demo-1.2.3.sqfs
REC=$R/out/demo-1.2.3.json
is "$(jget "$REC" '$d->{name} . " " . $d->{version}')" "demo 1.2.3" "record: name and version"
is "$(unsquashfs -cat "$IMG" etc/netimg-release 2>&1)" 'NAME=demo
VERSION=1.2.3
PATCHES=""' "/etc/netimg-release names the image, no patches"
is "$(jget "$REC" '$d->{image}{sha256}')" "$(sha "$IMG")" "record: the image's SHA-256"
is "$(jget "$REC" '$d->{image}{size}')" "$(stat -c %s "$IMG")" \
	"record: the image's size is the file's size (what sha256 covers)"
is "$(( $(stat -c %s "$IMG") % 4096 ))" 0 "the image file is padded to a multiple of 4096 bytes"
is "$(jget "$REC" '$d->{image}{file}')" "demo-1.2.3.sqfs" "record: the image's file name"
is "$(jget "$REC" 'scalar @{$d->{patches}} . " " . scalar @{$d->{skipped}} . " " . (defined $d->{boot} ? "boot" : "noboot")')" \
	"0 0 noboot" "record: no patches, nothing skipped, no [boot]"
is "$(jget "$REC" '$d->{recipe}{compression} . " " . $d->{recipe}{block_size}')" "zstd 131072" \
	"record: defaults are zstd and 128 KiB blocks"
is "$(sq "$IMG" Compression)" zstd "the default compression is zstd"
is "$(sq "$IMG" "Block size")" 131072 "the default block size is 131072"

# a relative recipe path from another folder
(cd "$T" && nb build r/recipe.ini -q -o r/rel/x.sqfs) >/dev/null 2>&1
ok "a relative recipe path works from another folder" test -f "$R/rel/x.sqfs"
ok "... and gives the same image (reproducible)" cmp "$IMG" "$R/rel/x.sqfs"

# other names and versions land in the path, the record and the release file
recipe "$R/other.ini" <<EOF
[image]
name = edge_box+x~1
version = 2026Q4.1-rc.2
[base]
source = base
EOF
nb build "$R/other.ini" -q >/dev/null 2>&1
ok "name and version with every allowed character" test -f "$R/out/edge_box+x~1-2026Q4.1-rc.2.sqfs"
like "$(unsquashfs -cat "$R/out/edge_box+x~1-2026Q4.1-rc.2.sqfs" etc/netimg-release 2>&1)" \
	'^NAME=edge_box\+x~1
VERSION=2026Q4\.1-rc\.2
PATCHES=""$' "/etc/netimg-release follows the recipe"

# ========================================================================
# -o and --json
# ========================================================================
nb build "$R/recipe.ini" -q -o "$T/custom/my.sqfs" >/dev/null 2>&1
ok "-o writes the image at that path (creating its folder)" test -f "$T/custom/my.sqfs"
ok "-o: the record is x.json beside x.sqfs" test -f "$T/custom/my.json"
is "$(jget "$T/custom/my.json" '$d->{image}{file}')" "my.sqfs" "-o: the record names the image it describes"
is "$(jget "$T/custom/my.json" '$d->{image}{sha256}')" "$(sha "$T/custom/my.sqfs")" "-o: the record has its SHA-256"
nb build "$R/recipe.ini" -q -o "$T/custom/plain" >/dev/null 2>&1
ok "-o without .sqfs: the record is OUT.json" test -f "$T/custom/plain" -a -f "$T/custom/plain.json"

nb build "$R/recipe.ini" --json -o "$T/js/x.sqfs" >"$T/js.out" 2>"$T/js.err"; rc=$?
is "$rc" 0 "--json builds"
is "$(jget "$T/js.out" '$d->{image}{sha256}')" "$(sha "$T/js/x.sqfs")" "--json prints the record on stdout"
is "$(perl -MJSON::PP -e 'local $/; my $c = JSON::PP->new->canonical;
	open(my $a, "<", $ARGV[0]); open(my $b, "<", $ARGV[1]);
	print $c->encode(decode_json(<$a>)) eq $c->encode(decode_json(<$b>)) ? "same" : "differ"' \
	"$T/js.out" "$T/js/x.json")" same "--json prints the same record as x.json"
is "$(cat "$T/js.err")" "" "--json prints nothing on stderr"

# two builds of the same inputs are the same bytes, record included
nb build "$R/recipe.ini" -q -o "$T/rep1/x.sqfs" >/dev/null 2>&1
sleep 1
nb build "$R/recipe.ini" -q -o "$T/rep2/x.sqfs" >/dev/null 2>&1
ok "two builds give byte-identical images" cmp "$T/rep1/x.sqfs" "$T/rep2/x.sqfs"
ok "... and byte-identical records" cmp "$T/rep1/x.json" "$T/rep2/x.json"

# ========================================================================
# compression and block_size
# ========================================================================
for c in zstd xz gzip lz4; do
	image_recipe "$R/c-$c.ini" "compression = $c" "epoch = $EPOCH"
	nb build "$R/c-$c.ini" -q -o "$T/c/$c.sqfs" >/dev/null 2>&1
	is "$(sq "$T/c/$c.sqfs" Compression)" "$c" "compression = $c: the superblock says $c"
	extract "$T/c/$c.sqfs" "$T/c/$c.d"
	ok "compression = $c: the data reads back" cmp "$B/usr/share/big" "$T/c/$c.d/usr/share/big"
	is "$(jget "$T/c/$c.json" '$d->{recipe}{compression}')" "$c" "compression = $c: recorded"
done
for bs in 4096 65536 1048576; do
	image_recipe "$R/bs-$bs.ini" "block_size = $bs" "epoch = $EPOCH"
	nb build "$R/bs-$bs.ini" -q -o "$T/bs/$bs.sqfs" >/dev/null 2>&1
	is "$(sq "$T/bs/$bs.sqfs" "Block size")" "$bs" "block_size = $bs: the superblock says $bs"
	extract "$T/bs/$bs.sqfs" "$T/bs/$bs.d"
	ok "block_size = $bs: a 300 kB file reads back" cmp "$B/usr/share/big" "$T/bs/$bs.d/usr/share/big"
done
is "$(jget "$T/bs/4096.json" '$d->{recipe}{block_size}')" 4096 "block_size is recorded"

# ========================================================================
# epoch and SOURCE_DATE_EPOCH
# ========================================================================
is "$(unsquashfs -mkfs-time "$IMG" 2>&1)" "$EPOCH" "epoch: the superblock time is the epoch"
like "$(sq "$IMG" "Creation or last append time")" "^Fri Jul 14 02:40:00 2017$" "epoch: unsquashfs -s shows it"
L=$(listing "$IMG")
like "$L" " 2017-07-14 02:40 squashfs-root/etc/hello$" "epoch: a newer file shows the epoch in the listing"
like "$L" " 2001-09-09 01:46 squashfs-root/usr/bin/x$" "epoch: an older file keeps its time in the listing"
extract "$IMG" "$T/ep"
is "$(stat -c %Y "$T/ep/etc/hello")" "$EPOCH" "epoch: a newer file's mtime is clamped to the epoch"
is "$(stat -c %Y "$T/ep/usr/bin/x")" "$OLD" "epoch: an older file's mtime is kept to the second"
is "$(stat -c %Y "$T/ep/etc")" "$EPOCH" "epoch: folders are clamped too"
is "$(stat -c %Y "$T/ep/etc/netimg-release")" "$EPOCH" "epoch: /etc/netimg-release has the epoch"
is "$(jget "$REC" '$d->{recipe}{epoch} . " " . ($d->{recipe}{epoch_from_SOURCE_DATE_EPOCH} ? "true" : "false")')" "$EPOCH false" \
	"epoch: recorded, not from the environment"

SDE=1600000000           # 2020-09-13 12:26:40 UTC
SOURCE_DATE_EPOCH=$SDE nb build "$R/recipe.ini" -q -o "$T/sde/x.sqfs" >/dev/null 2>&1
is "$(unsquashfs -mkfs-time "$T/sde/x.sqfs" 2>&1)" "$SDE" "SOURCE_DATE_EPOCH overrides [image] epoch (superblock)"
extract "$T/sde/x.sqfs" "$T/sde/d"
is "$(stat -c %Y "$T/sde/d/etc/hello")" "$SDE" "SOURCE_DATE_EPOCH: files are clamped to it"
is "$(stat -c %Y "$T/sde/d/usr/bin/x")" "$OLD" "SOURCE_DATE_EPOCH: older files are kept"
is "$(jget "$T/sde/x.json" '$d->{recipe}{epoch} . " " . ($d->{recipe}{epoch_from_SOURCE_DATE_EPOCH} ? "true" : "false")')" "$SDE true" \
	"SOURCE_DATE_EPOCH: recorded as coming from the environment"
image_recipe "$R/noepoch.ini"
SOURCE_DATE_EPOCH=$SDE nb build "$R/noepoch.ini" -q -o "$T/sde2/x.sqfs" >/dev/null 2>&1
is "$(unsquashfs -mkfs-time "$T/sde2/x.sqfs" 2>&1)" "$SDE" "SOURCE_DATE_EPOCH applies without [image] epoch"
SOURCE_DATE_EPOCH= nb build "$R/recipe.ini" -q -o "$T/sde3/x.sqfs" >/dev/null 2>&1
is "$(unsquashfs -mkfs-time "$T/sde3/x.sqfs" 2>&1)" "$EPOCH" "an empty SOURCE_DATE_EPOCH is ignored"
fails "a bad SOURCE_DATE_EPOCH is refused" "SOURCE_DATE_EPOCH: 'soon' is not a unix time" \
	env SOURCE_DATE_EPOCH=soon timeout 60 "$NETIMG" build "$R/recipe.ini" -q -o "$T/sde4/x.sqfs"

nb build "$R/noepoch.ini" -q -o "$T/noep/x.sqfs" >/dev/null 2>&1
extract "$T/noep/x.sqfs" "$T/noep/d"
is "$(stat -c %Y "$T/noep/d/etc/hello")" "$NEW" "without an epoch, times are not clamped"
is "$(jget "$T/noep/x.json" '$d->{recipe}{epoch}')" null "without an epoch, the record says null"

# ========================================================================
# [base] source: a folder, .tar.zst, .tar.xz, .sqfs give the same files
# ========================================================================
REF=$(listing "$IMG")
like "$REF" "^crw-r--r-- 0/0 +1, +3 2017-07-14 02:40 squashfs-root/dev/null$" "the folder base: device node kept"
like "$REF" "^-rwsr-xr-x 1234/1234 +3 2017-07-14 02:40 squashfs-root/usr/sbin/su$" "the folder base: owner and setuid kept"
like "$REF" "^lrwxrwxrwx 0/0 +1 2001-09-09 01:46 squashfs-root/usr/bin/y -> x$" "the folder base: symlink kept"
like "$REF" "squashfs-root/var/empty$" "the folder base: an empty folder kept"
is "$(jget "$REC" '$d->{base}{kind} . " " . $d->{base}{source} . " " . ($d->{base}{sha256} // "null")')" \
	"directory base null" "record: a folder base (no hash)"
for src in base.tar.zst base.tar.xz base.sqfs; do
	image_recipe "$R/src.ini" "epoch = $EPOCH"
	sed -i "s|^source = base$|source = $src|" "$R/src.ini"
	nb build "$R/src.ini" -q -o "$T/src/$src.sqfs" >"$T/src.log" 2>&1
	ok "base source = $src builds" test -f "$T/src/$src.sqfs"
	got=$(listing "$T/src/$src.sqfs")
	if [ "$got" = "$REF" ]; then _result 0 "base $src: same files, modes, owners, times as the folder"
	else _result 1 "base $src: same files, modes, owners, times as the folder"
		diff <(echo "$REF") <(echo "$got") | head -10 | sed 's/^/#   /'; fi
	extract "$T/src/$src.sqfs" "$T/src/$src.d"
	is "$(stat -c %i "$T/src/$src.d/usr/bin/x")" "$(stat -c %i "$T/src/$src.d/usr/bin/xx")" \
		"base $src: hard link kept"
	ok "base $src: file data kept" cmp "$B/usr/share/big" "$T/src/$src.d/usr/share/big"
	kind=archive; [ $src = base.sqfs ] && kind=squashfs
	is "$(jget "$T/src/$src.json" '$d->{base}{kind} . " " . $d->{base}{source} . " " . $d->{base}{sha256}')" \
		"$kind $src $(sha "$R/$src")" "record: base $src, its kind and SHA-256"
done

# ========================================================================
# [base] sha256
# ========================================================================
ZSHA=$(sha "$R/base.tar.zst")
pin_recipe() {
	recipe "$R/pin.ini" <<EOF
[image]
name = pin
version = 1
epoch = $EPOCH
[base]
source = base.tar.zst
sha256 = $1
EOF
}
pin_recipe "$ZSHA"
nb build "$R/pin.ini" -q -o "$T/pin/x.sqfs" >/dev/null 2>&1
ok "a matching sha256 pin builds" test -f "$T/pin/x.sqfs"
is "$(jget "$T/pin/x.json" '$d->{base}{sha256}')" "$ZSHA" "record: the pinned base's SHA-256"
pin_recipe "$(echo "$ZSHA" | tr a-f A-F)"
nb build "$R/pin.ini" -q -o "$T/pin/upper.sqfs" >/dev/null 2>&1
ok "the pin may be upper-case hex" test -f "$T/pin/upper.sqfs"

cp "$T/pin/x.sqfs" "$T/pin-before.sqfs"
cp "$T/pin/x.json" "$T/pin-before.json"
BAD=$(echo "$ZSHA" | sed 's/^./0/; s/^00/01/')
[ "$BAD" = "$ZSHA" ] && BAD=$(echo "$ZSHA" | sed 's/^./f/')
pin_recipe "$BAD"
fails "a sha256 mismatch refuses the build, naming the file" "base\.tar\.zst: SHA-256 mismatch" \
	nb build "$R/pin.ini" -q -o "$T/pin/x.sqfs"
ok "a refused build leaves the previous image byte-identical" cmp "$T/pin/x.sqfs" "$T/pin-before.sqfs"
ok "... and the previous record" cmp "$T/pin/x.json" "$T/pin-before.json"
is "$(ls "$T/pin" | tr '\n' ' ')" "upper.json upper.sqfs x.json x.sqfs " "... and leaves no temporary file"
fails "a sha256 mismatch with the default output" "SHA-256 mismatch" nb build "$R/pin.ini" -q
ok "... creates no image" test ! -e "$R/out/pin-1.sqfs"
ok "... and no record" test ! -e "$R/out/pin-1.json"
recipe "$R/pindir.ini" <<EOF
[image]
name = pin
version = 1
[base]
source = base
sha256 = $ZSHA
EOF
fails "a sha256 pin on a folder base is refused" "pindir\.ini: .*sha256.*folder" \
	nb build "$R/pindir.ini" -q -o "$T/pindir/x.sqfs"

# ========================================================================
# [patches] catalog, min_severity, exclude
# ========================================================================
C=$R/cat
mkdir -p "$C" "$T/p"
mkpatch() { # mkpatch ID SEVERITY [add options]
	local id=$1 sev=$2; shift 2
	rm -rf "$T/p/$id"; mkdir -p "$T/p/$id/opt"
	echo "$id" >"$T/p/$id/opt/$id"
	echo "$id" >"$T/p/$id/opt/common"
	tar --numeric-owner --owner=0 --group=0 -C "$T/p/$id" -cf "$T/p/$id.tar" .
	"$NETIMG" patch add --catalog "$C" "$T/p/$id.tar" --id "$id" --severity "$sev" "$@" >/dev/null
}
approve() { "$NETIMG" patch approve --catalog "$C" "$1" --by alice >/dev/null; }
mkpatch P1 important; approve P1
mkpatch P2 low; approve P2
mkpatch P3 critical; "$NETIMG" patch decline --catalog "$C" P3 --by bob --reason "breaks boot" >/dev/null
mkpatch P4 moderate
mkpatch P5 important; approve P5
mkpatch P6 critical --supersedes P5; approve P6
mkpatch P7 important; approve P7
mkpatch P8 moderate; approve P8
mkpatch P9 moderate; approve P9

patch_recipe() { # patch_recipe FILE [KEY=VALUE in [patches]...]
	local f=$1; shift
	{
		printf '[image]\nname = pat\nversion = 1\nepoch = %s\n[base]\nsource = base\n[patches]\ncatalog = cat\n' "$EPOCH"
		for kv in "$@"; do echo "$kv"; done
	} >"$f"
}
patch_recipe "$R/pat.ini" "min_severity = moderate" "exclude = P7, P8"
(cd / && nb build "$R/pat.ini" -q -o "$T/pat/x.sqfs") >"$T/pat.log" 2>&1; rc=$?
is "$rc" 0 "a recipe with [patches] builds (catalog relative to the recipe)"
PR=$T/pat/x.json
is "$(jget "$PR" 'join " ", map { $_->{id} } @{$d->{patches}}')" "P1 P6 P9" \
	"record: the patches applied, in catalog order"
is "$(jget "$PR" 'join ", ", map { $_->{id} . ":" . $_->{reason} } @{$d->{skipped}}')" \
	"P2:below severity, P3:declined, P4:pending, P5:superseded, P7:excluded, P8:excluded" \
	"record: the patches skipped and why"
is "$(jget "$PR" '(grep { $_->{id} eq "P5" } @{$d->{skipped}})[0]{superseded_by}')" P6 \
	"record: a superseded patch names its superseder"
is "$(jget "$PR" 'join " ", map { $_->{severity} } @{$d->{patches}}')" "important critical moderate" \
	"record: each patch's severity"
is "$(jget "$PR" 'join " ", map { $_->{sha256} } @{$d->{patches}}')" \
	"$(sha "$T/p/P1.tar") $(sha "$T/p/P6.tar") $(sha "$T/p/P9.tar")" "record: each patch's SHA-256"
is "$(jget "$PR" 'join " ", map { $_->{approved_by} } @{$d->{patches}}')" "alice alice alice" \
	"record: who approved each patch"
is "$(jget "$PR" 'join " ", map { $_->{approved_at} > 1600000000 ? "ok" : $_->{approved_at} } @{$d->{patches}}')" \
	"ok ok ok" "record: when each patch was approved"
is "$(jget "$PR" '$d->{recipe}{catalog} . " " . $d->{recipe}{min_severity} . " " . join(",", @{$d->{recipe}{exclude}})')" \
	"cat moderate P7,P8" "record: the [patches] keys"
is "$(unsquashfs -cat "$T/pat/x.sqfs" etc/netimg-release 2>&1 | tail -1)" 'PATCHES="P1 P6 P9"' \
	"/etc/netimg-release lists the patches applied"
is "$(unsquashfs -l "$T/pat/x.sqfs" 2>&1 | sed -n 's|^squashfs-root/opt/||p' | tr '\n' ' ')" "P1 P6 P9 common " \
	"only the selected patches' files are in the image"
is "$(unsquashfs -cat "$T/pat/x.sqfs" opt/common 2>&1)" P9 "the last patch applied wins (a file all of them ship)"

patch_recipe "$R/pat2.ini"
nb build "$R/pat2.ini" -q -o "$T/pat2/x.sqfs" >/dev/null 2>&1
is "$(jget "$T/pat2/x.json" 'join " ", map { $_->{id} } @{$d->{patches}}')" "P1 P2 P6 P7 P8 P9" \
	"min_severity defaults to low; nothing excluded by default"
is "$(jget "$T/pat2/x.json" '$d->{recipe}{min_severity}')" low "record: the default min_severity"
patch_recipe "$R/pat3.ini" "min_severity = important"
nb build "$R/pat3.ini" -q -o "$T/pat3/x.sqfs" >/dev/null 2>&1
is "$(jget "$T/pat3/x.json" 'join " ", map { $_->{id} } @{$d->{patches}}')" "P1 P6 P7" \
	"min_severity = important leaves moderate and low out"
is "$(jget "$T/pat3/x.json" 'join " ", map { $_->{id} } grep { $_->{reason} eq "below severity" } @{$d->{skipped}}')" \
	"P2 P8 P9" "... as below severity"
patch_recipe "$R/pat4.ini" "min_severity = critical"
nb build "$R/pat4.ini" -q -o "$T/pat4/x.sqfs" >/dev/null 2>&1
is "$(jget "$T/pat4/x.json" 'join " ", map { $_->{id} } @{$d->{patches}}')" "P6" \
	"min_severity = critical takes critical only"
patch_recipe "$R/pat5.ini" "exclude = P6"
nb build "$R/pat5.ini" -q -o "$T/pat5/x.sqfs" >/dev/null 2>&1
is "$(jget "$T/pat5/x.json" 'join " ", map { $_->{id} } @{$d->{patches}}')" "P1 P2 P5 P7 P8 P9" \
	"a patch whose superseder is left out is applied"
patch_recipe "$R/pat6.ini" "exclude = P7 P8"
nb build "$R/pat6.ini" -q -o "$T/pat6/x.sqfs" >/dev/null 2>&1
is "$(jget "$T/pat6/x.json" 'join " ", map { $_->{id} } grep { $_->{reason} eq "excluded" } @{$d->{skipped}}')" \
	"P7 P8" "exclude also takes a list separated by spaces"

# ========================================================================
# [boot]
# ========================================================================
# a base with kernels in /boot (kernel = image takes one from there)
mkdir -p "$R/bootbase/boot" "$R/bootbase/etc"
echo old >"$R/bootbase/boot/vmlinuz-6.1.0-9-amd64"
echo new >"$R/bootbase/boot/vmlinuz-6.1.0-13-amd64"
echo cfg >"$R/bootbase/boot/config-6.1.0-13-amd64"
boot_recipe() {
	printf '[image]\nname = boot\nversion = 1\n[base]\nsource = bootbase\n[boot]\n' >"$R/boot.ini"
	for kv in "$@"; do echo "$kv" >>"$R/boot.ini"; done
}
boot_recipe "kernel = image" "cmdline = console=ttyS0,115200 root=/dev/nbd0 ro quiet"
nb build "$R/boot.ini" -q -o "$T/boot/x.sqfs" >"$T/boot.log" 2>&1
is "$(jget "$T/boot/x.json" '$d->{boot}{kernel} . "|" . $d->{boot}{cmdline}' 2>/dev/null || cat "$T/boot.log")" \
	"image|console=ttyS0,115200 root=/dev/nbd0 ro quiet" "[boot] kernel = image and cmdline are recorded"
is "$(jget "$T/boot/x.json" '$d->{boot}{kernel_release}' 2>/dev/null)" "6.1.0-13-amd64" \
	"[boot] kernel = image: the newest kernel in /boot is recorded (6.1.0-13 > 6.1.0-9)"
sed -i 's/^source = bootbase$/source = base/' "$R/boot.ini"
fails "[boot] kernel = image without /boot/vmlinuz-* is refused" "boot\.ini: .*/boot/vmlinuz" \
	nb build "$R/boot.ini" -q -o "$T/boot0/x.sqfs"
mkdir -p "$T/deb/DEBIAN" "$T/deb/boot"
printf 'Package: linux-image-test\nVersion: 1.0\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: test\n' \
	>"$T/deb/DEBIAN/control"
echo kernel >"$T/deb/boot/vmlinuz-test"
dpkg-deb --root-owner-group -b "$T/deb" "$R/linux-image-test.deb" >/dev/null 2>&1
boot_recipe "kernel = linux-image-test.deb" "cmdline = quiet"
nb build "$R/boot.ini" -q -o "$T/boot2/x.sqfs" >/dev/null 2>&1
is "$(jget "$T/boot2/x.json" '$d->{boot}{kernel} . "|" . $d->{boot}{cmdline}')" \
	"linux-image-test.deb|quiet" "[boot] kernel = a .deb next to the recipe is recorded"
LONG="console=ttyS0,115200 root=/dev/nbd0 ro$(for i in $(seq 1 30); do printf ' opt%02d=value' $i; done)"
boot_recipe "kernel = image" "cmdline = $LONG"
nb build "$R/boot.ini" -q -o "$T/boot3/x.sqfs" >"$T/boot3.log" 2>&1
is "$(jget "$T/boot3/x.json" '$d->{boot}{cmdline}' 2>/dev/null || cat "$T/boot3.log")" "$LONG" \
	"a ${#LONG}-character cmdline is recorded whole"
# 199 bytes into the line falls on a space: the rest must not pass for a
# continuation line that silently replaces the value
LONG2="root=/dev/nbd0 $(printf 'x%.0s' $(seq 1 174)) quiet splash"
boot_recipe "kernel = image" "cmdline = $LONG2"
nb build "$R/boot.ini" -q -o "$T/boot3b/x.sqfs" >"$T/boot3b.log" 2>&1
is "$(jget "$T/boot3b/x.json" '$d->{boot}{cmdline}' 2>/dev/null || cat "$T/boot3b.log")" "$LONG2" \
	"a cmdline on a line whose 200th byte is a space is recorded whole, not replaced by the rest"
boot_recipe "kernel = missing.deb"
fails "[boot] kernel = a missing .deb is refused" "boot\.ini:7: kernel: .*missing\.deb" \
	nb build "$R/boot.ini" -q -o "$T/boot4/x.sqfs"
boot_recipe "cmdline = quiet"
fails "[boot] without kernel is refused" "boot\.ini: missing \[boot\] kernel" \
	nb build "$R/boot.ini" -q -o "$T/boot6/x.sqfs"

# ========================================================================
# refused recipes: FILE:LINE
# ========================================================================
E=$R/recipe.ini
# bad LINE-PATTERN NAME: the recipe on stdin is refused naming E and the line.
bad() {
	recipe "$E"
	fails "$2" "$1" nb build "$E" -q -o "$T/bad/x.sqfs"
}
bad 'recipe\.ini:7: unknown section \[extra\]' "an unknown section" <<EOF
[image]
name = a
version = 1
[base]
source = base

[extra]
key = 1
EOF
recipe "$R/emptysec.ini" <<EOF
[image]
name = a
version = 1
[base]
source = base
[extra]
EOF
fails "an unknown section without keys" 'emptysec\.ini:6: unknown section \[extra\]' \
	nb build "$R/emptysec.ini" -q -o "$T/emptysec/x.sqfs"
bad "recipe\.ini:4: unknown key 'colour' in \[image\]" "an unknown key" <<EOF
[image]
name = a
version = 1
colour = blue
[base]
source = base
EOF
bad "recipe\.ini:6: unknown key 'path' in \[base\]" "an unknown key in [base]" <<EOF
[image]
name = a
version = 1
[base]
source = base
path = x
EOF
bad "recipe\.ini:1: " "a key before any section" <<EOF
name = a
[image]
name = a
version = 1
[base]
source = base
EOF
bad "recipe\.ini:5: compression: 'lzo'" "compression = lzo" <<EOF
; a comment
[image]
name = a
version = 1
compression = lzo
[base]
source = base
EOF
bad "recipe\.ini:4: compression: 'ZSTD'" "compression is case-sensitive" <<EOF
[image]
name = a
version = 1
compression = ZSTD
[base]
source = base
EOF
for v in 100000 2048 2097152 64k; do
bad "recipe\.ini:4: block_size: '$v'" "block_size = $v" <<EOF
[image]
name = a
version = 1
block_size = $v
[base]
source = base
EOF
done
for v in yesterday -5 1.5 99999999999 ""; do
bad "recipe\.ini:4: epoch: '$v'" "epoch = '$v'" <<EOF
[image]
name = a
version = 1
epoch = $v
[base]
source = base
EOF
done
bad "recipe\.ini:6: sha256: 'abc'" "sha256 = abc" <<EOF
[image]
name = a
version = 1
[base]
source = base.tar.zst
sha256 = abc
EOF
bad "recipe\.ini:6: sha256: " "sha256 with a non-hex digit" <<EOF
[image]
name = a
version = 1
[base]
source = base.tar.zst
sha256 = g${ZSHA#?}
EOF
bad "recipe\.ini:6: sha256: " "sha256 with 65 digits" <<EOF
[image]
name = a
version = 1
[base]
source = base.tar.zst
sha256 = ${ZSHA}0
EOF
bad "recipe\.ini:8: source: .*missing\.tar\.zst: No such file" "a missing base file" <<EOF
[image]
name = a
version = 1

# the base
[base]

source = missing.tar.zst
EOF
bad "recipe\.ini:7: catalog: .*nocat" "a missing catalog folder" <<EOF
[image]
name = a
version = 1
[base]
source = base
[patches]
catalog = nocat
EOF
bad "recipe\.ini:7: catalog: .*base\.tar\.xz" "a catalog that is a file" <<EOF
[image]
name = a
version = 1
[base]
source = base
[patches]
catalog = base.tar.xz
EOF
bad "recipe\.ini:8: min_severity: 'urgent'" "min_severity = urgent" <<EOF
[image]
name = a
version = 1
[base]
source = base
[patches]
catalog = cat
min_severity = urgent
EOF
bad "cat/catalog\.json: excluded patch NOPE is not in the catalog" "exclude of an id not in the catalog" <<EOF
[image]
name = a
version = 1
[base]
source = base
[patches]
catalog = cat
exclude = P7, NOPE
EOF
bad "recipe\.ini:2: name: 'my image'" "a name with a space" <<EOF
[image]
name = my image
version = 1
[base]
source = base
EOF
bad "recipe\.ini:3: version: '1/2'" "a version with a slash" <<EOF
[image]
name = a
version = 1/2
[base]
source = base
EOF
bad "recipe\.ini: missing \[image\] name" "missing name" <<EOF
[image]
version = 1
[base]
source = base
EOF
bad "recipe\.ini: missing \[image\] version" "missing version" <<EOF
[image]
name = a
[base]
source = base
EOF
bad "recipe\.ini: missing \[base\] source" "missing source" <<EOF
[image]
name = a
version = 1
EOF
bad "recipe\.ini:4: syntax error" "a line without =" <<EOF
[image]
name = a
version = 1
compression zstd
[base]
source = base
EOF
bad "recipe\.ini:4: syntax error" "an unclosed section" <<EOF
[image]
name = a
version = 1
[base
source = base
EOF
# a long comment must not shift or break the line count
{
	echo "[image]"
	echo "; $(printf 'long comment %.0s' $(seq 1 25))"
	echo "name = a"
	echo "version = 1"
	echo "[base]"
	echo "source = base"
} >"$R/long.ini"
nb build "$R/long.ini" -q -o "$T/long/x.sqfs" >"$T/long.log" 2>&1; rc=$?
is "$rc" 0 "a $(sed -n 2p "$R/long.ini" | wc -c)-character comment line is fine"
sed -n 1,3p "$T/long.log" | sed 's/^/# /'
{
	echo "[image]"
	echo "; $(printf 'long comment %.0s' $(seq 1 25))"
	echo "name = a"
	echo "version = 1"
	echo "colour = blue"
	echo "[base]"
	echo "source = base"
} >"$E"
fails "after a long line, the line number is still right" "recipe\.ini:5: unknown key 'colour'" \
	nb build "$E" -q -o "$T/bad/x.sqfs"
fails "a missing recipe" "nope\.ini" nb build "$R/nope.ini" -q
printf '[image]\r\nname = crlf\r\nversion = 1\r\ncompression = xz\r\n[base]\r\nsource = base\r\n' >"$R/crlf.ini"
nb build "$R/crlf.ini" -q -o "$T/crlf/x.sqfs" >"$T/crlf.log" 2>&1; rc=$?
is "$rc $(sq "$T/crlf/x.sqfs" Compression)" "0 xz" "a recipe with CRLF line ends works"
[ $rc = 0 ] || sed 's/^/# /' "$T/crlf.log" | head -3
ok "no refused recipe wrote an image" test ! -e "$T/bad"

# a successful build prints nothing on stderr with --quiet (and no
# sanitizer report either: the folder base has an empty folder)
nb build "$R/noepoch.ini" -q -o "$T/quiet/x.sqfs" >"$T/quiet.out" 2>"$T/quiet.err"
is "$(cat "$T/quiet.out" "$T/quiet.err")" "" "--quiet prints nothing, on stdout or stderr"

plan $_n
done_testing
