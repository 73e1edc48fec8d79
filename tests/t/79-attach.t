#!/bin/bash
# netimg attach and attachments: a content-named blob plus a signed record
# naming the version's manifest hash; the manifest never changes; clients
# verify record, manifest hash, blob size and hash. Each way a record or
# blob can be wrong is its own error.
. "$(dirname "$0")/../lib.sh"
plan 40
R=$T/repo
BB=$CACHE/busybox-base.tar
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null
for v in 1 2; do
	printf '[image]\nname = bb\nversion = %s\nepoch = 1767225600\n[base]\nsource = %s\n' "$v" "$BB" >"$T/bb$v.ini"
	"$NETIMG" build -q "$T/bb$v.ini" -o "$T/bb$v.sqfs" && "$NETIMG" publish --repo "$R" "$T/bb$v.sqfs" >/dev/null
done
P=$R/public
M=$P/versions/bb/1.json
cp "$M" "$T/manifest.before"
sha() { sha256sum <"$1" | cut -d' ' -f1; }
payload() { tail -n +2 "$1" | perl -MJSON::PP -0777 -ne "my \$d = decode_json(\$_); print \$d->{$2} // 'null'"; }
printf 'usr/bin/busybox\nbin/sh\n' >"$T/hot.txt"
head -c 3000000 /dev/urandom >"$T/initrd.img"
HOT=$(sha "$T/hot.txt"); INITRD=$(sha "$T/initrd.img")

like "$("$NETIMG" attach --repo "$R" bb@1 hot "$T/hot.txt" --by alice)" "^attached hot to bb@1: .*sha256 $HOT$" "attach a hot-set list"
ok "the blob is stored under its SHA-256" cmp "$P/blobs/$HOT" "$T/hot.txt"
is "$(stat -c %a "$P/blobs/$HOT")" 644 "the blob is world-readable"
REC=$P/attachments/bb/1/hot.json
like "$(head -c 17 "$REC")" "^netimg-signed-v1 " "the record is signed"
is "$(payload "$REC" manifest_sha256) $(payload "$REC" size) $(payload "$REC" kind) $(payload "$REC" who)" \
	"$(sha "$M") $(stat -c %s "$T/hot.txt") hot alice" "the record names the manifest hash, size, kind and who"
"$NETIMG" attach --repo "$R" bb@1 initrd "$T/initrd.img" >/dev/null
ok "the manifest is untouched" cmp "$M" "$T/manifest.before"
out=$("$NETIMG" attachments --repo "$R" bb@1 2>&1)
like "$(printf '%s\n' "$out" | tr '\n' '|')" "^hot [^|]* ok\|initrd [^|]* ok\|$" "attachments lists both, each verified"
"$NETIMG" attachments --repo "$R" bb@1 initrd -o "$T/got.img" >/dev/null
ok "attachments KIND -o FILE writes the verified bytes" cmp "$T/got.img" "$T/initrd.img"
like "$("$NETIMG" verify --repo "$R" bb@1 2>&1)" "bb@1: ok .*; 2 attachments\)" "verify checks the attachments too"
like "$("$NETIMG" attachments --repo "$R" bb@2)" "bb@2: no attachments" "a version without attachments"
is "$(jget "$P/attachments/bb/1.json" 'join " ", map { "$_->{kind}:$_->{size}" } @{$d->{attachments}}')" \
	"hot:$(stat -c %s "$T/hot.txt") initrd:3000000" "attachments/bb/1.json lists the kinds"
n=$(ls "$P/blobs" | wc -l)
"$NETIMG" attach --repo "$R" bb@2 initrd "$T/initrd.img" >/dev/null
is "$(ls "$P/blobs" | wc -l)" "$n" "the same content attached to another version is stored once"

# over HTTP, and through a channel
serve_repo "$R"; U1=$URL
"$NETIMG" attachments --repo "$U1" --key "$R/repo.pub" bb@1 initrd -o "$T/http.img" >/dev/null
ok "fetched over HTTP, verified" cmp "$T/http.img" "$T/initrd.img"
cc() { curl -sI "$U1$1" | tr -d '\r' | sed -n 's/^Cache-Control: //Ip'; }
is "$(cc attachments/bb/1/hot.json) | $(cc attachments/bb/1.json)" "no-cache | no-cache" \
	"netimg serve: attachment records and lists (replaceable) are no-cache"
is "$(cc "blobs/$INITRD")" "public, max-age=31536000, immutable" "netimg serve: blobs are immutable"
"$NETIMG" point --repo "$R" stable bb@1 >/dev/null
like "$("$NETIMG" attachments --repo "$U1" --key "$R/repo.pub" --state "$T/state" stable 2>&1)" "^hot .*ok" \
	"attachments of the version a channel points at"

# replacing an attachment: a new record, the manifest stays
printf 'usr/bin/busybox\n' >"$T/hot2.txt"
like "$("$NETIMG" attach --repo "$R" bb@1 hot "$T/hot2.txt")" "\(replaces ${HOT:0:16}\.\.\.\)" "attaching a kind again replaces it"
"$NETIMG" attachments --repo "$R" bb@1 hot -o "$T/hot.got" >/dev/null
ok "... clients get the new content" cmp "$T/hot.got" "$T/hot2.txt"
ok "... and the manifest is still untouched" cmp "$M" "$T/manifest.before"
HOT=$(sha "$T/hot2.txt")

# bad input on the way in
fails "attaching to an unpublished version" "bb@9: not published" "$NETIMG" attach --repo "$R" bb@9 hot "$T/hot.txt"
fails "a bad kind" "attachment kind is 1-32 of a-z 0-9" "$NETIMG" attach --repo "$R" bb@1 Hot "$T/hot.txt"
fails "a folder is not a file to attach" "not a regular file" "$NETIMG" attach --repo "$R" bb@1 hot "$T"
fails "a missing file" "nothere: No such file" "$NETIMG" attach --repo "$R" bb@1 hot "$T/nothere"
fails "not a repository" "not a repository" "$NETIMG" attach --repo "$T/nowhere" bb@1 hot "$T/hot.txt"
is "$(ls -A "$P/blobs" | grep -c '^\.')" 0 "no temporary file is left in blobs/"

# bad input on the way out: each its own error
fails "no such attachment" "bb@2: no 'hot' attachment" "$NETIMG" attachments --repo "$R" bb@2 hot -o "$T/x"
cp "$P/blobs/$INITRD" "$T/blob.good"
perl -e 'open(my $f, "+<", $ARGV[0]) or die; seek($f, 1000, 0); print $f "X"' "$P/blobs/$INITRD"
fails "a tampered blob" "blobs/$INITRD: hash mismatch \(tampered\)" "$NETIMG" attachments --repo "$R" bb@1 initrd -o "$T/x"
ok "... nothing was written" test ! -e "$T/x"
fails "verify reports the tampered blob" "hash mismatch" "$NETIMG" verify --repo "$R" bb@1
fails "a tampered blob over HTTP" "hash mismatch" "$NETIMG" attachments --repo "$U1" --key "$R/repo.pub" bb@1 initrd -o "$T/x"
# a mirror with the right blob after the tampered one: failover
cp -a "$R" "$T/mirror" && cp "$T/blob.good" "$T/mirror/public/blobs/$INITRD"
serve_repo "$T/mirror"; U2=$URL
"$NETIMG" attachments --repo "$U1,$U2" --key "$R/repo.pub" bb@1 initrd -o "$T/fo.img" >/dev/null 2>&1
ok "a tampered blob on one mirror fails over to the next" cmp "$T/fo.img" "$T/initrd.img"
cp "$T/blob.good" "$P/blobs/$INITRD"

mv "$P/blobs/$HOT" "$T/hot.blob"
fails "a missing blob" "blobs/$HOT: missing \(bb@1's 'hot' attachment\)" "$NETIMG" attachments --repo "$R" bb@1 hot -o "$T/x"
fails "a missing blob over HTTP" "blobs/$HOT: missing" "$NETIMG" attachments --repo "$U1" --key "$R/repo.pub" bb@1 hot -o "$T/x"
fails "verify reports the missing blob" "missing" "$NETIMG" verify --repo "$R" bb@1
mv "$T/hot.blob" "$P/blobs/$HOT"

cp "$REC" "$T/rec.good"
"$NETIMG" attach --repo "$R" bb@2 hot "$T/hot.txt" >/dev/null
cp "$P/attachments/bb/2/hot.json" "$REC"
fails "a record naming another manifest (copied from another version)" \
	"attachments/bb/1/hot.json: made for another manifest" "$NETIMG" attachments --repo "$R" bb@1 hot -o "$T/x"
mkdir -p "$T/o" && "$NETIMG" init --repo "$T/o" >/dev/null && "$NETIMG" keygen --repo "$T/o" >/dev/null
"$NETIMG" publish --repo "$T/o" "$T/bb1.sqfs" >/dev/null && "$NETIMG" attach --repo "$T/o" bb@1 hot "$T/hot2.txt" >/dev/null
cp "$T/o/public/attachments/bb/1/hot.json" "$REC"
fails "a record signed by another key" "hot.json: signed by another key" "$NETIMG" attachments --repo "$R" bb@1 hot -o "$T/x"
cp "$T/rec.good" "$T/mirror/public/attachments/bb/1/hot.json"
cp "$T/blob.good" "$T/mirror/public/blobs/$INITRD"; cp "$P/blobs/$HOT" "$T/mirror/public/blobs/"
"$NETIMG" attachments --repo "$U1,$U2" --key "$R/repo.pub" bb@1 hot -o "$T/fo.hot" >/dev/null 2>&1
ok "a record that fails its check on one mirror is taken from the next" cmp "$T/fo.hot" "$T/hot2.txt"
cp "$T/rec.good" "$REC"
perl -0777 -pi -e 's/"alice"/"mallory"/; s/"size": \d+/"size": 1/' "$REC"
fails "a tampered record" "hot.json: bad signature" "$NETIMG" attachments --repo "$R" bb@1 hot -o "$T/x"
cp "$T/rec.good" "$REC"
cp "$P/attachments/bb/1/initrd.json" "$T/initrd.rec"
cp "$REC" "$P/attachments/bb/1/initrd.json"
fails "a record of another kind" "the record is bb@1's 'hot' attachment, not bb@1's 'initrd'" \
	"$NETIMG" attachments --repo "$R" bb@1 initrd -o "$T/x"
cp "$T/initrd.rec" "$P/attachments/bb/1/initrd.json"
like "$("$NETIMG" verify --repo "$R" 2>&1 | tr '\n' '|')" "^bb@1: ok [^|]*; 2 attachments\)\|bb@2: ok [^|]*; 2 attachments\)\|$" "restored: verify passes, every version's attachments checked"
done_testing
