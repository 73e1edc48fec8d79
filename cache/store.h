/* store.h: the local cache of a client (laptops, desktops, the agent): a
 * folder (default /var/cache/netimg) that several processes share.
 *
 *  - Chunks, named by their SHA-256, shared by every version that uses
 *    them. A chunk is written nameless (O_TMPFILE; a named temporary
 *    where the filesystem lacks it), fsynced (unless the caller batches
 *    durability: CACHE_PUT_NOSYNC, then cache_store_sync), then linked
 *    under its name,
 *    never over an existing one: a name never shows a half-written file.
 *    Every read hashes the chunk against its name; a chunk that is
 *    truncated or altered is removed and reported missing (NI_EHASH), so
 *    the caller fetches it again. Nothing read from disk is trusted.
 *  - Each cached version's manifest, chunk index and location file (exact
 *    bytes; verified again each time they are opened).
 *  - state.json: the quota, pins and per-version statistics, replaced
 *    atomically (temporary name, fsync, rename) under the cache's lock.
 *  - A quota (bytes) with LRU eviction of chunks (a chunk's mtime is its
 *    last use); chunks of pinned versions, and of a version being synced,
 *    are never evicted. Once the cache reaches its quota it stays within
 *    it: a write that takes it past evicts down to 99%.
 *
 * Concurrency (docs/architecture.md): metadata changes (state.json, the
 * shared usage count, eviction) take an exclusive flock(2) on DIR/lock,
 * briefly; chunk writes and reads take no lock (a link never replaces a
 * name, and removal checks the inode it means). A sync holds a shared
 * flock on its version's lease file, which eviction tests. All calls are
 * thread-safe. The module never prints. */
#ifndef CACHE_STORE_H
#define CACHE_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/store_version.h"
#include "common/err.h"

#define CACHE_STORE_DIR "/var/cache/netimg"
#define CACHE_STORE_QUOTA_DEFAULT (10ull << 30)

struct cache_store;

/* Opens (creating it if needed) the cache folder dir. quota 0 keeps the
 * cache's own quota (the last one set; CACHE_STORE_QUOTA_DEFAULT when
 * none was); another value sets it for every later user of the cache. */
int cache_store_open(struct cache_store **out, const char *dir,
		     uint64_t quota, struct ni_err *e);
void cache_store_close(struct cache_store *s);
const char *cache_store_dir(const struct cache_store *s);
uint64_t cache_store_quota(const struct cache_store *s);

/* ---- chunks ---- */

/* Asks the kernel to start reading the chunk's file (a read-ahead hint;
 * a missing chunk is fine). */
void cache_store_willneed(struct cache_store *s, const uint8_t *sha);

/* Reads chunk sha (len bytes) into buf and checks it against its name.
 * NI_ENOENT: not cached. NI_EHASH: it was there but bad (wrong length or
 * content): it has been removed. Marks the chunk used (LRU). */
int cache_store_get(struct cache_store *s, const uint8_t *sha, uint8_t *buf,
		    size_t len, struct ni_err *e);
/* Whether a chunk of that length is there (not hashed: a hint). */
int cache_store_has(struct cache_store *s, const uint8_t *sha, size_t len);
/* Adds a chunk the caller has verified against the signed index. One
 * already there is kept. NI_ENOSPC when the disk is full (nothing is
 * left behind; further puts fail at once for a few seconds). Evicts when
 * the cache goes past its quota. flags: CACHE_PUT_NOSYNC skips the
 * chunk's own fsync (a crash may then lose it or leave it damaged, which
 * every load detects; cache_store_sync makes a batch durable). */
#define CACHE_PUT_NOSYNC 1
int cache_store_put(struct cache_store *s, const uint8_t *sha,
		    const void *data, size_t len, int flags, struct ni_err *e);
/* Makes every chunk written so far durable (syncfs of the cache's
 * filesystem), before a version is pinned. */
int cache_store_sync(struct cache_store *s, struct ni_err *e);

/* ---- versions' metadata ---- */

/* The cached manifest, index and locations of NAME@VERSION (exact bytes,
 * unverified: give them to cache_version_load). NI_ENOENT when absent. */
int cache_store_meta_get(struct cache_store *s, const char *name,
			 const char *version, struct cache_version_raw *raw,
			 struct ni_err *e);
/* Keeps v's metadata (written atomically; the manifest last). */
int cache_store_meta_put(struct cache_store *s, const struct cache_version *v,
			 struct ni_err *e);
/* Marks NAME@VERSION as being synced until cache_store_unlease (or the
 * process's end): eviction leaves its chunks alone. */
int cache_store_lease(struct cache_store *s, const char *name,
		      const char *version, int *lease, struct ni_err *e);
void cache_store_unlease(int lease);

/* ---- pins and statistics (state.json) ---- */

/* Pins NAME@VERSION, whose metadata must be in the cache. keep == 1 is
 * sync's rule: of the other pinned versions of NAME, the one pinned last
 * stays pinned (for rollback) and older ones are unpinned. Refused with
 * NI_ENOSPC, changing nothing, when the pinned data (the distinct chunks
 * and metadata of every version pinned afterwards) would exceed the
 * quota. */
int cache_store_pin(struct cache_store *s, const char *name,
		    const char *version, int keep, struct ni_err *e);
/* Sync's first step, before it fetches anything: the same check for v
 * (not yet stored) with keep == 1; on success, unpins the older versions
 * of v's name that the pin will drop, so the quota has room. */
int cache_store_pin_prepare(struct cache_store *s, const struct cache_version *v,
			    struct ni_err *e);
int cache_store_unpin(struct cache_store *s, const char *name,
		      const char *version, struct ni_err *e);
/* The pinned versions, oldest pin first: a JSON array of {name, version,
 * pin} (pin: the pin's sequence number). */
int cache_store_pins(struct cache_store *s, json_t **out, struct ni_err *e);

/* Per-version counters, added to what the cache holds. */
struct cache_store_counts {
	uint64_t hits, misses;       /* chunk loads served locally / fetched */
	uint64_t bytes_fetched;      /* chunk bytes fetched */
	uint64_t bytes_read;         /* bytes read from the image */
};
int cache_store_add_counts(struct cache_store *s, const char *name,
			   const char *version,
			   const struct cache_store_counts *c, struct ni_err *e);

/* ---- maintenance ---- */

struct cache_store_report {
	uint64_t chunks, bytes;          /* chunks looked at, their bytes */
	uint64_t removed, removed_bytes; /* evicted or dropped as bad */
	uint64_t usage, pinned_bytes;    /* after */
	uint64_t bad_versions;           /* verify: metadata dropped */
};

/* Evicts least recently used unpinned chunks until the cache holds at
 * most target bytes (0: the quota). Also removes stale temporary files.
 * Pinned data over target stays (the report says how much). */
int cache_store_evict(struct cache_store *s, uint64_t target,
		      struct cache_store_report *r, struct ni_err *e);
/* Re-hashes every chunk and checks every version's metadata (with key,
 * its signature too), removing whatever is bad. */
int cache_store_verify(struct cache_store *s, EVP_PKEY *key,
		       struct cache_store_report *r, struct ni_err *e);
/* What is cached, as JSON: quota, usage, chunks; per version: pinned,
 * chunks and bytes cached out of its total, counters, last use. */
int cache_store_status(struct cache_store *s, json_t **out, struct ni_err *e);

#endif
