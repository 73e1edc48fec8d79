#!/bin/bash
# netimg inspect: the chunks an image is cut into cover it exactly, and
# --files says where each regular file keeps its bytes: its data blocks,
# its tail's fragment block and share of it, its inode. Tails of files in
# a compressed format (2 KiB or more) have a data block of their own.
source "$(dirname "$0")/../lib.sh"
export LC_ALL=C

for tool in gzip unsquashfs perl; do
	command -v "$tool" >/dev/null 2>&1 || skip_all "needs $tool"
done
plan 17

# rnd FILE SEED SIZE: SIZE deterministic pseudo-random bytes.
rnd() { perl -e 'srand($ARGV[1]); open(my $f, ">", $ARGV[0]) or die;
	print $f pack("C*", map { int rand 256 } 1 .. $ARGV[2])' "$@"; }

B=$T/base
mkdir -p "$B/usr/bin" "$B/usr/share/doc/x" "$B/etc"
rnd "$B/usr/bin/big" 1 300000                 # 2 blocks and a 37856-byte tail
ln "$B/usr/bin/big" "$B/usr/bin/big2"
rnd "$T/r" 2 9000 && gzip -n -c "$T/r" >"$B/usr/share/doc/x/changelog.gz"   # ~9 KB
rnd "$T/r" 3 600 && gzip -n -c "$T/r" >"$B/usr/share/doc/x/NEWS.gz"         # < 2 KiB
for i in 1 2 3 4 5 6; do printf 'line %s\n' $(seq $((i * 50))) >"$B/etc/conf$i"; done
: >"$B/etc/empty"
printf '[image]\nname = i\nversion = 1\nepoch = 1700000000\n[base]\nsource = %s\n' "$B" >"$T/r.ini"
ok "build" "$NETIMG" build "$T/r.ini" -o "$T/img.sqfs" --quiet
size=$(stat -c %s "$T/img.sqfs")

"$NETIMG" inspect "$T/img.sqfs" >"$T/sum" 2>&1
is "$(awk '$1 == "total" { print $3 }' "$T/sum")" "$size" "summary: the total is the image's size"
"$NETIMG" inspect --chunks "$T/img.sqfs" >"$T/chunks"
is "$(awk 'BEGIN { pos = 0; ok = 1 } { if ($1 != pos) ok = 0; pos += $2 } END { print ok, pos }' "$T/chunks")" \
	"1 $size" "--chunks: the chunks follow each other and cover the image"

"$NETIMG" inspect --files "$T/img.sqfs" >"$T/files"
# field: FIELD PATH -> that field of PATH's line (1 SIZE .. 6 INODE).
field() { awk -v f="$1" -v p="$2" '$7 == p { print $f }' "$T/files"; }
is "$(awk '{ print $7 }' "$T/files" | tr '\n' ' ')" \
	"$(unsquashfs -lln "$T/img.sqfs" | awk '/^-/ { sub(/^squashfs-root/, "", $NF); print $NF }' | sort | tr '\n' ' ')" \
	"--files: every regular file, in path order"
is "$(field 1 /usr/bin/big) $(field 3 /usr/bin/big)" "300000 37856" "big: its size and its tail"
ok "big: its two blocks are on disk" test "$(field 2 /usr/bin/big)" -gt 200000
is "$(field 6 /usr/bin/big2) $(field 5 /usr/bin/big2)" "$(field 6 /usr/bin/big) $(field 5 /usr/bin/big)" \
	"a hard link: the same inode and fragment block"
is "$(field 3 /usr/share/doc/x/changelog.gz) $(field 5 /usr/share/doc/x/changelog.gz)" "0 -" \
	"a gzip file of 2 KiB or more: no tail in a fragment block"
is "$(field 2 /usr/share/doc/x/changelog.gz)" "$(stat -c %s "$B/usr/share/doc/x/changelog.gz")" \
	"... its own data block, stored as it is (it does not shrink)"
is "$(field 3 /usr/share/doc/x/NEWS.gz)" "$(stat -c %s "$B/usr/share/doc/x/NEWS.gz")" \
	"a smaller gzip file: its tail goes into a fragment block"
is "$(field 1 /etc/empty) $(field 2 /etc/empty) $(field 3 /etc/empty) $(field 5 /etc/empty)" "0 0 0 -" \
	"an empty file: no blocks, no tail"
# Each fragment block's shares add up to its size, give or take rounding.
awk '$5 != "-" && !($6 in seen) { seen[$6] = 1; s[$5] += $4 } END { for (o in s) print o, s[o] }' \
	"$T/files" | sort -n >"$T/shares"
ok "some fragment blocks" test -s "$T/shares"
is "$(join <(sort "$T/shares") <(awk '$3 == "fragment" { print $1, $2 }' "$T/chunks" | sort) |
	awk '{ d = $2 - $3; if (d < -8 || d > 8) bad++ } END { print bad + 0 }')" 0 \
	"the tails' shares of each fragment block add up to its chunk's length"

fails "--chunks and --files together" "exclude each other" "$NETIMG" inspect --chunks --files "$T/img.sqfs"
head -c 5000 /dev/zero >"$T/zero.sqfs"
fails "--files of a file that is no image" "zero.sqfs: not a squashfs image" "$NETIMG" inspect --files "$T/zero.sqfs"
fails "--files of a missing file" "nothing.sqfs: cannot open" "$NETIMG" inspect --files "$T/nothing.sqfs"
# A truncated image: the directory tree cannot be read.
head -c $((size / 2)) "$T/img.sqfs" >"$T/half.sqfs"
fails "--files of a truncated image" "half.sqfs: " "$NETIMG" inspect --files "$T/half.sqfs"

done_testing
