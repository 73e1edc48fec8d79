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

int vsrc_ranges(struct vsrc *s, const char *rel, const struct cache_range *r,
		size_t n, const struct cache_range_stream *st, struct ni_err *e)
{
	if (s->f != NULL)
		return cache_fetch_ranges_stream(s->f, rel, r, n, st, e);
	return cache_source_ranges(s->local, rel, r, n, st, e);
}
