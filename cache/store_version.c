/* store_version.c: a version's manifest, chunk index and locations,
 * verified and parsed into a chunk table. */
#include "cache/store_version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "images/chunkidx.h"
#include "images/manifest.h"

void cache_version_raw_free(struct cache_version_raw *raw)
{
	free(raw->manifest);
	free(raw->index);
	free(raw->locations);
	memset(raw, 0, sizeof(*raw));
}

void cache_version_free(struct cache_version *v)
{
	if (v == NULL)
		return;
	free(v->name);
	free(v->version);
	json_decref(v->manifest);
	free(v->c);
	free(v->packs);
	img_index_free(&v->ix);
	cache_version_raw_free(&v->raw);
	free(v);
}

static int is_hex64(const char *s)
{
	return s != NULL && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static int parse_index(struct cache_version *v, const char *what,
		       struct ni_err *e)
{
	char w[400];
	size_t i;
	int ret;

	snprintf(w, sizeof(w), "%s: %s@%s: chunk index", what, v->name, v->version);
	if ((ret = img_index_decode(v->raw.index, v->raw.index_len, w, &v->ix, e)) != 0)
		return ret;
	if (memcmp(v->ix.image_sha, v->image_sha, NI_SHA256_LEN) != 0 ||
	    v->ix.image_size != v->image_size)
		return ni_err_set(e, NI_EINVAL, "%s: %s@%s: the chunk index does not match the manifest",
				  what, v->name, v->version);
	v->n = v->ix.n;
	if ((v->c = calloc(v->n + 1, sizeof(*v->c))) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	for (i = 0; i < v->n; i++) {
		v->c[i].img_off = v->ix.c[i].off;
		v->c[i].len = v->ix.c[i].len;
		memcpy(v->c[i].sha, v->ix.c[i].sha, NI_SHA256_LEN);
	}
	return 0;
}

static int cmp_sha(const void *a, const void *b)
{
	return memcmp(a, b, NI_SHA256_LEN);
}

/* The sum of distinct chunks' lengths. */
static int count_unique(struct cache_version *v, struct ni_err *e)
{
	struct { uint8_t sha[NI_SHA256_LEN]; uint64_t len; } *s;
	size_t i;

	if ((s = calloc(v->n + 1, sizeof(*s))) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	for (i = 0; i < v->n; i++) {
		memcpy(s[i].sha, v->c[i].sha, NI_SHA256_LEN);
		s[i].len = v->c[i].len;
	}
	qsort(s, v->n, sizeof(*s), cmp_sha);
	v->unique_bytes = 0;
	for (i = 0; i < v->n; i++)
		if (i == 0 || memcmp(s[i].sha, s[i - 1].sha, NI_SHA256_LEN) != 0)
			v->unique_bytes += s[i].len;
	free(s);
	return 0;
}

static int parse_locations(struct cache_version *v, const uint8_t *buf,
			   size_t len, const char *idx_hex, struct ni_err *e)
{
	struct img_locs l;
	char w[300];
	size_t i;
	int ret;

	snprintf(w, sizeof(w), "%s@%s: location file", v->name, v->version);
	if ((ret = img_locs_decode(buf, len, &v->ix, idx_hex, w, &l, e)) != 0)
		return ret;
	for (i = 0; i < v->n; i++) {
		v->c[i].pack = l.pack[i];
		v->c[i].pack_off = l.off[i];
	}
	free(v->packs);
	v->packs = l.packs;
	v->n_packs = l.n_packs;
	l.packs = NULL;
	img_locs_free(&l);
	return 0;
}

static int check_manifest(struct cache_version *v, EVP_PKEY *key,
			  const char *want, const char *what, char *idx_hex,
			  struct ni_err *e)
{
	const char *ih, *is, *n, *ver;
	char hex[NI_SHA256_HEX];
	json_t *isz;
	int ret;

	ni_sha256_buf(v->raw.manifest, v->raw.manifest_len, v->manifest_sha);
	ni_hex(v->manifest_sha, NI_SHA256_LEN, hex);
	if (want != NULL && strcmp(hex, want) != 0)
		return ni_err_set(e, NI_EHASH, "%s: %s@%s: the manifest is not the one the channel pointer names",
				  what, v->name, v->version);
	if (key != NULL) {
		if ((ret = img_manifest_open(key, what, v->raw.manifest, v->raw.manifest_len,
					     &v->manifest, e)) != 0)
			return ret;
	} else {
		const char *nl = memchr(v->raw.manifest, '\n', v->raw.manifest_len);

		v->manifest = nl ? json_loadb(nl + 1, v->raw.manifest_len -
					      (size_t)(nl + 1 - (const char *)v->raw.manifest), 0, NULL)
				 : NULL;
	}
	n = json_string_value(json_object_get(v->manifest, "name"));
	ver = json_string_value(json_object_get(v->manifest, "version"));
	ih = json_string_value(json_object_get(json_object_get(v->manifest, "index"), "sha256"));
	is = json_string_value(json_object_get(json_object_get(v->manifest, "image"), "sha256"));
	isz = json_object_get(json_object_get(v->manifest, "image"), "size");
	/* a mirror may not pass another version's signed manifest off as this one */
	if (n == NULL || ver == NULL || strcmp(n, v->name) != 0 || strcmp(ver, v->version) != 0)
		return ni_err_set(e, NI_EINVAL, "%s: the manifest is %s@%s's, not %s@%s's",
				  what, n ? n : "?", ver ? ver : "?", v->name, v->version);
	if (!is_hex64(ih) || !is_hex64(is) || !json_is_integer(isz) || json_integer_value(isz) <= 0)
		return ni_err_set(e, NI_EINVAL, "%s: %s@%s: the manifest names no chunk index or image",
				  what, v->name, v->version);
	memcpy(idx_hex, ih, NI_SHA256_HEX);
	ni_unhex(is, v->image_sha, NI_SHA256_LEN);
	v->image_size = (uint64_t)json_integer_value(isz);
	return 0;
}

int cache_version_load(struct cache_version_raw *raw, EVP_PKEY *key,
		       const char *name, const char *version,
		       const char *want_manifest_sha256, const char *what,
		       struct cache_version **out, struct ni_err *e)
{
	struct cache_version *v = calloc(1, sizeof(*v));
	char idx_hex[NI_SHA256_HEX], hex[NI_SHA256_HEX];
	uint8_t d[NI_SHA256_LEN];
	uint8_t *loc;
	size_t loc_len;
	int ret;

	*out = NULL;
	if (v == NULL || (v->name = strdup(name)) == NULL ||
	    (v->version = strdup(version)) == NULL) {
		cache_version_free(v);
		cache_version_raw_free(raw);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	v->raw = *raw;
	memset(raw, 0, sizeof(*raw));
	if (v->raw.manifest == NULL || v->raw.index == NULL || v->raw.locations == NULL) {
		cache_version_free(v);
		return ni_err_set(e, NI_EINVAL, "%s: %s@%s: incomplete metadata", what, name, version);
	}
	ret = check_manifest(v, key, want_manifest_sha256, what, idx_hex, e);
	if (ret == 0) {
		ni_sha256_buf(v->raw.index, v->raw.index_len, d);
		ni_hex(d, NI_SHA256_LEN, hex);
		if (strcmp(hex, idx_hex) != 0)
			ret = ni_err_set(e, NI_EHASH, "%s: %s@%s: chunk index hash mismatch (tampered; the manifest names %.16s...)",
					 what, name, version, idx_hex);
	}
	if (ret == 0)
		ret = parse_index(v, what, e);
	if (ret == 0)
		ret = count_unique(v, e);
	if (ret == 0) {
		loc = v->raw.locations;
		loc_len = v->raw.locations_len;
		ret = parse_locations(v, loc, loc_len, idx_hex, e);
	}
	if (ret != 0) {
		cache_version_free(v);
		return ret;
	}
	*out = v;
	return 0;
}

int cache_version_set_locations(struct cache_version *v, uint8_t *loc,
				size_t len, struct ni_err *e)
{
	char idx_hex[NI_SHA256_HEX];
	uint8_t d[NI_SHA256_LEN];
	int ret;

	ni_sha256_buf(v->raw.index, v->raw.index_len, d);
	ni_hex(d, NI_SHA256_LEN, idx_hex);
	if ((ret = parse_locations(v, loc, len, idx_hex, e)) != 0) {
		free(loc);
		return ret;
	}
	free(v->raw.locations);
	v->raw.locations = loc;
	v->raw.locations_len = len;
	return 0;
}

size_t cache_version_find(const struct cache_version *v, uint64_t off)
{
	size_t lo = 0, hi = v->n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->c[mid].img_off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}
