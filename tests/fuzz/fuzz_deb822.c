/* fuzz_deb822.c: libFuzzer target for the control-stanza parser that reads
 * dpkg's status file and packages' control files. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/deb822.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct bld_stanza st;
	int guard = 0;

	while (guard++ < 10000 && bld_stanza_parse(&p, end, &st) == 1) {
		char *s = bld_stanza_format(&st);

		bld_stanza_get(&st, "Package");
		free(s);
		bld_stanza_free(&st);
	}
	return 0;
}
