/* fetchtool.c: drives cache/fetch for tests/t/72-fetch.t (not installed).
 *
 *   fetchtool [OPTIONS] get PATH
 *   fetchtool [OPTIONS] ranges PATH OFF+LEN,OFF+LEN...|chunks:SIZE:TOTAL
 *
 *   -m URL      a mirror (repeat, tried in order)
 *   -r N        retries per mirror        -b MS     first backoff
 *   -c MS       connect timeout           -L B:S    low speed: B bytes/s, S s
 *   -p N        ranges in parallel        -d MS     deadline of one call
 *   -x BYTES    get: the size cap         -e ETAG   get: If-None-Match
 *   -s HEX      get: the SHA-256 wanted   -n N      do the call N times
 *   -o FILE     write what was fetched (ranges at their offsets)
 *   -v FILE     ranges: the sink compares each range with FILE's bytes and
 *               rejects a mismatch (NI_EHASH)
 *   -S          ranges: streamed (cache_fetch_ranges_stream); the sink
 *               also checks that each attempt starts at 0 and runs on
 *   -F          ranges, streamed: the sink fails the call at the first
 *               bytes, as a full disk would (NI_ENOSPC, "disk full")
 *   -Q          then print "requests N0 N1 ...": HTTP requests per mirror
 *
 * Prints "ok ..." or "not-modified ..." on stdout; on failure the module's
 * line as "fetchtool: MSG [CODE TEXT]" on stderr and exit status 1. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/fetch.h"
#include "common/fsutil.h"
#include "common/hash.h"

struct args {
	const char *mirrors[16];
	size_t n_mirrors;
	struct cache_fetch_opts o;
	size_t max;
	const char *etag, *sha, *out, *verify;
	int repeat;
	int stream, fail_data, requests;
};

struct sink_ctx {
	const uint8_t *ref;
	size_t ref_len;
	const struct cache_range *r;
	unsigned char *seen;
	uint8_t *image;
	size_t image_len;
	uint64_t bytes;
	uint64_t *got;          /* streamed: bytes of the attempt so far */
	unsigned char *bad;     /* streamed: the attempt differs from -v */
	int fail_data;
};

static int usage(void)
{
	fprintf(stderr, "usage: fetchtool [-m URL]... [options] get PATH | "
		"ranges PATH SPEC\n");
	return 2;
}

static int fail(const struct ni_err *e)
{
	fprintf(stderr, "fetchtool: %s [%s]\n", e->msg, ni_strerror(e->code));
	return 1;
}

static int parse_opts(int argc, char **argv, struct args *a)
{
	int c;

	cache_fetch_opts_init(&a->o);
	a->max = (size_t)1 << 30;
	a->repeat = 1;
	while ((c = getopt(argc, argv, "m:r:b:c:L:p:d:x:e:s:n:o:v:SFQ")) != -1) {
		switch (c) {
		case 'm':
			if (a->n_mirrors == 16)
				return -1;
			a->mirrors[a->n_mirrors++] = optarg;
			break;
		case 'r': a->o.retries = atoi(optarg); break;
		case 'b': a->o.backoff_ms = atol(optarg); break;
		case 'c': a->o.connect_timeout_ms = atol(optarg); break;
		case 'L':
			if (sscanf(optarg, "%ld:%ld", &a->o.low_speed_bytes,
				   &a->o.low_speed_time_s) != 2)
				return -1;
			break;
		case 'p': a->o.max_parallel = atoi(optarg); break;
		case 'd': a->o.deadline_ms = atol(optarg); break;
		case 'x': a->max = strtoull(optarg, NULL, 10); break;
		case 'e': a->etag = optarg; break;
		case 's': a->sha = optarg; break;
		case 'n': a->repeat = atoi(optarg); break;
		case 'o': a->out = optarg; break;
		case 'v': a->verify = optarg; break;
		case 'S': a->stream = 1; break;
		case 'F': a->fail_data = 1; break;
		case 'Q': a->requests = 1; break;
		default: return -1;
		}
	}
	return 0;
}

static int do_get(struct cache_fetcher *f, const struct args *a,
		  const char *path)
{
	struct cache_fetch_info info;
	struct ni_err e = { 0 };
	uint8_t want[NI_SHA256_LEN], *body = NULL;
	size_t len = 0;
	int ret;

	if (a->sha != NULL && ni_unhex(a->sha, want, sizeof(want)) != 0)
		return usage();
	if (a->sha != NULL)
		ret = cache_fetch_mem_sha256(f, path, a->max, want, &body, &len,
					     &info, &e);
	else
		ret = cache_fetch_mem_if(f, path, a->max, a->etag, &body, &len,
					 &info, &e);
	if (ret < 0)
		return fail(&e);
	if (ret == 1) {
		printf("not-modified mirror=%zu attempts=%u etag=%s\n",
		       info.mirror, info.attempts, info.etag);
		return 0;
	}
	if (a->out != NULL &&
	    ni_write_file_atomic(a->out, body, len, 0644, &e) != 0) {
		free(body);
		return fail(&e);
	}
	printf("ok %zu mirror=%zu attempts=%u status=%ld etag=%s lm=%s\n", len,
	       info.mirror, info.attempts, info.status, info.etag,
	       info.last_modified);
	free(body);
	return 0;
}

static int sink(void *user, size_t idx, const uint8_t *data, size_t len)
{
	struct sink_ctx *s = user;
	const struct cache_range *r = &s->r[idx];

	if (len != r->len || s->seen[idx])
		return NI_EINVAL;
	if (s->ref != NULL && (r->off + len > s->ref_len ||
			       memcmp(s->ref + r->off, data, len) != 0))
		return NI_EHASH;
	if (s->image != NULL && r->off + len <= s->image_len)
		memcpy(s->image + r->off, data, len);
	s->seen[idx] = 1;
	s->bytes += len;
	return 0;
}

static int st_data(void *user, size_t idx, uint64_t off, const uint8_t *p,
		   size_t len, char *msg, size_t cap)
{
	struct sink_ctx *s = user;
	const struct cache_range *r = &s->r[idx];

	if (s->fail_data) {
		snprintf(msg, cap, "disk full");
		return NI_ENOSPC;
	}
	if (off == 0)
		s->got[idx] = s->bad[idx] = 0;
	if (off != s->got[idx] || s->seen[idx] || len > r->len - off) {
		snprintf(msg, cap, "range %zu: %zu bytes at %" PRIu64 " after "
			 "%" PRIu64, idx, len, off, s->got[idx]);
		return NI_EINVAL;
	}
	if (s->ref != NULL && (r->off + off + len > s->ref_len ||
			       memcmp(s->ref + r->off + off, p, len) != 0))
		s->bad[idx] = 1;
	if (s->image != NULL && r->off + off + len <= s->image_len)
		memcpy(s->image + r->off + off, p, len);
	s->got[idx] += len;
	return 0;
}

static int st_done(void *user, size_t idx, char *msg, size_t cap)
{
	struct sink_ctx *s = user;

	if (s->got[idx] != s->r[idx].len) {
		snprintf(msg, cap, "range %zu: done after %" PRIu64 " bytes",
			 idx, s->got[idx]);
		return NI_EINVAL;
	}
	if (s->bad[idx])
		return NI_EHASH;
	s->seen[idx] = 1;
	s->bytes += s->r[idx].len;
	return 0;
}

/* "OFF+LEN,..." or "chunks:SIZE:TOTAL". */
static struct cache_range *parse_ranges(const char *spec, size_t *n,
					uint64_t *end)
{
	struct cache_range *r = NULL;
	unsigned long long a, b;
	const char *p = spec;

	*n = 0;
	*end = 0;
	if (sscanf(spec, "chunks:%llu:%llu", &a, &b) == 2 && a > 0) {
		r = calloc(b / a + 1, sizeof(*r));
		for (uint64_t off = 0; r != NULL && off < b; off += a) {
			r[*n].off = off;
			r[(*n)++].len = (size_t)(b - off < a ? b - off : a);
		}
		*end = b;
		return r;
	}
	r = calloc(strlen(spec) / 2 + 1, sizeof(*r));
	while (r != NULL && sscanf(p, "%llu+%llu", &a, &b) == 2) {
		r[*n].off = a;
		r[(*n)++].len = (size_t)b;
		if (a + b > *end)
			*end = a + b;
		if ((p = strchr(p, ',')) == NULL)
			break;
		p++;
	}
	return r;
}

static int do_ranges(struct cache_fetcher *f, const struct args *a,
		     const char *path, const char *spec)
{
	struct sink_ctx s = { 0 };
	struct ni_err e = { 0 };
	struct cache_range *r;
	char *ref = NULL;
	size_t n, i, ref_len = 0;
	uint64_t end;
	int ret = 0;

	r = parse_ranges(spec, &n, &end);
	if (r == NULL || n == 0) {
		free(r);
		return usage();
	}
	if (a->verify != NULL &&
	    ni_read_file(a->verify, (size_t)1 << 31, &ref, &ref_len, &e) != 0) {
		free(r);
		return fail(&e);
	}
	s.ref = (const uint8_t *)ref;
	s.ref_len = ref_len;
	s.r = r;
	s.seen = calloc(n, 1);
	s.image_len = (size_t)end;
	s.image = a->out ? calloc(s.image_len + 1, 1) : NULL;
	s.got = calloc(n, sizeof(*s.got));
	s.bad = calloc(n, 1);
	s.fail_data = a->fail_data;
	if (a->stream) {
		struct cache_range_stream st = { .data = st_data,
						 .done = st_done, .user = &s };

		if (cache_fetch_ranges_stream(f, path, r, n, &st, &e) != 0)
			ret = fail(&e);
	} else if (cache_fetch_ranges(f, path, r, n, sink, &s, &e) != 0) {
		ret = fail(&e);
	}
	for (i = 0; ret == 0 && i < n; i++)
		if (!s.seen[i]) {
			fprintf(stderr, "fetchtool: range %zu never came\n", i);
			ret = 1;
		}
	if (ret == 0 && a->out != NULL &&
	    ni_write_file_atomic(a->out, s.image, s.image_len, 0644, &e) != 0)
		ret = fail(&e);
	if (ret == 0)
		printf("ok %zu ranges %" PRIu64 " bytes\n", n, s.bytes);
	free(s.image);
	free(s.seen);
	free(s.got);
	free(s.bad);
	free(ref);
	free(r);
	return ret;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	struct cache_fetcher *f;
	struct ni_err e = { 0 };
	int ret = 0, i;

	if (parse_opts(argc, argv, &a) != 0 || optind + 2 > argc)
		return usage();
	if (cache_fetcher_new(&f, a.mirrors, a.n_mirrors, &a.o, &e) != 0)
		return fail(&e);
	for (i = 0; ret == 0 && i < a.repeat; i++) {
		if (strcmp(argv[optind], "get") == 0)
			ret = do_get(f, &a, argv[optind + 1]);
		else if (strcmp(argv[optind], "ranges") == 0 &&
			 optind + 3 == argc)
			ret = do_ranges(f, &a, argv[optind + 1],
					argv[optind + 2]);
		else
			ret = usage();
	}
	if (a.requests) {
		size_t m;

		printf("requests");
		for (m = 0; m < a.n_mirrors; m++)
			printf(" %lu", cache_fetcher_requests(f, m));
		printf("\n");
	}
	cache_fetcher_free(f);
	return ret;
}
