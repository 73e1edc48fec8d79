#!/bin/bash
# netimg fetch and verify: a version downloaded from netimg serve (and from
# the folder itself) comes out byte for byte; a dead mirror is skipped; a
# tampered chunk, index or manifest is refused with nothing written, and a
# second, good mirror is used when the first serves a tampered pack.
. "$(dirname "$0")/../lib.sh"
plan 17
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
ok "fetch over HTTP, a dead mirror first" "$NETIMG" fetch --repo "http://127.0.0.1:9/,$GOOD" --key "$K" bb@1 -o "$T/f2.sqfs"
ok "... byte for byte" cmp "$T/bb.sqfs" "$T/f2.sqfs"
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

# tampered index (the manifest names its hash) and tampered manifest
cp -a "$R" "$T/bad2"
I=$(ls "$T/bad2/public/indexes/"*.json | head -1)
perl -0777 -pi -e 's/"format":1/"format":1 /' "$I"
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
