/* hash.c: thin wrappers over OpenSSL's EVP digests. */
#include "common/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

struct ni_sha256 {
	EVP_MD_CTX *ctx;
};

/* The context pointer is the handle: no extra allocation needed. */
static struct ni_sha256 *digest_new(const EVP_MD *md)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL)
		return NULL;
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return NULL;
	}
	return (struct ni_sha256 *)ctx;
}

struct ni_sha256 *ni_sha256_new(void)
{
	return digest_new(EVP_sha256());
}

struct ni_sha256 *ni_md5_new(void)
{
	return digest_new(EVP_md5());
}

void ni_sha256_update(struct ni_sha256 *h, const void *data, size_t len)
{
	EVP_DigestUpdate((EVP_MD_CTX *)h, data, len);
}

void ni_sha256_final(struct ni_sha256 *h, uint8_t out[NI_SHA256_LEN])
{
	unsigned int n = NI_SHA256_LEN;

	EVP_DigestFinal_ex((EVP_MD_CTX *)h, out, &n);
	EVP_MD_CTX_free((EVP_MD_CTX *)h);
}

void ni_sha256_free(struct ni_sha256 *h)
{
	EVP_MD_CTX_free((EVP_MD_CTX *)h);
}

void ni_sha256_buf(const void *data, size_t len, uint8_t out[NI_SHA256_LEN])
{
	unsigned int n = NI_SHA256_LEN;

	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void ni_md5_buf(const void *data, size_t len, uint8_t out[16])
{
	unsigned int n = 16;

	EVP_Digest(data, len, out, &n, EVP_md5(), NULL);
}

int ni_sha256_file(const char *path, uint8_t out[NI_SHA256_LEN])
{
	static __thread unsigned char buf[1 << 16];
	struct ni_sha256 *h;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	h = ni_sha256_new();
	if (h == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		ni_sha256_update(h, buf, (size_t)n);
	}
	close(fd);
	if (err) {
		ni_sha256_free(h);
		return err;
	}
	ni_sha256_final(h, out);
	return 0;
}

void ni_hex(const uint8_t *bin, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 15];
	}
	out[2 * len] = '\0';
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ni_unhex(const char *hex, uint8_t *out, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		int hi = nibble(hex[2 * i]), lo;

		if (hi < 0)
			return -1;
		lo = nibble(hex[2 * i + 1]);
		if (lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return hex[2 * len] == '\0' ? 0 : -1;
}
