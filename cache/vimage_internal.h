/* vimage_internal.h: what the vimage files share (not for other modules). */
#ifndef CACHE_VIMAGE_INTERNAL_H
#define CACHE_VIMAGE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "cache/source.h"
#include "cache/vimage.h"

/* Where chunks and metadata come from: a folder (cache_source), or
 * mirrors through a fetcher of our own, whose options bound each call. */
struct vsrc {
	struct cache_source *local;
	struct cache_fetcher *f;
	int busy;
};

int vsrc_open(struct vsrc *s, const char *spec, const struct cache_fetch_opts *o,
	      struct ni_err *e);
void vsrc_close(struct vsrc *s);
/* The caller's bandwidth cap (o->max_recv_bps) onto fetch options. */
void vimg_fetch_cap(struct cache_fetch_opts *fo, const struct cache_vimage_opts *o);
int vsrc_get(struct vsrc *s, const char *rel, size_t max, uint8_t **out,
	     size_t *len, struct ni_err *e);
/* Ranges of rel, streamed to st (cache_fetch_ranges_stream). */
int vsrc_ranges(struct vsrc *s, const char *rel, const struct cache_range *r,
		size_t n, const struct cache_range_stream *st, struct ni_err *e);

/* vimage_meta.c: NAME@VERSION's manifest, chunk index and location file
 * from the repository, as exact bytes for cache_version_load (which
 * checks them). The index comes as a delta from the index of a version
 * of the same name the cache holds pinned when the repository has one
 * and it rebuilds the signed bytes; else whole. *fetched: bytes received. */
int vimg_fetch_meta(struct cache_store *st, struct vsrc *src,
		    const struct cache_vimage_opts *o,
		    struct cache_version_raw *raw, uint64_t *fetched,
		    struct ni_err *e);

#define VIMG_SPARE_MAX 16
#ifndef VIMG_RA_THREADS
#define VIMG_RA_THREADS 2
#endif

/* A verified chunk in memory. */
struct ment {
	size_t idx;
	uint8_t *data;
	size_t len, cap;            /* cap: the buffer's size (vimg_buf_get) */
	int refs;
	struct ment *prev, *next;   /* LRU list, most recent first */
};

struct cache_vimage {
	sqfs_file_t base;           /* first: the sqfs_file_t is the image */
	struct cache_store *st;
	struct cache_version *ver;
	struct cache_vimage_opts o;
	char *repo;
	char spec[160];             /* NAME@VERSION */

	pthread_mutex_t mu;         /* everything below */
	pthread_cond_t cv;          /* a chunk stopped being busy; a fetcher freed */
	int refs;
	uint8_t *busy;              /* per chunk: being loaded or fetched */
	struct ment **mem;          /* per chunk */
	struct ment *lru_head, *lru_tail;
	size_t mem_used;
	/* buffers of dropped chunks, for the next load (vimg_buf_get) */
	struct { uint8_t *p; size_t cap; } spare[VIMG_SPARE_MAX];
	int n_spare;
	size_t spare_bytes;
	size_t out_bytes;           /* buffers handed out, not yet back */
	size_t buf_uniform;         /* every buffer's size, or 0: each its own */
	/* read-ahead from the store (vimage_ra.c) */
	pthread_t ra_thread[VIMG_RA_THREADS];
	pthread_cond_t ra_cv;       /* a window to load, or ra_stop */
	int ra_started, ra_stop, ra_have_last;
	int ra_seq;                 /* the last move between chunks was to the next */
	size_t ra_last;             /* the chunk a reader asked for last */
	size_t ra_next, ra_end;     /* still to load: [ra_next, ra_end) */
	size_t ra_advised;          /* the kernel was told to read up to here */
	struct vsrc *pool;          /* demand fetchers, opened lazily */
	int n_pool;
	int64_t offline_until;      /* monotonic ms */
	struct ni_err last;
	struct cache_vimage_stats stats, flushed;

	/* the bulk source (fill, prefetch), one call at a time */
	pthread_mutex_t bulk_mu;
	struct vsrc bulk;
	int bulk_open;

	/* prefetch */
	pthread_t thread;
	int thread_started, stop;
	size_t *queue, q_head, q_len, q_cap;
	int q_working;
	struct ni_err q_err;
	pthread_cond_t q_cv;        /* queue grew, or stop */
	pthread_cond_t q_idle;      /* queue empty and idle */

	/* the hot set's background prefetch (vimage_hot.c); stops with stop */
	pthread_t hot_thread;
	int hot_started;
	void (*hot_log)(void *user, const char *line);
	void *hot_user;
};

int64_t vimg_now_ms(void);
/* Under mu: a buffer for a chunk of len bytes (*cap: its size), or NULL.
 * Chunk buffers come and go at the rate of the reads (a 256 MiB read
 * loads 256 MiB of chunks through 8 MiB of memory): a fresh allocation
 * each time costs a page fault and a zeroed page per 4 KiB, more than
 * the read itself. So the buffers of dropped chunks are kept and reused,
 * and a load that would take memory over mem_bytes reuses the least
 * recently used chunk's instead; the spares count in mem_bytes. */
uint8_t *vimg_buf_get(struct cache_vimage *v, size_t len, size_t *cap);
/* Under mu: gives a buffer from vimg_buf_get back (kept or freed). */
void vimg_buf_put(struct cache_vimage *v, uint8_t *p, size_t cap);
/* Under mu: keeps a verified chunk in memory, taking data (from
 * vimg_buf_get, cap bytes) over. Returns its entry, or NULL when data was
 * given back instead (already in memory, or no memory for the entry). */
struct ment *vimg_mem_adopt(struct cache_vimage *v, size_t idx, uint8_t *data,
			    size_t len, size_t cap);
/* Under mu: a reader asks for chunk i; a sequential read starts or moves
 * the store read-ahead window (vimage_ra.c). */
void vimg_ra_note(struct cache_vimage *v, size_t i);
/* Chunk i is marked busy by the caller and is not in the store: fetches
 * it (and the missing chunks after it in its pack, up to the read-ahead),
 * verified, into the store and memory. Chunk i is no longer busy when it
 * returns, whatever happened. */
int vimg_fetch_demand(struct cache_vimage *v, size_t i, int64_t deadline,
		      struct ni_err *e);
/* Stops the read-ahead thread (not under mu). */
void vimg_ra_stop(struct cache_vimage *v);
/* Opens the bulk source if needed (caller holds bulk_mu). */
int vimg_bulk_source(struct cache_vimage *v, struct ni_err *e);

/* Fetches chunks idx[0..n) (marked busy by the caller, absent from the
 * store) through src: grouped by pack, coalesced into ranges of at most
 * max_range bytes; each chunk checked against the index, then stored
 * (and kept in memory when keep_mem). Clears their busy marks, whatever
 * happens. progress (may be NULL) gets each accepted chunk's length. */
int vimg_fetch_chunks(struct cache_vimage *v, struct vsrc *src, size_t *idx,
		      size_t n, size_t max_range, int keep_mem,
		      void (*progress)(void *user, uint64_t len), void *user,
		      struct ni_err *e);

void vimg_prefetch_stop(struct cache_vimage *v);

#endif
