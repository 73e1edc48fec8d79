/* fetch.c: the fetcher (mirrors, options, the multi handle whose
 * connections outlive each call), the public fetch calls on top of the
 * engine, and the pure helpers: URL joining and Content-Range parsing. */
#include "cache/fetch_internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/hash.h"
#include "common/version.h"

void cache_fetch_opts_init(struct cache_fetch_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = 5000;
	o->low_speed_bytes = 1024;
	o->low_speed_time_s = 10;
	o->retries = 3;
	o->backoff_ms = 200;
	o->max_parallel = 8;
}

static int check_opts(const struct cache_fetch_opts *o, struct ni_err *e)
{
	if (o->connect_timeout_ms < 0 || o->low_speed_bytes < 0 ||
	    o->low_speed_time_s < 0 || o->backoff_ms < 0 ||
	    o->deadline_ms < 0 || o->max_recv_bps < 0)
		return ni_err_set(e, NI_EINVAL, "fetch options: a timeout "
				  "or limit is negative");
	if (o->retries < 0 || o->retries > 100)
		return ni_err_set(e, NI_EINVAL, "fetch options: retries %d "
				  "not within 0..100", o->retries);
	if (o->max_parallel < 1 || o->max_parallel > 256)
		return ni_err_set(e, NI_EINVAL, "fetch options: max_parallel "
				  "%d not within 1..256", o->max_parallel);
	return 0;
}

static int check_mirror(const char *m, struct ni_err *e)
{
	if (m == NULL || (strncasecmp(m, "http://", 7) != 0 &&
			  strncasecmp(m, "https://", 8) != 0))
		return ni_err_set(e, NI_EINVAL, "%s: not an http:// or "
				  "https:// URL", m ? m : "(null)");
	return 0;
}

static int copy_mirrors(struct cache_fetcher *f, const char *const *mirrors,
			size_t n, struct ni_err *e)
{
	size_t i;

	f->mirrors = calloc(n, sizeof(*f->mirrors));
	f->down_until = calloc(n, sizeof(*f->down_until));
	f->requests = calloc(n, sizeof(*f->requests));
	if (f->mirrors == NULL || f->down_until == NULL || f->requests == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		f->mirrors[i] = strdup(mirrors[i]);
		if (f->mirrors[i] == NULL)
			return ni_err_set(e, NI_ENOMEM, "out of memory");
		f->n_mirrors++;
	}
	return 0;
}

static int setup(struct cache_fetcher *f, const char *const *mirrors,
		 size_t n, struct ni_err *e)
{
	const char *ua = f->o.user_agent;
	long par = f->o.max_parallel;
	int ret;

	if ((ret = copy_mirrors(f, mirrors, n, e)) != 0)
		return ret;
	f->user_agent = ua ? strdup(ua) : strdup("netimg/" NETIMG_VERSION);
	f->o.user_agent = f->user_agent;
	f->idle = calloc((size_t)par + 1, sizeof(*f->idle));
	if (f->user_agent == NULL || f->idle == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	f->multi = curl_multi_init();
	if (f->multi == NULL)
		return ni_err_set(e, NI_EIO, "libcurl: cannot create a multi "
				  "handle");
	curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS, par);
	curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS,
			  par * (long)(n < 4 ? n : 4));
	return 0;
}

int cache_fetcher_new(struct cache_fetcher **out, const char *const *mirrors,
		      size_t n, const struct cache_fetch_opts *o,
		      struct ni_err *e)
{
	struct cache_fetcher *f;
	size_t i;
	int ret;

	*out = NULL;
	if (n == 0)
		return ni_err_set(e, NI_EINVAL, "no mirror to fetch from");
	for (i = 0; i < n; i++)
		if ((ret = check_mirror(mirrors[i], e)) != 0)
			return ret;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	if (o != NULL)
		f->o = *o;
	else
		cache_fetch_opts_init(&f->o);
	if ((ret = check_opts(&f->o, e)) != 0) {
		free(f);
		return ret;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(f);
		return ni_err_set(e, NI_EIO, "libcurl: cannot initialise");
	}
	if ((ret = setup(f, mirrors, n, e)) != 0) {
		cache_fetcher_free(f);
		return ret;
	}
	*out = f;
	return 0;
}

void cache_fetcher_free(struct cache_fetcher *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n_idle; i++)
		curl_easy_cleanup(f->idle[i]);
	if (f->multi != NULL)
		curl_multi_cleanup(f->multi);
	for (i = 0; i < f->n_mirrors; i++)
		free(f->mirrors[i]);
	free(f->mirrors);
	free(f->down_until);
	free(f->requests);
	free(f->idle);
	free(f->user_agent);
	free(f);
	curl_global_cleanup();
}

/* Whole files. */

struct mem_call {
	const uint8_t *sha256;
	uint8_t **out;
	size_t *len;
	struct cache_fetch_info *info;
	const struct cache_fetcher *f;
	int not_modified;
};

static int check_sha(const struct fx_job *j, const uint8_t *want, char *msg,
		     size_t n)
{
	uint8_t got[NI_SHA256_LEN];
	char hg[NI_SHA256_HEX], hw[NI_SHA256_HEX];

	ni_sha256_buf(j->buf, j->got, got);
	if (memcmp(got, want, NI_SHA256_LEN) == 0)
		return 0;
	ni_hex(got, NI_SHA256_LEN, hg);
	ni_hex(want, NI_SHA256_LEN, hw);
	snprintf(msg, n, "hash mismatch: got %s, want %s", hg, hw);
	return NI_EHASH;
}

static void fill_info(const struct mem_call *c, const struct fx_job *j)
{
	struct cache_fetch_info *i = c->info;

	if (i == NULL)
		return;
	i->mirror = j->mirror;
	i->mirror_url = c->f->mirrors[j->mirror];
	i->status = j->status;
	i->attempts = j->attempts;
	snprintf(i->etag, sizeof(i->etag), "%s", j->etag);
	snprintf(i->last_modified, sizeof(i->last_modified), "%s",
		 j->last_modified);
}

static int mem_accept(void *user, struct fx_job *j, char *msg, size_t n)
{
	struct mem_call *c = user;
	int ret;

	if (j->status == 304) {
		c->not_modified = 1;
		fill_info(c, j);
		return 0;
	}
	if (j->buf == NULL && (j->buf = malloc(1)) == NULL)
		return NI_ENOMEM;
	if (c->sha256 != NULL && (ret = check_sha(j, c->sha256, msg, n)) != 0)
		return ret;
	j->buf[j->got] = '\0';
	*c->out = j->buf;
	*c->len = j->got;
	j->buf = NULL;
	fill_info(c, j);
	return 0;
}

static int fetch_mem(struct cache_fetcher *f, const char *path, size_t max,
		     const char *etag_in, const uint8_t *sha256, uint8_t **out,
		     size_t *len, struct cache_fetch_info *info,
		     struct ni_err *e)
{
	struct mem_call c = { .sha256 = sha256, .out = out, .len = len,
			      .info = info, .f = f };
	struct fx_req q = { .path = path, .n = 1, .etag_in = etag_in,
			    .max = max < SIZE_MAX - 1 ? max : SIZE_MAX - 1 };
	int ret;

	*out = NULL;
	*len = 0;
	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if ((ret = fx_run(f, &q, mem_accept, &c, e)) != 0)
		return ret;
	return c.not_modified;
}

int cache_fetch_mem(struct cache_fetcher *f, const char *path, size_t max,
		    uint8_t **out, size_t *len, struct cache_fetch_info *info,
		    struct ni_err *e)
{
	return fetch_mem(f, path, max, NULL, NULL, out, len, info, e);
}

int cache_fetch_mem_if(struct cache_fetcher *f, const char *path, size_t max,
		       const char *etag_in, uint8_t **out, size_t *len,
		       struct cache_fetch_info *info, struct ni_err *e)
{
	return fetch_mem(f, path, max, etag_in, NULL, out, len, info, e);
}

int cache_fetch_mem_sha256(struct cache_fetcher *f, const char *path,
			   size_t max, const uint8_t *sha256, uint8_t **out,
			   size_t *len, struct cache_fetch_info *info,
			   struct ni_err *e)
{
	return fetch_mem(f, path, max, NULL, sha256, out, len, info, e);
}

/* Ranges. */

static int check_ranges(const char *path, const struct cache_range *r,
			size_t n, struct ni_err *e)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (r[i].len == 0 || r[i].off > UINT64_MAX - r[i].len)
			return ni_err_set(e, NI_EINVAL, "%s: range %zu (offset "
					  "%" PRIu64 ", %zu bytes) is empty or "
					  "out of bounds", path, i, r[i].off,
					  r[i].len);
	return 0;
}

struct range_call {
	cache_range_sink sink;
	void *user;
};

static int range_accept(void *user, struct fx_job *j, char *msg, size_t n)
{
	struct range_call *c = user;
	int ret = c->sink(c->user, j->idx, j->buf, j->len);

	if (ret == 0)
		return 0;
	snprintf(msg, n, "rejected: %s", ni_strerror(ret));
	return ret < 0 ? ret : NI_EINVAL;
}

int cache_fetch_ranges(struct cache_fetcher *f, const char *path,
		       const struct cache_range *r, size_t n,
		       cache_range_sink sink, void *user, struct ni_err *e)
{
	struct range_call c = { .sink = sink, .user = user };
	struct fx_req q = { .path = path, .ranges = r, .n = n };
	int ret;

	if ((ret = check_ranges(path, r, n, e)) != 0)
		return ret;
	return fx_run(f, &q, range_accept, &c, e);
}

static int stream_done(void *user, struct fx_job *j, char *msg, size_t n)
{
	const struct cache_range_stream *s = user;
	int ret;

	msg[0] = '\0';
	ret = s->done(s->user, j->idx, msg, n);
	if (ret == 0)
		return 0;
	if (msg[0] == '\0')
		snprintf(msg, n, "rejected: %s", ni_strerror(ret));
	return ret < 0 ? ret : NI_EINVAL;
}

int cache_fetch_ranges_stream(struct cache_fetcher *f, const char *path,
			      const struct cache_range *r, size_t n,
			      const struct cache_range_stream *s,
			      struct ni_err *e)
{
	struct fx_req q = { .path = path, .ranges = r, .n = n, .stream = s };
	int ret;

	if ((ret = check_ranges(path, r, n, e)) != 0)
		return ret;
	return fx_run(f, &q, stream_done, (void *)s, e);
}

unsigned long cache_fetcher_requests(const struct cache_fetcher *f, size_t m)
{
	unsigned long sum = 0;
	size_t i;

	if (m < f->n_mirrors)
		return f->requests[m];
	for (i = 0; i < f->n_mirrors; i++)
		sum += f->requests[i];
	return sum;
}

/* Helpers. */

static int url_safe(unsigned char c)
{
	return isalnum(c) || strchr("-._~/!$&'()*+,;=:@", c) != NULL;
}

char *cache_url_join(const char *base, const char *path)
{
	size_t bl = strlen(base), pl, i, k;
	char *u;

	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	while (*path == '/')
		path++;
	pl = strlen(path);
	u = malloc(bl + 1 + pl * 3 + 1);
	if (u == NULL)
		return NULL;
	memcpy(u, base, bl);
	k = bl;
	u[k++] = '/';
	for (i = 0; i < pl; i++) {
		unsigned char c = (unsigned char)path[i];

		if (url_safe(c))
			u[k++] = (char)c;
		else
			k += (size_t)sprintf(u + k, "%%%02X", c);
	}
	u[k] = '\0';
	return u;
}

/* A decimal number without sign or spaces, into *v; returns the end. */
static const char *number(const char *s, uint64_t *v)
{
	uint64_t n = 0;

	if (!isdigit((unsigned char)*s))
		return NULL;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (n > (UINT64_MAX - d) / 10)
			return NULL;
		n = n * 10 + d;
	}
	*v = n;
	return s;
}

int cache_parse_content_range(const char *s, uint64_t *first, uint64_t *last,
			      uint64_t *total)
{
	uint64_t a, b, t = UINT64_MAX;

	if (s == NULL || strncasecmp(s, "bytes", 5) != 0 ||
	    (s[5] != ' ' && s[5] != '\t'))
		return -1;
	for (s += 5; *s == ' ' || *s == '\t'; s++)
		;
	if ((s = number(s, &a)) == NULL || *s++ != '-' ||
	    (s = number(s, &b)) == NULL || *s++ != '/')
		return -1;
	if (*s == '*')
		s++;
	else if ((s = number(s, &t)) == NULL || b >= t)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '\0' || b < a)
		return -1;
	*first = a;
	*last = b;
	*total = t;
	return 0;
}
