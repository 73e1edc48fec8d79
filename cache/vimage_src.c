/* vimage_src.c: a repository as the cache reads it: a folder through
 * cache_source, or mirrors through a fetcher made with the cache's own
 * limits (a read must not wait longer than its bound). */
#include "cache/vimage_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

int vsrc_open(struct vsrc *s, const char *spec, const struct cache_fetch_opts *o,
	      struct ni_err *e)
{
	char *copy, *tok, *save = NULL;
	const char *m[16];
	size_t n = 0;
	int ret;

	memset(s, 0, sizeof(*s));
	if (!is_url(spec))
		return cache_source_open(&s->local, spec, e);
	if ((copy = strdup(spec)) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok && n < 16; tok = strtok_r(NULL, ",", &save))
		m[n++] = tok;
	ret = cache_fetcher_new(&s->f, m, n, o, e);
	free(copy);
	return ret;
}

void vimg_fetch_cap(struct cache_fetch_opts *fo, const struct cache_vimage_opts *o)
{
	if (o->max_recv_bps > 0) {
		fo->max_recv_bps = o->max_recv_bps;
		fo->max_parallel = 1;
	}
}

void vsrc_close(struct vsrc *s)
{
	if (s->local != NULL)
		cache_source_close(s->local);
	if (s->f != NULL)
		cache_fetcher_free(s->f);
	memset(s, 0, sizeof(*s));
}

int vsrc_get(struct vsrc *s, const char *rel, size_t max, uint8_t **out,
	     size_t *len, struct ni_err *e)
{
	if (s->f != NULL)
		return cache_fetch_mem(s->f, rel, max, out, len, NULL, e);
	return cache_source_get(s->local, rel, max, out, len, e);
}

/* A folder's ranges arrive streamed: each is gathered, then handed to
 * the sink whole, as the fetcher's cache_fetch_ranges does. */
struct gather {
	const struct cache_range *r;
	uint8_t **buf;
	cache_range_sink sink;
	void *user;
};

static int gather_data(void *user, size_t idx, uint64_t off, const uint8_t *p,
		       size_t len, char *msg, size_t cap)
{
	struct gather *g = user;

	if (g->buf[idx] == NULL && (g->buf[idx] = malloc(g->r[idx].len)) == NULL) {
		snprintf(msg, cap, "out of memory");
		return NI_ENOMEM;
	}
	if (off > g->r[idx].len || len > g->r[idx].len - off) {
		snprintf(msg, cap, "range %zu: more bytes than asked for", idx);
		return NI_EINVAL;
	}
	memcpy(g->buf[idx] + off, p, len);
	return 0;
}

static int gather_done(void *user, size_t idx, char *msg, size_t cap)
{
	struct gather *g = user;
	int ret = g->sink(g->user, idx, g->buf[idx], g->r[idx].len);

	free(g->buf[idx]);
	g->buf[idx] = NULL;
	if (ret != 0)
		snprintf(msg, cap, "rejected");   /* the sink's own words are the caller's */
	return ret;
}

int vsrc_ranges(struct vsrc *s, const char *rel, const struct cache_range *r,
		size_t n, cache_range_sink sink, void *user, struct ni_err *e)
{
	struct gather g = { r, calloc(n + 1, sizeof(uint8_t *)), sink, user };
	struct cache_range_stream st = { gather_data, gather_done, &g };
	size_t i;
	int ret;

	if (s->f != NULL) {
		free(g.buf);
		return cache_fetch_ranges(s->f, rel, r, n, sink, user, e);
	}
	if (g.buf == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	ret = cache_source_ranges(s->local, rel, r, n, &st, e);
	for (i = 0; i < n; i++)
		free(g.buf[i]);
	free(g.buf);
	return ret;
}
