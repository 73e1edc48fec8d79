/* repo.h: a repository folder: the published tree DIR/public/ (all that
 * any web server, mirror or proxy carries) and the private part beside it
 * (signing key, the publishers' lock), never served. */
#ifndef IMG_REPO_H
#define IMG_REPO_H

#include <jansson.h>
#include <openssl/evp.h>

#include "common/err.h"

struct img_repo {
	char *dir;
	char *pub;        /* DIR/public */
	char *priv;       /* DIR/private */
	int lock_fd;
};

/* Makes DIR (if needed), DIR/public/ (0755) with repo.json and
 * DIR/private/ (0700). Refuses a folder that already is a repository. */
int img_repo_init(const char *dir, struct ni_err *e);
/* Opens an existing repository; lock = 1 takes the publishers' lock
 * (waits for another publisher to finish). */
int img_repo_open(struct img_repo *r, const char *dir, int lock,
		  struct ni_err *e);
void img_repo_close(struct img_repo *r);
/* Returns malloc'd DIR/public/REL. */
char *img_repo_path(const struct img_repo *r, const char *rel);
/* Writes DIR/public/REL atomically, world-readable, creating folders. */
int img_repo_write(const struct img_repo *r, const char *rel, const void *buf,
		   size_t len, struct ni_err *e);

/* --- signed files of the repository (repo_sign.c) --- */

/* Loads the repository's key pair: DIR/private/repo.key and DIR/repo.pub
 * (a missing private key: NI_ENOENT saying to run netimg keygen). pub may
 * be NULL when only signing is needed. The caller frees both. */
int img_repo_keys(const struct img_repo *r, EVP_PKEY **priv, EVP_PKEY **pub,
		  struct ni_err *e);
/* Reads public/REL and checks its signature with pub; *out is its parsed
 * JSON object payload. NI_ENOENT when the file does not exist. When raw is
 * not NULL it receives the file's exact bytes (malloc'd, *raw_len long). */
int img_repo_read_signed(const struct img_repo *r, EVP_PKEY *pub,
			 const char *rel, json_t **out, char **raw,
			 size_t *raw_len, struct ni_err *e);
/* Signs j (dumped with 2-space indentation and sorted keys) and writes it
 * as public/REL atomically, world-readable. When sha is not NULL it gets
 * the SHA-256 of the whole signed file. */
int img_repo_write_signed(const struct img_repo *r, EVP_PKEY *priv,
			  const char *rel, json_t *j, unsigned char *sha,
			  struct ni_err *e);

#endif
