/* fetch_internal.h: what the fetch files share. fetch.c holds the public
 * calls and the pure helpers, fetch_engine.c the transfers (one libcurl
 * multi handle, jobs carried from mirror to mirror), fetch_classify.c the
 * verdict on one attempt and the final error line. */
#ifndef CACHE_FETCH_INTERNAL_H
#define CACHE_FETCH_INTERNAL_H

#include <stdint.h>

#include <curl/curl.h>

#include "cache/fetch.h"

#define FX_BACKOFF_CAP_MS 2000
/* A mirror found down comes last for jobs that start within this long
 * (the rest of an operation, for the commands; a long-lived fetcher gives
 * it another chance afterwards). */
#define FX_DOWN_MS 300000
/* Most bytes of an error page read (and dropped) to keep the connection. */
#define FX_DISCARD_MAX (64u << 10)
/* libcurl's receive buffer (its maximum is 512 KiB). */
#define FX_RECV_BUFFER (256L << 10)

struct cache_fetcher {
	char **mirrors;
	size_t n_mirrors;
	struct cache_fetch_opts o;
	char *user_agent;
	CURLM *multi;          /* owns the open connections */
	CURL **idle;           /* easy handles kept for reuse */
	size_t n_idle;
	uint64_t *down_until;  /* per mirror, monotonic ms */
	unsigned long *requests; /* per mirror: HTTP attempts sent */
	double pace_next;      /* max_recv_bps: when the bytes received so
				* far are due (monotonic seconds) */
};

/* What one attempt saw, for fx_classify. */
struct fx_outcome {
	int curl_code;             /* CURLcode */
	const char *curl_msg;      /* libcurl's words for it */
	long status;               /* 0: no answer */
	int os_errno;
	int connected;
	int deadline_hit;
	int64_t content_length;    /* -1: unknown */
	uint64_t got;
	int is_range;
	uint64_t off;
	size_t len;
	const char *content_range; /* "" if none */
	int conditional;
	int abort_code;            /* set by the body callback, 0 if not */
	int abort_fatal;           /* the caller's stream stopped the call */
	const char *abort_msg;
	long connect_timeout_ms;
	long low_speed_bytes;
	long low_speed_time_s;
};

enum fx_verdict {
	FX_OK,           /* a complete body (or 304): hand it over */
	FX_NOT_FOUND,    /* 404 or 410: next mirror, no retry */
	FX_DOWN,         /* no connection: retry, then next mirror */
	FX_RETRY,        /* transient: retry, then next mirror */
	FX_NEXT,         /* this mirror's answer is wrong: next mirror */
	FX_DEADLINE,     /* the call's deadline passed: stop */
	FX_FATAL,        /* out of memory and such: stop */
};

/* Sets *code and msg (without the URL) unless the verdict is FX_OK. */
enum fx_verdict fx_classify(const struct fx_outcome *o, int *code, char *msg,
			    size_t n);

enum fx_state { FX_EMPTY, FX_WAITING, FX_ACTIVE };

/* What one call asks for: n ranges of path, or (ranges NULL, n 1) the
 * whole file, capped at max and conditional on etag_in. */
struct fx_req {
	const char *path;
	const struct cache_range *ranges;
	size_t n;
	size_t max;
	const char *etag_in;
	const struct cache_range_stream *stream; /* ranges: streamed */
};

/* One slot of the engine: a logical request (the whole file or one range)
 * carried from mirror to mirror until it succeeds or runs out of them,
 * then the next one. There are max_parallel slots, whatever n is. */
struct fx_job {
	const char *path;
	size_t idx;
	int is_range;
	uint64_t off;
	size_t len;
	size_t max;                /* whole files: the cap */
	const char *etag_in;       /* whole files: If-None-Match */
	const struct cache_range_stream *stream; /* ranges, streamed */

	enum fx_state state;
	size_t mirror;             /* current mirror */
	unsigned attempt;          /* attempts on the current mirror */
	unsigned attempts;         /* attempts in all */
	size_t tried;              /* mirrors tried, this one included */
	int known_down;            /* the mirror was marked down when the
				    * job came to it */
	uint64_t not_before;       /* monotonic ms */
	int err_code;              /* last failure other than a 404 */
	size_t not_found;          /* mirrors that answered 404 */
	char err[800];

	/* The attempt under way. buf outlives it for ranges (reused). */
	CURL *easy;
	char *url;
	struct curl_slist *hdrs;
	uint8_t *buf;
	size_t got, cap;
	int body_seen;
	int hdr_seen;
	int discard;
	int abort_code;
	int abort_fatal;
	char abort_msg[512];
	char etag[256];
	char last_modified[64];
	char content_range[96];
	char errbuf[CURL_ERROR_SIZE];
	long status;
	struct cache_fetcher *pace; /* max_recv_bps set: the fetcher */
};

/* Called with each job whose attempt brought a complete, checked answer;
 * may take j->buf (setting it NULL). Returns 0 to accept, or an NI_E* code
 * and a message in msg (or "") to count the answer against the mirror. */
typedef int (*fx_accept_fn)(void *user, struct fx_job *j, char *msg,
			    size_t n);

/* Runs every request of req to the end: 0 when each was accepted, else
 * the first failure's code and line in e. */
int fx_run(struct cache_fetcher *f, const struct fx_req *req,
	   fx_accept_fn accept, void *user, struct ni_err *e);

/* fetch_xfer.c: starts an attempt of j on its current mirror (an easy
 * handle added to the multi handle); what the finished attempt saw; hands
 * the easy handle back for reuse. */
int fx_xfer_start(struct cache_fetcher *f, struct fx_job *j,
		  uint64_t remaining_ms, struct ni_err *e);
void fx_xfer_outcome(const struct cache_fetcher *f, const struct fx_job *j,
		     int cc, struct fx_outcome *o);
void fx_xfer_release(struct cache_fetcher *f, struct fx_job *j);

/* Formats a job's final error into e; returns its code. */
int fx_job_error(const struct cache_fetcher *f, const struct fx_job *j,
		 int deadline, struct ni_err *e);

uint64_t fx_now_ms(void);

#endif
