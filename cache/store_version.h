/* store_version.h: one published version's metadata as a client keeps it:
 * the signed manifest, the chunk index it names by hash and the location
 * file (where each chunk lives: pack and offset), as exact bytes, and the
 * chunk table parsed from them once they are verified. The same checks
 * apply whether the bytes came from a mirror or from the cache folder:
 * manifest signature (and name, version and the hash a channel pointer
 * names) -> index hash -> index and locations cover the image exactly. */
#ifndef CACHE_STORE_VERSION_H
#define CACHE_STORE_VERSION_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/hash.h"
#include "images/chunkidx.h"

/* A chunk's largest length: 8 MiB, as `fetch` accepts. */
#define CACHE_CHUNK_MAX (8u << 20)

/* The three files, exact bytes (each malloc'd). */
struct cache_version_raw {
	uint8_t *manifest, *index, *locations;
	size_t manifest_len, index_len, locations_len;
};

struct cache_chunk {
	uint64_t img_off, len;     /* in the image */
	uint64_t pack_off;         /* in its pack */
	uint32_t pack;             /* index into packs */
	uint8_t sha[NI_SHA256_LEN];
};

struct cache_version {
	char *name, *version;
	json_t *manifest;          /* the verified manifest's JSON */
	uint64_t image_size;
	uint8_t image_sha[NI_SHA256_LEN], manifest_sha[NI_SHA256_LEN];
	struct cache_chunk *c;     /* image order, covering it exactly */
	size_t n;
	char (*packs)[NI_SHA256_HEX];  /* hex names of the packs used */
	size_t n_packs;
	/* sum of the lengths of the distinct chunks (a chunk may repeat) */
	uint64_t unique_bytes;
	struct cache_version_raw raw;  /* owned */
	struct img_index ix;       /* the decoded index (locations need it) */
};

/* Verifies raw (taken over: freed with the version, or on failure) and
 * parses it. key NULL skips the signature (the cache's own checks, which
 * have no key; never for bytes about to be trusted), want_manifest_sha256
 * (hex) NULL skips the pointer check. what names the source in errors. */
int cache_version_load(struct cache_version_raw *raw, EVP_PKEY *key,
		       const char *name, const char *version,
		       const char *want_manifest_sha256, const char *what,
		       struct cache_version **out, struct ni_err *e);
/* Replaces the location file (a repository may repack; it is not signed
 * and only says where to fetch, every chunk is checked against the index).
 * loc is taken over. */
int cache_version_set_locations(struct cache_version *v, uint8_t *loc,
				size_t len, struct ni_err *e);
void cache_version_free(struct cache_version *v);
void cache_version_raw_free(struct cache_version_raw *raw);

/* The chunk holding image byte off (off < image_size). */
size_t cache_version_find(const struct cache_version *v, uint64_t off);

#endif
