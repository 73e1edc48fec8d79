/* locfile.c: the location file, format 2: where a version's chunks are,
 * as runs of chunks stored back to back in one pack.
 *
 *   {"format": 2, "index": HEX, "packs": [HEX, ...],
 *    "runs": [[PACK, OFFSET, COUNT], ...]}
 *
 * The runs follow the index's order: a run places its COUNT chunks in
 * packs[PACK], the first at OFFSET, each next one where the previous
 * ends. */
#include "images/chunkidx.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Offsets stay far from overflowing when chunk lengths are added. */
#define OFF_MAX ((uint64_t)1 << 62)

static int is_hex64(const char *s)
{
	return s != NULL && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

void img_locs_free(struct img_locs *l)
{
	if (l == NULL)
		return;
	free(l->packs);
	free(l->pack);
	free(l->off);
	memset(l, 0, sizeof(*l));
}

static int bad(struct img_locs *l, json_t *j, struct ni_err *e, const char *what,
	       const char *why, size_t run)
{
	img_locs_free(l);
	json_decref(j);
	if (run == (size_t)-1)
		return ni_err_set(e, NI_EINVAL, "%s: malformed location file (%s)", what, why);
	return ni_err_set(e, NI_EINVAL, "%s: malformed location file (run %zu: %s)",
			  what, run, why);
}

int img_locs_decode(const void *buf, size_t len, const struct img_index *ix,
		    const char *index_hex, const char *what,
		    struct img_locs *l, struct ni_err *e)
{
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *packs = json_object_get(j, "packs"), *runs = json_object_get(j, "runs");
	json_t *format = json_object_get(j, "format"), *x;
	const char *ih = json_string_value(json_object_get(j, "index"));
	size_t i, k, at = 0;

	memset(l, 0, sizeof(*l));
	if (!json_is_object(j))
		return bad(l, j, e, what, "not JSON", (size_t)-1);
	if (!json_is_integer(format) || json_integer_value(format) != 2)
		return bad(l, j, e, what, "format must be 2", (size_t)-1);
	if (!is_hex64(ih) || !json_is_array(packs) || !json_is_array(runs) ||
	    json_array_size(packs) == 0 || json_array_size(packs) > UINT32_MAX)
		return bad(l, j, e, what, "index, packs or runs missing", (size_t)-1);
	if (index_hex != NULL && strcmp(ih, index_hex) != 0) {
		ni_err_set(e, NI_EINVAL, "%s: the location file is for another chunk index (%.16s..., not %.16s...)",
			   what, ih, index_hex);
		json_decref(j);
		return NI_EINVAL;
	}
	l->n_packs = json_array_size(packs);
	l->n = ix->n;
	l->packs = calloc(l->n_packs, sizeof(*l->packs));
	l->pack = calloc(l->n + 1, sizeof(*l->pack));
	l->off = calloc(l->n + 1, sizeof(*l->off));
	if (l->packs == NULL || l->pack == NULL || l->off == NULL) {
		img_locs_free(l);
		json_decref(j);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	json_array_foreach(packs, i, x) {
		if (!is_hex64(json_string_value(x)))
			return bad(l, j, e, what, "a pack is not 64 hex digits", (size_t)-1);
		memcpy(l->packs[i], json_string_value(x), NI_SHA256_HEX);
	}
	json_array_foreach(runs, i, x) {
		json_t *p = json_array_get(x, 0), *o = json_array_get(x, 1);
		json_t *c = json_array_get(x, 2);
		json_int_t pi, cnt;
		uint64_t off;

		if (json_array_size(x) != 3 || !json_is_integer(p) ||
		    !json_is_integer(o) || !json_is_integer(c))
			return bad(l, j, e, what, "not [pack, offset, count]", i);
		pi = json_integer_value(p);
		cnt = json_integer_value(c);
		if (pi < 0 || (size_t)pi >= l->n_packs)
			return bad(l, j, e, what, "no such pack", i);
		if (json_integer_value(o) < 0 || (uint64_t)json_integer_value(o) > OFF_MAX)
			return bad(l, j, e, what, "bad offset", i);
		if (cnt <= 0 || (uint64_t)cnt > l->n - at)
			return bad(l, j, e, what, "bad count (more chunks than the index has?)", i);
		off = (uint64_t)json_integer_value(o);
		for (k = 0; k < (size_t)cnt; k++, at++) {
			l->pack[at] = (uint32_t)pi;
			l->off[at] = off;
			off += ix->c[at].len;
		}
		if (off > OFF_MAX)
			return bad(l, j, e, what, "bad offset", i);
	}
	if (at != l->n) {
		json_decref(j);
		img_locs_free(l);
		return ni_err_set(e, NI_EINVAL, "%s: the location file places %zu chunks, the index has %zu",
				  what, at, ix->n);
	}
	json_decref(j);
	return 0;
}

char *img_locs_encode(const char *index_hex, const struct img_index *ix,
		      const char *const *names, const uint32_t *pack,
		      const uint64_t *off)
{
	json_t *packs = json_array(), *runs = json_array(), *run = NULL, *j;
	uint32_t *dense = NULL, max = 0, used = 0;
	size_t i;
	char *text = NULL;

	for (i = 0; i < ix->n; i++)
		if (pack[i] >= max)
			max = pack[i] + 1;
	dense = malloc(((size_t)max + 1) * sizeof(*dense));
	if (packs == NULL || runs == NULL || dense == NULL)
		goto out;
	memset(dense, 0xff, ((size_t)max + 1) * sizeof(*dense));
	for (i = 0; i < ix->n; i++) {
		json_int_t cnt;

		if (dense[pack[i]] == UINT32_MAX) {
			dense[pack[i]] = used++;
			if (json_array_append_new(packs, json_string(names[pack[i]])) != 0)
				goto out;
		}
		if (run != NULL && i > 0 && pack[i] == pack[i - 1] &&
		    off[i] == off[i - 1] + ix->c[i - 1].len) {
			cnt = json_integer_value(json_array_get(run, 2));
			json_integer_set(json_array_get(run, 2), cnt + 1);
			continue;
		}
		run = json_pack("[IIi]", (json_int_t)dense[pack[i]], (json_int_t)off[i], 1);
		if (run == NULL || json_array_append_new(runs, run) != 0)
			goto out;
	}
	j = json_pack("{s:i, s:s, s:O, s:O}", "format", 2, "index", index_hex,
		      "packs", packs, "runs", runs);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
out:
	json_decref(packs);
	json_decref(runs);
	free(dense);
	return text;
}
