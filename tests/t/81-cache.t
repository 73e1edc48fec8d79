#!/bin/bash
# The local cache (cache/store, cache/vimage) through netimg sync and
# netimg cache, against netimg serve (its access log counts requests and
# bytes) and tests/tools/badhttpd.pl (a slow, a stalling and a tampering
# server): a second sync fetches nothing; v2 after v1 fetches only v2's
# new chunks; pins and the pin rule of sync; the quota held within 2% with
# LRU eviction; pins over the quota refused with nothing changed; a
# fully cached version read with the server down; a missing chunk with
# the server down or stalling fails within the bounded wait; chunks
# altered or truncated by hand never served.
. "$(dirname "$0")/../lib.sh"
plan 56
. "$TOP/tests/cache.sh"

# badhttpd ARGS...: a misbehaving server of R/public: BURL, BPID, BLOG
bad() {
	local i
	BLOG=$T/bad.$RANDOM.log
	perl "$TOP/tests/tools/badhttpd.pl" --root "$R/public" --lifetime 120 --log "$BLOG" "$@" \
		>"$BLOG.port" 2>/dev/null &
	BPID=$!
	BG_PIDS+=($!)
	for i in $(seq 50); do [ -s "$BLOG.port" ] && break; sleep 0.1; done
	BURL=http://127.0.0.1:$(head -1 "$BLOG.port")/
}
# the bytes of pack ranges the log shows (netimg serve's combined format)
pack_bytes() { awk '/\.pack / { n += $10 } END { print n + 0 }' "$1"; }
requests() { wc -l <"$1"; }
# bytes of the chunks of version B that version A lacks, from the indexes
new_bytes() {
	idx_chunks "$(idx_file "$R/public" bb "$1")" >"$T/.nb1"
	idx_chunks "$(idx_file "$R/public" bb "$2")" |
		awk 'NR == FNR { have[$3] = 1; next } !($3 in have) && !($3 in seen) { seen[$3] = 1; n += $2 }
		     END { print n + 0 }' "$T/.nb1" -
}
sj() { "$NETIMG" "$@" --json >"$T/.j" 2>"$T/.jerr"; }
SIZE1=$(stat -c %s "$T/bb1.sqfs")

serve_logged "$R"
C=$T/c1

# ---- sync: first, again, then v2 ----
sj sync --repo "$URL" --key "$K" --cache "$C" bb@1
is "$(jget "$T/.j" '$d->{fetched}')" "$SIZE1" "first sync of bb@1 fetches the whole image"
is "$(jget "$T/.j" '$d->{cached}')" 0 "... with nothing cached before"
is "$(pack_bytes "$LOG")" "$SIZE1" "... and the server sent exactly those pack bytes"
n0=$(requests "$LOG")
sj sync --repo "$URL" --key "$K" --cache "$C" bb@1
is "$(jget "$T/.j" '$d->{fetched} + $d->{metadata_fetched} + $d->{requests}')" 0 \
	"a second sync fetches nothing"
is "$(requests "$LOG")" "$n0" "... not one request reached the server"
is "$(jget "$T/.j" '$d->{cached}')" "$SIZE1" "... it found all of it cached"
want=$(new_bytes 1 2)
p0=$(pack_bytes "$LOG")
sj sync --repo "$URL" --key "$K" --cache "$C" bb@2
is "$(jget "$T/.j" '$d->{fetched}')" "$want" "sync of bb@2 after bb@1 fetches only bb@2's new chunks ($want bytes)"
is "$(( $(pack_bytes "$LOG") - p0 ))" "$want" "... the server's log agrees"
is "$(jget "$T/.j" '$d->{kept}')" "bb@1" "... and keeps bb@1 pinned for rollback"
sj cache status --cache "$C"
is "$(jget "$T/.j" 'join " ", map { "$_->{version}:" . ($_->{pinned} ? 1 : 0) } sort { $a->{version} cmp $b->{version} } @{$d->{versions}}')" \
	"1:1 2:1" "status: bb@1 and bb@2 pinned"
is "$(jget "$T/.j" 'join " ", map { $_->{bytes_cached} == $_->{bytes} ? 1 : 0 } @{$d->{versions}}')" \
	"1 1" "... both complete"
sj sync --repo "$URL" --key "$K" --cache "$C" bb@3
sj cache status --cache "$C"
is "$(jget "$T/.j" 'join " ", map { "$_->{version}:" . ($_->{pinned} ? 1 : 0) } sort { $a->{version} cmp $b->{version} } @{$d->{versions}}')" \
	"1:0 2:1 3:1" "sync of bb@3: bb@2 kept, bb@1 unpinned"

# ---- reads through the cache (vimage), offline ----
kill "$SERVER"; wait "$SERVER" 2>/dev/null
ok "server down: bb@2 reads whole from the cache" \
	"$NETIMG" cache read --cache "$C" --repo "$URL" --key "$K" bb@2 -o "$T/r2.sqfs"
ok "... byte for byte" cmp "$T/bb2.sqfs" "$T/r2.sqfs"
sj cache read --cache "$C" --repo "$URL" --key "$K" --threads 4 bb@3
is "$(jget "$T/.j" '$d->{requests} . "/" . $d->{misses}')" "0/0" "... bb@3 with 4 threads: no request, no miss"
# ra_read WIPE ARGS...: a read in order, 4 KiB at a time (a slow reader,
# so that the read-ahead thread gets its turn even on a busy machine); up
# to 5 tries, the folder WIPE ("-": none) removed before each; RA is the
# chunks it loaded ahead in the last
ra_read() {
	local try wipe=$1
	shift
	for try in 1 2 3 4 5; do
		[ "$wipe" = - ] || rm -rf "$wipe"
		sj cache read "$@" --threads 1 --block 4096
		RA=$(jget "$T/.j" '$d->{readahead}')
		[ "${RA:-0}" -gt 0 ] && return 0
	done
}
ra_read - --cache "$C" --repo "$URL" --key "$K" bb@2
ok "... bb@2 read in order: the chunks ahead were loaded from disk in the background ($RA)" test "${RA:-0}" -gt 0
CH=$(ls -S "$C"/chunks/*/* | head -1)   # the largest: the data chunk all versions share
rm -f "$CH"
t0=$(date +%s)
fails "server down and a chunk missing: the read fails" "chunk at image offset [0-9]+.*not cached|unreachable|connect" \
	"$NETIMG" cache read --cache "$C" --repo "$URL" --key "$K" --wait 3 bb@2
ok "... within the bounded wait ($(( $(date +%s) - t0 ))s)" test $(( $(date +%s) - t0 )) -le 6
bad --mode stall
t0=$(date +%s)
fails "a stalling server: the read fails" "chunk at image offset" \
	"$NETIMG" cache read --cache "$C" --repo "$BURL" --key "$K" --wait 2 bb@2
ok "... within the bounded wait ($(( $(date +%s) - t0 ))s, 2s asked)" test $(( $(date +%s) - t0 )) -le 5
kill $BPID 2>/dev/null

serve_logged "$R"
ra_read "$T/cold" --cache "$T/cold" --repo "$URL" --key "$K" bb@2 -o "$T/r2c.sqfs"
ok "a cold read in order fetches ahead in the background ($RA chunks), the image verified whole" \
	test "${RA:-0}" -gt 0 -a -s "$T/r2c.sqfs"
# ---- damaged chunks: never served ----
ok "a missing chunk is fetched again on read" \
	"$NETIMG" cache read --cache "$C" --repo "$URL" --key "$K" bb@2 -o "$T/r2b.sqfs"
ok "... byte for byte" cmp "$T/bb2.sqfs" "$T/r2b.sqfs"
CH=$(ls -S "$C"/chunks/*/* | head -1)   # the largest: a data chunk every version uses
perl -e 'open(my $f, "+<", $ARGV[0]) or die; seek($f, 1000, 0); print $f "X"' "$CH"
fails "a chunk altered by hand is not served offline" "not cached" \
	"$NETIMG" cache read --cache "$C" --key "$K" bb@1 -o "$T/x.sqfs"
ok "... nor left in the cache" test ! -e "$CH"
ok "... and online it is fetched again" \
	"$NETIMG" cache read --cache "$C" --repo "$URL" --key "$K" bb@1 -o "$T/r1.sqfs"
ok "... byte for byte" cmp "$T/bb1.sqfs" "$T/r1.sqfs"
CH=$(ls -S "$C"/chunks/*/* | head -1)
truncate -s 100 "$CH"
sj cache verify --cache "$C" --key "$K"
is "$(jget "$T/.j" '$d->{removed} . "/" . $d->{bad_versions}')" "1/0" "cache verify finds the truncated chunk and drops it"
sj cache verify --cache "$C" --key "$K"
is "$(jget "$T/.j" '$d->{removed}')" 0 "... a second verify finds nothing bad"
sj sync --repo "$URL" --key "$K" --cache "$C" bb@3
ok "sync of bb@3 brings the dropped chunk back" test "$(jget "$T/.j" '$d->{fetched}')" -gt 0

# ---- a tampered server: nothing kept ----
cp -a "$R" "$T/badrepo"
P=$(ls -S "$T/badrepo/public/packs/"*.pack | head -1)
perl -e 'open(my $f, "+<", $ARGV[0]) or die; seek($f, 5000, 0); read($f, my $b, 1); seek($f, 5000, 0); print $f chr(ord($b) ^ 1)' "$P"
serve_logged "$T/badrepo"
fails "a tampered pack: the read fails" "hash mismatch \(tampered\)" \
	"$NETIMG" cache read --cache "$T/c2" --repo "$URL" --key "$K" bb@1 -o "$T/t.sqfs"
is "$(ls "$T/c2/chunks/"*/* 2>/dev/null | xargs -r sha256sum | awk '{ split($2, p, "/"); if ($1 != p[length(p)]) n++ } END { print n + 0 }')" \
	0 "... every chunk kept is what its name says"
serve_logged "$R"

# ---- quota, LRU, pins over the quota ----
Q=2000000
C3=$T/c3
for v in 1 2 3; do "$NETIMG" cache read --cache "$C3" --cache-size $Q --repo "$URL" --key "$K" bb@$v >/dev/null; done
sj cache status --cache "$C3"
u=$(jget "$T/.j" '$d->{usage}')
# (eviction goes down to 99% of the quota, by whole chunks: here 600 KB ones)
ok "after reading 3 versions (2.2 MB) the cache holds $u bytes: within 2% of its $Q quota" \
	test "$u" -le $(( Q * 102 / 100 )) -a "$u" -ge $(( Q / 2 ))
is "$(jget "$T/.j" 'join " ", map { $_->{version} } grep { $_->{bytes_cached} == $_->{bytes} } @{$d->{versions}}')" \
	"3" "LRU: the last read version is whole"
ok "the quota is kept in the cache" test "$(jget "$T/.j" '$d->{quota}')" = $Q
C4=$T/c4
fails "a sync needing more pinned data than the quota is refused" "needs .* of pinned data, over the cache's quota" \
	"$NETIMG" sync --repo "$URL" --key "$K" --cache "$C4" --cache-size 500K bb@1
is "$(find "$C4/chunks" "$C4/versions" -type f | wc -l)" 0 "... and changes nothing"
"$NETIMG" sync --repo "$URL" --key "$K" --cache "$C4" --cache-size 1700K bb@2 >/dev/null
"$NETIMG" cache read --cache "$C4" --repo "$URL" --key "$K" bb@3 >/dev/null
cp "$C4/state.json" "$T/state.before"
fails "cache pin over the quota is refused" "pinning bb@3 needs .* over the cache's quota" \
	"$NETIMG" cache pin --cache "$C4" bb@3
ok "... and changes nothing" cmp "$C4/state.json" "$T/state.before"
ok "cache unpin" "$NETIMG" cache unpin --cache "$C4" bb@2
ok "... then pin bb@3 fits" "$NETIMG" cache pin --cache "$C4" bb@3
fails "unpin of a version not pinned" "bb@2 is not pinned" "$NETIMG" cache unpin --cache "$C4" bb@2
"$NETIMG" sync --repo "$URL" --key "$K" --cache "$C4" bb@3 >/dev/null
sj cache evict --cache "$C4" --size 1
is "$(jget "$T/.j" '$d->{pinned_bytes} <= $d->{usage} ? 1 : 0')" 1 "after a sync of it, evict --size 1 keeps the pinned version"
sj cache status --cache "$C4"
is "$(jget "$T/.j" 'join " ", map { "$_->{version}:" . ($_->{bytes_cached} == $_->{bytes} ? 1 : 0) } grep { $_->{pinned} } @{$d->{versions}}')" \
	"3:1" "... whole"

# ---- many readers at once fetch each chunk once ----
sj cache read --cache "$T/c5" --repo "$URL" --key "$K" --threads 8 bb@1
is "$(jget "$T/.j" '$d->{bytes_fetched}')" "$SIZE1" "8 threads reading from an empty cache fetch each chunk once"

# ---- background prefetch ----
sj cache read --cache "$T/c9" --repo "$URL" --key "$K" --prefetch bb@2
is "$(jget "$T/.j" '$d->{misses} . "/" . $d->{bytes_fetched}')" "0/$(stat -c %s "$T/bb2.sqfs")" \
	"prefetch fetches every chunk in the background; the reads then all hit"
is "$(jget "$T/.j" '$d->{requests} <= 4 ? 1 : 0')" 1 "... in a few coalesced requests"

# ---- kill -9 of a sync mid-download, then again ----
bad --rate 300000
C6=$T/c6
"$NETIMG" sync --repo "$BURL" --key "$K" --cache "$C6" bb@2 >/dev/null 2>&1 &
SP=$!
for i in $(seq 100); do grep -q '\.pack' "$BLOG" 2>/dev/null && break; sleep 0.1; done
sleep 1
kill -9 $SP; wait $SP 2>/dev/null
sj cache status --cache "$C6"
is "$(jget "$T/.j" 'scalar grep { $_->{pinned} } @{$d->{versions}}')" 0 "a sync killed mid-download pinned nothing"
sj cache verify --cache "$C6" --key "$K"
is "$(jget "$T/.j" '$d->{removed} . "/" . $d->{bad_versions}')" "0/0" "... and left nothing bad behind"
ok "... the sync run again completes" "$NETIMG" sync --repo "$URL" --key "$K" --cache "$C6" bb@2
ok "... and bb@2 reads whole offline" "$NETIMG" cache read --cache "$C6" --key "$K" bb@2 -o "$T/r6.sqfs"
kill $BPID 2>/dev/null

# ---- a channel ----
"$NETIMG" point --repo "$R" stable bb@2 >/dev/null
out=$("$NETIMG" sync --repo "$URL" --key "$K" --state "$T/state" --cache "$T/c8" stable 2>&1)
like "$out" "channel stable: serial 1, bb@2" "sync of a channel: the version its pointer names"
like "$out" "synced bb@2 .*pinned" "... synced and pinned"

# ---- bad input ----
fails "sync of a version the repository lacks" "bb@9: no such version" \
	"$NETIMG" sync --repo "$URL" --key "$K" --cache "$T/c7" bb@9
mkdir -p "$T/other" && "$NETIMG" keygen --repo "$T/other" >/dev/null
fails "sync with another repository's key" "signed by another key" \
	"$NETIMG" sync --repo "$URL" --key "$T/other/repo.pub" --cache "$T/c7" bb@1
fails "cache read of a version not cached, offline" "bb@1 is not in the cache" \
	"$NETIMG" cache read --cache "$T/c7" --key "$K" bb@1
done_testing
