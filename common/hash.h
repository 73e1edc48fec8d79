/* hash.h: SHA-256 (OpenSSL) of buffers and files, and hex conversion. */
#ifndef NI_HASH_H
#define NI_HASH_H

#include <stddef.h>
#include <stdint.h>

#define NI_SHA256_LEN 32
#define NI_SHA256_HEX 65 /* 64 digits and a NUL */

struct ni_sha256;

struct ni_sha256 *ni_sha256_new(void);
void ni_sha256_update(struct ni_sha256 *h, const void *data, size_t len);
/* Writes the digest and frees h. */
void ni_sha256_final(struct ni_sha256 *h, uint8_t out[NI_SHA256_LEN]);
void ni_sha256_free(struct ni_sha256 *h);

/* The same streaming API for MD5 (dpkg's md5sums); final writes 16 bytes. */
struct ni_sha256 *ni_md5_new(void);

void ni_sha256_buf(const void *data, size_t len, uint8_t out[NI_SHA256_LEN]);
/* Hashes a whole file; returns 0 or a negative errno. */
int ni_sha256_file(const char *path, uint8_t out[NI_SHA256_LEN]);

void ni_hex(const uint8_t *bin, size_t len, char *out);
/* Parses exactly len bytes of hex; returns 0 or -1. */
int ni_unhex(const char *hex, uint8_t *out, size_t len);

/* MD5 as dpkg's md5sums use it (not for security). */
void ni_md5_buf(const void *data, size_t len, uint8_t out[16]);

#endif
