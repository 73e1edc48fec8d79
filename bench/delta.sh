#!/bin/bash
# bench/delta.sh: what a new version costs. Two versions of the example
# baseline (the fixture cache's debootstrap minbase): v1 without patches,
# v2 with the newer Debian packages named by DELTA_PKGS (default: one,
# liblzma5) from the cache's debs/NEWER.txt. Both are built, published
# into a fresh repository, and three figures are put side by side:
#
#   (a) netimg: the bytes new to the repository for v2 (what `netimg
#       publish` prints; exactly: the size of the pack v2's publish wrote);
#   (b) the changed files, compressed, plus the metadata tables: the files
#       whose content differs between the two images (or that are new in
#       v2), each counted as its data blocks' on-disk bytes in v2 plus its
#       tail's share of its fragment block (`netimg inspect --files`: the
#       block's on-disk size times tail / bytes the block's tails use),
#       plus v2's whole inode, directory, fragment, id and xattr tables;
#   (c) casync: `casync make` of v1 into a chunk store, then of v2 into the
#       same store (default chunk sizes and compression): the chunk files
#       v2 added, and their bytes.
#
# Targets (the repository issue): (a) <= 1.5 x (b) and (a) <= 0.5 x (c).
#
# Prints a markdown report on stdout (progress goes to stderr). Knobs:
# NETIMG, NETIMG_CACHE, BENCH_DIR (default /var/tmp/netimg-bench; this
# script works in $BENCH_DIR/delta), DELTA_PKGS (package names of
# NEWER.txt, space-separated).
NAME=delta
TOOLS="casync unsquashfs sha256sum"
. "$(dirname "$0")/lib.sh"
DELTA_PKGS=${DELTA_PKGS:-liblzma5}

read -r -a PKGS <<<"$DELTA_PKGS"
[ ${#PKGS[@]} -gt 0 ] || die "DELTA_PKGS names no package"
version 1
version 2 "${PKGS[@]}"

# ---- (a) netimg publish -------------------------------------------------------
log "publishing both into a fresh repository"
"$NETIMG" init --repo "$W/repo" >/dev/null
"$NETIMG" keygen --repo "$W/repo" >/dev/null
public_files() { (cd "$W/repo/public" && find . -type f -printf '%P %s\n' | sort); }
"$NETIMG" publish --repo "$W/repo" "$W/v1.sqfs" >"$W/publish1.txt"
ls "$W/repo/public/packs" | sort >"$W/packs1"
public_files >"$W/public1"
"$NETIMG" publish --repo "$W/repo" "$W/v2.sqfs" >"$W/publish2.txt"
ls "$W/repo/public/packs" | sort >"$W/packs2"
public_files >"$W/public2"
NEW_A=0
for p in $(comm -13 "$W/packs1" "$W/packs2" | grep '\.pack$' || true); do
	NEW_A=$((NEW_A + $(stat -c %s "$W/repo/public/packs/$p")))
done
PUBLISHED=$(cat "$W/publish2.txt")
# The files v2's publish added besides its pack: pack index, chunk index,
# index delta from v1's, location file, manifest (and the rewritten
# versions list).
comm -13 "$W/public1" "$W/public2" | awk '$1 !~ /\.pack$/ { print $2, $1 }' >"$W/files-v2"
NEW_FILES=$(awk '{ s += $1 } END { print s + 0 }' "$W/files-v2")

# Where netimg's new bytes are, by chunk kind (chunks of v2 v1 lacks).
"$NETIMG" inspect --chunks "$W/v1.sqfs" >"$W/chunks1"
"$NETIMG" inspect --chunks "$W/v2.sqfs" >"$W/chunks2"
awk 'NR == FNR { have[$4] = 1; next }
     !($4 in have) && !($4 in seen) { seen[$4] = 1; n[$3]++; b[$3] += $2 }
     END { for (k in n) print k, n[k], b[k] }' "$W/chunks1" "$W/chunks2" |
	sort >"$W/new-by-kind"

# ---- (b) changed files, compressed, plus metadata ---------------------------
log "comparing the files of the two images"
files_of "$W/v1.sqfs" "$W/x1" >"$W/sums1"
files_of "$W/v2.sqfs" "$W/x2" >"$W/sums2"
"$NETIMG" inspect --files "$W/v2.sqfs" >"$W/files2"
# PATH of every file whose content is new in v2.
awk 'NR == FNR { old[substr($0, 67)] = $1; next }
     old[substr($0, 67)] != $1 { print substr($0, 67) }' "$W/sums1" "$W/sums2" >"$W/changed"
# SIZE DATA TAIL SHARE FRAGMENT INODE PATH for those.
awk 'NR == FNR { want[$0] = 1; next }
     { p = $0; for (i = 0; i < 6; i++) sub(/^[^ ]+ /, "", p) }
     p in want' "$W/changed" "$W/files2" >"$W/changed-files"
# Hard links share an inode and its bytes: counted once.
read -r CH_N CH_DATA CH_FRAG < <(awk '!($6 in seen) { seen[$6] = 1; n++; d += $2; f += $4 }
	END { print n + 0, d + 0, f + 0 }' "$W/changed-files")
"$NETIMG" inspect "$W/v2.sqfs" >"$W/summary2"
kind_bytes() { awk -v k="$1" '$1 == k { print $3 }' "$W/summary2"; }
META_INODES=$(kind_bytes inodes)
META_DIRS=$(kind_bytes directories)
META_TABLES=$(kind_bytes tables)
META=$((META_INODES + META_DIRS + META_TABLES))
CH=$((CH_DATA + CH_FRAG))
B=$((CH + META))

# ---- (c) casync -----------------------------------------------------------------
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
CA_TOTAL=$(wc -l <"$W/casync/chunks2")

# ---- the report ------------------------------------------------------------------
kb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "–" }'; }
met() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { print (a <= f * b) ? "met" : "missed" }'; }

echo "## netimg delta benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- v1: the fixture cache's minbase, no patches; v2: the same with ${PKGS[*]} ($(for p in "${PKGS[@]}"; do basename "$(deb_of "$p")"; done | tr '\n' ' '| sed 's/ $//'))"
echo "- images: v1 $(stat -c %s "$W/v1.sqfs") bytes, v2 $(stat -c %s "$W/v2.sqfs") bytes (zstd, 128 KiB blocks)"
echo "- netimg publish of v2: \`$PUBLISHED\`"
echo "- $(casync --version | head -n 1): $CA_TOTAL chunks for v2"
echo
echo "| | bytes | KB | (a) ÷ this | target | |"
echo "|---|---:|---:|---:|---|---|"
echo "| (a) netimg: new to the repository for v2 | $NEW_A | $(kb "$NEW_A") | 1.00 | | |"
echo "| (b) changed files compressed + metadata tables | $B | $(kb "$B") | $(ratio "$NEW_A" "$B") | (a) ≤ 1.5 × (b) | $(met "$NEW_A" "$B" 1.5) |"
echo "| (c) casync: new chunks for v2 ($CA_N of $CA_TOTAL) | $CA_BYTES | $(kb "$CA_BYTES") | $(ratio "$NEW_A" "$CA_BYTES") | (a) ≤ 0.5 × (c) | $(met "$NEW_A" "$CA_BYTES" 0.5) |"
echo
echo "Besides its pack, v2's publish wrote $NEW_FILES bytes of other files (chunk index and the index delta from v1's, binary; location file, manifest, pack index, versions list, JSON):"
echo
while read -r sz f; do echo "- \`$f\`: $sz bytes"; done <"$W/files-v2"
echo
echo "(b) in parts: $CH_N changed files, $CH_DATA bytes of data blocks + $CH_FRAG bytes of fragment share = $CH;"
echo "metadata: inode table $META_INODES + directory table $META_DIRS + fragment/id/xattr tables $META_TABLES = $META."
echo
echo "(a) by chunk kind (chunks of v2 that v1 lacks):"
echo
echo "| kind | chunks | bytes |"
echo "|---|---:|---:|"
while read -r k n b; do echo "| $k | $n | $b |"; done <"$W/new-by-kind"
echo
echo "The changed files (SIZE DATA TAIL SHARE FRAGMENT INODE PATH, from \`netimg inspect --files\` of v2):"
echo
echo '```'
cat "$W/changed-files"
echo '```'
