/* fetch_classify.c: the verdict on one HTTP attempt (done, retry here, try
 * the next mirror, stop) with its words, and the one line a failed fetch
 * ends with. Pure: the engine gathers what libcurl saw. */
#include "cache/fetch_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static enum fx_verdict say(enum fx_verdict v, int *code, int c, char *msg,
			   size_t n, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static enum fx_verdict say(enum fx_verdict v, int *code, int c, char *msg,
			   size_t n, const char *fmt, ...)
{
	va_list ap;

	*code = c;
	va_start(ap, fmt);
	vsnprintf(msg, n, fmt, ap);
	va_end(ap);
	return v;
}

/* An HTTP error status (or a 3xx libcurl did not follow). */
static enum fx_verdict by_status(const struct fx_outcome *o, int *code,
				 char *msg, size_t n)
{
	long s = o->status;

	if (s == 404 || s == 410)
		return say(FX_NOT_FOUND, code, NI_ENOENT, msg, n,
			   "not found (HTTP %ld)", s);
	if (s >= 500)
		return say(FX_RETRY, code, NI_EIO, msg, n,
			   "server error %ld", s);
	if (s == 408 || s == 429)
		return say(FX_RETRY, code, NI_EIO, msg, n,
			   "server busy (HTTP %ld)", s);
	if (s == 416)
		return say(FX_NEXT, code, NI_EINVAL, msg, n,
			   "wrong length/range: bytes %" PRIu64 "-%" PRIu64
			   " not satisfiable (HTTP 416)",
			   o->off, o->off + o->len - 1);
	if (s >= 400)
		return say(FX_NEXT, code, NI_EIO, msg, n, "refused (HTTP %ld)",
			   s);
	return say(FX_NEXT, code, NI_EIO, msg, n, "unexpected HTTP %ld", s);
}

static int is_tls(int cc)
{
	switch (cc) {
	case CURLE_PEER_FAILED_VERIFICATION: case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM: case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE: case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH: case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE: case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_ENGINE_NOTFOUND: case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED: case CURLE_SSL_SHUTDOWN_FAILED:
		return 1;
	default:
		return 0;
	}
}

static enum fx_verdict timed_out(const struct fx_outcome *o, int *code,
				 char *msg, size_t n)
{
	if (!o->connected)
		return say(FX_DOWN, code, NI_EIO, msg, n,
			   "mirror down: no connection within %ld ms",
			   o->connect_timeout_ms);
	return say(FX_RETRY, code, NI_EIO, msg, n,
		   "stalled: under %ld bytes/s for %ld s", o->low_speed_bytes,
		   o->low_speed_time_s);
}

static enum fx_verdict lost(const struct fx_outcome *o, int *code, char *msg,
			    size_t n)
{
	if (o->os_errno == ECONNRESET)
		return say(FX_RETRY, code, NI_EIO, msg, n,
			   "connection reset after %" PRIu64 " bytes", o->got);
	return say(FX_RETRY, code, NI_EIO, msg, n, "connection lost: %s",
		   o->curl_msg);
}

static enum fx_verdict by_curl(const struct fx_outcome *o, int *code,
			       char *msg, size_t n)
{
	int cc = o->curl_code;

	if (cc == CURLE_COULDNT_CONNECT)
		return say(FX_DOWN, code, NI_EIO, msg, n, "mirror down: %s",
			   o->os_errno == ECONNREFUSED || o->os_errno == 0 ?
			   "connection refused" : strerror(o->os_errno));
	if (cc == CURLE_COULDNT_RESOLVE_HOST)
		return say(FX_DOWN, code, NI_EIO, msg, n,
			   "mirror down: cannot resolve its host name");
	if (cc == CURLE_COULDNT_RESOLVE_PROXY || cc == CURLE_PROXY)
		return say(FX_DOWN, code, NI_EIO, msg, n, "proxy: %s",
			   o->curl_msg);
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return timed_out(o, code, msg, n);
	if (cc == CURLE_PARTIAL_FILE && o->content_length >= 0)
		return say(FX_RETRY, code, NI_EIO, msg, n,
			   "truncated: got %" PRIu64 " of %" PRId64 " bytes",
			   o->got, o->content_length);
	if (cc == CURLE_PARTIAL_FILE)
		return say(FX_RETRY, code, NI_EIO, msg, n,
			   "truncated: got %" PRIu64 " bytes, then the "
			   "connection closed", o->got);
	if (cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR)
		return lost(o, code, msg, n);
	if (cc == CURLE_GOT_NOTHING)
		return say(FX_RETRY, code, NI_EIO, msg, n,
			   "connection closed without an answer");
	if (is_tls(cc))
		return say(FX_NEXT, code, NI_EIO, msg, n, "TLS: %s",
			   o->curl_msg);
	if (cc == CURLE_TOO_MANY_REDIRECTS ||
	    cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT || cc == CURLE_WEIRD_SERVER_REPLY ||
	    cc == CURLE_BAD_CONTENT_ENCODING || cc == CURLE_WRITE_ERROR)
		return say(FX_NEXT, code, NI_EIO, msg, n, "%s", o->curl_msg);
	return say(FX_RETRY, code, NI_EIO, msg, n, "%s", o->curl_msg);
}

/* A 206 must name exactly the bytes asked for and carry all of them. */
static enum fx_verdict range_ok(const struct fx_outcome *o, int *code,
				char *msg, size_t n)
{
	uint64_t first, last, total, want_last = o->off + o->len - 1;

	if (o->status == 200)
		return say(FX_NEXT, code, NI_EINVAL, msg, n,
			   "wrong length/range: whole file (HTTP 200) instead "
			   "of bytes %" PRIu64 "-%" PRIu64, o->off, want_last);
	if (o->status != 206)
		return say(FX_NEXT, code, NI_EIO, msg, n, "unexpected HTTP %ld",
			   o->status);
	if (cache_parse_content_range(o->content_range, &first, &last,
				      &total) != 0 ||
	    first != o->off || last != want_last)
		return say(FX_NEXT, code, NI_EINVAL, msg, n,
			   "wrong length/range: Content-Range '%.60s' for "
			   "bytes %" PRIu64 "-%" PRIu64, o->content_range,
			   o->off, want_last);
	if (o->got != o->len)
		return say(FX_NEXT, code, NI_EINVAL, msg, n,
			   "wrong length/range: got %" PRIu64 " of %zu bytes",
			   o->got, o->len);
	return FX_OK;
}

enum fx_verdict fx_classify(const struct fx_outcome *o, int *code, char *msg,
			    size_t n)
{
	*code = 0;
	if (n > 0)
		msg[0] = '\0';
	if (o->abort_code != 0)
		return say(o->abort_code == NI_ENOMEM || o->abort_fatal ?
			   FX_FATAL : FX_NEXT,
			   code, o->abort_code, msg, n, "%s", o->abort_msg);
	if (o->curl_code == CURLE_OUT_OF_MEMORY)
		return say(FX_FATAL, code, NI_ENOMEM, msg, n, "out of memory");
	if (o->curl_code == CURLE_OPERATION_TIMEDOUT && o->deadline_hit)
		return say(FX_DEADLINE, code, NI_EIO, msg, n,
			   "deadline exceeded");
	if (o->status >= 400 ||
	    (o->curl_code == CURLE_OK && o->status >= 300 &&
	     (o->status != 304 || !o->conditional || o->is_range)))
		return by_status(o, code, msg, n);
	if (o->curl_code != CURLE_OK)
		return by_curl(o, code, msg, n);
	if (o->is_range)
		return range_ok(o, code, msg, n);
	if (o->status == 200 || o->status == 304)
		return FX_OK;
	return say(FX_NEXT, code, NI_EIO, msg, n, "unexpected HTTP %ld",
		   o->status);
}

/* "PATH: not found on any mirror (2 tried)", or the last other failure:
 * "URL: server error 500 (after 4 attempts on 1 mirror)". */
int fx_job_error(const struct cache_fetcher *f, const struct fx_job *j,
		 int deadline, struct ni_err *e)
{
	char tail[96] = "";

	if (j->attempts > 1 || j->tried > 1)
		snprintf(tail, sizeof(tail), " (after %u attempt%s on %zu "
			 "mirror%s)", j->attempts, j->attempts == 1 ? "" : "s",
			 j->tried, j->tried == 1 ? "" : "s");
	if (deadline)
		return ni_err_set(e, NI_EIO, "%s: deadline of %ld ms "
				  "exceeded%s%s%s", j->path, f->o.deadline_ms,
				  tail, j->err[0] ? "; last error: " : "",
				  j->err);
	if (j->err_code == 0)
		return ni_err_set(e, NI_ENOENT,
				  "%s: not found on any mirror (%zu tried)",
				  j->path, j->tried);
	/* Mirrors answer for the same repository: one that answered 404
	 * while the others failed is an answer (optional files, such as a
	 * version's attachment list, are often missing). */
	if (j->not_found > 0)
		return ni_err_set(e, NI_ENOENT,
				  "%s: not found (%zu mirror%s answered 404; last other error: %s)",
				  j->path, j->not_found, j->not_found == 1 ? "" : "s", j->err);
	return ni_err_set(e, j->err_code, "%s%s", j->err, tail);
}
