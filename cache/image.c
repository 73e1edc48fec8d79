/* image.c: a published version, fetched and verified chunk by chunk. */
#include "cache/image.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "images/manifest.h"

#define META_MAX (256u << 20)
#define RANGE_MAX (8u << 20)   /* coalesced request size */

struct piece {
	size_t chunk;          /* index in the image's chunk list */
	const char *pack;
	uint64_t pack_off, img_off, len;
	uint8_t sha[NI_SHA256_LEN];
};

struct job {
	struct cache_source *src;
	struct ni_err *e;
	const char *what;      /* NAME@VERSION for messages */
	struct piece *p;       /* sorted by pack, offset */
	size_t n;
	size_t *range_first, *range_count;   /* per range of the current pack */
	int fd;                /* output, or -1 */
	struct cache_image_stats *st;
	json_t *index, *loc;
	char spec[160];
};

static int get_json(struct job *j, const char *rel, const char *want_sha,
		    json_t **out)
{
	uint8_t *buf = NULL, d[NI_SHA256_LEN];
	char hex[NI_SHA256_HEX];
	size_t len;
	int ret = cache_source_get(j->src, rel, META_MAX, &buf, &len, j->e);

	if (ret != 0)
		return ret;
	if (want_sha != NULL) {
		ni_sha256_buf(buf, len, d);
		ni_hex(d, sizeof(d), hex);
		if (strcmp(hex, want_sha) != 0) {
			free(buf);
			return ni_err_set(j->e, NI_EHASH,
					  "%s: %s: hash mismatch (tampered; the manifest names %.16s...)",
					  j->spec, rel, want_sha);
		}
	}
	*out = json_loadb((const char *)buf, len, 0, NULL);
	free(buf);
	return *out ? 0 : ni_err_set(j->e, NI_EINVAL, "%s: %s: malformed", j->spec, rel);
}

static int cmp_piece(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;
	int c = strcmp(x->pack, y->pack);

	if (c != 0)
		return c;
	return x->pack_off < y->pack_off ? -1 : x->pack_off > y->pack_off;
}

/* Pairs the signed index with the (unsigned) location file. */
static int plan(struct job *j)
{
	json_t *chunks = json_object_get(j->index, "chunks");
	json_t *locs = json_object_get(j->loc, "chunks"), *c;
	uint64_t pos = 0;
	size_t i;

	j->n = json_array_size(chunks);
	if (!json_is_array(chunks) || json_array_size(locs) != j->n)
		return ni_err_set(j->e, NI_EINVAL, "%s: index and locations disagree", j->spec);
	j->p = calloc(j->n + 1, sizeof(*j->p));
	if (j->p == NULL)
		return ni_err_set(j->e, NI_ENOMEM, "out of memory");
	json_array_foreach(chunks, i, c) {
		json_t *l = json_array_get(locs, i);
		struct piece *p = &j->p[i];
		const char *h = json_string_value(json_array_get(c, 2));

		p->chunk = i;
		p->img_off = (uint64_t)json_integer_value(json_array_get(c, 0));
		p->len = (uint64_t)json_integer_value(json_array_get(c, 1));
		p->pack = json_string_value(json_array_get(l, 0));
		p->pack_off = (uint64_t)json_integer_value(json_array_get(l, 1));
		if (h == NULL || ni_unhex(h, p->sha, NI_SHA256_LEN) != 0 ||
		    p->pack == NULL || strlen(p->pack) != 64 ||
		    strspn(p->pack, "0123456789abcdef") != 64 ||
		    p->img_off != pos || p->len == 0 || p->len > RANGE_MAX)
			return ni_err_set(j->e, NI_EINVAL, "%s: malformed index or locations (chunk %zu)",
					  j->spec, i);
		pos += p->len;
	}
	if (pos != (uint64_t)json_integer_value(json_object_get(j->index, "image_size")))
		return ni_err_set(j->e, NI_EINVAL, "%s: the index does not cover the image", j->spec);
	qsort(j->p, j->n, sizeof(*j->p), cmp_piece);
	return 0;
}

static int sink(void *user, size_t idx, const uint8_t *data, size_t len)
{
	struct job *j = user;
	size_t first = j->range_first[idx], k;
	uint64_t base = j->p[first].pack_off;

	for (k = first; k < first + j->range_count[idx]; k++) {
		const struct piece *p = &j->p[k];
		uint8_t d[NI_SHA256_LEN];

		if (p->pack_off - base + p->len > len)
			return ni_err_set(j->e, NI_EINVAL, "%s: short range", j->spec);
		ni_sha256_buf(data + (p->pack_off - base), p->len, d);
		if (memcmp(d, p->sha, NI_SHA256_LEN) != 0)
			return ni_err_set(j->e, NI_EHASH,
					  "%s: chunk at image offset %llu (pack %.16s...): hash mismatch (tampered)",
					  j->spec, (unsigned long long)p->img_off, p->pack);
		if (j->fd >= 0 &&
		    pwrite(j->fd, data + (p->pack_off - base), p->len, (off_t)p->img_off) !=
		    (ssize_t)p->len)
			return ni_err_errno(j->e, errno, "%s: writing the image", j->spec);
		j->st->chunks++;
	}
	j->st->bytes_fetched += len;
	return 0;
}

/* The pieces [a, b) all lie in one pack: coalesce and fetch them. */
static int fetch_pack(struct job *j, size_t a, size_t b)
{
	struct cache_range *r = calloc(b - a, sizeof(*r));
	size_t n = 0, i;
	char rel[100];
	int ret;

	j->range_first = calloc(b - a, sizeof(size_t));
	j->range_count = calloc(b - a, sizeof(size_t));
	if (r == NULL || j->range_first == NULL || j->range_count == NULL) {
		free(r);
		return ni_err_set(j->e, NI_ENOMEM, "out of memory");
	}
	for (i = a; i < b; i++) {
		struct piece *p = &j->p[i];

		if (n > 0 && p->pack_off == r[n - 1].off + r[n - 1].len &&
		    r[n - 1].len + p->len <= RANGE_MAX) {
			r[n - 1].len += p->len;
			j->range_count[n - 1]++;
			continue;
		}
		r[n].off = p->pack_off;
		r[n].len = p->len;
		j->range_first[n] = i;
		j->range_count[n] = 1;
		n++;
	}
	snprintf(rel, sizeof(rel), "packs/%s.pack", j->p[a].pack);
	j->st->requests += n;
	ret = cache_source_ranges(j->src, rel, r, n, sink, j, j->e);
	free(r);
	free(j->range_first);
	free(j->range_count);
	j->range_first = j->range_count = NULL;
	return ret;
}

static int fetch_all(struct job *j)
{
	size_t a = 0, b;
	int ret = 0;

	while (ret == 0 && a < j->n) {
		for (b = a + 1; b < j->n && strcmp(j->p[b].pack, j->p[a].pack) == 0; b++)
			;
		ret = fetch_pack(j, a, b);
		a = b;
	}
	return ret;
}

/* The image's bytes, whole, against the manifest: the last check. */
static int check_whole(struct job *j, const char *path, const char *want)
{
	uint8_t d[NI_SHA256_LEN];
	char hex[NI_SHA256_HEX];
	int ret = ni_sha256_file(path, d);

	if (ret != 0)
		return ni_err_errno(j->e, -ret, "%s", path);
	ni_hex(d, sizeof(d), hex);
	if (strcmp(hex, want) != 0)
		return ni_err_set(j->e, NI_EHASH, "%s: the assembled image does not match the manifest",
				  j->spec);
	return 0;
}

static int load_meta(struct job *j, EVP_PKEY *key,
		     const struct cache_image_req *rq, json_t **m)
{
	const char *name = rq->name, *version = rq->version;
	char *rel = img_manifest_path(name, version), idx[120], loc[200];
	char hex[NI_SHA256_HEX];
	uint8_t *buf = NULL, d[NI_SHA256_LEN];
	size_t len;
	const char *ih;
	int ret;

	if (rel == NULL)
		return ni_err_set(j->e, NI_ENOMEM, "out of memory");
	ret = cache_source_get(j->src, rel, META_MAX, &buf, &len, j->e);
	if (ret == NI_ENOENT)
		ret = ni_err_set(j->e, NI_ENOENT, "%s: no such version", j->spec);
	if (ret == 0 && rq->manifest_sha256 != NULL) {
		ni_sha256_buf(buf, len, d);
		ni_hex(d, sizeof(d), hex);
		if (strcmp(hex, rq->manifest_sha256) != 0)
			ret = ni_err_set(j->e, NI_EHASH,
					 "%s: the manifest is not the one the channel pointer names",
					 j->spec);
	}
	if (ret == 0)
		ret = img_manifest_open(key, rel, buf, len, m, j->e);
	free(buf);
	free(rel);
	if (ret != 0)
		return ret;
	ih = json_string_value(json_object_get(json_object_get(*m, "index"), "sha256"));
	if (ih == NULL || strlen(ih) != 64)
		return ni_err_set(j->e, NI_EINVAL, "%s: the manifest names no chunk index", j->spec);
	snprintf(idx, sizeof(idx), "indexes/%s.json", ih);
	snprintf(loc, sizeof(loc), "locations/%s/%s.json", name, version);
	if ((ret = get_json(j, idx, ih, &j->index)) != 0 ||
	    (ret = get_json(j, loc, NULL, &j->loc)) != 0)
		return ret;
	return 0;
}

int cache_get_image(struct cache_source *src, EVP_PKEY *key,
		    const struct cache_image_req *rq,
		    struct cache_image_stats *st, struct ni_err *e)
{
	struct job j = { .src = src, .e = e, .fd = -1, .st = st };
	const char *out = rq->out;
	struct ni_atomic a = { .fd = -1 };
	json_t *m = NULL;
	const char *want;
	int ret;

	memset(st, 0, sizeof(*st));
	snprintf(j.spec, sizeof(j.spec), "%s@%s", rq->name, rq->version);
	if ((ret = load_meta(&j, key, rq, &m)) != 0 || (ret = plan(&j)) != 0)
		goto out;
	want = json_string_value(json_object_get(json_object_get(m, "image"), "sha256"));
	st->image_size = (uint64_t)json_integer_value(json_object_get(j.index, "image_size"));
	if (want == NULL || strcmp(want, json_string_value(json_object_get(j.index, "image_sha256")) ?
				   json_string_value(json_object_get(j.index, "image_sha256")) : "") != 0) {
		ret = ni_err_set(e, NI_EINVAL, "%s: manifest and index disagree", j.spec);
		goto out;
	}
	if (out != NULL && (ret = ni_atomic_open(&a, out, 0644, e)) != 0)
		goto out;
	j.fd = a.fd;
	if (out != NULL && ftruncate(a.fd, (off_t)st->image_size) != 0)
		ret = ni_err_errno(e, errno, "%s", out);
	if (ret == 0)
		ret = fetch_all(&j);
	if (ret == 0 && out != NULL && (ret = check_whole(&j, a.tmp, want)) == 0)
		ret = ni_atomic_commit(&a, e);
out:
	if (ret != 0 && out != NULL && a.fd >= 0)
		ni_atomic_abort(&a);
	json_decref(m);
	json_decref(j.index);
	json_decref(j.loc);
	free(j.p);
	return ret;
}
