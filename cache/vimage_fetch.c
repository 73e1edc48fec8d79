/* vimage_fetch.c: fetching chunks as coalesced ranges of packs, each one
 * checked against the signed index before it is kept; the whole-version
 * fill that sync runs; the background prefetch thread. */
#include "cache/vimage_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BULK_RANGE (8u << 20)   /* a request, as cache/image.c coalesces */
#define BATCH 512               /* prefetch: chunks taken from the queue at once */

struct piece {
	size_t idx;
	uint32_t pack;
	uint64_t pack_off, len;
};

/* A range's progress through its pieces, for the attempt under way. */
struct rstate {
	size_t k;                  /* the piece whose bytes come now */
	uint64_t filled;           /* of it, gathered so far */
	uint8_t *buf;              /* its bytes (vimg_buf_get), or NULL */
	size_t cap;
	int bad;                   /* a piece failed its hash: the rest is ignored */
};

struct fctx {
	struct cache_vimage *v;
	struct piece *p;
	uint8_t *accepted;         /* per piece: checked and kept */
	const struct cache_range *r;   /* the current pack's ranges */
	size_t *first, *count;     /* per range of the current pack */
	struct rstate *rs;         /* per range of the current pack */
	int keep_mem, put_flags;
	void (*progress)(void *user, uint64_t len);
	void *user;
	struct ni_err bad;         /* why a range was rejected */
};

static int cmp_piece(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;

	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	return x->pack_off < y->pack_off ? -1 : x->pack_off > y->pack_off;
}

/* Piece k is whole in st->buf: checked against the index, then given to
 * memory (when keep_mem: readers waiting on it go on at once) and stored.
 * NI_EHASH: this mirror sent something else (x->bad says what). */
static int accept(struct fctx *x, size_t k, struct rstate *st)
{
	struct cache_vimage *v = x->v;
	const struct piece *p = &x->p[k];
	const struct cache_chunk *c = &v->ver->c[p->idx];
	const uint8_t *data = st->buf;
	struct ment *m = NULL;
	uint8_t d[NI_SHA256_LEN];
	int full = 0;

	ni_sha256_buf(st->buf, p->len, d);
	if (memcmp(d, c->sha, NI_SHA256_LEN) != 0)
		return ni_err_set(&x->bad, NI_EHASH,
				  "%s: chunk at image offset %llu (pack %.16s...): hash mismatch (tampered)",
				  v->spec, (unsigned long long)c->img_off, v->ver->packs[p->pack]);
	if (x->keep_mem) {
		pthread_mutex_lock(&v->mu);
		if ((m = vimg_mem_adopt(v, p->idx, st->buf, p->len, st->cap)) == NULL)
			m = v->mem[p->idx];
		if (m != NULL)
			m->refs++;
		pthread_cond_broadcast(&v->cv);
		pthread_mutex_unlock(&v->mu);
		st->buf = NULL;   /* memory's now (or given back) */
		data = m != NULL ? m->data : NULL;
	}
	/* a full disk only costs the cache the chunk: it is still served */
	if (data != NULL &&
	    cache_store_put(v->st, c->sha, data, p->len, x->put_flags, NULL) == NI_ENOSPC)
		full = 1;
	pthread_mutex_lock(&v->mu);
	if (m != NULL)
		m->refs--;
	x->accepted[k] = 1;
	v->busy[p->idx] = 0;
	v->stats.store_full += full;
	pthread_cond_broadcast(&v->cv);
	pthread_mutex_unlock(&v->mu);
	if (x->progress != NULL)
		x->progress(x->user, p->len);
	if (v->o.trace != NULL)
		v->o.trace(v->o.trace_user, c->img_off, p->len);
	return 0;
}

/* Bytes [off, off + len) of range r. Each piece is gathered into a
 * buffer of its own and kept as soon as it is whole and checked, so a
 * reader waits for its chunk, not for the whole range, and memory holds
 * a piece per range in flight. A retry (off 0) starts the range over;
 * pieces kept already are skipped. */
static int on_data(void *user, size_t r, uint64_t off, const uint8_t *in,
		   size_t len, char *msg, size_t cap)
{
	struct fctx *x = user;
	struct cache_vimage *v = x->v;
	struct rstate *st = &x->rs[r];

	if (off == 0) {
		st->k = x->first[r];
		st->filled = 0;
		st->bad = 0;
	}
	while (len > 0 && !st->bad) {
		const struct piece *p = &x->p[st->k];
		size_t take = p->len - st->filled < len ? (size_t)(p->len - st->filled) : len;

		if (!x->accepted[st->k]) {
			if (st->buf == NULL) {
				pthread_mutex_lock(&v->mu);
				st->buf = vimg_buf_get(v, p->len, &st->cap);
				pthread_mutex_unlock(&v->mu);
				if (st->buf == NULL) {
					snprintf(msg, cap, "out of memory");
					return NI_ENOMEM;
				}
			} else if (st->cap < p->len) {
				pthread_mutex_lock(&v->mu);
				vimg_buf_put(v, st->buf, st->cap);
				st->buf = vimg_buf_get(v, p->len, &st->cap);
				pthread_mutex_unlock(&v->mu);
				continue;
			}
			memcpy(st->buf + st->filled, in, take);
		}
		st->filled += take;
		in += take;
		len -= take;
		if (st->filled < p->len)
			break;
		if (!x->accepted[st->k] && accept(x, st->k, st) != 0)
			st->bad = 1;
		st->k++;
		st->filled = 0;
	}
	return 0;
}

static int on_done(void *user, size_t r, char *msg, size_t cap)
{
	struct fctx *x = user;
	struct cache_vimage *v = x->v;
	struct rstate *st = &x->rs[r];

	if (st->bad) {
		snprintf(msg, cap, "%s", x->bad.msg);
		return NI_EHASH;
	}
	pthread_mutex_lock(&v->mu);
	v->stats.bytes_fetched += x->r[r].len;
	pthread_mutex_unlock(&v->mu);
	return 0;
}

/* The pieces [a, b) lie in one pack: coalesce and fetch them. */
static int fetch_pack(struct fctx *x, struct vsrc *src, size_t a, size_t b,
		      size_t max_range, struct ni_err *e)
{
	struct cache_vimage *v = x->v;
	struct cache_range *r = calloc(b - a, sizeof(*r));
	struct cache_range_stream stream = { on_data, on_done, x };
	size_t n = 0, i;
	char rel[100];
	int ret;

	x->first = calloc(b - a, sizeof(size_t));
	x->count = calloc(b - a, sizeof(size_t));
	x->rs = calloc(b - a, sizeof(*x->rs));
	if (r == NULL || x->first == NULL || x->count == NULL || x->rs == NULL) {
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
		goto out;
	}
	for (i = a; i < b; i++) {
		const struct piece *p = &x->p[i];

		if (n > 0 && p->pack_off == r[n - 1].off + r[n - 1].len &&
		    r[n - 1].len + p->len <= max_range) {
			r[n - 1].len += p->len;
			x->count[n - 1]++;
			continue;
		}
		r[n].off = p->pack_off;
		r[n].len = p->len;
		x->first[n] = i;
		x->count[n] = 1;
		n++;
	}
	snprintf(rel, sizeof(rel), "packs/%s.pack", v->ver->packs[x->p[a].pack]);
	pthread_mutex_lock(&v->mu);
	v->stats.requests += n;
	pthread_mutex_unlock(&v->mu);
	x->bad.code = 0;
	x->r = r;
	ret = vsrc_ranges(src, rel, r, n, &stream, e);
	if (ret != 0 && x->bad.code != 0)
		*e = x->bad;   /* the last mirror's data was refused: say why */
out:
	if (x->rs != NULL) {
		pthread_mutex_lock(&v->mu);
		for (i = 0; i < n; i++)
			vimg_buf_put(v, x->rs[i].buf, x->rs[i].cap);
		pthread_mutex_unlock(&v->mu);
	}
	free(r);
	free(x->first);
	free(x->count);
	free(x->rs);
	x->first = x->count = NULL;
	x->rs = NULL;
	x->r = NULL;
	return ret;
}

int vimg_fetch_chunks(struct cache_vimage *v, struct vsrc *src, size_t *idx,
		      size_t n, size_t max_range, int keep_mem,
		      void (*progress)(void *user, uint64_t len), void *user,
		      struct ni_err *e)
{
	/* no fsync per chunk: every load hashes it, and sync makes the version
	 * durable (syncfs) before pinning it */
	struct fctx x = { .v = v, .keep_mem = keep_mem, .put_flags = CACHE_PUT_NOSYNC,
			  .progress = progress, .user = user };
	size_t a = 0, b, k;
	int ret = 0;

	if ((x.p = calloc(n + 1, sizeof(*x.p))) == NULL ||
	    (x.accepted = calloc(n + 1, 1)) == NULL) {
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	} else {
		pthread_mutex_lock(&v->mu);   /* locations may be refreshed */
		for (k = 0; k < n; k++) {
			const struct cache_chunk *c = &v->ver->c[idx[k]];

			x.p[k] = (struct piece){ idx[k], c->pack, c->pack_off, c->len };
		}
		pthread_mutex_unlock(&v->mu);
		qsort(x.p, n, sizeof(*x.p), cmp_piece);
		while (ret == 0 && a < n) {
			for (b = a + 1; b < n && x.p[b].pack == x.p[a].pack; b++)
				;
			ret = fetch_pack(&x, src, a, b, max_range, e);
			a = b;
		}
	}
	/* whatever was not delivered is no longer in flight */
	pthread_mutex_lock(&v->mu);
	for (k = 0; k < n; k++)
		v->busy[idx[k]] = 0;
	pthread_cond_broadcast(&v->cv);
	pthread_mutex_unlock(&v->mu);
	free(x.p);
	free(x.accepted);
	return ret;
}

int vimg_bulk_source(struct cache_vimage *v, struct ni_err *e)
{
	struct cache_fetch_opts fo;
	int ret;

	if (v->bulk_open)
		return 0;
	if (v->repo == NULL)
		return ni_err_set(e, NI_EIO, "%s: not fully cached, and no repository was given",
				  v->spec);
	cache_fetch_opts_init(&fo);
	vimg_fetch_cap(&fo, &v->o);
	if ((ret = vsrc_open(&v->bulk, v->repo, &fo, e)) != 0)
		return ret;
	v->bulk_open = 1;
	return 0;
}

/* ---- fill (sync) ---- */

struct fill_prog {
	cache_vimage_progress cb;
	void *user;
	uint64_t done, total;
	struct cache_vimage_fill *f;
};

static void fill_step(void *user, uint64_t len)
{
	struct fill_prog *fp = user;

	fp->done += len;
	fp->f->fetched += len;
	fp->f->chunks_fetched++;
	if (fp->cb != NULL)
		fp->cb(fp->user, fp->done, fp->total, fp->f->chunks_fetched);
}

static int cmp_sha_idx(const void *a, const void *b, void *arg)
{
	const struct cache_version *ver = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = memcmp(ver->c[x].sha, ver->c[y].sha, NI_SHA256_LEN);

	return c ? c : (x < y ? -1 : x > y);
}

/* The index of each distinct chunk, once. */
static size_t distinct(const struct cache_version *ver, size_t *out)
{
	size_t i, n = 0;

	for (i = 0; i < ver->n; i++)
		out[i] = i;
	qsort_r(out, ver->n, sizeof(*out), cmp_sha_idx, (void *)ver);
	for (i = 0; i < ver->n; i++)
		if (n == 0 || memcmp(ver->c[out[n - 1]].sha, ver->c[out[i]].sha, NI_SHA256_LEN) != 0)
			out[n++] = out[i];
	return n;
}

/* Re-reads the location file (a repository may have repacked), once. */
static int refresh_locations(struct cache_vimage *v, struct ni_err *e)
{
	char rel[200];
	uint8_t *buf = NULL;
	size_t len;
	int ret;

	snprintf(rel, sizeof(rel), "locations/%s/%s.json", v->ver->name, v->ver->version);
	if ((ret = vsrc_get(&v->bulk, rel, 256u << 20, &buf, &len, e)) != 0)
		return ret;
	pthread_mutex_lock(&v->mu);
	ret = cache_version_set_locations(v->ver, buf, len, e);
	pthread_mutex_unlock(&v->mu);
	if (ret == 0)
		(void)cache_store_meta_put(v->st, v->ver, NULL);
	return ret;
}

int cache_vimage_fill(struct cache_vimage *v, cache_vimage_progress progress,
		      void *user, struct cache_vimage_fill *f, struct ni_err *e)
{
	const struct cache_version *ver = v->ver;
	struct fill_prog fp = { progress, user, 0, 0, f };
	size_t *u = calloc(ver->n + 1, sizeof(size_t)), *miss, n, nm = 0, i;
	uint64_t req0, full0;
	uint8_t *buf = malloc(CACHE_CHUNK_MAX);
	int ret = 0, tries;

	memset(f, 0, sizeof(*f));
	f->total = ver->unique_bytes;
	if (u == NULL || buf == NULL) {
		free(u);
		free(buf);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	n = distinct(ver, u);
	miss = u;   /* filled in place: nm <= i */
	for (i = 0; i < n; i++) {
		const struct cache_chunk *c = &ver->c[u[i]];
		int have;

		pthread_mutex_lock(&v->mu);
		have = v->mem[u[i]] != NULL;
		pthread_mutex_unlock(&v->mu);
		if (!have)
			have = cache_store_get(v->st, c->sha, buf, c->len, NULL) == 0;
		if (have)
			f->cached += c->len;
		else
			miss[nm++] = u[i];
	}
	free(buf);
	fp.total = f->total - f->cached;
	pthread_mutex_lock(&v->bulk_mu);
	pthread_mutex_lock(&v->mu);
	req0 = v->stats.requests;
	full0 = v->stats.store_full;
	pthread_mutex_unlock(&v->mu);
	for (tries = 0; nm > 0 && tries < 2; tries++) {
		size_t k, left = 0;

		/* in flight for a reader of this image: it keeps it */
		pthread_mutex_lock(&v->mu);
		for (k = 0; k < nm; k++)
			if (!v->busy[miss[k]]) {
				v->busy[miss[k]] = 1;
				miss[left++] = miss[k];
			}
		pthread_mutex_unlock(&v->mu);
		nm = left;
		if ((ret = vimg_bulk_source(v, e)) != 0)
			break;
		ret = vimg_fetch_chunks(v, &v->bulk, miss, nm, BULK_RANGE, 0, fill_step, &fp, e);
		if (ret != NI_ENOENT || tries > 0)
			break;
		/* a pack is gone: the repository repacked; where are they now? */
		for (k = 0, left = 0; k < nm; k++)
			if (!cache_store_has(v->st, ver->c[miss[k]].sha, ver->c[miss[k]].len))
				miss[left++] = miss[k];
		nm = left;
		if (refresh_locations(v, NULL) != 0)
			break;
	}
	pthread_mutex_unlock(&v->bulk_mu);
	pthread_mutex_lock(&v->mu);
	f->requests = v->stats.requests - req0;
	full0 = v->stats.store_full - full0;
	pthread_mutex_unlock(&v->mu);
	free(u);
	if (ret == 0 && full0 > 0)
		ret = ni_err_set(e, NI_ENOSPC, "%s: disk full: %llu chunks of %s could not be kept",
				 cache_store_dir(v->st), (unsigned long long)full0, v->spec);
	return ret;
}

/* ---- background prefetch ---- */

static void *prefetch_main(void *arg)
{
	struct cache_vimage *v = arg;
	size_t batch[BATCH], n, k, m;
	struct ni_err e;
	int ret;

	pthread_mutex_lock(&v->mu);
	for (;;) {
		while (!v->stop && v->q_len == 0) {
			v->q_working = 0;
			pthread_cond_broadcast(&v->q_idle);
			pthread_cond_wait(&v->q_cv, &v->mu);
		}
		if (v->stop)
			break;
		v->q_working = 1;
		for (n = 0; n < BATCH && v->q_len > 0; v->q_len--)
			batch[n++] = v->queue[v->q_head++];
		if (v->q_len == 0)
			v->q_head = 0;
		pthread_mutex_unlock(&v->mu);

		for (k = 0, m = 0; k < n; k++) {
			const struct cache_chunk *c = &v->ver->c[batch[k]];

			if (!cache_store_has(v->st, c->sha, c->len))
				batch[m++] = batch[k];
		}
		pthread_mutex_lock(&v->mu);
		for (k = 0, n = 0; k < m; k++)
			if (!v->busy[batch[k]] && v->mem[batch[k]] == NULL) {
				v->busy[batch[k]] = 1;
				batch[n++] = batch[k];
			}
		pthread_mutex_unlock(&v->mu);
		ret = 0;
		memset(&e, 0, sizeof(e));
		if (n > 0) {
			pthread_mutex_lock(&v->bulk_mu);
			ret = vimg_bulk_source(v, &e);
			if (ret == 0)
				ret = vimg_fetch_chunks(v, &v->bulk, batch, n, BULK_RANGE, 0,
							NULL, NULL, &e);
			pthread_mutex_unlock(&v->bulk_mu);
			if (ret != 0) {
				pthread_mutex_lock(&v->mu);
				for (k = 0; k < n; k++)
					v->busy[batch[k]] = 0;
				pthread_cond_broadcast(&v->cv);
				pthread_mutex_unlock(&v->mu);
			}
		}
		pthread_mutex_lock(&v->mu);
		if (ret != 0) {
			if (v->q_err.code == 0)
				v->q_err = e;
			v->q_len = v->q_head = 0;   /* offline: give up the rest */
		}
	}
	v->q_working = 0;
	pthread_cond_broadcast(&v->q_idle);
	pthread_mutex_unlock(&v->mu);
	return NULL;
}

int cache_vimage_prefetch(struct cache_vimage *v, const struct cache_range *r,
			  size_t n, struct ni_err *e)
{
	const struct cache_version *ver = v->ver;
	size_t i, j, add = 0;
	size_t *tmp = NULL;
	int ret = 0;

	if (v->repo == NULL)
		return 0;   /* nothing to fetch from: reads say so themselves */
	if (r == NULL) {
		if ((tmp = malloc((ver->n + 1) * sizeof(*tmp))) == NULL)
			return ni_err_set(e, NI_ENOMEM, "out of memory");
		for (i = 0; i < ver->n; i++)
			tmp[add++] = i;
	} else {
		for (i = 0; i < n; i++) {
			size_t a, b;

			if (r[i].len == 0 || r[i].off >= ver->image_size)
				continue;
			a = cache_version_find(ver, r[i].off);
			b = cache_version_find(ver, r[i].off + r[i].len - 1 < ver->image_size
						    ? r[i].off + r[i].len - 1 : ver->image_size - 1);
			for (j = a; j <= b; j++) {
				size_t *nt = tmp;

				if (add % 1024 == 0 &&
				    (nt = realloc(tmp, (add + 1024) * sizeof(*tmp))) == NULL) {
					free(tmp);
					return ni_err_set(e, NI_ENOMEM, "out of memory");
				}
				tmp = nt;
				tmp[add++] = j;
			}
		}
	}
	pthread_mutex_lock(&v->mu);
	if (v->q_head > 0) {
		memmove(v->queue, v->queue + v->q_head, v->q_len * sizeof(*v->queue));
		v->q_head = 0;
	}
	if (v->q_len + add > v->q_cap) {
		size_t *nq = realloc(v->queue, (v->q_len + add) * sizeof(*nq));

		if (nq == NULL)
			ret = ni_err_set(e, NI_ENOMEM, "out of memory");
		else {
			v->queue = nq;
			v->q_cap = v->q_len + add;
		}
	}
	if (ret == 0 && add > 0) {
		memcpy(v->queue + v->q_len, tmp, add * sizeof(*tmp));
		v->q_len += add;
		v->q_working = 1;
		if (!v->thread_started) {
			if (pthread_create(&v->thread, NULL, prefetch_main, v) != 0)
				ret = ni_err_set(e, NI_ENOMEM, "cannot start the prefetch thread");
			else
				v->thread_started = 1;
		}
		pthread_cond_signal(&v->q_cv);
	}
	pthread_mutex_unlock(&v->mu);
	free(tmp);
	return ret;
}

int cache_vimage_prefetch_wait(struct cache_vimage *v, long timeout_ms,
			       struct ni_err *e)
{
	int64_t end = vimg_now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	struct timespec ts;
	int ret = 0;

	pthread_mutex_lock(&v->mu);
	while (v->thread_started && (v->q_len > 0 || v->q_working)) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&v->q_idle, &v->mu);
			continue;
		}
		ts.tv_sec = end / 1000;
		ts.tv_nsec = (end % 1000) * 1000000;
		if (pthread_cond_timedwait(&v->q_idle, &v->mu, &ts) == ETIMEDOUT) {
			ret = ni_err_set(e, NI_ESTATE, "%s: prefetch still running after %ld ms",
					 v->spec, timeout_ms);
			break;
		}
	}
	if (ret == 0 && v->q_err.code != 0) {
		if (e != NULL)
			*e = v->q_err;
		ret = v->q_err.code;
		memset(&v->q_err, 0, sizeof(v->q_err));
	}
	pthread_mutex_unlock(&v->mu);
	return ret;
}

void vimg_prefetch_stop(struct cache_vimage *v)
{
	int started;

	pthread_mutex_lock(&v->mu);
	v->stop = 1;
	started = v->thread_started;
	v->thread_started = 0;
	pthread_cond_broadcast(&v->q_cv);
	pthread_mutex_unlock(&v->mu);
	if (started)
		pthread_join(v->thread, NULL);
	pthread_mutex_lock(&v->mu);
	started = v->hot_started;
	v->hot_started = 0;
	pthread_mutex_unlock(&v->mu);
	if (started)
		pthread_join(v->hot_thread, NULL);
}
