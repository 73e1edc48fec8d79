/* fetch_xfer.c: one HTTP attempt of a job on one libcurl easy handle: the
 * options, the header and body callbacks (which refuse a body over the cap
 * or a wrong range as soon as it shows) and what the attempt saw. */
#include "cache/fetch_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int stop(struct fx_job *j, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Makes the body callback fail the transfer with code and a message. */
static int stop(struct fx_job *j, int code, const char *fmt, ...)
{
	va_list ap;

	j->abort_code = code;
	va_start(ap, fmt);
	vsnprintf(j->abort_msg, sizeof(j->abort_msg), fmt, ap);
	va_end(ap);
	return code;
}

/* A header "Name: value" (name case-insensitive): its trimmed value. */
static int header_is(const char *p, size_t n, const char *name,
		     const char **v, size_t *vn)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(p, name, k) != 0 || p[k] != ':')
		return 0;
	p += k + 1;
	n -= k + 1;
	while (n > 0 && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n' ||
			 p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	*v = p;
	*vn = n;
	return 1;
}

/* Keeps a header value; one too long to keep whole is dropped. */
static void keep(char *dst, size_t cap, const char *v, size_t vn)
{
	if (vn >= cap)
		vn = 0;
	memcpy(dst, v, vn);
	dst[vn] = '\0';
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *user)
{
	struct fx_job *j = user;
	size_t n = size * nmemb, vn;
	const char *v;

	j->hdr_seen = 1;
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* A new response (after a redirect, a 100 or a proxy's
		 * CONNECT): forget the last one's headers. */
		j->etag[0] = j->last_modified[0] = j->content_range[0] = '\0';
	} else if (header_is(p, n, "ETag", &v, &vn)) {
		keep(j->etag, sizeof(j->etag), v, vn);
	} else if (header_is(p, n, "Last-Modified", &v, &vn)) {
		keep(j->last_modified, sizeof(j->last_modified), v, vn);
	} else if (header_is(p, n, "Content-Range", &v, &vn)) {
		keep(j->content_range, sizeof(j->content_range), v, vn);
	}
	return n;
}

static int range_start(struct fx_job *j, long status)
{
	uint64_t first, last, total, want_last = j->off + j->len - 1;

	if (status == 200)
		return stop(j, NI_EINVAL, "wrong length/range: whole file "
			    "(HTTP 200) instead of bytes %" PRIu64 "-%" PRIu64,
			    j->off, want_last);
	if (status != 206) {
		j->discard = 1;
		return 0;
	}
	if (cache_parse_content_range(j->content_range, &first, &last,
				      &total) != 0 ||
	    first != j->off || last != want_last)
		return stop(j, NI_EINVAL, "wrong length/range: Content-Range "
			    "'%.60s' for bytes %" PRIu64 "-%" PRIu64,
			    j->content_range, j->off, want_last);
	if (j->stream == NULL && j->cap < j->len) {
		free(j->buf);
		j->cap = 0;
		j->buf = malloc(j->len);
		if (j->buf == NULL)
			return stop(j, NI_ENOMEM, "out of memory");
		j->cap = j->len;
	}
	return 0;
}

/* The first body bytes: the status and length are known now. */
static int body_start(struct fx_job *j)
{
	long status = 0;
	curl_off_t cl = -1;
	size_t cap;

	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(j->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	if (j->is_range)
		return range_start(j, status);
	if (status != 200) {
		j->discard = 1;
		return 0;
	}
	if (cl >= 0 && (uint64_t)cl > j->max)
		return stop(j, NI_EINVAL, "too large: %" PRId64 " bytes, over "
			    "the limit of %zu", (int64_t)cl, j->max);
	cap = cl >= 0 ? (size_t)cl : (j->max < 65536 ? j->max : 65536);
	free(j->buf);
	j->buf = malloc(cap + 1);
	if (j->buf == NULL)
		return stop(j, NI_ENOMEM, "out of memory");
	j->cap = cap;
	return 0;
}

static int grow(struct fx_job *j, size_t need)
{
	size_t cap = j->cap * 2;
	uint8_t *b;

	if (j->is_range)
		return stop(j, NI_EINVAL, "wrong length/range: more than %zu "
			    "bytes for bytes %" PRIu64 "-%" PRIu64, j->len,
			    j->off, j->off + j->len - 1);
	if (need > j->max)
		return stop(j, NI_EINVAL, "too large: more than the limit of "
			    "%zu bytes", j->max);
	if (cap < need)
		cap = need;
	if (cap > j->max)
		cap = j->max;
	b = realloc(j->buf, cap + 1);
	if (b == NULL)
		return stop(j, NI_ENOMEM, "out of memory");
	j->buf = b;
	j->cap = cap;
	return 0;
}

/* A streamed range: the bytes go straight to the caller. */
static size_t stream_body(struct fx_job *j, const uint8_t *p, size_t n)
{
	const struct cache_range_stream *s = j->stream;
	int ret;

	if (n > j->len - j->got) {
		stop(j, NI_EINVAL, "wrong length/range: more than %zu bytes "
		     "for bytes %" PRIu64 "-%" PRIu64, j->len, j->off,
		     j->off + j->len - 1);
		return 0;
	}
	j->abort_msg[0] = '\0';
	ret = s->data(s->user, j->idx, j->got, p, n, j->abort_msg,
		      sizeof(j->abort_msg));
	if (ret != 0) {
		j->abort_code = ret;
		j->abort_fatal = 1;
		if (j->abort_msg[0] == '\0')
			snprintf(j->abort_msg, sizeof(j->abort_msg), "%s",
				 ni_strerror(ret));
		return 0;
	}
	j->got += n;
	return n;
}

/* The receive cap, kept here: libcurl's own (CURLOPT_MAX_RECV_SPEED_LARGE)
 * averages over seconds and lets a short transfer through at full speed.
 * Each body block is due n / bps seconds after the previous ones (an idle
 * fetcher earns at most PACE_BURST of credit); the callback sleeps until
 * then, and TCP holds the sender back meanwhile. Capped fetchers run one
 * transfer at a time (vimg_fetch_cap), so the sleep delays no other. */
#define PACE_BURST 0.05

static void pace(struct cache_fetcher *f, size_t n)
{
	struct timespec ts;
	double now, wait;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	if (f->pace_next < now - PACE_BURST)
		f->pace_next = now - PACE_BURST;
	f->pace_next += (double)n / (double)f->o.max_recv_bps;
	wait = f->pace_next - now;
	if (wait <= 0)
		return;
	ts.tv_sec = (time_t)wait;
	ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *user)
{
	struct fx_job *j = user;
	size_t n = size * nmemb;

	if (j->pace != NULL)
		pace(j->pace, n);

	if (!j->body_seen) {
		j->body_seen = 1;
		if (body_start(j) != 0)
			return 0;
	}
	if (j->discard) {
		/* An error page: read a little of it, so the connection
		 * stays usable, but no more. */
		j->got += n;
		return j->got > FX_DISCARD_MAX ? 0 : n;
	}
	if (j->stream != NULL)
		return stream_body(j, (const uint8_t *)p, n);
	if (n > j->cap - j->got && grow(j, j->got + n) != 0)
		return 0;
	memcpy(j->buf + j->got, p, n);
	j->got += n;
	return n;
}

static int set_request(struct fx_job *j, uint64_t remaining_ms)
{
	CURL *h = j->easy;
	int c = 0;

	c |= curl_easy_setopt(h, CURLOPT_URL, j->url);
	c |= curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)j);
	c |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	c |= curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)j);
	c |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	c |= curl_easy_setopt(h, CURLOPT_HEADERDATA, (void *)j);
	c |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, j->errbuf);
	if (remaining_ms > 0)
		c |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
				      (long)remaining_ms);
	if (j->is_range) {
		char range[48];

		snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, j->off,
			 j->off + j->len - 1);
		c |= curl_easy_setopt(h, CURLOPT_RANGE, range);
	} else if (j->etag_in != NULL && j->etag_in[0] != '\0') {
		char hdr[300];

		snprintf(hdr, sizeof(hdr), "If-None-Match: %.280s", j->etag_in);
		j->hdrs = curl_slist_append(NULL, hdr);
		if (j->hdrs == NULL)
			return NI_ENOMEM;
		c |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, j->hdrs);
	}
	return c;
}

/* The same for every request: timeouts, protocols, buffers. */
static int set_common(struct cache_fetcher *f, CURL *h)
{
	const struct cache_fetch_opts *o = &f->o;
	int c = 0;

	c |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	c |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			      o->connect_timeout_ms);
	if (o->low_speed_time_s > 0) {
		c |= curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT,
				      o->low_speed_bytes);
		c |= curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
				      o->low_speed_time_s);
	}
	c |= curl_easy_setopt(h, CURLOPT_USERAGENT, f->user_agent);
	c |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	c |= curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	c |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	c |= curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	/* Parallel ranges go over parallel connections, the same over
	 * https as over http (no HTTP/2 multiplexing onto one); the netboot
	 * init is linked without HTTP/2 (netboot/init/unlinked.c). */
	c |= curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	c |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (o->max_recv_bps > 0) {
		curl_off_t each = (curl_off_t)(o->max_recv_bps / o->max_parallel);
		long buf = (long)(each / 8);

		/* libcurl waits between reads: small reads keep a short
		 * transfer from arriving in one buffer, over the cap */
		c |= curl_easy_setopt(h, CURLOPT_MAX_RECV_SPEED_LARGE,
				      each > 0 ? each : (curl_off_t)1);
		c |= curl_easy_setopt(h, CURLOPT_BUFFERSIZE,
				      buf < 1024 ? 1024L : buf > FX_RECV_BUFFER ?
				      FX_RECV_BUFFER : buf);
	} else {
		c |= curl_easy_setopt(h, CURLOPT_BUFFERSIZE, FX_RECV_BUFFER);
	}
	c |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	c |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	return c;
}

static CURL *take_easy(struct cache_fetcher *f)
{
	CURL *h;

	if (f->n_idle == 0)
		return curl_easy_init();
	h = f->idle[--f->n_idle];
	curl_easy_reset(h);
	return h;
}

void fx_xfer_release(struct cache_fetcher *f, struct fx_job *j)
{
	if (j->easy != NULL) {
		curl_multi_remove_handle(f->multi, j->easy);
		if (f->n_idle < (size_t)f->o.max_parallel + 1)
			f->idle[f->n_idle++] = j->easy;
		else
			curl_easy_cleanup(j->easy);
		j->easy = NULL;
	}
	curl_slist_free_all(j->hdrs);
	j->hdrs = NULL;
	free(j->url);
	j->url = NULL;
}

int fx_xfer_start(struct cache_fetcher *f, struct fx_job *j,
		  uint64_t remaining_ms, struct ni_err *e)
{
	int c;

	j->got = 0;
	j->body_seen = j->hdr_seen = j->discard = 0;
	j->abort_code = j->abort_fatal = 0;
	j->abort_msg[0] = j->etag[0] = j->last_modified[0] = '\0';
	j->content_range[0] = j->errbuf[0] = '\0';
	j->status = 0;
	j->url = cache_url_join(f->mirrors[j->mirror], j->path);
	j->easy = take_easy(f);
	if (j->url == NULL || j->easy == NULL) {
		fx_xfer_release(f, j);
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", j->path);
	}
	j->pace = f->o.max_recv_bps > 0 ? f : NULL;
	c = set_common(f, j->easy);
	c |= set_request(j, remaining_ms);
	if (c != 0) {
		fx_xfer_release(f, j);
		return ni_err_set(e, NI_EIO, "%s: libcurl refused an option",
				  j->path);
	}
	if (curl_multi_add_handle(f->multi, j->easy) != CURLM_OK) {
		curl_easy_cleanup(j->easy);
		j->easy = NULL;
		fx_xfer_release(f, j);
		return ni_err_set(e, NI_EIO, "%s: libcurl cannot start it",
				  j->path);
	}
	j->attempt++;
	j->attempts++;
	f->requests[j->mirror]++;
	return 0;
}

void fx_xfer_outcome(const struct cache_fetcher *f, const struct fx_job *j,
		     int cc, struct fx_outcome *o)
{
	long oserr = 0;
	curl_off_t ct = 0, pt = 0, cl = -1, got = 0;

	memset(o, 0, sizeof(*o));
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &o->status);
	curl_easy_getinfo(j->easy, CURLINFO_OS_ERRNO, &oserr);
	curl_easy_getinfo(j->easy, CURLINFO_CONNECT_TIME_T, &ct);
	curl_easy_getinfo(j->easy, CURLINFO_PRETRANSFER_TIME_T, &pt);
	curl_easy_getinfo(j->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	curl_easy_getinfo(j->easy, CURLINFO_SIZE_DOWNLOAD_T, &got);
	o->curl_code = cc;
	o->curl_msg = j->errbuf[0] ? j->errbuf :
		      curl_easy_strerror((CURLcode)cc);
	o->os_errno = (int)oserr;
	o->connected = ct > 0 || pt > 0 || j->hdr_seen;
	o->content_length = cl;
	o->got = j->discard ? (uint64_t)got : j->got;
	o->is_range = j->is_range;
	o->off = j->off;
	o->len = j->len;
	o->content_range = j->content_range;
	o->conditional = j->etag_in != NULL && j->etag_in[0] != '\0';
	o->abort_code = j->abort_code;
	o->abort_fatal = j->abort_fatal;
	o->abort_msg = j->abort_msg;
	o->connect_timeout_ms = f->o.connect_timeout_ms;
	o->low_speed_bytes = f->o.low_speed_bytes;
	o->low_speed_time_s = f->o.low_speed_time_s;
}
