/* store_internal.h: what the store's files share (not for other modules). */
#ifndef CACHE_STORE_INTERNAL_H
#define CACHE_STORE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "cache/store.h"

struct cache_store {
	char *dir;
	int dir_fd;              /* DIR */
	int chunks_fd;           /* DIR/chunks */
	int lock_fd;             /* DIR/lock: flock; holds the usage count */
	pthread_mutex_t mu;      /* flock is per open file: threads queue here */
	uint64_t quota;
	uint8_t made[256];       /* chunks/XX known to exist */
	int no_tmpfile;          /* O_TMPFILE unsupported here: named temps */
	time_t full_until;       /* disk full: puts fail at once until then */
};

/* Takes / releases the cache's lock (the mutex, then the flock). */
int store_lock(struct cache_store *s, struct ni_err *e);
void store_unlock(struct cache_store *s);
/* Under the lock: the usage count kept in the lock file. */
uint64_t store_usage_read(struct cache_store *s);
void store_usage_write(struct cache_store *s, uint64_t v);
/* Under the lock: evicts down to target (see cache_store_evict). */
int store_evict_locked(struct cache_store *s, uint64_t target,
		       struct cache_store_report *r, struct ni_err *e);

/* "chunks/ab/abcd..." for sha (buf of 3 + 1 + 64 + 1 bytes at least). */
void store_chunk_rel(const uint8_t *sha, char *buf, size_t cap);
/* Removes rel (relative to chunks/) if it is still the file st says,
 * and takes its size off the usage count. */
void store_drop_chunk(struct cache_store *s, const char *rel,
		      const struct stat *st);

/* state.json, under the lock: loaded (an empty state when missing or
 * unreadable) and saved atomically. */
json_t *store_state_load(struct cache_store *s);
int store_state_save(struct cache_store *s, json_t *st, struct ni_err *e);
/* state's record for NAME@VERSION, created when create is set. */
json_t *store_state_version(json_t *st, const char *name, const char *version,
			    int create);

/* The cached versions (from versions/NAME/VERSION/manifest): a JSON
 * array of [name, version]. */
json_t *store_meta_list(struct cache_store *s);
/* Loads a cached version's metadata, checked without a key. */
int store_meta_load(struct cache_store *s, const char *name,
		    const char *version, struct cache_version **v,
		    struct ni_err *e);
/* The bytes of a cached version's metadata files. */
uint64_t store_meta_bytes(struct cache_store *s, const char *name,
			  const char *version);
/* Whether a sync holds NAME@VERSION's lease. */
int store_meta_leased(struct cache_store *s, const char *name,
		      const char *version);
/* Removes a version's metadata folder. */
void store_meta_remove(struct cache_store *s, const char *name,
		       const char *version);

/* A set of chunk hashes with lengths (sorted array, for pins). */
struct store_set {
	struct store_set_item {
		uint8_t sha[NI_SHA256_LEN];
		uint64_t len;
	} *v;
	size_t n, cap;
	uint64_t bytes;          /* after store_set_seal: distinct bytes */
};
int store_set_add_version(struct store_set *set, const struct cache_version *v);
void store_set_seal(struct store_set *set);
int store_set_has(const struct store_set *set, const uint8_t *sha);
void store_set_free(struct store_set *set);

#endif
