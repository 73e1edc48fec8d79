/* vimage.h: one version's image as a libsquashfs file (sqfs_file_t),
 * read through the local cache. read_at maps a byte range onto the
 * version's chunks (the signed index) and serves each chunk
 *   1. from memory (verified chunks recently used, bounded), else
 *   2. from the store (hashed against its name on every load), else
 *   3. from the repository: the chunk and the missing chunks that follow
 *      it in the same pack (read-ahead) in one range request, each
 *      checked against the signed index before use, then kept.
 * Thread-safe: FUSE's threads call read_at at once; two threads wanting
 * the same missing chunk fetch it once (the second waits for the first).
 * Offline: a read that needs the network waits at most wait_ms, then
 * fails (SQFS_ERROR_IO; cache_vimage_last_error says why); a version the
 * cache holds whole opens and reads with no request at all, its manifest
 * verified with the key from the cache's copy.
 *
 * The sqfs_file_t is reference counted: sqfs_copy gives another
 * reference to the same image, sqfs_destroy drops one; the image lives
 * until cache_vimage_close and the last sqfs_destroy. write_at and
 * truncate fail (SQFS_ERROR_UNSUPPORTED). */
#ifndef CACHE_VIMAGE_H
#define CACHE_VIMAGE_H

#include <openssl/evp.h>
#include <sqfs/io.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/fetch.h"
#include "cache/store.h"
#include "cache/store_version.h"
#include "common/err.h"

struct cache_vimage;

struct cache_vimage_opts {
	const char *repo;         /* a folder or URL[,URL...]; NULL: cache only */
	EVP_PKEY *key;            /* the repository's public key (required) */
	const char *name, *version;
	const char *manifest_sha256;  /* hex, from a verified pointer, or NULL */
	long wait_ms;             /* 10000: the longest a read waits on the network */
	long offline_ms;          /* 2000: after a failed fetch, reads that need
				     the network fail at once for this long */
	size_t mem_bytes;         /* 8 MiB: verified chunks kept in memory */
	size_t readahead;         /* 1 MiB: a miss fetches this much of the
				     missing chunks that follow it too
				     (store_readahead when the read is
				     sequential) */
	size_t store_readahead;   /* 4 MiB: a sequential read has this much of
				     the cached chunks that follow it loaded
				     from disk in the background (0: none) */
	int fetchers;             /* 4: fetches for reads at once */
	long long max_recv_bps;   /* 0: none; else the cap, in bytes a second,
				     on sync's and prefetch's fetching (the
				     agent's --bandwidth): one request at a
				     time then */
	/* when set, called with each chunk fetched and kept (its place in
	 * the image), in the order they arrive: `sync --verbose` */
	void (*trace)(void *user, uint64_t img_off, uint64_t len);
	void *trace_user;
};

void cache_vimage_opts_init(struct cache_vimage_opts *o);

/* Opens NAME@VERSION. Its metadata comes from the cache when it holds
 * it (and it verifies: signature with key, the pointer's manifest hash,
 * the index hash), with no request; else from repo, verified, then kept
 * in the cache. Nothing else is fetched until a read needs it. */
int cache_vimage_open(struct cache_vimage **out, struct cache_store *st,
		      const struct cache_vimage_opts *o, struct ni_err *e);

/* The version's verified metadata: local first, as cache_vimage_open
 * reads it, but kept nowhere (sync checks the quota first). *fetched is
 * the bytes fetched for it (0 when the cache had it). */
int cache_vimage_load_version(struct cache_store *st,
			      const struct cache_vimage_opts *o,
			      struct cache_version **v, uint64_t *fetched,
			      struct ni_err *e);
/* Opens over metadata the caller loaded and verified (taken over). */
int cache_vimage_open_version(struct cache_vimage **out, struct cache_store *st,
			      struct cache_version *v,
			      const struct cache_vimage_opts *o, struct ni_err *e);

/* A new reference to the image as a sqfs_file_t (sqfs_destroy it). */
sqfs_file_t *cache_vimage_file(struct cache_vimage *v);
const struct cache_version *cache_vimage_version(const struct cache_vimage *v);
/* read_at with an error message: 0, or NI_EIO / NI_EINVAL (out of
 * bounds) with e naming the version, the offset and the cause. */
int cache_vimage_read(struct cache_vimage *v, uint64_t off, void *buf,
		      size_t len, struct ni_err *e);
/* The last read error's message (for a daemon's log). */
void cache_vimage_last_error(struct cache_vimage *v, struct ni_err *e);

/* Background prefetch (the hot set first, then the rest): queues the
 * chunks under the image byte ranges r[0..n) (r NULL: every chunk) for a
 * background thread that fetches the missing ones in coalesced ranges
 * and keeps them. Reads wanting a chunk in flight wait for it. */
int cache_vimage_prefetch(struct cache_vimage *v, const struct cache_range *r,
			  size_t n, struct ni_err *e);
/* Waits for the queue to empty (at most timeout_ms; < 0: no limit).
 * Returns 0, NI_EIO with the first fetch error, or NI_ESTATE on timeout. */
int cache_vimage_prefetch_wait(struct cache_vimage *v, long timeout_ms,
			       struct ni_err *e);

/* Sync: makes every chunk cached, re-hashing those the store has (a bad
 * one is dropped and fetched) and fetching the rest as coalesced ranges
 * of the packs (up to 8 MiB a request). progress, when set, gets the
 * bytes and chunks fetched so far, out of the bytes the cache lacked. */
struct cache_vimage_fill {
	uint64_t total;           /* distinct chunks' bytes */
	uint64_t cached;          /* of which the cache had */
	uint64_t fetched;         /* chunk bytes fetched */
	uint64_t requests;
	size_t chunks_fetched;
};
typedef void (*cache_vimage_progress)(void *user, uint64_t done, uint64_t total,
				      uint64_t chunks);
int cache_vimage_fill(struct cache_vimage *v, cache_vimage_progress progress,
		      void *user, struct cache_vimage_fill *f, struct ni_err *e);

struct cache_vimage_stats {
	uint64_t hits;            /* chunk loads served from memory or disk */
	uint64_t misses;          /* chunk loads that needed a fetch */
	uint64_t bytes_fetched;   /* chunk bytes fetched (read-ahead included) */
	uint64_t bytes_read;      /* bytes handed to read_at's callers */
	uint64_t requests;        /* range requests */
	uint64_t errors;          /* reads that failed */
	uint64_t store_full;      /* chunks not kept: disk full */
	uint64_t readahead;       /* chunks loaded from the store ahead of reads */
	uint64_t mem_peak;        /* the most bytes of chunk buffers held at once */
};
void cache_vimage_stats(struct cache_vimage *v, struct cache_vimage_stats *s);
/* Adds the counters since the last flush to the cache's per-version
 * statistics (cache status). Close does it too. */
int cache_vimage_flush_stats(struct cache_vimage *v, struct ni_err *e);
/* Stops the prefetch thread, flushes the counters and drops the opener's
 * reference. */
void cache_vimage_close(struct cache_vimage *v);

#endif
