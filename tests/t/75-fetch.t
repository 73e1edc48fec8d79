#!/bin/bash
# netimg fetch and verify: a version downloaded from netimg serve (and from
# the folder itself) comes out byte for byte; a dead mirror is skipped; a
# tampered chunk, index or manifest is refused with nothing written, and a
# second, good mirror is used when the first serves a tampered pack.
. "$(dirname "$0")/../lib.sh"
plan 24
R=$T/repo
BB=$CACHE/busybox-base.tar
printf '[image]\nname = bb\nversion = 1\nepoch = 1767225600\n[base]\nsource = %s\n' "$BB" >"$T/bb.ini"
"$NETIMG" build -q "$T/bb.ini" -o "$T/bb.sqfs"
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null
"$NETIMG" publish --repo "$R" "$T/bb.sqfs" >/dev/null
serve_repo "$R"
GOOD=$URL
K=$R/repo.pub

ok "fetch from the folder" "$NETIMG" fetch --repo "$R" bb@1 -o "$T/f1.sqfs"
ok "... byte for byte" cmp "$T/bb.sqfs" "$T/f1.sqfs"
# requests OUTPUT: the HTTP requests a fetch's summary line counts.
requests() { printf '%s' "$1" | sed -n 's/.* \([0-9][0-9]*\) requests.*/\1/p'; }
out=$("$NETIMG" fetch --repo "$GOOD" --key "$K" bb@1 -o "$T/f0.sqfs" 2>&1)
n0=$(requests "$out")
DEAD=http://127.0.0.1:$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)->sockport')/
out=$("$NETIMG" fetch --repo "$DEAD,$GOOD" --key "$K" bb@1 -o "$T/f2.sqfs" 2>&1)
like "$out" "^fetched bb@1 to $T/f2.sqfs" "fetch over HTTP, a dead mirror first"
ok "... byte for byte" cmp "$T/bb.sqfs" "$T/f2.sqfs"
is "$(( $(requests "$out") - n0 ))" 1 "... the dead mirror cost one request in all ($n0 without it), not retries per file"
like "$("$NETIMG" verify --repo "$GOOD" --key "$K" 2>&1)" "bb@1: ok" "verify over HTTP"
fails "fetch of a missing version" "bb@7: no such version" "$NETIMG" fetch --repo "$GOOD" --key "$K" bb@7 -o "$T/x.sqfs"

# a second repository, a copy with one pack byte flipped: a tampered mirror
cp -a "$R" "$T/bad"
P=$(ls "$T/bad/public/packs/"*.pack | head -1)
perl -e 'open(my $f, "+<", $ARGV[0]) or die; binmode $f; seek($f, 100000, 0); read($f, my $b, 1);
	seek($f, 100000, 0); print $f chr(ord($b) ^ 0xff)' "$P"
serve_repo "$T/bad"
BAD=$URL
echo old >"$T/keep.sqfs"
fails "a tampered chunk is refused" "hash mismatch" "$NETIMG" fetch --repo "$BAD" --key "$K" bb@1 -o "$T/keep.sqfs"
is "$(cat "$T/keep.sqfs")" old "... and the file at -o is untouched"
is "$(ls "$T" | grep -c '\.tmp\.')" 0 "... and no temporary file is left"
fails "verify reports the tampered chunk" "hash mismatch" "$NETIMG" verify --repo "$T/bad" bb@1
ok "a tampered mirror first, a good one second: fetch succeeds" \
	"$NETIMG" fetch --repo "$BAD,$GOOD" --key "$K" bb@1 -o "$T/f3.sqfs"
ok "... byte for byte" cmp "$T/bb.sqfs" "$T/f3.sqfs"
like "$("$NETIMG" verify --repo "$BAD,$GOOD" --key "$K" bb@1 2>&1)" "bb@1: ok" \
	"verify: a tampered mirror first, a good one second"

# The location file is not signed: chunks it places on each other's bytes
# are refused before anything is fetched.
cp -a "$R" "$T/bad4"
perl -MJSON::PP -0777 -i -pe '
	my $d = decode_json($_); my $r = $d->{runs}; my $n = $r->[0][2];
	# the first chunk alone, then the rest starting one byte into it
	splice(@$r, 0, 1, [$r->[0][0], $r->[0][1], 1], [$r->[0][0], $r->[0][1] + 1, $n - 1]) if $n > 1;
	$_ = encode_json($d);' "$T/bad4/public/locations/bb/1.json"
fails "overlapping chunk locations are refused" "malformed locations \(chunks [0-9]+ and [0-9]+ overlap" \
	"$NETIMG" fetch --repo "$T/bad4" bb@1 -o "$T/o4.sqfs"

# A chunk the image holds twice is stored once; both places are written.
mkdir -p "$T/dup/a" "$T/dup/b"
head -c 1048576 /dev/urandom >"$T/A"
{ cat "$T/A"; head -c 200000 /dev/urandom; } >"$T/dup/a/x"
{ cat "$T/A"; head -c 200000 /dev/urandom; } >"$T/dup/b/y"
tar --owner=0 --group=0 -C "$T/dup" -cf "$T/dup.tar" .
printf '[image]\nname = dup\nversion = 1\nepoch = 1767225600\n[base]\nsource = %s\n' "$T/dup.tar" >"$T/dup.ini"
"$NETIMG" build -q "$T/dup.ini" -o "$T/dup.sqfs"
"$NETIMG" publish --repo "$R" "$T/dup.sqfs" >/dev/null
is "$(idx_chunks "$(idx_file "$R/public" dup 1)" | awk '{ print $3 }' | sort | uniq -d | wc -l)" 1 \
	"an image with one chunk in two places"
ok "... fetched over HTTP" "$NETIMG" fetch --repo "$GOOD" --key "$K" dup@1 -o "$T/dup2.sqfs"
ok "... byte for byte" cmp "$T/dup.sqfs" "$T/dup2.sqfs"
like "$("$NETIMG" verify --repo "$GOOD" --key "$K" dup@1 2>&1)" "dup@1: ok" "... and verified"

# tampered index (the manifest names its hash) and tampered manifest
cp -a "$R" "$T/bad2"
# bb@1's own index (the folder holds other versions' too)
I=$(idx_file "$T/bad2/public" bb 1)
printf '\377' | dd of="$I" bs=1 seek=100 conv=notrunc status=none
fails "a tampered chunk index is refused" "hash mismatch \(tampered" "$NETIMG" verify --repo "$T/bad2" bb@1
cp -a "$R" "$T/bad3"
perl -0777 -pi -e 's/"bb"/"bx"/' "$T/bad3/public/versions/bb/1.json"
fails "a tampered manifest is refused" "bad signature" "$NETIMG" fetch --repo "$T/bad3" bb@1 -o "$T/y.sqfs"
ok "... and nothing is written" test ! -e "$T/y.sqfs"
mkdir -p "$T/other" && "$NETIMG" keygen --repo "$T/other" >/dev/null
fails "another repository's key is refused" "signed by another key" \
	"$NETIMG" fetch --repo "$GOOD" --key "$T/other/repo.pub" bb@1 -o "$T/z.sqfs"
fails "a URL without --key is refused" "give the repository's public key" \
	"$NETIMG" fetch --repo "$GOOD" bb@1 -o "$T/z.sqfs"
done_testing
