#!/bin/bash
# One cache, many processes at once (sync, readers with threads, evict,
# verify, status), against netimg serve: all succeed, every byte read is
# right, and the cache is consistent afterwards (every chunk what its name
# says, the pinned version whole, the quota held). Then a cache on a full
# disk (a small tmpfs, as root): reads are still served, sync fails
# clearly, nothing bad is left.
. "$(dirname "$0")/../lib.sh"
plan 17
. "$TOP/tests/cache.sh"
serve_repo "$R"
sj() { "$NETIMG" "$@" --json >"$T/.j" 2>"$T/.jerr"; }

# ---- many processes on one cache ----
C=$T/c
Q=1800000
"$NETIMG" sync --repo "$URL" --key "$K" --cache "$C" --cache-size $Q bb@1 >/dev/null
# job NAME CMD...: runs CMD three times in the background (each bounded)
PIDS=()
job() {
	local name=$1; shift
	( rc=0
	  for i in 1 2 3; do timeout 120 "$@" >>"$T/$name.out" 2>>"$T/$name.err" || rc=1; done
	  exit $rc ) &
	PIDS+=($!)
	NAMES+=("$name")
}
NAMES=()
job sync "$NETIMG" sync --repo "$URL" --key "$K" --cache "$C" bb@1
job read2 "$NETIMG" cache read --cache "$C" --repo "$URL" --key "$K" --threads 4 --block 32K bb@2 -o "$T/o2.sqfs"
job read3 "$NETIMG" cache read --cache "$C" --repo "$URL" --key "$K" --threads 2 bb@3 -o "$T/o3.sqfs"
job read1 "$NETIMG" cache read --cache "$C" --key "$K" --threads 3 bb@1 -o "$T/o1.sqfs"
job evict "$NETIMG" cache evict --cache "$C"
job verify "$NETIMG" cache verify --cache "$C" --key "$K"
job status "$NETIMG" cache status --cache "$C" --json
failed=
for i in "${!PIDS[@]}"; do wait "${PIDS[$i]}" || failed="$failed ${NAMES[$i]}"; done
is "$failed" "" "7 kinds of process on one cache at once, 3 times each: all succeed"
[ -z "$failed" ] || for n in $failed; do sed "s/^/# $n: /" "$T/$n.err" | head -5; done
ok "... bb@1 read right (offline, pinned)" cmp "$T/bb1.sqfs" "$T/o1.sqfs"
ok "... bb@2 read right" cmp "$T/bb2.sqfs" "$T/o2.sqfs"
ok "... bb@3 read right" cmp "$T/bb3.sqfs" "$T/o3.sqfs"
is "$(grep -c 'verified .* 0 bad' "$T/verify.out")" 3 "... verify found nothing bad while they ran"
ok "... every status was valid JSON" perl -MJSON::PP -0777 -e '
	my $t = <STDIN>; my $n = 0; while ($t =~ /\G\s*(\{(?:[^{}]|(?1))*\})/gc) { decode_json($1); $n++ } exit($n == 3 ? 0 : 1)' <"$T/status.out"
sj cache verify --cache "$C" --key "$K"
is "$(jget "$T/.j" '$d->{removed} . "/" . $d->{bad_versions}')" "0/0" "afterwards: every chunk is what its name says"
sj cache status --cache "$C"
is "$(jget "$T/.j" 'join " ", map { "$_->{version}:" . ($_->{bytes_cached} == $_->{bytes} ? 1 : 0) } grep { $_->{pinned} } @{$d->{versions}}')" \
	"1:1" "... bb@1 still pinned and whole"
u=$(jget "$T/.j" '$d->{usage}')
ok "... $u bytes used: within 2% of the $Q quota" test "$u" -le $(( Q * 102 / 100 ))
ok "... no temporary file left" test -z "$(find "$C" -name '*.tmp.*'; find "$C/tmp" -type f)"

# ---- a full disk ----
if [ "$(id -u)" != 0 ] || ! mkdir -p "$T/full" || ! mount -t tmpfs -o size=700k tmpfs "$T/full" 2>/dev/null; then
	for i in $(seq 7); do echo "ok $((10 + i)) # SKIP needs root to mount a small tmpfs"; done
	exit 0
fi
trap 'umount "$T/full" 2>/dev/null; cleanup' EXIT
sj cache read --cache "$T/full/c" --repo "$URL" --key "$K" bb@1 -o "$T/f1.sqfs"
ok "disk full: the read is still served" cmp "$T/bb1.sqfs" "$T/f1.sqfs"
ok "... the cache could not keep some chunks ($(jget "$T/.j" '$d->{store_full}'))" \
	test "$(jget "$T/.j" '$d->{store_full}')" -gt 0
sj cache read --cache "$T/full/c" --repo "$URL" --key "$K" --threads 4 bb@1
ok "... and again, with 4 threads" test "$(jget "$T/.j" '$d->{bytes}')" = "$(stat -c %s "$T/bb1.sqfs")"
fails "sync to a full disk fails clearly" "disk full: [0-9]+ chunks of bb@1 could not be kept" \
	"$NETIMG" sync --repo "$URL" --key "$K" --cache "$T/full/c" bb@1
sj cache status --cache "$T/full/c"
is "$(jget "$T/.j" 'scalar grep { $_->{pinned} } @{$d->{versions}}')" 0 "... and pins nothing"
sj cache verify --cache "$T/full/c" --key "$K"
is "$(jget "$T/.j" '$d->{removed} . "/" . $d->{bad_versions}')" "0/0" "... the cache is consistent"
ok "... no temporary file left" test -z "$(find "$T/full/c" -name '*.tmp.*'; find "$T/full/c/tmp" -type f)"
done_testing
