/* image.c: a published version, fetched and verified chunk by chunk. */
#include "cache/image.h"
#include "cache/image_check.h"

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
#include "images/chunkidx.h"
#include "images/manifest.h"

#define META_MAX (256u << 20)
/* Neighbouring chunks of a pack are fetched in one request of up to this
 * many bytes, bridging gaps of up to GAP_MAX bytes no chunk of the version
 * needs (they are received and dropped: cheaper than another request). */
#define RANGE_MAX (8u << 20)
#define GAP_MAX (64u << 10)

struct piece {
	size_t chunk;          /* index in the image's chunk list */
	const char *pack;
	uint64_t pack_off, img_off, len;
	uint8_t sha[NI_SHA256_LEN];
	uint8_t *buf;          /* verify only: its bytes so far */
};

/* One request: the pieces [first, first + count) of j->p, in pack order
 * (a piece and its duplicates share their bytes), cur the first one not
 * complete in the attempt under way. */
struct range {
	size_t first, count, cur;
};

/* A run of bytes to write at one image offset, gathered across pieces. */
struct wrun {
	const uint8_t *p;
	uint64_t img_off;
	size_t len;
};

struct job {
	struct cache_source *src;
	struct ni_err *e;
	struct piece *p;       /* sorted by pack, offset */
	size_t n;
	struct range *rg;      /* the ranges of the pack being fetched */
	const struct cache_range *r;
	int fd;                /* output, or -1 */
	const char *out;       /* its name, for messages */
	struct image_check *ic;
	struct cache_image_stats *st;
	struct img_index ix;
	struct img_locs locs;
	char spec[160];
};

struct meta_check {
	const char *spec, *rel;
	const char *want_sha;      /* hex the bytes must hash to, or NULL */
	const char *want_what;     /* how a mismatch is described */
	/* a manifest: verified and parsed here */
	EVP_PKEY *key;
	const char *name, *version;
	json_t **manifest;
};

/* The checks a mirror's copy must pass; a failure asks the next mirror. */
static int check_meta(void *user, const uint8_t *buf, size_t len,
		      struct ni_err *e)
{
	struct meta_check *c = user;
	uint8_t d[NI_SHA256_LEN];
	char hex[NI_SHA256_HEX];

	if (c->want_sha != NULL) {
		ni_sha256_buf(buf, len, d);
		ni_hex(d, sizeof(d), hex);
		if (strcmp(hex, c->want_sha) != 0)
			return ni_err_set(e, NI_EHASH, "%s: %s: %s", c->spec, c->rel,
					  c->want_what);
	}
	if (c->manifest != NULL) {
		json_decref(*c->manifest);
		*c->manifest = NULL;
		return img_manifest_open_as(c->key, c->rel, buf, len, c->name,
					    c->version, c->manifest, e);
	}
	return 0;
}

/* A metadata file's bytes, checked against want_sha when not NULL. */
static int get_meta(struct job *j, const char *rel, const char *want_sha,
		    size_t max, uint8_t **buf, size_t *len)
{
	char what[160];
	struct meta_check c = { .spec = j->spec, .rel = rel, .want_sha = want_sha,
				.want_what = what };

	snprintf(what, sizeof(what), "hash mismatch (tampered; the manifest names %.16s...)",
		 want_sha ? want_sha : "");
	return cache_source_get_checked(j->src, rel, max, check_meta, &c, buf, len, j->e);
}

static int cmp_piece(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;
	int c = strcmp(x->pack, y->pack);

	if (c != 0)
		return c;
	if (x->pack_off != y->pack_off)
		return x->pack_off < y->pack_off ? -1 : 1;
	return x->img_off < y->img_off ? -1 : x->img_off > y->img_off;
}

/* In a pack, chunks never share bytes, except one chunk stored once for
 * several places of the image (same offset, length and hash). */
static int check_overlaps(struct job *j)
{
	size_t i;

	for (i = 1; i < j->n; i++) {
		const struct piece *a = &j->p[i - 1], *b = &j->p[i];

		if (strcmp(a->pack, b->pack) != 0 ||
		    b->pack_off >= a->pack_off + a->len)
			continue;
		if (b->pack_off != a->pack_off || b->len != a->len ||
		    memcmp(a->sha, b->sha, NI_SHA256_LEN) != 0)
			return ni_err_set(j->e, NI_EINVAL, "%s: malformed locations (chunks %zu and %zu overlap in pack %.16s...)",
					  j->spec, a->chunk, b->chunk, a->pack);
	}
	return 0;
}

/* Pairs the signed index with the (unsigned) location file, which the
 * decoders checked: the chunks tile the image. */
static int plan(struct job *j)
{
	size_t i;

	j->n = j->ix.n;
	j->p = calloc(j->n + 1, sizeof(*j->p));
	if (j->p == NULL)
		return ni_err_set(j->e, NI_ENOMEM, "out of memory");
	for (i = 0; i < j->n; i++) {
		struct piece *p = &j->p[i];

		p->chunk = i;
		p->img_off = j->ix.c[i].off;
		p->len = j->ix.c[i].len;
		memcpy(p->sha, j->ix.c[i].sha, NI_SHA256_LEN);
		p->pack = j->locs.packs[j->locs.pack[i]];
		p->pack_off = j->locs.off[i];
	}
	qsort(j->p, j->n, sizeof(*j->p), cmp_piece);
	return check_overlaps(j);
}

/* --- receiving: pieces written where they belong as bytes arrive ------- */

static int flush(struct job *j, struct wrun *w, char *msg, size_t cap)
{
	while (w->len > 0) {
		ssize_t n = pwrite(j->fd, w->p, w->len, (off_t)w->img_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(msg, cap, "%s: cannot write: %s", j->out,
				 n < 0 ? strerror(errno) : "short write");
			return n < 0 ? ni_err_from_errno(errno) : NI_EIO;
		}
		w->p += n;
		w->img_off += (uint64_t)n;
		w->len -= (size_t)n;
	}
	return 0;
}

/* Adds bytes to the run, writing the run first when they do not follow. */
static int put(struct job *j, struct wrun *w, const uint8_t *p,
	       uint64_t img_off, size_t len, char *msg, size_t cap)
{
	int ret;

	if (w->len > 0 && (w->p + w->len != p || w->img_off + w->len != img_off) &&
	    (ret = flush(j, w, msg, cap)) != 0)
		return ret;
	if (w->len == 0) {
		w->p = p;
		w->img_off = img_off;
	}
	w->len += len;
	return 0;
}

/* Bytes of piece k, from pack offset s to e, are at data. */
static int take(struct job *j, size_t k, const uint8_t *data, uint64_t s,
		uint64_t e, struct wrun *w, char *msg, size_t cap)
{
	struct piece *p = &j->p[k];
	uint64_t at = s - p->pack_off;

	if (j->fd >= 0)
		return put(j, w, data, p->img_off + at, (size_t)(e - s), msg, cap);
	if (p->buf == NULL && (p->buf = malloc((size_t)p->len)) == NULL) {
		snprintf(msg, cap, "out of memory");
		return NI_ENOMEM;
	}
	memcpy(p->buf + at, data, (size_t)(e - s));
	return 0;
}

/* Piece k is complete: its bytes go to the checker (written first). */
static int complete(struct job *j, size_t k, struct wrun *w, char *msg,
		    size_t cap)
{
	struct piece *p = &j->p[k];
	uint8_t *buf = p->buf;
	int ret;

	if (j->fd >= 0 && (ret = flush(j, w, msg, cap)) != 0)
		return ret;
	p->buf = NULL;
	ret = ic_submit(j->ic, k, p->img_off, p->len, p->sha, buf, j->e);
	if (ret != 0)
		snprintf(msg, cap, "%s", j->e->msg);
	return ret;
}

static void restart(struct job *j, struct range *g)
{
	size_t k;

	for (k = g->first; k < g->first + g->count; k++) {
		ic_reset(j->ic, k);
		free(j->p[k].buf);
		j->p[k].buf = NULL;
	}
	g->cur = g->first;
}

static int on_data(void *user, size_t idx, uint64_t off, const uint8_t *data,
		   size_t len, char *msg, size_t cap)
{
	struct job *j = user;
	struct range *g = &j->rg[idx];
	uint64_t a = j->r[idx].off + off, b = a + len, s, e;
	struct wrun w = { 0 };
	size_t k, end = g->first + g->count;
	int ret;

	if (off == 0)
		restart(j, g);
	for (k = g->cur; k < end && j->p[k].pack_off < b; k++) {
		const struct piece *p = &j->p[k];

		if (p->pack_off + p->len <= a)
			continue;      /* complete already */
		s = p->pack_off > a ? p->pack_off : a;
		e = p->pack_off + p->len < b ? p->pack_off + p->len : b;
		if ((ret = take(j, k, data + (s - a), s, e, &w, msg, cap)) != 0 ||
		    (e == p->pack_off + p->len &&
		     (ret = complete(j, k, &w, msg, cap)) != 0))
			return ret;
	}
	while (g->cur < end && j->p[g->cur].pack_off + j->p[g->cur].len <= b)
		g->cur++;
	if (j->fd >= 0 && (ret = flush(j, &w, msg, cap)) != 0)
		return ret;
	return 0;
}

/* Starts writing back the pages of [s, e) of the image, which are final:
 * the fsync at the end then has less left to wait for. Pages shared with
 * a neighbour still being received are left out. */
static void kick(const struct job *j, uint64_t s, uint64_t e)
{
	const uint64_t pg = 4096;

	s = (s + pg - 1) / pg * pg;
	e = e / pg * pg;
	if (e > s)
		sync_file_range(j->fd, (off_t)s, (off_t)(e - s),
				SYNC_FILE_RANGE_WRITE);
}

/* Range idx checked: its pieces' image bytes, run by run, to the disk. */
static void kick_range(const struct job *j, const struct range *g)
{
	uint64_t s = 0, e = 0;
	size_t k;

	if (j->fd < 0)
		return;
	for (k = g->first; k < g->first + g->count; k++) {
		const struct piece *p = &j->p[k];

		if (e > s && p->img_off == e) {
			e += p->len;
			continue;
		}
		kick(j, s, e);
		s = p->img_off;
		e = s + p->len;
	}
	kick(j, s, e);
}

static int on_done(void *user, size_t idx, char *msg, size_t cap)
{
	struct job *j = user;
	const struct range *g = &j->rg[idx];
	size_t k;
	int err = 0;

	for (k = g->first; k < g->first + g->count; k++) {
		const struct piece *p = &j->p[k];

		switch (ic_wait(j->ic, k, &err)) {
		case IC_OK:
			continue;
		case IC_BAD:
			snprintf(msg, cap, "%s: chunk at image offset %llu (pack %.16s...): hash mismatch (tampered)",
				 j->spec, (unsigned long long)p->img_off, p->pack);
			return NI_EHASH;
		default:
			snprintf(msg, cap, "%s: reading back the image: %s",
				 j->out ? j->out : j->spec, strerror(err));
			return NI_EIO;
		}
	}
	kick_range(j, g);
	j->st->chunks += g->count;
	j->st->bytes_fetched += j->r[idx].len;
	return 0;
}

/* The pieces [a, b) all lie in one pack: coalesce and fetch them. */
static int fetch_pack(struct job *j, size_t a, size_t b)
{
	struct cache_range *r = calloc(b - a, sizeof(*r));
	struct range *g = calloc(b - a, sizeof(*g));
	struct cache_range_stream st = { .data = on_data, .done = on_done,
					 .user = j };
	size_t n = 0, i;
	char rel[100];
	int ret;

	if (r == NULL || g == NULL) {
		free(r);
		free(g);
		return ni_err_set(j->e, NI_ENOMEM, "out of memory");
	}
	for (i = a; i < b; i++) {
		const struct piece *p = &j->p[i];
		uint64_t end = n > 0 ? r[n - 1].off + r[n - 1].len : 0;
		uint64_t pe = p->pack_off + p->len;

		if (n > 0 && p->pack_off <= end + GAP_MAX &&
		    (pe > end ? pe : end) - r[n - 1].off <= RANGE_MAX) {
			if (pe > end)
				r[n - 1].len = (size_t)(pe - r[n - 1].off);
			g[n - 1].count++;
			continue;
		}
		r[n].off = p->pack_off;
		r[n].len = (size_t)p->len;
		g[n].first = g[n].cur = i;
		g[n].count = 1;
		n++;
	}
	snprintf(rel, sizeof(rel), "packs/%s.pack", j->p[a].pack);
	j->rg = g;
	j->r = r;
	ret = cache_source_ranges(j->src, rel, r, n, &st, j->e);
	if (cache_source_is_local(j->src))
		j->st->requests += n;
	j->rg = NULL;
	j->r = NULL;
	free(r);
	free(g);
	return ret;
}

static int fetch_all(struct job *j)
{
	size_t a = 0, b;
	int ret;

	if ((ret = ic_start(&j->ic, j->n, j->fd, 0, j->e)) != 0)
		return ret;
	while (ret == 0 && a < j->n) {
		for (b = a + 1; b < j->n && strcmp(j->p[b].pack, j->p[a].pack) == 0; b++)
			;
		ret = fetch_pack(j, a, b);
		a = b;
	}
	ic_stop(j->ic);
	j->ic = NULL;
	for (a = 0; a < j->n; a++) {
		free(j->p[a].buf);
		j->p[a].buf = NULL;
	}
	return ret;
}

static int load_meta(struct job *j, EVP_PKEY *key,
		     const struct cache_image_req *rq, json_t **m)
{
	const char *name = rq->name, *version = rq->version;
	char *rel = img_manifest_path(name, version), idx[120], loc[200], what[400];
	uint8_t *buf = NULL;
	size_t len;
	const char *ih;
	json_t *nch;
	int ret;

	if (rel == NULL)
		return ni_err_set(j->e, NI_ENOMEM, "out of memory");
	{
		struct meta_check c = {
			.spec = j->spec, .rel = rel, .want_sha = rq->manifest_sha256,
			.want_what = "the manifest is not the one the channel pointer names",
			.key = key, .name = name, .version = version, .manifest = m,
		};

		ret = cache_source_get_checked(j->src, rel, META_MAX, check_meta, &c,
					       &buf, &len, j->e);
	}
	if (ret == NI_ENOENT)
		ret = ni_err_set(j->e, NI_ENOENT, "%s: no such version", j->spec);
	free(buf);
	free(rel);
	if (ret != 0)
		return ret;
	ih = json_string_value(json_object_get(json_object_get(*m, "index"), "sha256"));
	nch = json_object_get(json_object_get(*m, "index"), "chunks");
	if (ih == NULL || strlen(ih) != 64 || !json_is_integer(nch) ||
	    json_integer_value(nch) <= 0 || json_integer_value(nch) > (1 << 24))
		return ni_err_set(j->e, NI_EINVAL, "%s: the manifest names no chunk index", j->spec);
	snprintf(idx, sizeof(idx), "indexes/%s.bin", ih);
	snprintf(loc, sizeof(loc), "locations/%s/%s.json", name, version);
	if ((ret = get_meta(j, idx, ih, img_index_max_size((uint64_t)json_integer_value(nch)),
			    &buf, &len)) != 0)
		return ret;
	snprintf(what, sizeof(what), "%s: %s", j->spec, idx);
	ret = img_index_decode(buf, len, what, &j->ix, j->e);
	free(buf);
	buf = NULL;
	if (ret == 0 && j->ix.n != (size_t)json_integer_value(nch))
		ret = ni_err_set(j->e, NI_EINVAL, "%s: %zu chunks, the manifest says %lld", what,
				 j->ix.n, (long long)json_integer_value(nch));
	if (ret == 0)
		ret = get_meta(j, loc, NULL, META_MAX, &buf, &len);
	if (ret == 0) {
		snprintf(what, sizeof(what), "%s: %s", j->spec, loc);
		ret = img_locs_decode(buf, len, &j->ix, ih, what, &j->locs, j->e);
	}
	free(buf);
	return ret;
}

int cache_get_image(struct cache_source *src, EVP_PKEY *key,
		    const struct cache_image_req *rq,
		    struct cache_image_stats *st, struct ni_err *e)
{
	struct job j = { .src = src, .e = e, .fd = -1, .st = st, .out = rq->out };
	const char *out = rq->out, *want;
	char iwant[NI_SHA256_HEX];
	struct ni_atomic a = { .fd = -1 };
	unsigned long req0 = cache_source_requests(src);
	json_t *m = NULL, *mi;
	int ret;

	memset(st, 0, sizeof(*st));
	snprintf(j.spec, sizeof(j.spec), "%s@%s", rq->name, rq->version);
	if ((ret = load_meta(&j, key, rq, &m)) != 0 || (ret = plan(&j)) != 0)
		goto out;
	mi = json_object_get(m, "image");
	want = json_string_value(json_object_get(mi, "sha256"));
	ni_hex(j.ix.image_sha, NI_SHA256_LEN, iwant);
	st->image_size = j.ix.image_size;
	/* The manifest's image hash is the index's, which the manifest signs
	 * by its hash: the chunk hashes, which tile the image, are what is
	 * checked. Hashing the whole image again would add nothing. */
	if (want == NULL || strcmp(want, iwant) != 0 ||
	    (uint64_t)json_integer_value(json_object_get(mi, "size")) != st->image_size) {
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
	if (ret == 0 && out != NULL)
		ret = ni_atomic_commit(&a, e);
out:
	if (ret != 0 && out != NULL && a.fd >= 0)
		ni_atomic_abort(&a);
	if (!cache_source_is_local(src))
		st->requests = cache_source_requests(src) - req0;
	json_decref(m);
	img_index_free(&j.ix);
	img_locs_free(&j.locs);
	free(j.p);
	return ret;
}
