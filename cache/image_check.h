/* image_check.h: the chunk checker of a fetch. Chunks are hashed on worker
 * threads as they arrive, while the next bytes are still being received,
 * and compared with the signed chunk index. A chunk is handed over either
 * as a buffer (verify: nothing is written) or as a region of the output
 * file, which the worker reads back from the page cache (fetch: the bytes
 * are written once, where they belong, and never copied in between).
 *
 * A chunk may be handed over several times (a failed attempt, then the
 * next mirror): each ic_reset starts a new generation, and a verdict on an
 * older one is dropped. Thread-safe between the caller's one thread and
 * the workers; the caller's calls are not to be made from several threads
 * at once. */
#ifndef CACHE_IMAGE_CHECK_H
#define CACHE_IMAGE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/hash.h"

struct image_check;

enum ic_verdict {
	IC_PENDING,   /* reset, not handed over or not hashed yet */
	IC_OK,
	IC_BAD,       /* hash mismatch */
	IC_IOERR,     /* the output could not be read back */
};

/* n chunks; fd: the output file the regions are read back from (-1 when
 * chunks come as buffers); workers: 0 picks one per spare core. */
int ic_start(struct image_check **c, size_t n, int fd, unsigned workers,
	     struct ni_err *e);
/* Waits for the workers and frees everything (NULL is fine). */
void ic_stop(struct image_check *c);

/* Chunk i is about to be received (again): forget any verdict. */
void ic_reset(struct image_check *c, size_t i);
/* Chunk i is complete: the len bytes at off in the output (buf NULL), or
 * buf (malloc'd, taken over and freed). Its SHA-256 must be sha (kept by
 * the caller until ic_stop). Blocks while too many buffered bytes wait. */
int ic_submit(struct image_check *c, size_t i, uint64_t off, uint64_t len,
	      const uint8_t *sha, uint8_t *buf, struct ni_err *e);
/* Waits for chunk i's verdict; it must have been submitted since its last
 * reset. IC_IOERR sets *err to the errno. */
enum ic_verdict ic_wait(struct image_check *c, size_t i, int *err);

#endif
