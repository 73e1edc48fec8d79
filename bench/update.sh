#!/bin/bash
# bench/update.sh: what an update costs a client. Two versions of the
# example baseline (the fixture cache's debootstrap minbase): v1 without
# patches, v2 with the newer Debian packages named by UPDATE_PKGS (default
# one: liblzma5) from the cache's debs/NEWER.txt. Both are built and
# published into a fresh repository served by `netimg serve` on loopback;
# a fresh cache is synced to v1 (`netimg sync`), then to v2, and three
# figures are put side by side:
#
#   (a) netimg: the bytes `netimg sync` fetched to go from a fully cached
#       v1 to v2: chunk ranges plus v2's manifest, chunk index (as the
#       delta from v1's index, indexes/NEW.from-OLD) and location file
#       (from sync's --json, checked against the server's access log);
#   (b) the changed files, compressed, plus the metadata tables: the files
#       whose content differs between the two images (or are new in v2),
#       each counted as its data blocks' on-disk bytes in v2 plus, when
#       `netimg inspect --files` exists, its tail's share of its fragment
#       block (as bench/delta.sh counts it; without --files the fragment
#       shares are left out, so (b) is a lower bound and the ratio an
#       upper one), plus v2's inode, directory, fragment, id and xattr
#       tables;
#   (c) casync: `casync make` of v1 into a chunk store, then of v2 into the
#       same store (default chunk sizes and compression): the chunk files
#       v2 added, and their bytes: what a casync client holding v1 fetches.
#
# Targets (issue 5): (a) <= 1.5 x (b) and (a) <= 0.5 x (c).
#
# Prints a markdown report on stdout (progress on stderr). Knobs: NETIMG,
# NETIMG_CACHE, BENCH_DIR (default /var/tmp/netimg-bench; this script
# works in $BENCH_DIR/update), UPDATE_PKGS (names from NEWER.txt).
NAME=update
TOOLS="casync unsquashfs sha256sum perl"
. "$(dirname "$0")/lib.sh"
UPDATE_PKGS=${UPDATE_PKGS:-liblzma5}
SERVER=
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; true' EXIT

read -r -a PKGS <<<"$UPDATE_PKGS"
[ ${#PKGS[@]} -gt 0 ] || die "UPDATE_PKGS names no package"
version 1
version 2 "${PKGS[@]}"
"$NETIMG" init --repo "$W/repo" >/dev/null
"$NETIMG" keygen --repo "$W/repo" >/dev/null
"$NETIMG" publish --repo "$W/repo" "$W/v1.sqfs" >&2
"$NETIMG" publish --repo "$W/repo" "$W/v2.sqfs" >&2

# ---- (a) netimg sync, v1 then v2 ------------------------------------------
"$NETIMG" serve --repo "$W/repo" --listen 127.0.0.1:0 >"$W/serve.out" 2>"$W/access.log" &
SERVER=$!
for i in $(seq 50); do grep -q http "$W/serve.out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's|.*\(http://[^ ]*/\).*|\1|p' "$W/serve.out")
[ -n "$URL" ] || die "netimg serve did not start"
K=$W/repo/repo.pub
log "sync of v1 into a fresh cache"
"$NETIMG" sync --repo "$URL" --key "$K" --cache "$W/cache" --state "$W/state" baseline@1 --json >"$W/sync1.json"
before=$(wc -l <"$W/access.log")
log "sync of v2"
"$NETIMG" sync --repo "$URL" --key "$K" --cache "$W/cache" --state "$W/state" baseline@2 --json >"$W/sync2.json"
tail -n +$((before + 1)) "$W/access.log" >"$W/access2.log"
jget() { perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $d = decode_json(<$f>); print $d->{$ARGV[1]} // 0' "$1" "$2"; }
A_CHUNKS=$(jget "$W/sync2.json" fetched)
A_META=$(jget "$W/sync2.json" metadata_fetched)
A_REQ=$(jget "$W/sync2.json" requests)
A_CACHED=$(jget "$W/sync2.json" cached)
A=$((A_CHUNKS + A_META))
LOG_BYTES=$(awk '{ n += $10 } END { print n + 0 }' "$W/access2.log")
LOG_REQ=$(wc -l <"$W/access2.log")
kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true
SERVER=

# ---- (b) changed files, compressed, plus metadata ---------------------------
log "comparing the files of the two images"
files_of "$W/v1.sqfs" "$W/x1" >"$W/sums1"
files_of "$W/v2.sqfs" "$W/x2" >"$W/sums2"
awk 'NR == FNR { old[substr($0, 67)] = $1; next }
     old[substr($0, 67)] != $1 { print substr($0, 67) }' "$W/sums1" "$W/sums2" >"$W/changed"
CH_N=$(wc -l <"$W/changed")
"$NETIMG" inspect "$W/v2.sqfs" >"$W/summary2"
kind_bytes() { awk -v k="$1" '$1 == k { print $3 }' "$W/summary2"; }
META=$(( $(kind_bytes inodes) + $(kind_bytes directories) + $(kind_bytes tables) ))
if "$NETIMG" inspect --files "$W/v2.sqfs" >"$W/files2" 2>/dev/null; then
	# SIZE DATA TAIL SHARE FRAGMENT INODE PATH (bench/delta.sh's count:
	# hard links once)
	awk 'NR == FNR { want[$0] = 1; next }
	     { p = $0; for (i = 0; i < 6; i++) sub(/^[^ ]+ /, "", p) }
	     (p in want) && !($6 in seen) { seen[$6] = 1; d += $2; f += $4 }
	     END { print d + 0, f + 0 }' \
		"$W/changed" "$W/files2" >"$W/changed-bytes"
	B_HOW="data blocks and fragment shares (netimg inspect --files)"
else
	# data chunks are a file's own blocks: those v2 has and v1 lacks
	"$NETIMG" inspect --chunks "$W/v1.sqfs" >"$W/chunks1"
	"$NETIMG" inspect --chunks "$W/v2.sqfs" >"$W/chunks2"
	awk 'NR == FNR { have[$4] = 1; next }
	     $3 == "data" && !($4 in have) && !($4 in seen) { seen[$4] = 1; d += $2 }
	     END { print d + 0, 0 }' "$W/chunks1" "$W/chunks2" >"$W/changed-bytes"
	B_HOW="data blocks only: no fragment shares without netimg inspect --files, so (b) is a lower bound"
fi
read -r CH_DATA CH_FRAG <"$W/changed-bytes"
B=$((CH_DATA + CH_FRAG + META))

# ---- (c) casync ------------------------------------------------------------------
log "casync make of v1, then v2, into one store"
store=$W/casync/store
mkdir -p "$W/casync"
chunks_in() { find "$store" -name '*.cacnk' -printf '%P %s\n' | sort; }
casync make --store="$store" "$W/casync/v1.caibx" "$W/v1.sqfs" >/dev/null
chunks_in >"$W/casync/chunks1"
casync make --store="$store" "$W/casync/v2.caibx" "$W/v2.sqfs" >/dev/null
chunks_in >"$W/casync/chunks2"
read -r CA_N CA_BYTES < <(comm -13 "$W/casync/chunks1" "$W/casync/chunks2" |
	awk '{ n++; s += $2 } END { print n + 0, s + 0 }')
CA_INDEX=$(stat -c %s "$W/casync/v2.caibx")
C=$((CA_BYTES + CA_INDEX))

# ---- the report ------------------------------------------------------------------
kb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
met() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { print (a <= f * b) ? "met" : "missed" }'; }

echo "## netimg update benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- v1: the fixture cache's minbase, no patches; v2: the same with ${PKGS[*]} ($(for p in "${PKGS[@]}"; do basename "$(deb_of "$p")"; done | tr '\n' ' ' | sed 's/ $//'))"
echo "- images: v1 $(stat -c %s "$W/v1.sqfs") bytes, v2 $(stat -c %s "$W/v2.sqfs") bytes (zstd, 128 KiB blocks)"
echo "- the cache held all of v1; sync of v2 found $A_CACHED bytes of its chunks there"
echo "- the server's log for sync of v2: $LOG_REQ requests, $LOG_BYTES bytes of bodies"
echo
echo "| | bytes | KB | (a) ÷ this | target | |"
echo "|---|---:|---:|---:|---|---|"
echo "| (a) netimg sync v1 -> v2: $A_CHUNKS chunk bytes in $A_REQ range requests + $A_META metadata | $A | $(kb "$A") | 1.00 | | |"
echo "| (b) changed files compressed + metadata tables | $B | $(kb "$B") | $(ratio "$A" "$B") | (a) ≤ 1.5 × (b) | $(met "$A" "$B" 1.5) |"
echo "| (c) casync: new chunks ($CA_N) + v2's index | $C | $(kb "$C") | $(ratio "$A" "$C") | (a) ≤ 0.5 × (c) | $(met "$A" "$C" 0.5) |"
echo
echo "(b) in parts: $CH_N changed files, $CH_DATA bytes of data blocks + $CH_FRAG bytes of fragment share ($B_HOW);"
echo "metadata tables $META."
echo
echo "(a) without the metadata files (chunks only): $A_CHUNKS bytes, $(ratio "$A_CHUNKS" "$B") × (b), $(ratio "$A_CHUNKS" "$C") × (c)."
echo
echo "The metadata sync fetched (the server's log):"
echo
awk '$7 !~ /\.pack$/ { printf "- `%s`: %s (%s bytes)\n", $7, $9, $10 }' "$W/access2.log"
IDX2=$(tail -n +2 "$W/repo/public/versions/baseline/2.json" | perl -MJSON::PP -0777 -ne 'print decode_json($_)->{index}{sha256}')
FULL=$(stat -c %s "$W/repo/public/indexes/$IDX2.bin")
DELTA=$(awk -v i="/indexes/$IDX2.from-" 'index($7, i) == 1 && $9 == 200 { n += $10 } END { print n + 0 }' "$W/access2.log")
A_FULL=$((A - DELTA + FULL))
echo
echo "With the whole chunk index ($FULL bytes, format 2) instead of the delta (a client holding no earlier version of the name): (a) would be $A_FULL bytes, $(ratio "$A_FULL" "$B") × (b), $(ratio "$A_FULL" "$C") × (c)."
