#!/bin/bash
# Short libFuzzer runs of the parsers of untrusted input (recipes, dpkg
# stanzas, patch archives, signed files, HTTP headers, chunk indexes,
# location files and index deltas), seeded with real inputs; any crash, leak or
# sanitizer report fails. Longer runs: build/fuzz/fuzz_X -max_total_time=N.
. "$(dirname "$0")/../lib.sh"
FUZZ=$TOP/build/fuzz
SECS=${NETIMG_FUZZ_SECS:-8}
[ -x "$FUZZ/fuzz_layer" ] || skip_all "fuzz targets not built (make fuzz)"
plan 6

mk_seeds() {
	mkdir -p "$T/seed/layer" "$T/seed/recipe" "$T/seed/deb822" "$T/tree/d" "$T/seed/signed" "$T/seed/http" "$T/seed/chunkidx"
	# an index of 2 chunks (selector 0), a delta copying the old index's
	# first 97 bytes (1), a location file (2)
	{ printf '\000netimg-index-v2\n'; perl -e 'print pack("Q<", 300), "\xab" x 32, pack("Q<", 2), "\x64", "\x01" x 32, "\xc8\x01", "\x02" x 32'; } \
		>"$T/seed/chunkidx/i"
	{ printf '\001netimg-delta-v1\nc'; perl -e 'print "\x00\x61a\x02xy"'; } >"$T/seed/chunkidx/d"
	printf '\002{"format":2,"index":"%064d","packs":["%064d"],"runs":[[0,0,2],[0,9,1]]}' 0 1 >"$T/seed/chunkidx/l"
	printf 'netimg-signed-v1 %064d %088d\n{"a":1}' 0 0 >"$T/seed/signed/s"
	printf 'bytes=0-99' >"$T/seed/http/r"; printf 'bytes 0-9/100' >"$T/seed/http/cr"
	printf 'Sun, 06 Nov 1994 08:49:37 GMT' >"$T/seed/http/d"; printf '/versions/a/../b.json' >"$T/seed/http/p"
	printf 'W/"abc-1-2", "x"' >"$T/seed/http/e"
	echo hi >"$T/tree/d/f"; ln -s /etc "$T/tree/d/l"; touch "$T/tree/d/.wh.x" "$T/tree/.wh..wh..opq"
	ln "$T/tree/d/f" "$T/tree/d/h"
	tar -C "$T/tree" -cf "$T/seed/layer/a.tar" .
	tar -C "$T/tree" -czf "$T/seed/layer/a.tgz" .
	printf '[image]\nname = a\nversion = 1\ncompression = xz\nblock_size = 4096\nepoch = 1\n[base]\nsource = /\nsha256 = %064d\n[patches]\nmin_severity = low\nexclude = A, B\n[boot]\nkernel = image\ncmdline = x\n' 0 >"$T/seed/recipe/r.ini"
	head -c 20000 /var/lib/dpkg/status >"$T/seed/deb822/status"
}
mk_seeds
for f in layer recipe deb822 signed http chunkidx; do
	ok "fuzz_$f runs ${SECS}s clean" timeout $((SECS + 60)) "$FUZZ/fuzz_$f" \
		-max_total_time="$SECS" -rss_limit_mb=2048 -timeout=20 "$T/seed/$f"
done
done_testing
