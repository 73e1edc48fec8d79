/* vimage_hot.c: the hot set on the client (hot.h): the verified
 * attachment, its files mapped to chunks, fetched first in the list's
 * order; the mount's background prefetch of them. */
#include "cache/hot.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/attach.h"
#include "cache/vimage_internal.h"
#include "common/grow.h"

#define SYNC_RUN (8u << 20)     /* a request's bytes at most, for sync */
#define MOUNT_RUN (1u << 20)    /* for the mount's prefetch: stops sooner */

int cache_hot_get(struct cache_vimage *v, struct img_hot *h, struct ni_err *e)
{
	struct cache_source *src = NULL;
	struct cache_attach_req rq = { 0 };
	struct cache_attachment a;
	char ms[NI_SHA256_HEX], what[300];
	json_t *kinds = NULL, *k;
	size_t i;
	int ret;

	memset(h, 0, sizeof(*h));
	if (v->repo == NULL)
		return ni_err_set(e, NI_ENOENT, "%s: no repository given", v->spec);
	ni_hex(v->ver->manifest_sha, NI_SHA256_LEN, ms);
	rq.name = v->ver->name;
	rq.version = v->ver->version;
	rq.kind = IMG_HOT_KIND;
	rq.manifest_sha256 = ms;
	if ((ret = cache_source_open(&src, v->repo, e)) != 0)
		return ret;
	/* the version's list of kinds first: "none" is an empty list, not
	 * a 404 (formats.md, "Attachments") */
	ret = cache_attach_list(src, rq.name, rq.version, &kinds, e);
	if (ret == 0) {
		json_array_foreach(kinds, i, k)
			if (strcmp(json_string_value(k), IMG_HOT_KIND) == 0)
				break;
		if (i == json_array_size(kinds))
			ret = ni_err_set(e, NI_ENOENT, "%s: no hot list", v->spec);
		json_decref(kinds);
	}
	if (ret == 0)
		ret = cache_attach_get(src, v->o.key, &rq, &a, e);
	cache_source_close(src);
	if (ret != 0)
		return ret;
	snprintf(what, sizeof(what), "%s's hot list (blobs/%.16s...)", v->spec, a.sha256);
	ret = img_hot_parse(what, a.data, (size_t)a.size, h, e);
	cache_attach_free(&a);
	if (ret == NI_ENOENT)
		ret = NI_EINVAL;   /* ENOENT means "none" to callers */
	return ret;
}

/* ---- the chunks, in order ---- */

struct order {
	struct cache_vimage *v;
	uint8_t *seen;            /* per chunk */
	size_t *idx, n, cap;
	uint64_t bytes, max_bytes;
	size_t files;
	int full;                 /* max_bytes reached */
};

static int add_extent(struct order *o, uint64_t off, uint64_t len)
{
	const struct cache_version *ver = o->v->ver;
	size_t a, b, j;

	if (len == 0 || off >= ver->image_size)
		return 0;
	if (len > ver->image_size - off)
		len = ver->image_size - off;
	a = cache_version_find(ver, off);
	b = cache_version_find(ver, off + len - 1);
	for (j = a; j <= b; j++) {
		if (o->seen[j])
			continue;
		if (ni_grow(&o->idx, &o->cap, o->n, sizeof(*o->idx), 256) != 0)
			return NI_ENOMEM;
		o->seen[j] = 1;
		o->idx[o->n++] = j;
		o->bytes += ver->c[j].len;
	}
	return 0;
}

static int add_file(void *user, size_t i, const struct img_hot_extent *x, size_t n)
{
	struct order *o = user;
	size_t k;
	int ret;

	(void)i;
	if (o->full)
		return 0;
	if (o->max_bytes > 0 && o->bytes >= o->max_bytes) {
		o->full = 1;
		return 0;
	}
	for (k = 0; k < n; k++)
		if ((ret = add_extent(o, x[k].off, x[k].len)) != 0)
			return ret;
	o->files++;
	return 0;
}

static int stopping(struct cache_vimage *v)
{
	int s;

	pthread_mutex_lock(&v->mu);
	s = v->stop;
	pthread_mutex_unlock(&v->mu);
	return s;
}

struct prog {
	struct cache_hot_result *r;
	void (*cb)(void *user, uint64_t len);
	void *user;
};

static void on_chunk(void *user, uint64_t len)
{
	struct prog *p = user;

	p->r->fetched += len;
	p->r->chunks_fetched++;
	if (p->cb != NULL)
		p->cb(p->user, len);
}

/* Fetches run[0..n) (busy marks taken here). */
static int fetch_run(struct cache_vimage *v, size_t *run, size_t n, struct prog *p,
		     struct ni_err *e)
{
	size_t k, m = 0;
	uint64_t req0;
	int ret;

	pthread_mutex_lock(&v->mu);
	for (k = 0; k < n; k++)
		if (!v->busy[run[k]] && v->mem[run[k]] == NULL) {
			v->busy[run[k]] = 1;
			run[m++] = run[k];
		}
	req0 = v->stats.requests;
	pthread_mutex_unlock(&v->mu);
	if (m == 0)
		return 0;
	pthread_mutex_lock(&v->bulk_mu);
	ret = vimg_bulk_source(v, e);
	if (ret != 0) {
		pthread_mutex_lock(&v->mu);
		for (k = 0; k < m; k++)
			v->busy[run[k]] = 0;
		pthread_cond_broadcast(&v->cv);
		pthread_mutex_unlock(&v->mu);
	} else {
		/* clears the busy marks, whatever happens */
		ret = vimg_fetch_chunks(v, &v->bulk, run, m, CACHE_CHUNK_MAX * 2, 0,
					on_chunk, p, e);
	}
	pthread_mutex_unlock(&v->bulk_mu);
	pthread_mutex_lock(&v->mu);
	p->r->requests += v->stats.requests - req0;
	pthread_mutex_unlock(&v->mu);
	return ret;
}

/* The missing chunks of idx[0..n), in that order: consecutive ones are
 * fetched together while they go forward in one pack, up to run_max
 * bytes a request. */
static int fetch_ordered(struct cache_vimage *v, const size_t *idx, size_t n,
			 size_t run_max, struct prog *p, struct ni_err *e)
{
	const struct cache_version *ver = v->ver;
	size_t *run = malloc((n + 1) * sizeof(*run)), k, m = 0;
	uint64_t bytes = 0;
	int ret = 0;

	if (run == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	for (k = 0; k < n && ret == 0; k++) {
		const struct cache_chunk *c = &ver->c[idx[k]];

		if (cache_store_has(v->st, c->sha, c->len))
			continue;
		if (m > 0) {
			const struct cache_chunk *l = &ver->c[run[m - 1]];

			if (c->pack != l->pack || c->pack_off <= l->pack_off ||
			    bytes + c->len > run_max) {
				ret = fetch_run(v, run, m, p, e);
				m = 0;
				bytes = 0;
				if (ret == 0 && stopping(v))
					break;
			}
		}
		run[m++] = idx[k];
		bytes += c->len;
	}
	if (ret == 0 && m > 0 && !stopping(v))
		ret = fetch_run(v, run, m, p, e);
	free(run);
	return ret;
}

int cache_vimage_hot_fill(struct cache_vimage *v, const struct img_hot *h,
			  uint64_t max_bytes,
			  void (*progress)(void *user, uint64_t len), void *user,
			  struct cache_hot_result *r, struct ni_err *e)
{
	struct order o = { .v = v, .max_bytes = max_bytes };
	struct prog p = { r, progress, user };
	struct img_hot_extent x[2];
	sqfs_file_t *file = NULL;
	size_t nx, k, n_meta;
	char list[300];
	int ret;

	memset(r, 0, sizeof(*r));
	if ((o.seen = calloc(v->ver->n + 1, 1)) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	if ((file = cache_vimage_file(v)) == NULL) {
		free(o.seen);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	/* the superblock, then the tables it places, in one go */
	ret = add_extent(&o, 0, 96) == 0 ? fetch_ordered(v, o.idx, o.n, SYNC_RUN, &p, e)
					  : ni_err_set(e, NI_ENOMEM, "out of memory");
	if (ret == 0)
		ret = img_hot_meta(file, v->spec, x, &nx, e);
	for (k = 0; ret == 0 && k < nx; k++)
		ret = add_extent(&o, x[k].off, x[k].len) == 0 ? 0
			: ni_err_set(e, NI_ENOMEM, "out of memory");
	n_meta = o.n;
	if (ret == 0)
		ret = fetch_ordered(v, o.idx + 1, n_meta - 1, SYNC_RUN, &p, e);
	/* then the files: their places come from the tables just fetched */
	snprintf(list, sizeof(list), "%s's hot list", v->spec);
	if (ret == 0 && !stopping(v))
		ret = img_hot_resolve(file, v->spec, list, h, 0, add_file, &o, e);
	if (ret == NI_ENOMEM && e != NULL && e->code == 0)
		ni_err_set(e, NI_ENOMEM, "out of memory");
	if (ret == 0 && !stopping(v))
		ret = fetch_ordered(v, o.idx + n_meta, o.n - n_meta,
				    v->o.max_recv_bps > 0 || max_bytes > 0 ? MOUNT_RUN : SYNC_RUN,
				    &p, e);
	r->files = o.files;
	r->chunks = o.n;
	r->bytes = o.bytes;
	sqfs_destroy(file);
	free(o.idx);
	free(o.seen);
	return ret;
}

/* ---- the mount's background prefetch ---- */

static void logf_(struct cache_vimage *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void logf_(struct cache_vimage *v, const char *fmt, ...)
{
	char line[1200];
	va_list ap;

	if (v->hot_log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	v->hot_log(v->hot_user, line);
}

int cache_vimage_complete(struct cache_vimage *v)
{
	size_t i;

	for (i = 0; i < v->ver->n; i++)
		if (!cache_store_has(v->st, v->ver->c[i].sha, v->ver->c[i].len))
			return 0;
	return 1;
}

static void *hot_main(void *arg)
{
	struct cache_vimage *v = arg;
	struct cache_hot_result r;
	struct img_hot h;
	struct ni_err e = { 0 };
	int64_t t0 = vimg_now_ms();
	uint64_t quota = cache_store_quota(v->st);
	int ret;

	if (cache_vimage_complete(v))
		return NULL;
	ret = cache_hot_get(v, &h, &e);
	if (ret == NI_ENOENT)
		return NULL;   /* no hot set: nothing to prefetch */
	if (ret == NI_EINVAL || ret == NI_EHASH) {
		logf_(v, "%s: hot set ignored: %s", v->spec, e.msg);
		return NULL;
	}
	if (ret != 0) {
		logf_(v, "%s: hot set not prefetched: %s", v->spec, e.msg);
		return NULL;
	}
	ret = cache_vimage_hot_fill(v, &h, quota / 2 > 0 ? quota / 2 : 1, NULL, NULL, &r, &e);
	if (ret != 0)
		logf_(v, "%s: hot set prefetch stopped: %s", v->spec, e.msg);
	else if (stopping(v))
		logf_(v, "%s: hot set prefetch stopped at unmount", v->spec);
	else
		logf_(v, "%s: hot set prefetched: %zu of %zu files, %zu chunks (%llu bytes fetched, %llu requests) in %lld ms",
		      v->spec, r.files, h.n, r.chunks, (unsigned long long)r.fetched,
		      (unsigned long long)r.requests, (long long)(vimg_now_ms() - t0));
	img_hot_free(&h);
	return NULL;
}

int cache_vimage_hot_start(struct cache_vimage *v, cache_hot_log log, void *user,
			   struct ni_err *e)
{
	int ret = 0;

	if (v->repo == NULL)
		return 0;
	pthread_mutex_lock(&v->mu);
	if (!v->hot_started && !v->stop) {
		v->hot_log = log;
		v->hot_user = user;
		if (pthread_create(&v->hot_thread, NULL, hot_main, v) != 0)
			ret = ni_err_set(e, NI_ENOMEM, "%s: cannot start the hot set's prefetch thread",
					 v->spec);
		else
			v->hot_started = 1;
	}
	pthread_mutex_unlock(&v->mu);
	return ret;
}
