/* fetch.h: the HTTP client that `fetch`, the chunk cache and the initramfs
 * share (libcurl). A fetcher holds an ordered list of mirrors (base URLs)
 * and one libcurl multi handle whose connections stay open between calls.
 * Each logical fetch tries mirror 1, then 2 and so on: transient failures
 * (connection reset, timeouts, stalls, 5xx, a short body) are retried on
 * the same mirror with a doubling backoff; a 404 moves on to the next
 * mirror at once; anything else wrong with a mirror's answer (a wrong Range
 * answer, a body over the cap, data the caller rejects) moves on without
 * retrying there. A mirror that is down (connection refused, no connection
 * within the connect timeout, a host name that does not resolve) is marked
 * down at once and the request moves on when another mirror is left (it is
 * retried with backoff only as the last mirror, and only the first time it
 * is seen down); requests that start later begin at the first mirror not
 * marked down, so a dead mirror costs one attempt per operation, not one
 * per request. A mirror stays marked down for 5 minutes or
 * until a request to it succeeds; it is still tried last, when the others
 * fail.
 *
 * Nothing is handed out that is not complete: a body shorter than its
 * Content-Length, a range whose Content-Range or length does not match what
 * was asked, or a body over the caller's cap is an error, never a result.
 * Hashes are the caller's to check, with cache_fetch_mem_sha256 or in the
 * range sink; a mismatch there also counts against the mirror.
 *
 * HTTP proxies come from the environment as libcurl reads it (http_proxy,
 * https_proxy, all_proxy, no_proxy); https uses the system's CA store and
 * is always verified. Redirects are followed (at most 5, http and https
 * only): a mirror may hand requests to a CDN, and every byte is verified
 * anyway.
 *
 * The module never prints or exits. Errors are NI_E* codes with one line in
 * struct ni_err naming the URL (or the path, when every mirror said 404).
 * A fetcher is not thread-safe: use one per thread. */
#ifndef CACHE_FETCH_H
#define CACHE_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct cache_fetcher;

/* Fill with cache_fetch_opts_init, then change what differs; every field
 * is taken as given. */
struct cache_fetch_opts {
	long connect_timeout_ms;  /* 5000 */
	long low_speed_bytes;     /* 1024: a transfer slower than this ... */
	long low_speed_time_s;    /* 10: ... for this long has stalled; 0 off */
	int retries;              /* 3: extra attempts per mirror, transient */
	long backoff_ms;          /* 200: before a retry, doubling, 2 s cap */
	int max_parallel;         /* 8: range requests in flight at once */
	const char *user_agent;   /* NULL: "netimg/VERSION" (copied) */
	long deadline_ms;         /* 0: none; else bounds one whole call */
	long long max_recv_bps;   /* 0: none; else the fetcher's receive cap in
				     bytes a second, all its transfers
				     together (the body callback paces the
				     bytes; libcurl's own limit, set too,
				     lets short transfers through) */
};

/* What served a fetch. mirror_url points into the fetcher. */
struct cache_fetch_info {
	size_t mirror;            /* index of the mirror that answered */
	const char *mirror_url;
	long status;              /* 200, 206 or 304 */
	unsigned attempts;        /* HTTP attempts, all mirrors together */
	char etag[256];           /* "" when the server sent none */
	char last_modified[64];
};

struct cache_range {
	uint64_t off;
	size_t len;               /* at least 1 */
};

/* Receives range idx complete (exactly len bytes). Returns 0 to accept,
 * or a negative NI_E* code (NI_EHASH, say) to reject what this mirror sent:
 * the range is then fetched from the next mirror. data is only valid
 * during the call. */
typedef int (*cache_range_sink)(void *user, size_t idx, const uint8_t *data,
				size_t len);

void cache_fetch_opts_init(struct cache_fetch_opts *o);

/* mirrors: n base URLs (http:// or https://), copied; o NULL: defaults. */
int cache_fetcher_new(struct cache_fetcher **f, const char *const *mirrors,
		      size_t n, const struct cache_fetch_opts *o,
		      struct ni_err *e);
void cache_fetcher_free(struct cache_fetcher *f);

/* GETs mirror/path whole into *out (malloc'd, len bytes plus a NUL the
 * length leaves out). More than max_bytes is an error (NI_EINVAL, "too
 * large"), as are all other failures: then *out is NULL. A path that every
 * mirror answered 404 is NI_ENOENT "PATH: not found on any mirror (N
 * tried)". info may be NULL. */
int cache_fetch_mem(struct cache_fetcher *f, const char *path, size_t max_bytes,
		    uint8_t **out, size_t *len, struct cache_fetch_info *info,
		    struct ni_err *e);

/* The same, conditional on etag_in (If-None-Match): returns 1 with *out
 * NULL and *len 0 when the server answers 304 Not Modified, 0 with the
 * body otherwise. etag_in NULL or "" makes it cache_fetch_mem. */
int cache_fetch_mem_if(struct cache_fetcher *f, const char *path,
		       size_t max_bytes, const char *etag_in, uint8_t **out,
		       size_t *len, struct cache_fetch_info *info,
		       struct ni_err *e);

/* The same, accepting only a body whose SHA-256 is sha256 (32 bytes); a
 * mismatch (NI_EHASH) moves on to the next mirror. */
int cache_fetch_mem_sha256(struct cache_fetcher *f, const char *path,
			   size_t max_bytes, const uint8_t *sha256,
			   uint8_t **out, size_t *len,
			   struct cache_fetch_info *info, struct ni_err *e);

/* Fetches n byte ranges of mirror/path, one Range request each, up to
 * max_parallel at once, and hands each to sink complete and checked (206,
 * a Content-Range for exactly those bytes, exactly len bytes). Ranges
 * arrive in any order, each exactly once. A range that fails on a mirror
 * (after its retries) or that sink rejects is fetched from the next
 * mirror; when one has no mirror left, the call stops and returns its
 * error, after sink may have accepted others. Memory: up to max_parallel
 * buffers of the largest len. */
int cache_fetch_ranges(struct cache_fetcher *f, const char *path,
		       const struct cache_range *r, size_t n,
		       cache_range_sink sink, void *user, struct ni_err *e);

/* The same ranges, streamed: their bytes are handed over as they arrive
 * (in order within a range), never held by the fetcher, so memory does not
 * grow with the ranges' size. Each attempt at range idx starts at off 0
 * again (after a failure, or from the next mirror): what an earlier attempt
 * handed over is to be forgotten. The 206 and its Content-Range are checked
 * before the first byte; more bytes than asked for end the attempt.
 *   data: bytes [off, off + len) of range idx. 0 to go on; anything else
 *         stops the whole call with that code and msg as its line (for the
 *         caller's own failures, such as a full disk: not the mirror's).
 *   done: range idx complete (exactly its len bytes handed over, checked).
 *         0 to accept it; an NI_E* code and msg (or "") to reject what
 *         this mirror sent: the range is fetched again from the next. */
struct cache_range_stream {
	int (*data)(void *user, size_t idx, uint64_t off, const uint8_t *p,
		    size_t len, char *msg, size_t cap);
	int (*done)(void *user, size_t idx, char *msg, size_t cap);
	void *user;
};

int cache_fetch_ranges_stream(struct cache_fetcher *f, const char *path,
			      const struct cache_range *r, size_t n,
			      const struct cache_range_stream *s,
			      struct ni_err *e);

/* HTTP requests this fetcher has sent to mirror m (all attempts, failed
 * ones too); m out of range: to every mirror together. */
unsigned long cache_fetcher_requests(const struct cache_fetcher *f, size_t m);

/* Helpers, pure. */

/* base + "/" + path with exactly one slash between them and the bytes of
 * path that may not stand in a URL path percent-encoded; malloc'd or NULL.
 * "http://h/x/" and "http://h/x" with "a/b" both give "http://h/x/a/b". */
char *cache_url_join(const char *base, const char *path);

/* Parses a Content-Range value, "bytes FIRST-LAST/TOTAL" (TOTAL may be
 * "*": *total is then UINT64_MAX). Returns 0, or -1 when s is anything
 * else (including the star form of a 416 answer, last < first, and
 * last >= total). */
int cache_parse_content_range(const char *s, uint64_t *first, uint64_t *last,
			      uint64_t *total);

#endif
