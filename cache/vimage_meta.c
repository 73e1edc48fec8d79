/* vimage_meta.c: a version's metadata from the repository: the signed
 * manifest, then its chunk index (through an index delta when the cache
 * holds an earlier version of the same name and the repository has a
 * delta from it), then its location file. */
#include "cache/vimage_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "images/chunkidx.h"
#include "images/manifest.h"

#define META_MAX (256u << 20)
/* Deltas tried at most (each absent one costs a request). */
#define DELTA_TRIES 2

/* The index rebuilt from NAME@VERSION's cached index and the repository's
 * delta from it. Returns 1 with raw->index set when the result hashes to
 * ih, else 0 (no delta, a malformed one, or a result that does not hash
 * right: the caller fetches the whole index). */
static int via_delta(struct cache_store *st, struct vsrc *src, const char *name,
		     const char *version, const char *ih, size_t max,
		     struct cache_version_raw *raw, uint64_t *fetched)
{
	struct cache_version_raw old;
	struct ni_err ignored;
	uint8_t d[NI_SHA256_LEN], *delta = NULL, *out = NULL;
	char old_hex[NI_SHA256_HEX], hex[NI_SHA256_HEX], rel[220];
	size_t dlen, olen;
	int ok = 0;

	if (cache_store_meta_get(st, name, version, &old, &ignored) != 0)
		return 0;
	ni_sha256_buf(old.index, old.index_len, d);
	ni_hex(d, sizeof(d), old_hex);
	if (strcmp(old_hex, ih) == 0) {
		/* the same index (the same image under another version) */
		raw->index = old.index;
		raw->index_len = old.index_len;
		old.index = NULL;
		cache_version_raw_free(&old);
		return 1;
	}
	snprintf(rel, sizeof(rel), "indexes/%s.from-%s", ih, old_hex);
	if (vsrc_get(src, rel, max, &delta, &dlen, &ignored) == 0) {
		*fetched += dlen;
		if (img_idxdelta_apply(old.index, old.index_len, delta, dlen, max, rel,
				       &out, &olen, &ignored) == 0) {
			ni_sha256_buf(out, olen, d);
			ni_hex(d, sizeof(d), hex);
			if (strcmp(hex, ih) == 0) {
				raw->index = out;
				raw->index_len = olen;
				out = NULL;
				ok = 1;
			}
		}
	}
	free(out);
	free(delta);
	cache_version_raw_free(&old);
	return ok;
}

/* The index: through a delta from the pinned versions of the name, the
 * newest pin first, then whole. */
static int get_index(struct cache_store *st, struct vsrc *src,
		     const struct cache_vimage_opts *o, const char *ih, size_t max,
		     struct cache_version_raw *raw, uint64_t *fetched,
		     struct ni_err *e)
{
	char rel[120];
	json_t *pins = NULL;
	size_t i, tries = 0;
	int ret;

	if (st != NULL && cache_store_pins(st, &pins, NULL) == 0) {
		for (i = json_array_size(pins); i > 0 && tries < DELTA_TRIES; i--) {
			json_t *p = json_array_get(pins, i - 1);
			const char *n = json_string_value(json_object_get(p, "name"));
			const char *v = json_string_value(json_object_get(p, "version"));

			if (n == NULL || v == NULL || strcmp(n, o->name) != 0 ||
			    strcmp(v, o->version) == 0)
				continue;
			tries++;
			if (via_delta(st, src, n, v, ih, max, raw, fetched)) {
				json_decref(pins);
				return 0;
			}
		}
		json_decref(pins);
	}
	snprintf(rel, sizeof(rel), "indexes/%s.bin", ih);
	if ((ret = vsrc_get(src, rel, max, &raw->index, &raw->index_len, e)) != 0)
		return ret;
	*fetched += raw->index_len;
	return 0;
}

int vimg_fetch_meta(struct cache_store *st, struct vsrc *src,
		    const struct cache_vimage_opts *o,
		    struct cache_version_raw *raw, uint64_t *fetched,
		    struct ni_err *e)
{
	char *rel = img_manifest_path(o->name, o->version), loc[200];
	json_t *m = NULL, *nch;
	const char *ih;
	char hex[NI_SHA256_HEX];
	size_t max;
	int ret;

	*fetched = 0;
	if (rel == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	ret = vsrc_get(src, rel, META_MAX, &raw->manifest, &raw->manifest_len, e);
	if (ret == NI_ENOENT)
		ret = ni_err_set(e, NI_ENOENT, "%s@%s: no such version", o->name, o->version);
	if (ret == 0)
		ret = img_manifest_open(o->key, rel, raw->manifest, raw->manifest_len, &m, e);
	free(rel);
	if (ret != 0)
		return ret;
	*fetched += raw->manifest_len;
	ih = json_string_value(json_object_get(json_object_get(m, "index"), "sha256"));
	nch = json_object_get(json_object_get(m, "index"), "chunks");
	if (ih == NULL || strlen(ih) != 64 || strspn(ih, "0123456789abcdef") != 64 ||
	    !json_is_integer(nch) || json_integer_value(nch) <= 0 ||
	    json_integer_value(nch) > (1 << 24)) {
		json_decref(m);
		return ni_err_set(e, NI_EINVAL, "%s@%s: the manifest names no chunk index",
				  o->name, o->version);
	}
	memcpy(hex, ih, sizeof(hex));
	max = img_index_max_size((uint64_t)json_integer_value(nch));
	json_decref(m);
	if ((ret = get_index(st, src, o, hex, max, raw, fetched, e)) != 0)
		return ret;
	snprintf(loc, sizeof(loc), "locations/%s/%s.json", o->name, o->version);
	if ((ret = vsrc_get(src, loc, META_MAX, &raw->locations, &raw->locations_len, e)) != 0)
		return ret;
	*fetched += raw->locations_len;
	return 0;
}
