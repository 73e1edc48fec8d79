/* attach.h: a client reading a version's attachments (images/attach.h):
 * the signed record is verified with the key the client holds, must name
 * the manifest hash the caller verified (so a record copied from another
 * version, or left from an earlier publish, is refused), and the blob must
 * have the record's size and SHA-256 before a byte is handed out. */
#ifndef CACHE_ATTACH_H
#define CACHE_ATTACH_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>

#include "cache/source.h"
#include "common/err.h"
#include "common/hash.h"
#include "images/attach.h"

struct cache_attach_req {
	const char *name, *version, *kind;
	/* hex SHA-256 of the version's manifest, verified by the caller
	 * (cache_manifest_sha256, or a verified channel pointer): required */
	const char *manifest_sha256;
	/* a file to write the verified bytes to (temporary name, fsync,
	 * rename, 0644), or NULL to keep them in memory */
	const char *out;
};

struct cache_attachment {
	char kind[IMG_ATTACH_KIND_MAX + 1];
	char sha256[NI_SHA256_HEX];
	uint64_t size;
	int64_t time;
	char who[80];
	uint8_t *data;   /* the verified bytes (size of them); NULL with out */
};

/* Fetches and checks one attachment. Errors, each its own line:
 * NI_ENOENT no such attachment, or its blob is missing; NI_EINVAL the
 * record is unsigned, tampered, signed by another key, malformed or of
 * another kind or version; NI_EHASH the record names another manifest,
 * or the blob's bytes are not the ones the record names. */
int cache_attach_get(struct cache_source *src, EVP_PKEY *key,
		     const struct cache_attach_req *rq, struct cache_attachment *a,
		     struct ni_err *e);
void cache_attach_free(struct cache_attachment *a);

/* The kinds attached to NAME@VERSION (public/attachments/NAME/VERSION.json,
 * unsigned: each is verified when fetched), as a JSON array of strings;
 * empty when there is none. */
int cache_attach_list(struct cache_source *src, const char *name,
		      const char *version, json_t **kinds, struct ni_err *e);

/* Fetches NAME@VERSION's manifest, verifies its signature with key (and,
 * when want is not NULL, that its bytes hash to want) and writes the hex
 * SHA-256 of its exact bytes: the hash attachment records name. */
int cache_manifest_sha256(struct cache_source *src, EVP_PKEY *key,
			  const char *name, const char *version, const char *want,
			  char hex[NI_SHA256_HEX], struct ni_err *e);

#endif
