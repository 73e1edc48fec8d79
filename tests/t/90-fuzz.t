#!/bin/bash
# Short libFuzzer runs of the parsers of untrusted input (recipes, dpkg
# stanzas, patch archives), seeded with real inputs; any crash, leak or
# sanitizer report fails. Longer runs: build/fuzz/fuzz_X -max_total_time=N.
. "$(dirname "$0")/../lib.sh"
FUZZ=$TOP/build/fuzz
SECS=${NETIMG_FUZZ_SECS:-10}
[ -x "$FUZZ/fuzz_layer" ] || skip_all "fuzz targets not built (make fuzz)"
plan 3

mk_seeds() {
	mkdir -p "$T/seed/layer" "$T/seed/recipe" "$T/seed/deb822" "$T/tree/d"
	echo hi >"$T/tree/d/f"; ln -s /etc "$T/tree/d/l"; touch "$T/tree/d/.wh.x" "$T/tree/.wh..wh..opq"
	ln "$T/tree/d/f" "$T/tree/d/h"
	tar -C "$T/tree" -cf "$T/seed/layer/a.tar" .
	tar -C "$T/tree" -czf "$T/seed/layer/a.tgz" .
	printf '[image]\nname = a\nversion = 1\ncompression = xz\nblock_size = 4096\nepoch = 1\n[base]\nsource = /\nsha256 = %064d\n[patches]\nmin_severity = low\nexclude = A, B\n[boot]\nkernel = image\ncmdline = x\n' 0 >"$T/seed/recipe/r.ini"
	head -c 20000 /var/lib/dpkg/status >"$T/seed/deb822/status"
}
mk_seeds
for f in layer recipe deb822; do
	ok "fuzz_$f runs ${SECS}s clean" timeout $((SECS + 60)) "$FUZZ/fuzz_$f" \
		-max_total_time="$SECS" -rss_limit_mb=2048 -timeout=20 "$T/seed/$f"
done
done_testing
