#!/bin/bash
# bench/repo-size.sh: what four versions cost a repository. Four versions
# of the example baseline (the fixture cache's debootstrap minbase): v1
# without patches, and each later one with a few more of the newer Debian
# packages of the cache's debs/NEWER.txt (cumulatively: v2 = v1 + STEP 1,
# v3 = v2 + STEP 2, ...). All four are published into a fresh repository;
# the report gives the size of public/ after each publish against the size
# of one version's image.
#
# Target (the repository issue): public/ with the four versions at most
# 1.3 x one version's image.
#
# Prints a markdown report on stdout (progress goes to stderr). Knobs:
# NETIMG, NETIMG_CACHE, BENCH_DIR (default /var/tmp/netimg-bench; this
# script works in $BENCH_DIR/repo-size), REPO_STEPS (the packages each
# later version adds: steps separated by spaces, packages within a step by
# commas; default "liblzma5,libpcre2-8-0 tzdata,perl-base apt,libapt-pkg6.0").
NAME=repo-size
. "$(dirname "$0")/lib.sh"
REPO_STEPS=${REPO_STEPS:-liblzma5,libpcre2-8-0 tzdata,perl-base apt,libapt-pkg6.0}

"$NETIMG" init --repo "$W/repo" >/dev/null
"$NETIMG" keygen --repo "$W/repo" >/dev/null
PUB=$W/repo/public

# Each row: version, packages, image bytes, publish's line, du of public/
# (apparent bytes and KiB on disk), and how many files public/ holds.
rows=()
pkgs=()
v=1
steps=("" $REPO_STEPS)
for step in "${steps[@]}"; do
	IFS=, read -r -a add <<<"$step"
	pkgs+=("${add[@]}")
	version "$v" "${pkgs[@]}"
	line=$("$NETIMG" publish --repo "$W/repo" "$W/v$v.sqfs")
	log "$line"
	bytes=$(du -sb "$PUB" | cut -f1)
	kib=$(du -sk "$PUB" | cut -f1)
	files=$(find "$PUB" -type f | wc -l)
	rows+=("$v|${pkgs[*]:-none}|$(stat -c %s "$W/v$v.sqfs")|$bytes|$kib|$files|$line")
	v=$((v + 1))
done

one=$(stat -c %s "$W/v1.sqfs")
last=${rows[-1]}
IFS='|' read -r _ _ _ all_bytes all_kib _ _ <<<"$last"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

echo "## netimg repository size benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- four versions of the minbase baseline (zstd, 128 KiB blocks), published in order into a fresh repository"
echo "- one version's image (v1): $one bytes"
echo
echo "| version | packages (cumulative) | image bytes | public/ bytes | public/ KiB on disk | files | public/ ÷ one image |"
echo "|---|---|---:|---:|---:|---:|---:|"
for r in "${rows[@]}"; do
	IFS='|' read -r v p img bytes kib files line <<<"$r"
	echo "| v$v | $p | $img | $bytes | $kib | $files | $(ratio "$bytes" "$one") |"
done
echo
verdict=$(awk -v a="$all_bytes" -v b="$one" 'BEGIN { print (a <= 1.3 * b) ? "met" : "missed" }')
echo "Four versions: public/ holds $all_bytes bytes ($all_kib KiB on disk) = $(ratio "$all_bytes" "$one") × one version's image; target ≤ 1.3×: $verdict."
echo
echo "What each publish printed:"
echo
for r in "${rows[@]}"; do
	IFS='|' read -r v _ _ _ _ _ line <<<"$r"
	echo "- v$v: \`$line\`"
done
