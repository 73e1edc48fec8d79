/* test_chunkidx.c: the chunk index (format 2), the location file (runs)
 * and index deltas: round trips, and every truncation and garbling
 * refused with one line naming the file. */
#include <stdlib.h>
#include <string.h>

#include "images/chunkidx.h"
#include "tests/unit/unit.h"

/* An index of n chunks of varied lengths; chunk i's hash is i's bytes. */
static void make(struct img_index *ix, size_t n, unsigned seed)
{
	size_t i;
	uint64_t pos = 0;

	memset(ix, 0, sizeof(*ix));
	ix->c = calloc(n, sizeof(*ix->c));
	ix->n = n;
	for (i = 0; i < n; i++) {
		ix->c[i].off = pos;
		ix->c[i].len = 1 + (i * 7919 + seed) % 300000;
		memset(ix->c[i].sha, 0, NI_SHA256_LEN);
		memcpy(ix->c[i].sha, &i, sizeof(i));
		ix->c[i].sha[31] = (uint8_t)seed;
		pos += ix->c[i].len;
	}
	ix->image_size = pos;
	memset(ix->image_sha, 0xab, NI_SHA256_LEN);
}

static int t_index_roundtrip(void)
{
	int fails = 0;
	struct img_index ix, back;
	struct ni_err e = { 0 };
	uint8_t *b = NULL, *b2 = NULL;
	size_t len, len2;

	make(&ix, 500, 1);
	UCHECK(img_index_encode(&ix, &b, &len, &e) == 0);
	UCHECK(len <= img_index_max_size(500) && len > 500 * 33);
	UCHECK(memcmp(b, IMG_INDEX_MAGIC, 16) == 0);
	UCHECK(img_index_decode(b, len, "x", &back, &e) == 0);
	UCHECK(back.n == 500 && back.image_size == ix.image_size &&
	       memcmp(back.c, ix.c, 500 * sizeof(*ix.c)) == 0 &&
	       memcmp(back.image_sha, ix.image_sha, NI_SHA256_LEN) == 0);
	UCHECK(img_index_encode(&back, &b2, &len2, &e) == 0);
	UCHECK(len2 == len && memcmp(b, b2, len) == 0);
	free(b2);
	/* an index that does not tile its image is not written */
	ix.c[3].off++;
	UCHECK(img_index_encode(&ix, &b2, &len2, &e) == NI_EINVAL);
	img_index_free(&ix);
	img_index_free(&back);
	free(b);
	return fails;
}

static int t_index_bad(void)
{
	int fails = 0;
	struct img_index ix, back;
	struct ni_err e = { 0 };
	uint8_t *b = NULL, *g;
	size_t len, cut, bad = 0;

	make(&ix, 40, 2);
	UCHECK(img_index_encode(&ix, &b, &len, &e) == 0);
	/* every truncation is refused, naming the file, on one line */
	for (cut = 0; cut < len; cut++) {
		e.msg[0] = '\0';
		if (img_index_decode(b, cut, "indexes/x.bin", &back, &e) != NI_EINVAL ||
		    strncmp(e.msg, "indexes/x.bin: ", 15) != 0 || strchr(e.msg, '\n') != NULL)
			bad++;
	}
	UCHECK(bad == 0);
	g = malloc(len + 1);
	/* a byte more */
	memcpy(g, b, len);
	g[len] = 0;
	UCHECK(img_index_decode(g, len + 1, "x", &back, &e) == NI_EINVAL &&
	       strstr(e.msg, "after the last chunk") != NULL);
	/* another magic */
	memcpy(g, b, len);
	g[14] = '1';
	UCHECK(img_index_decode(g, len, "x", &back, &e) == NI_EINVAL &&
	       strstr(e.msg, "not a chunk index") != NULL);
	/* an image size the chunks do not add up to */
	memcpy(g, b, len);
	g[16] ^= 1;
	UCHECK(img_index_decode(g, len, "x", &back, &e) == NI_EINVAL &&
	       strstr(e.msg, "does not cover the image") != NULL);
	/* a chunk count beyond what the file can hold: no huge allocation */
	memcpy(g, b, len);
	g[63] = 0x7f;
	UCHECK(img_index_decode(g, len, "x", &back, &e) == NI_EINVAL);
	/* a zero-length chunk; a varint not minimal */
	memcpy(g, b, len);
	g[64] = 0;
	UCHECK(img_index_decode(g, len, "x", &back, &e) == NI_EINVAL);
	{
		const uint8_t nm[] = { 0x85, 0x00 }, *p = nm;
		uint64_t v;

		UCHECK(img_varint_get(&p, nm + 2, &v) == -1);
	}
	/* any single byte garbled: refused, or (a hash byte) decoded whole */
	for (cut = 0; cut < len; cut++) {
		int r;

		memcpy(g, b, len);
		g[cut] ^= 0x5a;
		r = img_index_decode(g, len, "x", &back, &e);
		if (r == 0)
			img_index_free(&back);
		else if (r != NI_EINVAL)
			bad++;
	}
	UCHECK(bad == 0);
	free(g);
	free(b);
	img_index_free(&ix);
	return fails;
}

static const char *const NAMES[] = {
	"1111111111111111111111111111111111111111111111111111111111111111",
	"2222222222222222222222222222222222222222222222222222222222222222",
	"3333333333333333333333333333333333333333333333333333333333333333",
};
#define IHEX "abababababababababababababababababababababababababababababababab"

static int t_locs(void)
{
	int fails = 0;
	struct img_index ix;
	struct img_locs l;
	struct ni_err e = { 0 };
	uint32_t pack[100];
	uint64_t off[100], pos[3] = { 0, 0, 0 };
	char *text;
	size_t i, runs = 0;

	make(&ix, 100, 3);
	/* packs 0 (chunks 0-59), 2 (60-79), 0 again (80-99): three runs,
	 * the last one not where the first ended */
	for (i = 0; i < 100; i++) {
		pack[i] = i >= 60 && i < 80 ? 2 : 0;
		if (i == 80)
			pos[0] += 1000;
		off[i] = pos[pack[i]];
		pos[pack[i]] += ix.c[i].len;
	}
	text = img_locs_encode(IHEX, &ix, NAMES, pack, off);
	UCHECK(text != NULL && strstr(text, "\"format\":2") != NULL);
	for (i = 0; text != NULL && text[i] != '\0'; i++)
		runs += text[i] == '[';
	UCHECK(runs == 2 + 3);     /* packs, runs, three runs */
	UCHECK(text != NULL && strstr(text, NAMES[1]) == NULL);   /* unused: not listed */
	UCHECK(img_locs_decode(text, strlen(text), &ix, IHEX, "loc", &l, &e) == 0);
	UCHECK(l.n == 100 && l.n_packs == 2);
	for (i = 0; l.n == 100 && i < 100; i++)
		if (strcmp(l.packs[l.pack[i]], NAMES[pack[i]]) != 0 || l.off[i] != off[i])
			fails++;
	img_locs_free(&l);
	/* for another index */
	UCHECK(img_locs_decode(text, strlen(text), &ix, NAMES[0], "loc", &l, &e) == NI_EINVAL &&
	       strstr(e.msg, "another chunk index") != NULL);
	/* every truncation refused, naming the file */
	for (i = 0; text != NULL && i < strlen(text); i++) {
		e.msg[0] = '\0';
		if (img_locs_decode(text, i, &ix, IHEX, "locations/bb/1.json", &l, &e) != NI_EINVAL ||
		    strncmp(e.msg, "locations/bb/1.json: ", 21) != 0)
			fails++;
	}
	/* runs that place too few or too many chunks, a pack out of range,
	 * a negative offset, format 1 */
	{
		static const char *const cases[] = {
			"{\"format\":2,\"index\":\"" IHEX "\",\"packs\":[\"%s\"],\"runs\":[[0,0,99]]}",
			"{\"format\":2,\"index\":\"" IHEX "\",\"packs\":[\"%s\"],\"runs\":[[0,0,101]]}",
			"{\"format\":2,\"index\":\"" IHEX "\",\"packs\":[\"%s\"],\"runs\":[[1,0,100]]}",
			"{\"format\":2,\"index\":\"" IHEX "\",\"packs\":[\"%s\"],\"runs\":[[0,-1,100]]}",
			"{\"format\":2,\"index\":\"" IHEX "\",\"packs\":[\"%s\"],\"runs\":[[0,0,0],[0,0,100]]}",
			"{\"format\":1,\"index\":\"" IHEX "\",\"packs\":[\"%s\"],\"runs\":[[0,0,100]]}",
			"{\"format\":2,\"index\":\"" IHEX "\",\"packs\":[\"%s\"],\"chunks\":[]}",
			NULL,
		};
		char buf[400];

		for (i = 0; cases[i] != NULL; i++) {
			snprintf(buf, sizeof(buf), cases[i], NAMES[0]);
			if (img_locs_decode(buf, strlen(buf), &ix, IHEX, "loc", &l, &e) != NI_EINVAL)
				fails++;
		}
		/* the same, right: one run of all 100 */
		snprintf(buf, sizeof(buf), "{\"format\":2,\"index\":\"" IHEX "\",\"packs\":[\"%s\"],\"runs\":[[0,5,100]]}",
			 NAMES[0]);
		UCHECK(img_locs_decode(buf, strlen(buf), &ix, IHEX, "loc", &l, &e) == 0 &&
		       l.off[1] == 5 + ix.c[0].len);
		img_locs_free(&l);
	}
	free(text);
	img_index_free(&ix);
	return fails;
}

static int t_delta(void)
{
	int fails = 0;
	struct img_index a, b;
	struct ni_err e = { 0 };
	uint8_t *ab = NULL, *bb = NULL, *d = NULL, *out = NULL, *g;
	size_t al, bl, dl, ol, i, bad = 0;

	make(&a, 1000, 4);
	make(&b, 1000, 4);
	/* b: ten chunks changed, one inserted at the front */
	for (i = 100; i < 110; i++)
		b.c[i].sha[20] = 0xee;
	b.c[0].sha[20] = 0xdd;
	b.image_sha[0] = 1;
	UCHECK(img_index_encode(&a, &ab, &al, &e) == 0);
	UCHECK(img_index_encode(&b, &bb, &bl, &e) == 0);
	UCHECK(img_idxdelta_make(ab, al, bb, bl, &d, &dl, &e) == 0);
	UCHECK(dl < 16 + 64 + 11 * 45 + 40);   /* the changed entries, little else */
	UCHECK(img_idxdelta_apply(ab, al, d, dl, img_index_max_size(1000), "dx", &out, &ol, &e) == 0);
	UCHECK(ol == bl && memcmp(out, bb, bl) == 0);
	free(out);
	/* too small a cap */
	UCHECK(img_idxdelta_apply(ab, al, d, dl, bl - 1, "dx", &out, &ol, &e) == NI_EINVAL);
	/* every truncation: refused, or a result (shorter) the caller's
	 * hash check refuses */
	for (i = 0; i < dl; i++) {
		int r = img_idxdelta_apply(ab, al, d, i, img_index_max_size(1000), "dx",
					   &out, &ol, &e);

		if (r == 0) {
			if (ol == bl && memcmp(out, bb, bl) == 0)
				bad++;
			free(out);
		} else if (r != NI_EINVAL || strncmp(e.msg, "dx: ", 4) != 0) {
			bad++;
		}
	}
	UCHECK(bad == 0);
	/* every byte garbled: never a crash, never reads outside the old index */
	g = malloc(dl);
	for (i = 0; i < dl; i++) {
		memcpy(g, d, dl);
		g[i] ^= 0xa5;
		if (img_idxdelta_apply(ab, al, g, dl, img_index_max_size(1000), "dx",
				       &out, &ol, &e) == 0)
			free(out);
	}
	/* a copy past the old index's end */
	{
		uint8_t c[40] = "netimg-delta-v1\nc";
		size_t n = 17;

		n += img_varint_put(c + n, al - 10);
		n += img_varint_put(c + n, 11);
		UCHECK(img_idxdelta_apply(ab, al, c, n, 1 << 20, "dx", &out, &ol, &e) == NI_EINVAL &&
		       strstr(e.msg, "past the old index") != NULL);
	}
	free(g);
	free(ab);
	free(bb);
	free(d);
	img_index_free(&a);
	img_index_free(&b);
	return fails;
}

const struct unit_test unit_chunkidx_tests[] = {
	{ "chunk index v2: round trip, canonical bytes", t_index_roundtrip },
	{ "chunk index v2: every truncation and garbled byte refused", t_index_bad },
	{ "location file v2: runs, round trip, bad runs refused", t_locs },
	{ "index delta: rebuilds the index; bad deltas refused", t_delta },
	{ NULL, NULL },
};
