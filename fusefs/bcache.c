/* bcache.c: the shared block cache (see bcache.h). One mutex guards the
 * table; it is held for lookups and list moves only, never while a block
 * is read or decoded. */
#include "fusefs/bcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define NBUCKETS 1024

enum { LOADING, READY, FAILED };

struct ffs_bcache {
	pthread_mutex_t mu;
	pthread_cond_t cv;           /* a block finished loading */
	struct ffs_blk *bucket[NBUCKETS];
	struct ffs_blk *lru_head, *lru_tail;   /* head: most recent */
	struct ffs_blk *spare;       /* dropped blocks, for reuse (via hnext) */
	size_t n_spare;
	size_t bytes, max_bytes, blk_cap;
	uint64_t hits, misses;
};

static size_t slot(uint64_t key)
{
	key ^= key >> 29;
	key *= 0xbf58476d1ce4e5b9ULL;
	key ^= key >> 32;
	return (size_t)(key % NBUCKETS);
}

int ffs_bcache_new(struct ffs_bcache **out, size_t max_bytes, size_t blk_cap)
{
	struct ffs_bcache *bc = calloc(1, sizeof(*bc));

	if (bc == NULL)
		return -ENOMEM;
	pthread_mutex_init(&bc->mu, NULL);
	pthread_cond_init(&bc->cv, NULL);
	bc->max_bytes = max_bytes;
	bc->blk_cap = blk_cap;
	*out = bc;
	return 0;
}

void ffs_bcache_free(struct ffs_bcache *bc)
{
	struct ffs_blk *b, *n;

	if (bc == NULL)
		return;
	for (b = bc->lru_head; b != NULL; b = n) {
		n = b->next;
		free(b);
	}
	for (b = bc->spare; b != NULL; b = n) {
		n = b->hnext;
		free(b);
	}
	pthread_cond_destroy(&bc->cv);
	pthread_mutex_destroy(&bc->mu);
	free(bc);
}

uint8_t *ffs_blk_buf(struct ffs_blk *b)
{
	return (uint8_t *)(b + 1);
}

static void lru_unlink(struct ffs_bcache *bc, struct ffs_blk *b)
{
	if (b->prev) b->prev->next = b->next; else bc->lru_head = b->next;
	if (b->next) b->next->prev = b->prev; else bc->lru_tail = b->prev;
	b->prev = b->next = NULL;
}

static void lru_push(struct ffs_bcache *bc, struct ffs_blk *b)
{
	b->prev = NULL;
	b->next = bc->lru_head;
	if (bc->lru_head) bc->lru_head->prev = b; else bc->lru_tail = b;
	bc->lru_head = b;
}

static void hash_unlink(struct ffs_bcache *bc, struct ffs_blk *b)
{
	struct ffs_blk **pp = &bc->bucket[slot(b->key)];

	while (*pp != NULL && *pp != b)
		pp = &(*pp)->hnext;
	if (*pp == b)
		*pp = b->hnext;
	b->hnext = NULL;
}

/* Blocks come and go at the rate of the reads: a block dropped is kept
 * for the next one rather than freed, so the allocator's heap is not
 * left full of holes between the small allocations (which it could not
 * give back: 9 of 18 MiB with 8 readers of a 1 GiB image). A few are
 * enough: a block is dropped when a new one comes in. */
#define MAX_SPARE 4

/* Drops one reference, with mu held; the table holds one of its own
 * while the block is in it. */
static void unref(struct ffs_bcache *bc, struct ffs_blk *b)
{
	if (--b->refs != 0)
		return;
	if (bc->n_spare < MAX_SPARE) {
		b->hnext = bc->spare;
		bc->spare = b;
		bc->n_spare++;
	} else {
		free(b);
	}
}

/* Evicts unused ready blocks from the cold end until under the bound. */
static void evict(struct ffs_bcache *bc)
{
	struct ffs_blk *b = bc->lru_tail, *p;

	while (b != NULL && bc->bytes > bc->max_bytes) {
		p = b->prev;
		if (b->state == READY && b->refs == 1) {
			hash_unlink(bc, b);
			lru_unlink(bc, b);
			bc->bytes -= bc->blk_cap;
			unref(bc, b);
		}
		b = p;
	}
}

int ffs_bcache_get(struct ffs_bcache *bc, uint64_t key, struct ffs_blk **out)
{
	struct ffs_blk *b;
	int ret;

	pthread_mutex_lock(&bc->mu);
	for (b = bc->bucket[slot(key)]; b != NULL; b = b->hnext)
		if (b->key == key)
			break;
	if (b != NULL) {
		b->refs++;
		while (b->state == LOADING)
			pthread_cond_wait(&bc->cv, &bc->mu);
		if (b->state == FAILED) {
			ret = b->err;
			unref(bc, b);
			pthread_mutex_unlock(&bc->mu);
			return ret;
		}
		bc->hits++;
		lru_unlink(bc, b);
		lru_push(bc, b);
		pthread_mutex_unlock(&bc->mu);
		*out = b;
		return 0;
	}
	bc->misses++;
	if ((b = bc->spare) != NULL) {
		bc->spare = b->hnext;
		bc->n_spare--;
	} else {
		b = malloc(sizeof(*b) + bc->blk_cap);
	}
	if (b == NULL) {
		pthread_mutex_unlock(&bc->mu);
		return -ENOMEM;
	}
	b->key = key;
	b->len = 0;
	b->data = ffs_blk_buf(b);
	b->state = LOADING;
	b->err = 0;
	b->refs = 2;                 /* the table's and the caller's */
	b->hnext = bc->bucket[slot(key)];
	bc->bucket[slot(key)] = b;
	lru_push(bc, b);
	bc->bytes += bc->blk_cap;
	evict(bc);
	pthread_mutex_unlock(&bc->mu);
	*out = b;
	return 1;
}

void ffs_bcache_done(struct ffs_bcache *bc, struct ffs_blk *b, int err,
		     size_t len)
{
	pthread_mutex_lock(&bc->mu);
	if (err == 0) {
		b->len = len;
		b->state = READY;
	} else {
		b->state = FAILED;
		b->err = err;
		hash_unlink(bc, b);
		lru_unlink(bc, b);
		bc->bytes -= bc->blk_cap;
		unref(bc, b);            /* the table's */
	}
	pthread_cond_broadcast(&bc->cv);
	pthread_mutex_unlock(&bc->mu);
}

void ffs_bcache_put(struct ffs_bcache *bc, struct ffs_blk *b)
{
	pthread_mutex_lock(&bc->mu);
	unref(bc, b);
	evict(bc);
	pthread_mutex_unlock(&bc->mu);
}

void ffs_bcache_counts(struct ffs_bcache *bc, uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&bc->mu);
	*hits = bc->hits;
	*misses = bc->misses;
	pthread_mutex_unlock(&bc->mu);
}
