/* manifest.h: reading a version's signed manifest: the envelope is
 * checked against the repository's public key before the JSON is parsed. */
#ifndef IMG_MANIFEST_H
#define IMG_MANIFEST_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>

#include "common/err.h"

/* The manifest's path inside public/ (malloc'd). */
char *img_manifest_path(const char *name, const char *version);
/* Splits "NAME@VERSION"; returns 0, or NI_EINVAL naming spec. */
int img_split_version(const char *spec, char **name, char **version,
		      struct ni_err *e);
/* Verifies buf (a signed manifest fetched from what) with pub and parses
 * its payload; *out is a new reference. */
int img_manifest_open(EVP_PKEY *pub, const char *what, const void *buf,
		      size_t len, json_t **out, struct ni_err *e);
/* The same, and the manifest must be NAME@VERSION's: a mirror cannot pass
 * off another version's validly signed manifest under this name. */
int img_manifest_open_as(EVP_PKEY *pub, const char *what, const void *buf,
			 size_t len, const char *name, const char *version,
			 json_t **out, struct ni_err *e);

#endif
