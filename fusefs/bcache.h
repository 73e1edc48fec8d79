/* bcache.h: decoded data and fragment blocks shared by every thread of a
 * mount, keyed by where the block starts in the image. Bounded in bytes,
 * least recently used first out. A block being decoded is in the table
 * too, so threads that want it at once wait for the one decoding it
 * instead of reading and decoding it again (with the cache's sqfs_file_t
 * that would be a second fetch). A block whose read failed leaves the
 * table: nothing of a failed read is kept. */
#ifndef FUSEFS_BCACHE_H
#define FUSEFS_BCACHE_H

#include <stddef.h>
#include <stdint.h>

struct ffs_bcache;

struct ffs_blk {
	uint64_t key;
	size_t len;                  /* bytes of data once ready */
	const uint8_t *data;
	/* private */
	struct ffs_blk *hnext, *prev, *next;
	int refs, state, err;
};

int ffs_bcache_new(struct ffs_bcache **out, size_t max_bytes, size_t blk_cap);
void ffs_bcache_free(struct ffs_bcache *bc);

/* Returns 0 with *out a ready block (a hit, or another thread decoded it
 * meanwhile); 1 with *out a new block the caller must fill (buffer from
 * ffs_blk_buf, blk_cap bytes) and hand to ffs_bcache_done; or -errno (the
 * error of the thread that was decoding it, or -ENOMEM). Every block
 * returned must be given back with ffs_bcache_put. */
int ffs_bcache_get(struct ffs_bcache *bc, uint64_t key, struct ffs_blk **out);
uint8_t *ffs_blk_buf(struct ffs_blk *b);
/* Publishes a block filled with len bytes (err 0), or drops it (err < 0:
 * the waiting threads get err). The caller still holds its reference. */
void ffs_bcache_done(struct ffs_bcache *bc, struct ffs_blk *b, int err,
		     size_t len);
void ffs_bcache_put(struct ffs_bcache *bc, struct ffs_blk *b);

void ffs_bcache_counts(struct ffs_bcache *bc, uint64_t *hits, uint64_t *misses);

#endif
