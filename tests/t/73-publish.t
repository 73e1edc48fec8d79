#!/bin/bash
# netimg init and publish: the repository's files, packs shared between
# versions, immutability, and that the published files rebuild the image
# byte for byte (chunk index + location file + packs), signed manifest.
. "$(dirname "$0")/../lib.sh"
plan 28
R=$T/repo
BB=$CACHE/busybox-base.tar
[ -f "$BB" ] || { echo "# no $BB (scripts/prepare-fixtures)"; }

# recipe NAME VERSION [CATALOG]
recipe() {
	{
		printf '[image]\nname = %s\nversion = %s\nepoch = 1767225600\n' "$1" "$2"
		printf '[base]\nsource = %s\n' "$BB"
		[ -n "${3:-}" ] && printf '[patches]\ncatalog = %s\n' "$3"
	} >"$T/$1-$2.ini"
}
# rebuild IMAGE_OUT NAME VERSION: the image from the repository's files
# (the index and location file read by tests/lib.sh's own decoder)
rebuild() {
	ver_chunks "$R/public" "$2" "$3" | perl -e '
		my ($pub, $out) = @ARGV;
		open(my $o, ">", $out) or die; binmode $o;
		while (<STDIN>) {
			my ($off, $len, $sha, $pack, $poff) = split;
			open(my $p, "<", "$pub/packs/$pack.pack") or die; binmode $p;
			seek($p, $poff, 0); read($p, my $d, $len) == $len or die "short";
			die "offset" unless tell($o) == $off;
			print $o $d;
		}' "$R/public" "$1"
}

ok "init makes a repository" "$NETIMG" init --repo "$R"
is "$(stat -c %a "$R/private")" 700 "private/ is 0700"
fails "init twice is refused" "already a repository" "$NETIMG" init --repo "$R"
fails "publish without a key is refused" "no signing key" "$NETIMG" publish --repo "$R" "$T/none.sqfs"
ok "keygen" "$NETIMG" keygen --repo "$R"

recipe bb 1
ok "build v1" "$NETIMG" build -q "$T/bb-1.ini" -o "$T/v1.sqfs"
out=$("$NETIMG" publish --repo "$R" "$T/v1.sqfs" 2>&1)
like "$out" "published bb@1: .* chunks, .* new" "publish v1 reports chunks and new bytes"
M=$R/public/versions/bb/1.json
ok "the manifest exists" test -f "$M"
like "$(head -c 17 "$M")" "^netimg-signed-v1 " "the manifest is signed"
is "$(tail -n +2 "$M" | perl -MJSON::PP -0777 -ne 'print decode_json($_)->{image}{sha256}')" \
	"$(sha256sum <"$T/v1.sqfs" | cut -d' ' -f1)" "the manifest names the image's SHA-256"
is "$(tail -n +2 "$M" | perl -MJSON::PP -0777 -ne 'my $d = decode_json($_); print "$d->{name}\@$d->{version} ", scalar @{$d->{patches}}')" \
	"bb@1 0" "the manifest carries the build record's facts"
ok "the repository's files rebuild the image" rebuild "$T/r1.sqfs" bb 1
ok "... byte for byte" cmp "$T/v1.sqfs" "$T/r1.sqfs"
is "$(find "$R/public" -type f ! -perm -0444 | wc -l)" 0 "every file in public/ is world-readable"
is "$(find "$R/public" -name '*.key' -o -name 'lock' | wc -l)" 0 "nothing private is in public/"
is "$(ls "$R/public/packs" | grep -c '\.pack$')" 1 "one pack"
I1=$(idx_file "$R/public" bb 1)
is "$(head -c 16 "$I1")" "netimg-index-v2" "the chunk index is binary, format 2"
is "$(sha256sum <"$I1" | cut -d' ' -f1).bin" "$(basename "$I1")" "... named by its SHA-256"
is "$(jget "$R/public/locations/bb/1.json" '$d->{format} . " " . scalar(@{$d->{runs}})')" "2 1" \
	"the location file says in one run that all chunks follow each other in the one pack"

# v2: the same base with one file added by a patch: a small second pack
mkdir -p "$T/p/etc"
echo "patched $RANDOM" >"$T/p/etc/motd"
tar --numeric-owner --owner=0 --group=0 -C "$T/p" -cf "$T/p.tar" ./etc/motd
"$NETIMG" patch add --catalog "$T/cat" "$T/p.tar" --id P1 --severity low >/dev/null 2>&1 ||
	{ mkdir -p "$T/cat"; "$NETIMG" patch add --catalog "$T/cat" "$T/p.tar" --id P1 --severity low >/dev/null; }
"$NETIMG" patch approve --catalog "$T/cat" P1 --by t >/dev/null
recipe bb 2 "$T/cat"
ok "build v2" "$NETIMG" build -q "$T/bb-2.ini" -o "$T/v2.sqfs"
out=$("$NETIMG" publish --repo "$R" "$T/v2.sqfs" 2>&1)
echo "# v2: $out"
pk=$(ls -S "$R/public/packs/"*.pack | tail -1)
ok "v2's pack holds only what is new: $(stat -c %s "$pk") bytes of a $(stat -c %s "$T/v2.sqfs")-byte image" \
	test "$(stat -c %s "$pk")" -lt $(( $(stat -c %s "$T/v2.sqfs") / 10 ))
is "$(ls "$R/public/packs" | grep -c '\.pack$')" 2 "two packs"

ok "v2 rebuilds from two packs" rebuild "$T/r2.sqfs" bb 2
ok "... byte for byte" cmp "$T/v2.sqfs" "$T/r2.sqfs"
like "$("$NETIMG" publish --repo "$R" "$T/v1.sqfs" 2>&1)" "already published" "publishing the same image again does nothing"
fails "the same version with other content is refused" "bb@1 is already published with other content" \
	"$NETIMG" publish --repo "$R" --name bb --version 1 "$T/v2.sqfs"
ok "... and v1's manifest is unchanged" sh -c "tail -n +2 '$M' | grep -q \"\$(sha256sum <'$T/v1.sqfs' | cut -d' ' -f1)\""
cp "$T/v1.sqfs" "$T/bare.sqfs"
fails "an image without a build record needs --name and --version" "no build record" \
	"$NETIMG" publish --repo "$R" "$T/bare.sqfs"
done_testing
