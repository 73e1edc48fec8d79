/* image.h: fetching a published version and checking every byte:
 * manifest signature -> chunk index hash -> each chunk's hash -> the whole
 * image's hash. Used by `netimg fetch` (which writes the image) and
 * `netimg verify` (which only checks). Chunks are read as byte ranges of
 * the packs, neighbours coalesced into large requests. */
#ifndef CACHE_IMAGE_H
#define CACHE_IMAGE_H

#include <openssl/evp.h>
#include <stdint.h>

#include "cache/source.h"
#include "common/err.h"

struct cache_image_stats {
	uint64_t image_size, bytes_fetched;
	size_t chunks, requests;
};

struct cache_image_req {
	const char *name, *version;
	/* hex SHA-256 the manifest's exact bytes must have (from a verified
	 * channel pointer), or NULL */
	const char *manifest_sha256;
	/* the image file to write (temporary name, fsync, rename), or NULL
	 * to verify only */
	const char *out;
};

int cache_get_image(struct cache_source *src, EVP_PKEY *key,
		    const struct cache_image_req *rq,
		    struct cache_image_stats *st, struct ni_err *e);

#endif
