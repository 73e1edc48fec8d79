/* chunkidx.c: the chunk index, format 2 (binary). */
#include "images/chunkidx.h"

#include <stdlib.h>
#include <string.h>

size_t img_varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

int img_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	const uint8_t *q = *p;
	uint64_t r = 0;
	unsigned shift = 0;

	for (;;) {
		uint8_t b;

		if (q >= end || shift > 63)
			return -1;
		b = *q++;
		if (shift == 63 && (b & 0x7e) != 0)
			return -1;     /* more than 64 bits */
		r |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			/* one encoding per number: no trailing zero groups */
			if (b == 0 && q - *p > 1)
				return -1;
			break;
		}
		shift += 7;
	}
	*p = q;
	*v = r;
	return 0;
}

static void put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

size_t img_index_max_size(uint64_t n)
{
	return IMG_INDEX_HEADER + (size_t)n * IMG_INDEX_ENTRY_MAX;
}

void img_index_free(struct img_index *ix)
{
	if (ix == NULL)
		return;
	free(ix->c);
	memset(ix, 0, sizeof(*ix));
}

/* Header: magic (16), image size (u64 LE), image SHA-256 (32), number of
 * chunks (u64 LE); then per chunk its length (varint) and SHA-256. The
 * offsets are the lengths added up. */
int img_index_decode(const void *buf, size_t len, const char *what,
		     struct img_index *ix, struct ni_err *e)
{
	const uint8_t *p = buf, *end = p + len;
	struct img_index x = { 0 };
	uint64_t n, pos = 0;
	size_t i;

	memset(ix, 0, sizeof(*ix));
	if (len < IMG_INDEX_HEADER || memcmp(p, IMG_INDEX_MAGIC, 16) != 0)
		return ni_err_set(e, NI_EINVAL, "%s: not a chunk index (format 2)", what);
	x.image_size = get64(p + 16);
	memcpy(x.image_sha, p + 24, NI_SHA256_LEN);
	n = get64(p + 56);
	p += IMG_INDEX_HEADER;
	/* each entry takes at least 33 bytes: no allocation beyond the file */
	if (n == 0 || n > (uint64_t)(end - p) / (1 + NI_SHA256_LEN))
		return ni_err_set(e, NI_EINVAL, "%s: malformed chunk index (%llu chunks in %zu bytes)",
				  what, (unsigned long long)n, len);
	if ((x.c = calloc((size_t)n, sizeof(*x.c))) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	x.n = (size_t)n;
	for (i = 0; i < x.n; i++) {
		struct img_index_chunk *c = &x.c[i];

		if (img_varint_get(&p, end, &c->len) != 0 || c->len == 0 ||
		    c->len > IMG_INDEX_CHUNK_MAX || end - p < NI_SHA256_LEN) {
			free(x.c);
			return ni_err_set(e, NI_EINVAL, "%s: malformed chunk index (chunk %zu%s)",
					  what, i, p >= end || end - p < NI_SHA256_LEN ?
					  ": truncated" : "");
		}
		memcpy(c->sha, p, NI_SHA256_LEN);
		p += NI_SHA256_LEN;
		c->off = pos;
		pos += c->len;
	}
	if (p != end) {
		free(x.c);
		return ni_err_set(e, NI_EINVAL, "%s: malformed chunk index (%zu bytes after the last chunk)",
				  what, (size_t)(end - p));
	}
	/* The chunks tile the image exactly: checking each one checks every
	 * byte of it. */
	if (pos != x.image_size) {
		free(x.c);
		return ni_err_set(e, NI_EINVAL, "%s: the chunk index does not cover the image (%llu bytes of chunks, image %llu)",
				  what, (unsigned long long)pos,
				  (unsigned long long)x.image_size);
	}
	*ix = x;
	return 0;
}

int img_index_encode(const struct img_index *ix, uint8_t **out, size_t *len,
		     struct ni_err *e)
{
	uint8_t *b, *p;
	uint64_t pos = 0;
	size_t i;

	*out = NULL;
	*len = 0;
	for (i = 0; i < ix->n; i++) {
		if (ix->c[i].off != pos || ix->c[i].len == 0 ||
		    ix->c[i].len > IMG_INDEX_CHUNK_MAX)
			return ni_err_set(e, NI_EINVAL, "chunk %zu does not follow the one before", i);
		pos += ix->c[i].len;
	}
	if (ix->n == 0 || pos != ix->image_size)
		return ni_err_set(e, NI_EINVAL, "the chunks do not cover the image");
	if ((b = malloc(img_index_max_size(ix->n))) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	memcpy(b, IMG_INDEX_MAGIC, 16);
	put64(b + 16, ix->image_size);
	memcpy(b + 24, ix->image_sha, NI_SHA256_LEN);
	put64(b + 56, ix->n);
	p = b + IMG_INDEX_HEADER;
	for (i = 0; i < ix->n; i++) {
		p += img_varint_put(p, ix->c[i].len);
		memcpy(p, ix->c[i].sha, NI_SHA256_LEN);
		p += NI_SHA256_LEN;
	}
	*out = b;
	*len = (size_t)(p - b);
	return 0;
}
