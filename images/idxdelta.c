/* idxdelta.c: index deltas, `indexes/NEW.from-OLD`: the bytes of index
 * NEW as copies of byte runs of index OLD (which a client holds) and the
 * bytes OLD lacks.
 *
 *   "netimg-delta-v1\n" then operations to the end of the file:
 *     'c' OFFSET LENGTH     copy LENGTH bytes of OLD from OFFSET
 *     'a' LENGTH BYTES      append the LENGTH bytes that follow
 *   (numbers are varints; every LENGTH is at least 1)
 *
 * A client checks the result's SHA-256 against the index hash the signed
 * manifest names, so a delta is trusted for nothing. */
#include "images/chunkidx.h"

#include <stdlib.h>
#include <string.h>

#define DELTA_MAGIC "netimg-delta-v1\n"

struct entry {
	uint8_t sha[NI_SHA256_LEN];
	uint64_t len;
	size_t at, size;       /* its bytes in the index file */
};

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = memcmp(x->sha, y->sha, NI_SHA256_LEN);

	if (c != 0)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* Where each entry of a decoded index lies in its bytes (the encoding is
 * canonical: decoding checked it). */
static struct entry *entries(const struct img_index *ix)
{
	struct entry *v = calloc(ix->n + 1, sizeof(*v));
	uint8_t tmp[10];
	size_t i, at = IMG_INDEX_HEADER;

	for (i = 0; v != NULL && i < ix->n; i++) {
		size_t vl = img_varint_put(tmp, ix->c[i].len);

		memcpy(v[i].sha, ix->c[i].sha, NI_SHA256_LEN);
		v[i].len = ix->c[i].len;
		v[i].at = at;
		v[i].size = vl + NI_SHA256_LEN;
		at += v[i].size;
	}
	return v;
}

struct out {
	uint8_t *b;
	size_t n, cap;
	size_t copy_off, copy_len;   /* a pending copy */
	size_t add_at, add_len;      /* pending bytes of the new index */
	const uint8_t *nw;
};

static int room(struct out *o, size_t more)
{
	if (o->n + more > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		uint8_t *nb;

		while (cap < o->n + more)
			cap *= 2;
		if ((nb = realloc(o->b, cap)) == NULL)
			return -1;
		o->b = nb;
		o->cap = cap;
	}
	return 0;
}

static int flush(struct out *o)
{
	if (o->copy_len > 0) {
		if (room(o, 21) != 0)
			return -1;
		o->b[o->n++] = 'c';
		o->n += img_varint_put(o->b + o->n, o->copy_off);
		o->n += img_varint_put(o->b + o->n, o->copy_len);
		o->copy_len = 0;
	}
	if (o->add_len > 0) {
		if (room(o, 11 + o->add_len) != 0)
			return -1;
		o->b[o->n++] = 'a';
		o->n += img_varint_put(o->b + o->n, o->add_len);
		memcpy(o->b + o->n, o->nw + o->add_at, o->add_len);
		o->n += o->add_len;
		o->add_len = 0;
	}
	return 0;
}

static int copy(struct out *o, size_t off, size_t len)
{
	if (o->add_len > 0 || (o->copy_len > 0 && o->copy_off + o->copy_len != off)) {
		if (flush(o) != 0)
			return -1;
	}
	if (o->copy_len == 0)
		o->copy_off = off;
	o->copy_len += len;
	return 0;
}

static int add(struct out *o, size_t at, size_t len)
{
	if (o->copy_len > 0 && flush(o) != 0)
		return -1;
	if (o->add_len == 0)
		o->add_at = at;
	o->add_len += len;
	return 0;
}

int img_idxdelta_make(const uint8_t *old, size_t old_len, const uint8_t *nw,
		      size_t nw_len, uint8_t **out, size_t *out_len,
		      struct ni_err *e)
{
	struct img_index oi, ni;
	struct entry *ov = NULL, *nv = NULL;
	struct out o = { .nw = nw };
	size_t i;
	int ret;

	*out = NULL;
	*out_len = 0;
	if ((ret = img_index_decode(old, old_len, "the old index", &oi, e)) != 0)
		return ret;
	if ((ret = img_index_decode(nw, nw_len, "the new index", &ni, e)) != 0) {
		img_index_free(&oi);
		return ret;
	}
	ov = entries(&oi);
	nv = entries(&ni);
	if (ov == NULL || nv == NULL || room(&o, 16) != 0)
		goto nomem;
	memcpy(o.b, DELTA_MAGIC, 16);
	o.n = 16;
	qsort(ov, oi.n, sizeof(*ov), cmp_entry);
	/* the header always differs (image size, hash): sent */
	if (add(&o, 0, IMG_INDEX_HEADER) != 0)
		goto nomem;
	for (i = 0; i < ni.n; i++) {
		struct entry key = nv[i], *hit;
		size_t lo = 0, hi = oi.n;

		/* the first old entry of this hash and length: lower bound */
		key.at = 0;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (cmp_entry(&ov[mid], &key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		hit = lo < oi.n && memcmp(ov[lo].sha, key.sha, NI_SHA256_LEN) == 0 &&
		      ov[lo].len == key.len ? &ov[lo] : NULL;
		/* a chunk stored twice in the old index: the copy that
		 * continues the pending one, if there is one */
		while (hit != NULL && o.copy_len > 0 && hit + 1 < ov + oi.n &&
		       hit->at != o.copy_off + o.copy_len &&
		       memcmp(hit[1].sha, key.sha, NI_SHA256_LEN) == 0 && hit[1].len == key.len)
			hit++;
		if ((hit != NULL ? copy(&o, hit->at, hit->size)
				 : add(&o, nv[i].at, nv[i].size)) != 0)
			goto nomem;
	}
	if (flush(&o) != 0)
		goto nomem;
	*out = o.b;
	*out_len = o.n;
	o.b = NULL;
	ret = 0;
	goto done;
nomem:
	ret = ni_err_set(e, NI_ENOMEM, "out of memory");
done:
	free(o.b);
	free(ov);
	free(nv);
	img_index_free(&oi);
	img_index_free(&ni);
	return ret;
}

int img_idxdelta_apply(const uint8_t *old, size_t old_len,
		       const uint8_t *delta, size_t delta_len, size_t max,
		       const char *what, uint8_t **out, size_t *out_len,
		       struct ni_err *e)
{
	const uint8_t *p = delta + 16, *end = delta + delta_len;
	uint8_t *b = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*out_len = 0;
	if (delta_len < 16 || memcmp(delta, DELTA_MAGIC, 16) != 0)
		return ni_err_set(e, NI_EINVAL, "%s: not an index delta", what);
	while (p < end) {
		uint8_t op = *p++;
		uint64_t off = 0, len;
		const uint8_t *src;

		if ((op != 'c' && op != 'a') ||
		    (op == 'c' && img_varint_get(&p, end, &off) != 0) ||
		    img_varint_get(&p, end, &len) != 0 || len == 0 || len > max - n) {
			free(b);
			return ni_err_set(e, NI_EINVAL, "%s: malformed index delta (at byte %zu)",
					  what, (size_t)(p - delta));
		}
		if (op == 'c') {
			if (off > old_len || len > old_len - off) {
				free(b);
				return ni_err_set(e, NI_EINVAL, "%s: malformed index delta (a copy past the old index's end)",
						  what);
			}
			src = old + off;
		} else {
			if (len > (uint64_t)(end - p)) {
				free(b);
				return ni_err_set(e, NI_EINVAL, "%s: malformed index delta (truncated)", what);
			}
			src = p;
			p += len;
		}
		if (n + len > cap) {
			size_t nc = cap ? cap : 65536;
			uint8_t *nb;

			while (nc < n + len)
				nc *= 2;
			if ((nb = realloc(b, nc)) == NULL) {
				free(b);
				return ni_err_set(e, NI_ENOMEM, "out of memory");
			}
			b = nb;
			cap = nc;
		}
		memcpy(b + n, src, (size_t)len);
		n += (size_t)len;
	}
	if (n == 0) {
		free(b);
		return ni_err_set(e, NI_EINVAL, "%s: malformed index delta (empty)", what);
	}
	*out = b;
	*out_len = n;
	return 0;
}
