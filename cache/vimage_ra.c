/* vimage_ra.c: read-ahead from the cache's own disk.
 *
 * A chunk a read needs is loaded from the store in one go: read from its
 * file, hashed, kept in memory. Done by the reader, that is disk latency
 * and hashing in series with serving, chunk after chunk: a sequential read
 * of a fully cached version ran at a third of the speed of the same image
 * read from one file, where the kernel's read-ahead overlaps them.
 *
 * So when a reader moves from chunk i-1 to chunk i (a sequential read),
 * threads load the chunks that follow, up to store_readahead bytes, into
 * memory while the reader is served. Two of them, each taking the next
 * chunk of the window: reading and hashing one chunk after another in one
 * thread was what a sequential read waited on (4 x 64 MiB from a fully
 * cached 1 GiB version, page cache dropped: 0.37-0.43 s with one, 0.31-
 * 0.35 s with two; squashfuse_ll on the image file 0.3-0.6 s).
 *
 * A chunk the store lacks is fetched (with the ones after it, as a
 * reader's miss would), so a sequential read of a version not yet cached
 * has the next range on its way while the current one is served; a failed
 * fetch ends the window. Nothing that memory holds or someone is loading
 * (busy) is loaded again, and what is loaded is marked busy, so a reader
 * that needs it waits for it as for any load. Everything loaded is
 * verified as any load is. */
#include <stdlib.h>

#include "cache/vimage_internal.h"

static void *ra_main(void *arg)
{
	struct cache_vimage *v = arg;
	const struct cache_version *ver = v->ver;

	pthread_mutex_lock(&v->mu);
	while (!v->ra_stop) {
		size_t i, cap;
		uint8_t *buf;
		int ret;

		if (v->ra_next >= v->ra_end) {
			pthread_cond_wait(&v->ra_cv, &v->mu);
			continue;
		}
		if (v->ra_advised < v->ra_end) {
			/* the window's files read by the kernel at once, not
			 * one after the other as they are loaded */
			size_t a = v->ra_advised > v->ra_next ? v->ra_advised : v->ra_next;
			size_t b = v->ra_end;

			v->ra_advised = b;
			pthread_mutex_unlock(&v->mu);
			for (; a < b; a++)
				cache_store_willneed(v->st, ver->c[a].sha);
			pthread_mutex_lock(&v->mu);
			continue;
		}
		i = v->ra_next++;
		if (v->mem[i] != NULL || v->busy[i])
			continue;
		v->busy[i] = 1;
		buf = vimg_buf_get(v, ver->c[i].len, &cap);
		pthread_mutex_unlock(&v->mu);
		ret = buf == NULL ? NI_ENOMEM
				  : cache_store_get(v->st, ver->c[i].sha, buf, ver->c[i].len, NULL);
		pthread_mutex_lock(&v->mu);
		if (ret == 0) {
			vimg_mem_adopt(v, i, buf, ver->c[i].len, cap);
			buf = NULL;
			v->stats.readahead++;
		} else if (ret != NI_ENOMEM && v->repo != NULL && !v->ra_stop) {
			struct ni_err fe = { 0 };

			/* not in the store (or damaged and dropped): fetch it */
			vimg_buf_put(v, buf, cap);
			buf = NULL;
			pthread_mutex_unlock(&v->mu);
			ret = vimg_fetch_demand(v, i, vimg_now_ms() + v->o.wait_ms, &fe);
			pthread_mutex_lock(&v->mu);
			if (ret == 0)
				v->stats.readahead++;
			else
				v->ra_next = v->ra_end;
			continue;   /* vimg_fetch_demand cleared the busy mark */
		} else {
			v->ra_next = v->ra_end;   /* nothing to fetch from: stop */
		}
		v->busy[i] = 0;
		pthread_cond_broadcast(&v->cv);
		vimg_buf_put(v, buf, cap);
	}
	pthread_mutex_unlock(&v->mu);
	return NULL;
}

void vimg_ra_note(struct cache_vimage *v, size_t i)
{
	const struct cache_version *ver = v->ver;
	size_t end = i + 1;
	uint64_t bytes = 0;
	int seq = v->ra_have_last && i == v->ra_last + 1;

	if (i != v->ra_last || !v->ra_have_last)
		v->ra_seq = seq;
	v->ra_last = i;
	v->ra_have_last = 1;
	if (!seq || v->o.store_readahead == 0 || v->ra_stop)
		return;
	while (end < ver->n && bytes + ver->c[end].len <= v->o.store_readahead)
		bytes += ver->c[end++].len;
	if (end <= i + 1)
		return;
	if (v->ra_next < i + 1 || v->ra_next > end)
		v->ra_next = i + 1;
	v->ra_end = end;
	while (v->ra_started < VIMG_RA_THREADS) {
		if (pthread_create(&v->ra_thread[v->ra_started], NULL, ra_main, v) != 0)
			break;   /* fewer (or none: readers load what they need) */
		v->ra_started++;
	}
	pthread_cond_broadcast(&v->ra_cv);
}

void vimg_ra_stop(struct cache_vimage *v)
{
	int started, k;

	pthread_mutex_lock(&v->mu);
	v->ra_stop = 1;
	started = v->ra_started;
	v->ra_started = 0;
	pthread_cond_broadcast(&v->ra_cv);
	pthread_mutex_unlock(&v->mu);
	for (k = 0; k < started; k++)
		pthread_join(v->ra_thread[k], NULL);
}
