/* chunkidx.h: the per-version files a client reads besides the manifest:
 * the chunk index (format 2, binary, named by its hash, which the signed
 * manifest names: chunkidx.c), the location file (runs of chunks stored
 * back to back in a pack: locfile.c) and index deltas (the index rebuilt
 * from an earlier version's: idxdelta.c). docs/formats.md describes the
 * bytes. Decoders check everything and name `what` in their one-line
 * errors; encoders are deterministic (the same input gives the same
 * bytes), which index deltas rely on. */
#ifndef IMG_CHUNKIDX_H
#define IMG_CHUNKIDX_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/hash.h"

/* The largest chunk an index may name (the layout cuts at 1 MiB). */
#define IMG_INDEX_CHUNK_MAX (8u << 20)
/* "netimg-index-v2\n": the first 16 bytes of a chunk index. */
#define IMG_INDEX_MAGIC "netimg-index-v2\n"
#define IMG_INDEX_HEADER 64
/* An entry's largest size: a 10-byte varint and a SHA-256. */
#define IMG_INDEX_ENTRY_MAX (10 + NI_SHA256_LEN)

struct img_index_chunk {
	uint64_t off, len;          /* in the image */
	uint8_t sha[NI_SHA256_LEN];
};

struct img_index {
	uint64_t image_size;
	uint8_t image_sha[NI_SHA256_LEN];
	struct img_index_chunk *c;  /* image order, tiling it exactly */
	size_t n;
};

/* Parses a chunk index: the chunks must tile [0, image_size) exactly,
 * each 1 byte to IMG_INDEX_CHUNK_MAX long. ix is filled (free it with
 * img_index_free) only on success. */
int img_index_decode(const void *buf, size_t len, const char *what,
		     struct img_index *ix, struct ni_err *e);
/* The index's bytes (malloc'd); NI_ENOMEM, or NI_EINVAL when ix does not
 * tile its image. */
int img_index_encode(const struct img_index *ix, uint8_t **out, size_t *len,
		     struct ni_err *e);
void img_index_free(struct img_index *ix);
/* The largest index of n chunks, in bytes (a cap for downloads). */
size_t img_index_max_size(uint64_t n);

/* Unsigned LEB128 varints, as the index and deltas use them: put writes
 * at most 10 bytes and returns how many; get reads one from [*p, end)
 * and returns 0, or -1 when it is truncated, too long or not minimal. */
size_t img_varint_put(uint8_t *p, uint64_t v);
int img_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* --- location file (locfile.c) --- */

struct img_locs {
	char (*packs)[NI_SHA256_HEX];   /* hex names of the packs used */
	size_t n_packs;
	uint32_t *pack;             /* per chunk: index into packs */
	uint64_t *off;              /* per chunk: offset in its pack */
	size_t n;
};

/* Parses a location file for the chunks of ix; index_hex (the index's
 * hash) must be the one it names, unless NULL. */
int img_locs_decode(const void *buf, size_t len, const struct img_index *ix,
		    const char *index_hex, const char *what,
		    struct img_locs *l, struct ni_err *e);
/* The location file (malloc'd JSON text, NUL-terminated) saying that
 * chunk i of ix lies in pack names[pack[i]] at offset off[i]: runs of
 * chunks stored back to back, only the packs used listed. NULL when out
 * of memory. */
char *img_locs_encode(const char *index_hex, const struct img_index *ix,
		      const char *const *names, const uint32_t *pack,
		      const uint64_t *off);
void img_locs_free(struct img_locs *l);

/* --- index deltas (idxdelta.c) --- */

/* A delta that rebuilds the index bytes nw from the index bytes old
 * (both format 2): entries old has are copied, the rest sent. */
int img_idxdelta_make(const uint8_t *old, size_t old_len, const uint8_t *nw,
		      size_t nw_len, uint8_t **out, size_t *out_len,
		      struct ni_err *e);
/* Applies delta to old; the result (malloc'd) is at most max bytes. Any
 * malformed delta is NI_EINVAL naming what. The caller checks the
 * result's hash: a delta is only a way to get the bytes. */
int img_idxdelta_apply(const uint8_t *old, size_t old_len,
		       const uint8_t *delta, size_t delta_len, size_t max,
		       const char *what, uint8_t **out, size_t *out_len,
		       struct ni_err *e);

#endif
