/* fuzz_chunkidx.c: libFuzzer target for what a client decodes besides the
 * manifest: the chunk index (format 2), the location file (runs) and
 * index deltas. The first byte picks which; an index that decodes must
 * encode back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "images/chunkidx.h"

/* A small valid index of 3 chunks, the old index deltas apply to. */
static const uint8_t *old_index(size_t *len)
{
	static uint8_t *b;
	static size_t n;

	if (b == NULL) {
		struct img_index_chunk c[3] = {
			{ 0, 100, { 1 } }, { 100, 70000, { 2 } }, { 70100, 5, { 3 } },
		};
		struct img_index ix = { .image_size = 70105, .c = c, .n = 3 };
		struct ni_err e;

		img_index_encode(&ix, &b, &n, &e);
	}
	*len = n;
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ni_err e;
	struct img_index ix;
	struct img_locs l;
	uint8_t *out = NULL;
	size_t olen, len;
	const uint8_t *old = old_index(&len);

	if (size < 1 || old == NULL)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (img_index_decode(data + 1, size - 1, "f", &ix, &e) == 0) {
			if (img_index_encode(&ix, &out, &olen, &e) != 0 || olen != size - 1 ||
			    memcmp(out, data + 1, olen) != 0)
				abort();   /* one encoding per index */
			free(out);
			img_index_free(&ix);
		}
		break;
	case 1:
		if (img_idxdelta_apply(old, len, data + 1, size - 1, 1u << 20, "f", &out, &olen, &e) == 0)
			free(out);
		break;
	default:
		if (img_index_decode(old, len, "f", &ix, &e) == 0) {
			if (img_locs_decode(data + 1, size - 1, &ix, NULL, "f", &l, &e) == 0)
				img_locs_free(&l);
			img_index_free(&ix);
		}
		break;
	}
	return 0;
}
