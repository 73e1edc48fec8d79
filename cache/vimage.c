/* vimage.c: a version's image read through the cache: opening (metadata
 * local first), the sqfs_file_t, reads, the memory of verified chunks and
 * the counters. Fetching is in vimage_fetch.c. */
#include "cache/vimage_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqfs/error.h>

#include "images/manifest.h"

/* chunk buffers (see buf_cap) */
#define BUF_STEP (64u << 10)
#define UNIFORM_MAX (1u << 20)

/* len rounded up to whole steps, at least one */
static size_t buf_step_up(size_t len)
{
	return len == 0 ? BUF_STEP : (len + BUF_STEP - 1) / BUF_STEP * BUF_STEP;
}

void cache_vimage_opts_init(struct cache_vimage_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->wait_ms = 10000;
	o->offline_ms = 2000;
	o->mem_bytes = 8u << 20;
	o->readahead = 1u << 20;
	o->store_readahead = 4u << 20;
	o->fetchers = 4;
}

int64_t vimg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- metadata ---- */

int cache_vimage_load_version(struct cache_store *st,
			      const struct cache_vimage_opts *o,
			      struct cache_version **v, uint64_t *fetched,
			      struct ni_err *e)
{
	struct cache_version_raw raw;
	struct ni_err local = { 0 };
	struct vsrc src;
	struct cache_fetch_opts fo;
	int ret;

	*v = NULL;
	*fetched = 0;
	if (o->key == NULL)
		return ni_err_set(e, NI_EUSAGE, "%s@%s: no repository key", o->name, o->version);
	ret = cache_store_meta_get(st, o->name, o->version, &raw, &local);
	if (ret == 0)
		ret = cache_version_load(&raw, o->key, o->name, o->version, o->manifest_sha256,
					 cache_store_dir(st), v, &local);
	if (ret == 0)
		return 0;
	if (o->repo == NULL) {
		if (ret == NI_ENOENT)
			return ni_err_set(e, NI_ENOENT, "%s: %s@%s is not in the cache (and no repository was given)",
					  cache_store_dir(st), o->name, o->version);
		*e = local;
		return ret;
	}
	/* not cached, or the cached copy is not the one wanted (or is bad):
	 * from the repository, checked the same way */
	cache_fetch_opts_init(&fo);
	vimg_fetch_cap(&fo, o);
	if ((ret = vsrc_open(&src, o->repo, &fo, e)) != 0)
		return ret;
	memset(&raw, 0, sizeof(raw));
	ret = vimg_fetch_meta(st, &src, o, &raw, fetched, e);
	vsrc_close(&src);
	if (ret != 0) {
		cache_version_raw_free(&raw);
		return ret;
	}
	return cache_version_load(&raw, o->key, o->name, o->version, o->manifest_sha256,
				  o->repo, v, e);
}

/* ---- the sqfs_file_t ---- */

static void drop_ref(struct cache_vimage *v);

static void file_destroy(sqfs_object_t *obj)
{
	drop_ref((struct cache_vimage *)obj);
}

static sqfs_object_t *file_copy(const sqfs_object_t *obj)
{
	struct cache_vimage *v = (struct cache_vimage *)obj;

	pthread_mutex_lock(&v->mu);
	v->refs++;
	pthread_mutex_unlock(&v->mu);
	return (sqfs_object_t *)v;
}

static int file_read_at(sqfs_file_t *f, sqfs_u64 off, void *buf, size_t size)
{
	struct cache_vimage *v = (struct cache_vimage *)f;
	struct ni_err e = { 0 };
	int ret = cache_vimage_read(v, off, buf, size, &e);

	if (ret == 0)
		return 0;
	return ret == NI_EINVAL ? SQFS_ERROR_OUT_OF_BOUNDS
				: ret == NI_ENOMEM ? SQFS_ERROR_ALLOC : SQFS_ERROR_IO;
}

static int file_write_at(sqfs_file_t *f, sqfs_u64 off, const void *buf, size_t size)
{
	return SQFS_ERROR_UNSUPPORTED;
}

static sqfs_u64 file_get_size(const sqfs_file_t *f)
{
	return ((const struct cache_vimage *)f)->ver->image_size;
}

static int file_truncate(sqfs_file_t *f, sqfs_u64 size)
{
	return SQFS_ERROR_UNSUPPORTED;
}

int cache_vimage_open_version(struct cache_vimage **out, struct cache_store *st,
			      struct cache_version *ver,
			      const struct cache_vimage_opts *o, struct ni_err *e)
{
	struct cache_vimage *v = calloc(1, sizeof(*v));
	pthread_condattr_t ca;
	uint64_t longest = 0;
	size_t i;

	*out = NULL;
	if (v == NULL || (v->busy = calloc(ver->n + 1, 1)) == NULL ||
	    (v->mem = calloc(ver->n + 1, sizeof(*v->mem))) == NULL ||
	    (o->repo != NULL && (v->repo = strdup(o->repo)) == NULL)) {
		if (v != NULL) {
			free(v->busy);
			free(v->mem);
		}
		free(v);
		cache_version_free(ver);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	v->base.base.destroy = file_destroy;
	v->base.base.copy = file_copy;
	v->base.read_at = file_read_at;
	v->base.write_at = file_write_at;
	v->base.get_size = file_get_size;
	v->base.truncate = file_truncate;
	v->st = st;
	v->ver = ver;
	v->o = *o;
	v->o.repo = v->repo;
	v->o.name = ver->name;
	v->o.version = ver->version;
	v->o.manifest_sha256 = NULL;
	if (v->o.fetchers < 1)
		v->o.fetchers = 1;
	if (v->o.wait_ms < 100)
		v->o.wait_ms = 100;
	for (i = 0; i < ver->n; i++)
		if (ver->c[i].len > longest)
			longest = ver->c[i].len;
	if (longest <= UNIFORM_MAX)
		v->buf_uniform = buf_step_up((size_t)longest);
	v->refs = 1;
	snprintf(v->spec, sizeof(v->spec), "%s@%s", ver->name, ver->version);
	pthread_mutex_init(&v->mu, NULL);
	pthread_mutex_init(&v->bulk_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&v->cv, &ca);
	pthread_cond_init(&v->q_cv, &ca);
	pthread_cond_init(&v->q_idle, &ca);
	pthread_cond_init(&v->ra_cv, NULL);
	pthread_condattr_destroy(&ca);
	*out = v;
	return 0;
}

int cache_vimage_open(struct cache_vimage **out, struct cache_store *st,
		      const struct cache_vimage_opts *o, struct ni_err *e)
{
	struct cache_version *ver;
	uint64_t fetched;
	int ret;

	*out = NULL;
	if ((ret = cache_vimage_load_version(st, o, &ver, &fetched, e)) != 0)
		return ret;
	/* keep what was fetched: the next open needs no network. A cache that
	 * cannot keep it (disk full) still serves this open. */
	if (fetched > 0)
		(void)cache_store_meta_put(st, ver, NULL);
	return cache_vimage_open_version(out, st, ver, o, e);
}

sqfs_file_t *cache_vimage_file(struct cache_vimage *v)
{
	return (sqfs_file_t *)file_copy((sqfs_object_t *)v);
}

const struct cache_version *cache_vimage_version(const struct cache_vimage *v)
{
	return v->ver;
}

/* ---- memory of verified chunks ---- */

static void lru_unlink(struct cache_vimage *v, struct ment *m)
{
	if (m->prev)
		m->prev->next = m->next;
	else
		v->lru_head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		v->lru_tail = m->prev;
	m->prev = m->next = NULL;
}

static void lru_front(struct cache_vimage *v, struct ment *m)
{
	m->next = v->lru_head;
	m->prev = NULL;
	if (v->lru_head)
		v->lru_head->prev = m;
	v->lru_head = m;
	if (v->lru_tail == NULL)
		v->lru_tail = m;
}

/* Buffers are sized in steps of 64 KiB (BUF_STEP). When the version's chunks are
 * at most UNIFORM_MAX long, every buffer has the size of the longest, so
 * that any spare serves any chunk: with sizes that vary, most loads found
 * no spare that fit and took fresh pages. Memory counts buffers, not the
 * chunks in them. */
static size_t buf_cap(const struct cache_vimage *v, size_t len)
{
	return len <= v->buf_uniform ? v->buf_uniform : buf_step_up(len);
}

/* Every chunk buffer: in memory, spare, or handed out (being loaded). */
static size_t buf_total(const struct cache_vimage *v)
{
	return v->mem_used + v->spare_bytes + v->out_bytes;
}

/* Keeps a buffer no one uses as a spare while within the bound. */
static void spare_keep(struct cache_vimage *v, uint8_t *p, size_t cap)
{
	if (v->n_spare == VIMG_SPARE_MAX || buf_total(v) + cap > v->o.mem_bytes) {
		free(p);
		return;
	}
	v->spare[v->n_spare].p = p;
	v->spare[v->n_spare].cap = cap;
	v->n_spare++;
	v->spare_bytes += cap;
}

/* Drops chunk entry t from memory; its buffer becomes a spare (within
 * the bound) when keep, else is freed. */
static void mem_drop(struct cache_vimage *v, struct ment *t, int keep)
{
	lru_unlink(v, t);
	v->mem[t->idx] = NULL;
	v->mem_used -= t->cap;
	if (keep)
		spare_keep(v, t->data, t->cap);
	else
		free(t->data);
	free(t);
}

/* The smallest spare that fits len, handed out; or NULL. */
static uint8_t *spare_take(struct cache_vimage *v, size_t len, size_t *cap)
{
	int i, best = -1;
	uint8_t *p;

	for (i = 0; i < v->n_spare; i++)
		if (v->spare[i].cap >= len && v->spare[i].cap / 2 <= buf_cap(v, len) &&
		    (best < 0 || v->spare[i].cap < v->spare[best].cap))
			best = i;
	if (best < 0)
		return NULL;
	p = v->spare[best].p;
	*cap = v->spare[best].cap;
	v->spare_bytes -= *cap;
	v->out_bytes += *cap;
	v->spare[best] = v->spare[--v->n_spare];
	return p;
}

/* Frees spares, then drops the least recently used chunks no reader
 * holds (but keep), until need more bytes fit within the bound. */
static void make_room(struct cache_vimage *v, size_t need, const struct ment *keep)
{
	struct ment *t, *prev;

	while (v->n_spare > 0 && buf_total(v) + need > v->o.mem_bytes) {
		v->n_spare--;
		v->spare_bytes -= v->spare[v->n_spare].cap;
		free(v->spare[v->n_spare].p);
	}
	for (t = v->lru_tail; t != NULL && buf_total(v) + need > v->o.mem_bytes; t = prev) {
		prev = t->prev;
		if (t != keep && t->refs == 0)
			mem_drop(v, t, 0);
	}
}

uint8_t *vimg_buf_get(struct cache_vimage *v, size_t len, size_t *cap)
{
	size_t want = buf_cap(v, len);
	struct ment *t, *prev;
	uint8_t *p;

	if ((p = spare_take(v, len, cap)) != NULL)
		return p;
	/* full: the least recently used chunks give their buffers */
	for (t = v->lru_tail; t != NULL && buf_total(v) + want > v->o.mem_bytes; t = prev) {
		prev = t->prev;
		if (t->refs > 0)
			continue;
		mem_drop(v, t, 1);
		if ((p = spare_take(v, len, cap)) != NULL)
			return p;
	}
	make_room(v, want, NULL);
	if ((p = malloc(want)) != NULL) {
		*cap = want;
		v->out_bytes += want;
		if (buf_total(v) > v->stats.mem_peak)
			v->stats.mem_peak = buf_total(v);
	}
	return p;
}

void vimg_buf_put(struct cache_vimage *v, uint8_t *p, size_t cap)
{
	if (p == NULL)
		return;
	v->out_bytes -= cap;
	spare_keep(v, p, cap);
}

struct ment *vimg_mem_adopt(struct cache_vimage *v, size_t idx, uint8_t *data,
			    size_t len, size_t cap)
{
	struct ment *m;

	if (v->mem[idx] != NULL || (m = calloc(1, sizeof(*m))) == NULL) {
		vimg_buf_put(v, data, cap);
		return NULL;
	}
	m->data = data;
	m->len = len;
	m->cap = cap;
	m->idx = idx;
	v->mem[idx] = m;
	lru_front(v, m);
	v->out_bytes -= cap;
	v->mem_used += cap;
	/* over the bound (more loads at once than it holds): never what a
	 * reader holds nor the newcomer */
	make_room(v, 0, m);
	return m;
}

static void mem_release(struct cache_vimage *v, struct ment *m)
{
	pthread_mutex_lock(&v->mu);
	m->refs--;
	pthread_mutex_unlock(&v->mu);
}

static void mem_free_all(struct cache_vimage *v)
{
	struct ment *m, *next;

	for (m = v->lru_head; m != NULL; m = next) {
		next = m->next;
		free(m->data);
		free(m);
	}
	v->lru_head = v->lru_tail = NULL;
	while (v->n_spare > 0)
		free(v->spare[--v->n_spare].p);
	v->spare_bytes = 0;
}

/* ---- reads ---- */

static void deadline_ts(int64_t ms, struct timespec *ts)
{
	ts->tv_sec = ms / 1000;
	ts->tv_nsec = (ms % 1000) * 1000000;
}

/* A free demand fetcher (opened on first use), waiting until latest. */
static struct vsrc *pool_get(struct cache_vimage *v, int64_t latest, struct ni_err *e)
{
	struct timespec ts;
	int i;

	pthread_mutex_lock(&v->mu);
	if (v->pool == NULL && (v->pool = calloc((size_t)v->o.fetchers, sizeof(*v->pool))) == NULL) {
		pthread_mutex_unlock(&v->mu);
		ni_err_set(e, NI_ENOMEM, "out of memory");
		return NULL;
	}
	for (;;) {
		for (i = 0; i < v->o.fetchers; i++)
			if (!v->pool[i].busy)
				break;
		if (i < v->o.fetchers)
			break;
		deadline_ts(latest, &ts);
		if (vimg_now_ms() >= latest ||
		    pthread_cond_timedwait(&v->cv, &v->mu, &ts) == ETIMEDOUT) {
			pthread_mutex_unlock(&v->mu);
			ni_err_set(e, NI_EIO, "%s: timed out waiting for a fetch slot", v->spec);
			return NULL;
		}
	}
	v->pool[i].busy = 1;
	pthread_mutex_unlock(&v->mu);
	if (v->pool[i].local == NULL && v->pool[i].f == NULL) {
		struct cache_fetch_opts fo;
		long fetch_ms = v->o.wait_ms - v->o.wait_ms / 4;
		struct vsrc s;
		int ret;

		cache_fetch_opts_init(&fo);
		fo.deadline_ms = fetch_ms;
		if (fo.connect_timeout_ms > fetch_ms)
			fo.connect_timeout_ms = fetch_ms;
		if (fo.low_speed_time_s * 1000 > fetch_ms)
			fo.low_speed_time_s = fetch_ms / 1000 > 0 ? fetch_ms / 1000 : 1;
		/* opened aside: the slot stays busy (ours) meanwhile, never
		 * seen free by another thread half made */
		ret = vsrc_open(&s, v->repo, &fo, e);
		pthread_mutex_lock(&v->mu);
		if (ret != 0) {
			v->pool[i].busy = 0;
			pthread_cond_broadcast(&v->cv);
			pthread_mutex_unlock(&v->mu);
			return NULL;
		}
		s.busy = 1;
		v->pool[i] = s;
		pthread_mutex_unlock(&v->mu);
	}
	return &v->pool[i];
}

static void pool_put(struct cache_vimage *v, struct vsrc *s)
{
	pthread_mutex_lock(&v->mu);
	s->busy = 0;
	pthread_cond_broadcast(&v->cv);
	pthread_mutex_unlock(&v->mu);
}

static int net_error(int code)
{
	return code != 0 && code != NI_EHASH && code != NI_ENOMEM && code != NI_EINVAL;
}

/* Not fetching chunk i after all: others may try it (under mu). */
static void release_locked(struct cache_vimage *v, size_t i)
{
	v->busy[i] = 0;
	pthread_cond_broadcast(&v->cv);
}

/* Chunk i is busy (ours) and not cached: fetch it and the missing chunks
 * after it in its pack, up to the read-ahead. Whatever happens, chunk i
 * is no longer busy when it returns. */
int vimg_fetch_demand(struct cache_vimage *v, size_t i, int64_t deadline,
		      struct ni_err *e)
{
	const struct cache_version *ver = v->ver;
	size_t *win, n = 1, j, k, cap = 64;
	uint64_t bytes = ver->c[i].len;
	struct vsrc *src;
	struct ni_err fe = { 0 };
	long fetch_ms = v->o.wait_ms - v->o.wait_ms / 4;
	size_t ra = v->o.readahead;
	int ret;

	pthread_mutex_lock(&v->mu);
	if (v->repo == NULL) {
		release_locked(v, i);
		pthread_mutex_unlock(&v->mu);
		return ni_err_set(e, NI_EIO, "%s: chunk at image offset %llu is not cached (no repository given)",
				  v->spec, (unsigned long long)ver->c[i].img_off);
	}
	if (vimg_now_ms() < v->offline_until) {
		ret = ni_err_set(e, NI_EIO, "%s: chunk at image offset %llu is not cached and the repository is unreachable (%s)",
				 v->spec, (unsigned long long)ver->c[i].img_off, v->last.msg);
		release_locked(v, i);
		pthread_mutex_unlock(&v->mu);
		return ret;
	}
	/* a sequential read fetches as far ahead as the store read-ahead loads */
	if (v->ra_seq && v->o.store_readahead > ra)
		ra = v->o.store_readahead;
	if ((win = malloc(cap * sizeof(*win))) == NULL) {
		release_locked(v, i);
		pthread_mutex_unlock(&v->mu);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	pthread_mutex_unlock(&v->mu);
	win[0] = i;
	/* read-ahead: the chunks that follow in the pack, while missing */
	for (j = i + 1; j < ver->n && n < cap; j++) {
		const struct cache_chunk *p = &ver->c[j - 1], *c = &ver->c[j];

		if (c->pack != p->pack || c->pack_off != p->pack_off + p->len ||
		    bytes + c->len > ra || cache_store_has(v->st, c->sha, c->len))
			break;
		win[n++] = j;
		bytes += c->len;
	}
	pthread_mutex_lock(&v->mu);
	for (k = 1; k < n; k++) {
		if (v->busy[win[k]] || v->mem[win[k]] != NULL)
			break;
		v->busy[win[k]] = 1;
	}
	n = k;
	pthread_mutex_unlock(&v->mu);
	src = pool_get(v, deadline - fetch_ms, &fe);
	if (src == NULL) {
		ret = fe.code ? fe.code : NI_EIO;
		/* nothing fetched: release the window */
		pthread_mutex_lock(&v->mu);
		for (k = 0; k < n; k++)
			v->busy[win[k]] = 0;
		pthread_cond_broadcast(&v->cv);
		pthread_mutex_unlock(&v->mu);
	} else {
		ret = vimg_fetch_chunks(v, src, win, n, CACHE_CHUNK_MAX, 1, NULL, NULL, &fe);
		pool_put(v, src);
	}
	free(win);
	if (ret != 0) {
		ni_err_set(e, NI_EIO, "%s: chunk at image offset %llu: %s", v->spec,
			   (unsigned long long)ver->c[i].img_off, fe.msg);
		pthread_mutex_lock(&v->mu);
		if (net_error(ret)) {
			v->offline_until = vimg_now_ms() + v->o.offline_ms;
			v->last = fe;
		}
		pthread_mutex_unlock(&v->mu);
		return NI_EIO;
	}
	return 0;
}

/* A referenced memory entry with chunk i's verified bytes. */
static int get_chunk(struct cache_vimage *v, size_t i, int64_t deadline,
		     struct ment **out, struct ni_err *e)
{
	const struct cache_chunk *c = &v->ver->c[i];
	struct timespec ts;
	uint8_t *buf;
	size_t cap;
	int ret, round, fetched = 0;

	for (round = 0; round < 4; round++) {
		pthread_mutex_lock(&v->mu);
		if (round == 0)
			vimg_ra_note(v, i);
		for (;;) {
			if (v->mem[i] != NULL) {
				*out = v->mem[i];
				(*out)->refs++;
				lru_unlink(v, *out);
				lru_front(v, *out);
				v->stats.hits += !fetched;
				pthread_mutex_unlock(&v->mu);
				return 0;
			}
			if (!v->busy[i])
				break;
			deadline_ts(deadline, &ts);
			if (pthread_cond_timedwait(&v->cv, &v->mu, &ts) == ETIMEDOUT) {
				pthread_mutex_unlock(&v->mu);
				return ni_err_set(e, NI_EIO, "%s: chunk at image offset %llu: timed out after %ld ms",
						  v->spec, (unsigned long long)c->img_off, v->o.wait_ms);
			}
		}
		v->busy[i] = 1;
		buf = vimg_buf_get(v, c->len, &cap);
		pthread_mutex_unlock(&v->mu);

		if (buf == NULL)
			ret = NI_ENOMEM;
		else
			ret = cache_store_get(v->st, c->sha, buf, c->len, NULL);
		if (ret == 0 || ret == NI_ENOMEM) {
			pthread_mutex_lock(&v->mu);
			if (ret == 0)
				vimg_mem_adopt(v, i, buf, c->len, cap);
			else
				vimg_buf_put(v, buf, cap);
			v->busy[i] = 0;
			pthread_cond_broadcast(&v->cv);
			pthread_mutex_unlock(&v->mu);
			if (ret != 0)
				return ni_err_set(e, ret, "out of memory");
			continue;   /* picked up from memory above */
		}
		/* missing, or damaged (and dropped): fetch it */
		pthread_mutex_lock(&v->mu);
		vimg_buf_put(v, buf, cap);
		v->stats.misses++;
		pthread_mutex_unlock(&v->mu);
		if ((ret = vimg_fetch_demand(v, i, deadline, e)) != 0)
			return ret;
		fetched = 1;
	}
	return ni_err_set(e, NI_EIO, "%s: chunk at image offset %llu: lost from memory",
			  v->spec, (unsigned long long)c->img_off);
}

int cache_vimage_read(struct cache_vimage *v, uint64_t off, void *buf,
		      size_t len, struct ni_err *e)
{
	const struct cache_version *ver = v->ver;
	int64_t deadline = vimg_now_ms() + v->o.wait_ms;
	uint8_t *out = buf;
	size_t i, done = 0;
	int ret = 0;

	if (off > ver->image_size || len > ver->image_size - off)
		return ni_err_set(e, NI_EINVAL, "%s: read of %zu bytes at %llu past the image's end",
				  v->spec, len, (unsigned long long)off);
	if (len == 0)
		return 0;
	i = cache_version_find(ver, off);
	while (done < len) {
		const struct cache_chunk *c = &ver->c[i];
		uint64_t in = off + done - c->img_off;
		size_t take = (size_t)(c->len - in) < len - done ? (size_t)(c->len - in) : len - done;
		struct ment *m = NULL;

		if ((ret = get_chunk(v, i, deadline, &m, e)) != 0)
			break;
		memcpy(out + done, m->data + in, take);
		mem_release(v, m);
		done += take;
		i++;
	}
	pthread_mutex_lock(&v->mu);
	if (ret == 0) {
		v->stats.bytes_read += len;
	} else {
		v->stats.errors++;
		if (e != NULL)
			v->last = *e;
	}
	pthread_mutex_unlock(&v->mu);
	return ret;
}

void cache_vimage_last_error(struct cache_vimage *v, struct ni_err *e)
{
	pthread_mutex_lock(&v->mu);
	*e = v->last;
	pthread_mutex_unlock(&v->mu);
}

/* ---- counters, closing ---- */

void cache_vimage_stats(struct cache_vimage *v, struct cache_vimage_stats *s)
{
	pthread_mutex_lock(&v->mu);
	*s = v->stats;
	pthread_mutex_unlock(&v->mu);
}

int cache_vimage_flush_stats(struct cache_vimage *v, struct ni_err *e)
{
	struct cache_store_counts c;
	struct cache_vimage_stats now;
	int ret;

	pthread_mutex_lock(&v->mu);
	now = v->stats;
	c.hits = now.hits - v->flushed.hits;
	c.misses = now.misses - v->flushed.misses;
	c.bytes_fetched = now.bytes_fetched - v->flushed.bytes_fetched;
	c.bytes_read = now.bytes_read - v->flushed.bytes_read;
	pthread_mutex_unlock(&v->mu);
	if (c.hits == 0 && c.misses == 0 && c.bytes_fetched == 0 && c.bytes_read == 0)
		return 0;
	ret = cache_store_add_counts(v->st, v->ver->name, v->ver->version, &c, e);
	if (ret == 0) {
		pthread_mutex_lock(&v->mu);
		v->flushed = now;
		pthread_mutex_unlock(&v->mu);
	}
	return ret;
}

static void drop_ref(struct cache_vimage *v)
{
	int i, last;

	pthread_mutex_lock(&v->mu);
	last = --v->refs == 0;
	pthread_mutex_unlock(&v->mu);
	if (!last)
		return;
	vimg_prefetch_stop(v);
	vimg_ra_stop(v);
	(void)cache_vimage_flush_stats(v, NULL);
	for (i = 0; v->pool != NULL && i < v->o.fetchers; i++)
		vsrc_close(&v->pool[i]);
	free(v->pool);
	if (v->bulk_open)
		vsrc_close(&v->bulk);
	mem_free_all(v);
	free(v->mem);
	free(v->busy);
	free(v->queue);
	free(v->repo);
	cache_version_free(v->ver);
	pthread_cond_destroy(&v->cv);
	pthread_cond_destroy(&v->q_cv);
	pthread_cond_destroy(&v->q_idle);
	pthread_cond_destroy(&v->ra_cv);
	pthread_mutex_destroy(&v->mu);
	pthread_mutex_destroy(&v->bulk_mu);
	free(v);
}

void cache_vimage_close(struct cache_vimage *v)
{
	if (v == NULL)
		return;
	/* no more background work once the opener is gone */
	vimg_prefetch_stop(v);
	vimg_ra_stop(v);
	(void)cache_vimage_flush_stats(v, NULL);
	drop_ref(v);
}
