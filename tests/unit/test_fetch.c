/* test_fetch.c: the fetch module's pure parts (URL joining, Content-Range
 * parsing, the verdict on an attempt, the final error line), its argument
 * checks, and one real attempt at a closed port. The transfers themselves
 * are tested against a misbehaving server in tests/t/72-fetch.t. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cache/fetch.h"
#include "cache/fetch_internal.h"
#include "tests/unit/unit.h"

static int join_is(const char *base, const char *path, const char *want)
{
	char *got = cache_url_join(base, path);
	int ok = got != NULL && strcmp(got, want) == 0;

	if (!ok)
		printf("#   join(%s, %s) = %s, want %s\n", base, path,
		       got ? got : "NULL", want);
	free(got);
	return ok;
}

static int test_url_join(void)
{
	int fails = 0;

	UCHECK(join_is("http://h/x/", "a/b", "http://h/x/a/b"));
	UCHECK(join_is("http://h/x", "a/b", "http://h/x/a/b"));
	UCHECK(join_is("http://h/x//", "/a/b", "http://h/x/a/b"));
	UCHECK(join_is("http://h:8080", "f", "http://h:8080/f"));
	UCHECK(join_is("http://h/", "", "http://h/"));
	UCHECK(join_is("http://h/r/", "a b?c#d%e", "http://h/r/a%20b%3Fc%23d%25e"));
	UCHECK(join_is("http://h/", "chunks/ab/abcdef-_.~", "http://h/chunks/ab/abcdef-_.~"));
	UCHECK(join_is("http://h/", "\xc3\xa9", "http://h/%C3%A9"));
	return fails;
}

static int cr_is(const char *s, uint64_t a, uint64_t b, uint64_t t)
{
	uint64_t x = 1, y = 1, z = 1;

	return cache_parse_content_range(s, &x, &y, &z) == 0 && x == a &&
	       y == b && z == t;
}

static int cr_bad(const char *s)
{
	uint64_t x, y, z;

	return cache_parse_content_range(s, &x, &y, &z) == -1;
}

static int test_content_range(void)
{
	int fails = 0;

	UCHECK(cr_is("bytes 0-99/1000", 0, 99, 1000));
	UCHECK(cr_is("bytes 5-5/6", 5, 5, 6));
	UCHECK(cr_is("BYTES  10-19/*", 10, 19, UINT64_MAX));
	UCHECK(cr_is("bytes 0-18446744073709551613/18446744073709551614", 0,
		     18446744073709551613ull, 18446744073709551614ull));
	UCHECK(cr_is("bytes 1-2/3 ", 1, 2, 3));
	UCHECK(cr_bad(NULL));
	UCHECK(cr_bad(""));
	UCHECK(cr_bad("bytes */1000"));
	UCHECK(cr_bad("bytes 0-99"));
	UCHECK(cr_bad("bytes 0-99/"));
	UCHECK(cr_bad("bytes 0-99/100x"));
	UCHECK(cr_bad("bytes 0-100/100"));
	UCHECK(cr_bad("bytes 9-8/100"));
	UCHECK(cr_bad("bytes -1-8/100"));
	UCHECK(cr_bad("bytes 0--8/100"));
	UCHECK(cr_bad("bytes +0-8/100"));
	UCHECK(cr_bad("bytes0-8/100"));
	UCHECK(cr_bad("items 0-8/100"));
	UCHECK(cr_bad("bytes 0-99999999999999999999/*"));
	return fails;
}

static void outcome(struct fx_outcome *o, int cc, long status)
{
	memset(o, 0, sizeof(*o));
	o->curl_code = cc;
	o->curl_msg = "curl says";
	o->status = status;
	o->connected = 1;
	o->content_length = -1;
	o->content_range = "";
	o->abort_msg = "";
	o->connect_timeout_ms = 5000;
	o->low_speed_bytes = 1024;
	o->low_speed_time_s = 10;
}

/* The verdict is v, with code and a message containing want. */
static int verdict_is(const struct fx_outcome *o, enum fx_verdict v,
		      int code, const char *want)
{
	char msg[512];
	int c = 12345;
	enum fx_verdict got = fx_classify(o, &c, msg, sizeof(msg));

	if (got == v && (v == FX_OK || (c == code && strstr(msg, want))))
		return 1;
	printf("#   verdict %d code %d '%s', want %d %d '%s'\n", got, c, msg, v,
	       code, want);
	return 0;
}

static int test_classify_whole(void)
{
	struct fx_outcome o;
	int fails = 0;

	outcome(&o, CURLE_OK, 200);
	UCHECK(verdict_is(&o, FX_OK, 0, ""));
	outcome(&o, CURLE_OK, 404);
	UCHECK(verdict_is(&o, FX_NOT_FOUND, NI_ENOENT, "not found"));
	outcome(&o, CURLE_OK, 410);
	UCHECK(verdict_is(&o, FX_NOT_FOUND, NI_ENOENT, "not found"));
	outcome(&o, CURLE_OK, 500);
	UCHECK(verdict_is(&o, FX_RETRY, NI_EIO, "server error 500"));
	outcome(&o, CURLE_PARTIAL_FILE, 503);
	UCHECK(verdict_is(&o, FX_RETRY, NI_EIO, "server error 503"));
	outcome(&o, CURLE_OK, 429);
	UCHECK(verdict_is(&o, FX_RETRY, NI_EIO, "busy"));
	outcome(&o, CURLE_OK, 403);
	UCHECK(verdict_is(&o, FX_NEXT, NI_EIO, "HTTP 403"));
	outcome(&o, CURLE_OK, 304);
	UCHECK(verdict_is(&o, FX_NEXT, NI_EIO, "unexpected HTTP 304"));
	o.conditional = 1;
	UCHECK(verdict_is(&o, FX_OK, 0, ""));
	outcome(&o, CURLE_OK, 204);
	UCHECK(verdict_is(&o, FX_NEXT, NI_EIO, "unexpected HTTP 204"));
	outcome(&o, CURLE_OK, 206);
	UCHECK(verdict_is(&o, FX_NEXT, NI_EIO, "unexpected HTTP 206"));
	outcome(&o, CURLE_WRITE_ERROR, 200);
	o.abort_code = NI_EINVAL;
	o.abort_msg = "too large: 10 bytes";
	UCHECK(verdict_is(&o, FX_NEXT, NI_EINVAL, "too large"));
	o.abort_code = NI_ENOMEM;
	UCHECK(verdict_is(&o, FX_FATAL, NI_ENOMEM, ""));
	return fails;
}

static int test_classify_network(void)
{
	struct fx_outcome o;
	int fails = 0;

	outcome(&o, CURLE_COULDNT_CONNECT, 0);
	o.connected = 0;
	o.os_errno = ECONNREFUSED;
	UCHECK(verdict_is(&o, FX_DOWN, NI_EIO, "mirror down: connection refused"));
	o.os_errno = EHOSTUNREACH;
	UCHECK(verdict_is(&o, FX_DOWN, NI_EIO, "mirror down: No route"));
	outcome(&o, CURLE_COULDNT_RESOLVE_HOST, 0);
	UCHECK(verdict_is(&o, FX_DOWN, NI_EIO, "cannot resolve"));
	outcome(&o, CURLE_OPERATION_TIMEDOUT, 0);
	o.connected = 0;
	UCHECK(verdict_is(&o, FX_DOWN, NI_EIO, "no connection within 5000 ms"));
	outcome(&o, CURLE_OPERATION_TIMEDOUT, 200);
	UCHECK(verdict_is(&o, FX_RETRY, NI_EIO,
			  "stalled: under 1024 bytes/s for 10 s"));
	o.deadline_hit = 1;
	UCHECK(verdict_is(&o, FX_DEADLINE, NI_EIO, "deadline"));
	outcome(&o, CURLE_PARTIAL_FILE, 200);
	o.got = 5;
	o.content_length = 10;
	UCHECK(verdict_is(&o, FX_RETRY, NI_EIO, "truncated: got 5 of 10 bytes"));
	o.content_length = -1;
	UCHECK(verdict_is(&o, FX_RETRY, NI_EIO, "truncated: got 5 bytes"));
	outcome(&o, CURLE_RECV_ERROR, 200);
	o.os_errno = ECONNRESET;
	UCHECK(verdict_is(&o, FX_RETRY, NI_EIO, "connection reset"));
	outcome(&o, CURLE_GOT_NOTHING, 0);
	UCHECK(verdict_is(&o, FX_RETRY, NI_EIO, "without an answer"));
	outcome(&o, CURLE_PEER_FAILED_VERIFICATION, 0);
	UCHECK(verdict_is(&o, FX_NEXT, NI_EIO, "TLS: curl says"));
	outcome(&o, CURLE_OUT_OF_MEMORY, 0);
	UCHECK(verdict_is(&o, FX_FATAL, NI_ENOMEM, "out of memory"));
	return fails;
}

static int test_classify_range(void)
{
	struct fx_outcome o;
	int fails = 0;

	outcome(&o, CURLE_OK, 206);
	o.is_range = 1;
	o.off = 100;
	o.len = 50;
	o.got = 50;
	o.content_range = "bytes 100-149/1000";
	UCHECK(verdict_is(&o, FX_OK, 0, ""));
	o.got = 49;
	UCHECK(verdict_is(&o, FX_NEXT, NI_EINVAL, "wrong length/range: got 49 of 50"));
	o.got = 50;
	o.content_range = "bytes 101-150/1000";
	UCHECK(verdict_is(&o, FX_NEXT, NI_EINVAL, "wrong length/range: Content-Range"));
	o.content_range = "";
	UCHECK(verdict_is(&o, FX_NEXT, NI_EINVAL, "wrong length/range"));
	o.status = 200;
	UCHECK(verdict_is(&o, FX_NEXT, NI_EINVAL, "whole file (HTTP 200)"));
	o.status = 416;
	UCHECK(verdict_is(&o, FX_NEXT, NI_EINVAL, "bytes 100-149 not satisfiable"));
	o.status = 304;
	o.conditional = 1;
	UCHECK(verdict_is(&o, FX_NEXT, NI_EIO, "unexpected HTTP 304"));
	return fails;
}

static int test_job_error(void)
{
	struct cache_fetcher f = { 0 };
	struct fx_job j = { 0 };
	struct ni_err e = { 0 };
	int fails = 0;

	f.o.deadline_ms = 1500;
	j.path = "img/x.sqfs";
	j.attempts = 2;
	j.tried = 2;
	UCHECK(fx_job_error(&f, &j, 0, &e) == NI_ENOENT);
	UCHECK(strcmp(e.msg, "img/x.sqfs: not found on any mirror (2 tried)") == 0);
	j.err_code = NI_EIO;
	strcpy(j.err, "http://m/img/x.sqfs: server error 500");
	j.attempts = 5;
	UCHECK(fx_job_error(&f, &j, 0, &e) == NI_EIO);
	UCHECK(strcmp(e.msg, "http://m/img/x.sqfs: server error 500 (after 5 "
		      "attempts on 2 mirrors)") == 0);
	j.attempts = j.tried = 1;
	fx_job_error(&f, &j, 0, &e);
	UCHECK(strcmp(e.msg, "http://m/img/x.sqfs: server error 500") == 0);
	UCHECK(fx_job_error(&f, &j, 1, &e) == NI_EIO);
	UCHECK(strcmp(e.msg, "img/x.sqfs: deadline of 1500 ms exceeded; last "
		      "error: http://m/img/x.sqfs: server error 500") == 0);
	return fails;
}

static int test_new_refuses(void)
{
	const char *good[] = { "http://127.0.0.1:1/" }, *bad[] = { "ftp://h/" };
	struct cache_fetch_opts o;
	struct cache_fetcher *f = (struct cache_fetcher *)&o;
	struct ni_err e = { 0 };
	int fails = 0;

	UCHECK(cache_fetcher_new(&f, good, 0, NULL, &e) == NI_EINVAL);
	UCHECK(f == NULL);
	UCHECK(cache_fetcher_new(&f, bad, 1, NULL, &e) == NI_EINVAL);
	UCHECK(strstr(e.msg, "ftp://h/: not an http") != NULL);
	cache_fetch_opts_init(&o);
	o.max_parallel = 0;
	UCHECK(cache_fetcher_new(&f, good, 1, &o, &e) == NI_EINVAL);
	cache_fetch_opts_init(&o);
	o.retries = -1;
	UCHECK(cache_fetcher_new(&f, good, 1, &o, &e) == NI_EINVAL);
	cache_fetch_opts_init(&o);
	o.connect_timeout_ms = -5;
	UCHECK(cache_fetcher_new(&f, good, 1, &o, &e) == NI_EINVAL);
	UCHECK(cache_fetcher_new(&f, good, 1, NULL, &e) == 0);
	cache_fetcher_free(f);
	cache_fetcher_free(NULL);
	return fails;
}

/* A port nothing listens on: bound, then closed. */
static int closed_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &l) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

static int no_sink(void *user, size_t idx, const uint8_t *data, size_t len)
{
	return 0;
}

static int test_mirror_down(void)
{
	struct cache_range r[2] = { { 0, 10 }, { 5, 0 } };
	struct cache_fetch_opts o;
	struct cache_fetcher *f = NULL;
	struct cache_fetch_info info;
	struct ni_err e = { 0 };
	char url[64];
	const char *m[1] = { url };
	uint8_t *out = (uint8_t *)url;
	size_t len = 7;
	int fails = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/r", closed_port());
	cache_fetch_opts_init(&o);
	o.retries = 1;
	o.backoff_ms = 1;
	UCHECK(cache_fetcher_new(&f, m, 1, &o, &e) == 0);
	if (f == NULL)
		return fails + 1;
	UCHECK(cache_fetch_mem(f, "a", 100, &out, &len, &info, &e) == NI_EIO);
	UCHECK(out == NULL && len == 0);
	UCHECK(strstr(e.msg, "/r/a: mirror down: connection refused (after 2 "
		      "attempts on 1 mirror)") != NULL);
	UCHECK(cache_fetch_ranges(f, "a", r, 2, no_sink, NULL, &e) == NI_EINVAL);
	UCHECK(strstr(e.msg, "range 1") != NULL);
	UCHECK(cache_fetch_ranges(f, "a", r, 0, no_sink, NULL, &e) == 0);
	UCHECK(cache_fetch_ranges(f, "a", r, 1, no_sink, NULL, &e) == NI_EIO);
	UCHECK(strstr(e.msg, "/r/a: bytes 0-9: mirror down") != NULL);
	cache_fetcher_free(f);
	return fails;
}

const struct unit_test unit_fetch_tests[] = {
	{ "fetch: URL joining", test_url_join },
	{ "fetch: Content-Range parsing", test_content_range },
	{ "fetch: verdicts on whole-file answers", test_classify_whole },
	{ "fetch: verdicts on network failures", test_classify_network },
	{ "fetch: verdicts on range answers", test_classify_range },
	{ "fetch: the final error line", test_job_error },
	{ "fetch: fetcher_new refuses bad mirrors and options", test_new_refuses },
	{ "fetch: a closed port is a mirror down", test_mirror_down },
	{ NULL, NULL },
};
