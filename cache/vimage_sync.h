/* vimage_sync.h: `netimg sync`'s work: make one resolved version fully
 * available offline in the cache. The channel's resolution (the signed
 * pointer, serials) is the caller's: it hands over NAME@VERSION and the
 * manifest hash the pointer names. */
#ifndef CACHE_VIMAGE_SYNC_H
#define CACHE_VIMAGE_SYNC_H

#include "cache/hot.h"
#include "cache/image.h"
#include "cache/store.h"
#include "cache/vimage.h"

struct cache_sync_result {
	uint64_t image_size;
	uint64_t total;           /* the version's distinct chunks' bytes */
	uint64_t cached;          /* of which the cache already had */
	uint64_t fetched;         /* chunk bytes fetched */
	uint64_t meta_fetched;    /* manifest, index and locations fetched */
	uint64_t requests;        /* range requests for chunks */
	size_t chunks_fetched;
	char kept[300];           /* NAME@VERSION kept pinned for rollback, or "" */
	/* the hot set (cache/hot.h), fetched first: has_hot is 0 when the
	 * version has none; hot_ignored says why one was not used (a record
	 * or list that failed its checks), or is "" */
	int has_hot;
	size_t hot_listed;        /* files in the list */
	struct cache_hot_result hot;
	char hot_ignored[1024];
};

/* Sync rq->name@rq->version (rq->manifest_sha256: the pointer's hash, or
 * NULL; rq->out is ignored) from o->repo with o->key:
 *   1. its metadata, local first, verified;
 *   2. the pin check: refused with NI_ENOSPC and nothing changed when the
 *      versions pinned afterwards (this one, the one of the same name
 *      pinned last, the other names' pins) exceed the quota; the older
 *      versions of the name are unpinned;
 *   3. the hot set first, when the version has one: the metadata tables'
 *      chunks, then its files' in the list's order (a hot attachment that
 *      fails its checks is ignored: r->hot_ignored);
 *   4. every chunk the cache holds re-hashed, the rest fetched as
 *      coalesced ranges of packs (progress: bytes done of total);
 *   5. syncfs, then the version pinned (the previous one kept).
 * A sync killed half-way leaves verified chunks only; run it again. */
int cache_sync(struct cache_store *st, const struct cache_image_req *rq,
	       const struct cache_vimage_opts *o, cache_vimage_progress progress,
	       void *user, struct cache_sync_result *r, struct ni_err *e);

#endif
