/* hot.h: a client using a version's hot set (images/hot.h): the files the
 * version touches first, attached by `netimg hot` as the attachment of
 * kind "hot". The attachment is verified like any other (cache/attach.h:
 * signed record naming the version's manifest hash, then the blob's hash)
 * and never trusted otherwise; a version without one has no hot set.
 * Its files are mapped to the version's chunks through libsquashfs, read
 * through the cache's image (cache/vimage.h): first the chunks of the
 * metadata tables, then those of each file in the list's order.
 *   - sync fetches those first (cache_vimage_hot_fill), then the rest;
 *   - a mount of a version not fully cached prefetches them in a
 *     background thread (cache_vimage_hot_start), stopped by
 *     cache_vimage_close. */
#ifndef CACHE_HOT_H
#define CACHE_HOT_H

#include <stddef.h>
#include <stdint.h>

#include "cache/vimage.h"
#include "common/err.h"
#include "images/hot.h"

/* The version's verified hot list. NI_ENOENT (e set): it has none;
 * NI_EINVAL or NI_EHASH: a record or blob that failed its checks, or a
 * list that does not parse (never used); another error: the repository
 * could not be read. */
int cache_hot_get(struct cache_vimage *v, struct img_hot *h, struct ni_err *e);

struct cache_hot_result {
	size_t files;             /* the list's files found in the image */
	size_t chunks;            /* distinct chunks of the metadata and files */
	uint64_t bytes;           /* their bytes */
	uint64_t fetched;         /* of which fetched now */
	uint64_t requests;        /* range requests */
	size_t chunks_fetched;
};

/* Fetches, when missing, the metadata chunks then the chunks of h's files
 * in h's order (coalesced only where that keeps the order), through the
 * bulk source, in requests of up to 8 MiB. max_bytes (0: no limit; a
 * mount's prefetch) bounds the files' chunks taken, and then requests
 * are kept to 1 MiB so that closing the image stops it sooner. progress
 * (may be NULL) gets each fetched chunk's length. */
int cache_vimage_hot_fill(struct cache_vimage *v, const struct img_hot *h,
			  uint64_t max_bytes,
			  void (*progress)(void *user, uint64_t len), void *user,
			  struct cache_hot_result *r, struct ni_err *e);

/* 1 when the store holds every chunk of the version (no hot set needed,
 * and none is asked for), else 0. A stat per chunk. */
int cache_vimage_complete(struct cache_vimage *v);

/* One line for a log (no newline), from the background thread. */
typedef void (*cache_hot_log)(void *user, const char *line);

/* Starts the background prefetch of the hot set for a mount: nothing when
 * every chunk is cached already (no request at all) or no repository was
 * given; else the attachment (none: nothing to do), then
 * cache_vimage_hot_fill in small requests, bounded by half the cache's
 * quota, stopping between requests when the image closes. Its outcome
 * (done, or why the hot set was ignored) is one line to log. */
int cache_vimage_hot_start(struct cache_vimage *v, cache_hot_log log, void *user,
			   struct ni_err *e);

#endif
