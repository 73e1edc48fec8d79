#!/bin/bash
# The chunk index (format 2), location files (runs) and index deltas:
# publish writes indexes/NEW.from-OLD for the versions of the name
# published before; a sync from a pinned version fetches the delta, not
# the index, and the metadata of an update stays far below what format 1
# took; a delta that is garbled, truncated, absent or rebuilds the wrong
# bytes falls back to the whole index; a truncated or garbled index (even
# one the manifest signs) and a bad location file are refused on one line;
# gc keeps the deltas of the versions it keeps.
. "$(dirname "$0")/../lib.sh"
plan 29
R=$T/repo
P=$R/public
K=$R/repo.pub

# 160 files of 8 KiB of random bytes, 4 KiB blocks: each file a chunk of
# its own, so the index has some size. bb@2 changes one file, bb@3 two.
mkdir -p "$T/base/data"
for i in $(seq 160); do head -c 8192 /dev/urandom >"$T/base/data/f$i"; done
tar --numeric-owner --owner=0 --group=0 -C "$T/base" -cf "$T/base.tar" .
version() {   # N FILE...: bb@N with new content for FILEs
	local n=$1 f
	shift
	printf '[image]\nname = bb\nversion = %s\nepoch = 1767225600\nblock_size = 4096\n[base]\nsource = %s\n' \
		"$n" "$T/base.tar" >"$T/bb$n.ini"
	if [ $# -gt 0 ]; then
		mkdir -p "$T/p$n/data" "$T/cat$n"
		for f in "$@"; do head -c 8192 /dev/urandom >"$T/p$n/data/$f"; done
		tar --numeric-owner --owner=0 --group=0 -C "$T/p$n" -cf "$T/p$n.tar" ./data
		"$NETIMG" patch add --catalog "$T/cat$n" "$T/p$n.tar" --id P$n --severity low >/dev/null
		"$NETIMG" patch approve --catalog "$T/cat$n" P$n --by t >/dev/null
		printf '[patches]\ncatalog = %s\n' "$T/cat$n" >>"$T/bb$n.ini"
	fi
	"$NETIMG" build -q "$T/bb$n.ini" -o "$T/bb$n.sqfs" &&
		"$NETIMG" publish --repo "$R" "$T/bb$n.sqfs" >/dev/null
}
"$NETIMG" init --repo "$R" >/dev/null && "$NETIMG" keygen --repo "$R" >/dev/null
version 1 && version 2 f7 && version 3 f7 f90 || { echo "Bail out! cannot build the versions"; exit 1; }
I1=$(idx_file "$P" bb 1) I2=$(idx_file "$P" bb 2) I3=$(idx_file "$P" bb 3)
H1=$(basename "$I1" .bin) H2=$(basename "$I2" .bin) H3=$(basename "$I3" .bin)
N2=$(idx_chunks "$I2" | wc -l)

# ---- what publish writes ----
ok "bb@2's index has $N2 chunks in $(stat -c %s "$I2") bytes (about 35 a chunk)" \
	test "$N2" -gt 150 -a "$(stat -c %s "$I2")" -le $(( 64 + N2 * 36 ))
ok "publish of bb@2 wrote a delta from bb@1's index" test -f "$P/indexes/$H2.from-$H1"
ok "publish of bb@3 wrote deltas from bb@2's and bb@1's" \
	test -f "$P/indexes/$H3.from-$H2" -a -f "$P/indexes/$H3.from-$H1"
D=$(stat -c %s "$P/indexes/$H2.from-$H1")
ok "the delta ($D bytes) is a small part of the index" test "$D" -lt $(( $(stat -c %s "$I2") / 8 ))
RUNS=$(jget "$P/locations/bb/2.json" 'scalar @{$d->{runs}}')
ok "bb@2's location file: $RUNS runs for $N2 chunks" test "$RUNS" -le $(( N2 / 10 ))

# ---- sync: the delta instead of the index ----
serve_repo "$R"
C=$T/c
"$NETIMG" sync --repo "$URL" --key "$K" --cache "$C" bb@1 --json >"$T/s1.json" || echo "# sync bb@1 failed"
mark=$(wc -l <"$SERVE_LOG")
"$NETIMG" sync --repo "$URL" --key "$K" --cache "$C" bb@2 --json >"$T/s2.json" 2>"$T/s2.err"
tail -n +$((mark + 1)) "$SERVE_LOG" >"$T/log2"
ok "sync of bb@2 after bb@1" test -s "$T/s2.json"
is "$(grep -c "GET /indexes/$H2.from-$H1 " "$T/log2") $(grep -c "GET /indexes/$H2.bin " "$T/log2")" "1 0" \
	"... fetched the delta from bb@1's index, not the index"
ok "... and the index it rebuilt is the one published" cmp "$C/versions/bb/2/index" "$I2"
META=$(jget "$T/s2.json" '$d->{metadata_fetched}')
is "$META" $(( $(stat -c %s "$P/versions/bb/2.json") + D + $(stat -c %s "$P/locations/bb/2.json") )) \
	"... metadata fetched: the manifest, the delta and the location file ($META bytes)"
# Format 1 took more than 140 bytes a chunk (a 64-digit hash in the JSON
# index and a 64-digit pack name in the location file): the update's
# metadata besides the manifest is now far below even one of them.
ok "... beyond the manifest, less than 10 bytes a chunk ($(( META - $(stat -c %s "$P/versions/bb/2.json") )) for $N2; format 1 took over $(( N2 * 140 )))" \
	test $(( META - $(stat -c %s "$P/versions/bb/2.json") )) -lt $(( N2 * 10 ))
"$NETIMG" sync --repo "$URL" --key "$K" --cache "$C" bb@3 --json >"$T/s3.json" 2>/dev/null
ok "... bb@2 to bb@3 the same way" cmp "$C/versions/bb/3/index" "$I3"

# ---- bad deltas: the whole index instead ----
# C2 holds bb@1 and bb@2, bb@2 pinned last: a sync of bb@3 tries the
# delta from bb@2's index first, then from bb@1's.
"$NETIMG" sync --repo "$URL" --key "$K" --cache "$T/c2" bb@1 >/dev/null 2>&1
"$NETIMG" sync --repo "$URL" --key "$K" --cache "$T/c2" bb@2 >/dev/null 2>&1
DL=$P/indexes/$H3.from-$H2 DL1=$P/indexes/$H3.from-$H1
cp "$DL" "$T/delta.good"; cp "$DL1" "$T/delta1.good"
# try CASE: a sync of bb@3 from a copy of C2, with the deltas as CASE left
# them; LOG its requests
try() {
	rm -rf "$T/try"; cp -a "$T/c2" "$T/try"
	mark=$(wc -l <"$SERVE_LOG")
	"$NETIMG" sync --repo "$URL" --key "$K" --cache "$T/try" bb@3 --json >"$T/try.json" 2>"$T/try.err"
	TRY_RC=$?
	tail -n +$((mark + 1)) "$SERVE_LOG" >"$T/trylog"
	cp "$T/delta.good" "$DL"; cp "$T/delta1.good" "$DL1"
}
fellback() {   # NAME: the sync worked, with the whole index
	is "$TRY_RC $(grep -c "GET /indexes/$H3.bin " "$T/trylog")" "0 1" "$1: sync falls back to the whole index"
}
perl -e 'open(my $f, "+<", $ARGV[0]) or die; binmode $f; seek($f, 40, 0); read($f, my $b, 1);
	seek($f, 40, 0); print $f chr(ord($b) ^ 0xff)' "$DL"
rm "$DL1"
try
fellback "a garbled delta (and none from bb@1)"
ok "... and keeps the index published" cmp "$T/try/versions/bb/3/index" "$I3"
truncate -s $(( $(stat -c %s "$DL") / 2 )) "$DL"; rm "$DL1"
try
fellback "a truncated delta"
rm "$DL" "$DL1"
try
fellback "no delta at all (404)"
is "$(grep -c " 404 " "$T/trylog")" 2 "... after one 404 for each pinned version"
# a well-formed delta that rebuilds other bytes: bb@2's own, served as bb@3's
cp "$P/indexes/$H2.from-$H1" "$DL"; rm "$DL1"
try
fellback "a delta whose result does not hash to the signed index"
ok "... whose bytes are never kept" cmp "$T/try/versions/bb/3/index" "$I3"
rm "$DL"
try
is "$TRY_RC $(grep -c "GET /indexes/$H3.from-$H1 " "$T/trylog") $(grep -c "GET /indexes/$H3.bin " "$T/trylog")" "0 1 0" \
	"no delta from bb@2: the one from bb@1 (pinned before it) is used"

# ---- a bad index or location file: one line, nothing kept ----
# resign NAME VERSION INDEX-HEX: the manifest re-signed (with the
# repository's key) to name another chunk index: a publisher's bug, which
# the client must still catch.
resign() {
	local m=$P/versions/$1/$2.json fp
	fp=$(head -1 "$m" | cut -d' ' -f2)
	tail -n +2 "$m" | perl -0777 -pe 's/("index": \{\s*"chunks": \d+,\s*"sha256": ")[0-9a-f]{64}/${1}'"$3"'/s' >"$T/payload"
	grep -q "$3" "$T/payload" || echo "# resign: the index hash was not replaced"
	{ printf 'netimg-signed-v1 %s %s\n' "$fp" \
		"$(openssl pkeyutl -sign -inkey "$R/private/repo.key" -rawin -in "$T/payload" | base64 -w0)"
	  cat "$T/payload"; } >"$m.new" && mv "$m.new" "$m"
}
B=$T/bad
cp -a "$R" "$B"
BP=$B/public
head -c $(( $(stat -c %s "$I1") - 20 )) "$I1" >"$T/trunc.bin"
TH=$(sha256sum <"$T/trunc.bin" | cut -d' ' -f1)
cp "$T/trunc.bin" "$BP/indexes/$TH.bin"
P=$BP resign bb 1 "$TH"
serve_repo "$B"
fails "fetch: a truncated index the manifest signs is refused" \
	"^netimg: bb@1: indexes/$TH\\.bin: malformed chunk index \\(chunk [0-9]+: truncated\\)\$" \
	"$NETIMG" fetch --repo "$URL" --key "$K" bb@1 -o "$T/o1.sqfs"
ok "... and nothing is written" test ! -e "$T/o1.sqfs"
fails "sync: the same, naming the repository" \
	"^netimg: ${URL}: bb@1: chunk index: malformed chunk index \\(chunk [0-9]+: truncated\\)\$" \
	"$NETIMG" sync --repo "$URL" --key "$K" --cache "$T/c3" bb@1
ok "... and the cache keeps no metadata of it" test ! -e "$T/c3/versions/bb/1/manifest"
{ printf 'netimg-index-v1\n'; tail -c +17 "$I1"; } >"$T/garbled.bin"
GH=$(sha256sum <"$T/garbled.bin" | cut -d' ' -f1)
cp "$T/garbled.bin" "$BP/indexes/$GH.bin"
P=$BP resign bb 1 "$GH"
fails "a garbled index (another magic) is refused" \
	"^netimg: bb@1: indexes/$GH\\.bin: not a chunk index \\(format 2\\)\$" \
	"$NETIMG" verify --repo "$URL" --key "$K" bb@1
head -c 100 "$P/locations/bb/2.json" >"$BP/locations/bb/2.json"
fails "a truncated location file is refused" \
	"^netimg: bb@2: locations/bb/2\\.json: malformed location file \\(not JSON\\)\$" \
	"$NETIMG" fetch --repo "$URL" --key "$K" bb@2 -o "$T/o2.sqfs"
jget "$P/locations/bb/3.json" 'my $r = $d->{runs}; $r->[-1][2]--; pop @$r unless $r->[-1][2]; encode_json($d)' \
	>"$BP/locations/bb/3.json"
fails "a location file placing one chunk too few is refused" \
	"^netimg: bb@3: locations/bb/3\\.json: the location file places $(( $(idx_chunks "$I3" | wc -l) - 1 )) chunks, the index has [0-9]+\$" \
	"$NETIMG" fetch --repo "$URL" --key "$K" bb@3 -o "$T/o3.sqfs"

# ---- gc: the kept version's index and deltas stay ----
sleep 1   # the pointer newer than every publish: gc keeps nothing for being new
"$NETIMG" point --repo "$R" stable bb@3 >/dev/null
"$NETIMG" gc --repo "$R" --keep 1 >/dev/null
ok "gc: bb@3's index and its deltas stay" test -f "$I3" -a -f "$P/indexes/$H3.from-$H2"
ok "... bb@2's index and delta go with bb@2" test ! -e "$I2" -a ! -e "$P/indexes/$H2.from-$H1"
like "$("$NETIMG" verify --repo "$R" 2>&1)" "bb@3: ok" "... and bb@3 verifies (its location file rewritten if a pack was)"
done_testing
