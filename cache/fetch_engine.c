/* fetch_engine.c: runs a call's requests through the fetcher's multi
 * handle, up to max_parallel at once, each in a slot that carries it from
 * attempt to attempt and mirror to mirror: retries with backoff, failover,
 * the call's deadline. The first request with no mirror left stops the
 * call. */
#include "cache/fetch_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct run {
	struct cache_fetcher *f;
	const struct fx_req *req;
	struct fx_job *slots;
	size_t n_slots;
	size_t next;            /* first request not yet in a slot */
	size_t done;
	uint64_t deadline;      /* monotonic ms, 0: none */
	fx_accept_fn accept;
	void *user;
	struct ni_err *e;
};

uint64_t fx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Puts request i into slot j. It starts at the first mirror not known to
 * be down and goes round: mirrors found down lately come last, but still
 * come (they may be back, or have what the others lack). */
static void job_begin(struct run *r, struct fx_job *j, size_t i, uint64_t now)
{
	const struct fx_req *q = r->req;
	size_t m;

	j->path = q->path;
	j->idx = i;
	j->is_range = q->ranges != NULL;
	j->off = j->is_range ? q->ranges[i].off : 0;
	j->len = j->is_range ? q->ranges[i].len : 0;
	j->max = q->max;
	j->etag_in = q->etag_in;
	j->stream = q->stream;
	for (m = 0; m < r->f->n_mirrors; m++)
		if (r->f->down_until[m] <= now)
			break;
	j->mirror = m < r->f->n_mirrors ? m : 0;
	j->known_down = r->f->down_until[j->mirror] > now;
	j->attempt = j->attempts = 0;
	j->tried = 1;
	j->err_code = 0;
	j->not_found = 0;
	j->err[0] = '\0';
	j->state = FX_WAITING;
	j->not_before = now;
}

static uint64_t backoff(const struct cache_fetcher *f, unsigned attempt)
{
	uint64_t ms = (uint64_t)f->o.backoff_ms;

	while (--attempt > 0 && ms < FX_BACKOFF_CAP_MS)
		ms *= 2;
	return ms < FX_BACKOFF_CAP_MS ? ms : FX_BACKOFF_CAP_MS;
}

static int next_mirror(struct run *r, struct fx_job *j, uint64_t now)
{
	if (j->tried >= r->f->n_mirrors)
		return fx_job_error(r->f, j, 0, r->e);
	j->mirror = (j->mirror + 1) % r->f->n_mirrors;
	j->known_down = r->f->down_until[j->mirror] > now;
	j->tried++;
	j->attempt = 0;
	j->state = FX_WAITING;
	j->not_before = now;
	return 0;
}

/* Acts on an attempt's verdict: done, wait and retry, next mirror, or the
 * call's error. */
static int step(struct run *r, struct fx_job *j, enum fx_verdict v)
{
	struct cache_fetcher *f = r->f;
	uint64_t now = fx_now_ms();

	switch (v) {
	case FX_OK:
		f->down_until[j->mirror] = 0;
		j->state = FX_EMPTY;
		r->done++;
		return 0;
	case FX_NOT_FOUND:
		j->not_found++;
		return next_mirror(r, j, now);
	case FX_DOWN:
		/* Skipped at once while another mirror is left; retried
		 * (it may be restarting) only as the last one, and only
		 * when it was not already known down. */
		f->down_until[j->mirror] = now + FX_DOWN_MS;
		if (j->tried < f->n_mirrors || j->known_down)
			return next_mirror(r, j, now);
		/* fall through */
	case FX_RETRY:
		if (j->attempt <= (unsigned)f->o.retries) {
			j->state = FX_WAITING;
			j->not_before = now + backoff(f, j->attempt);
			return 0;
		}
		return next_mirror(r, j, now);
	case FX_NEXT:
		return next_mirror(r, j, now);
	case FX_DEADLINE:
		return fx_job_error(f, j, 1, r->e);
	case FX_FATAL:
	default:
		return ni_err_set(r->e, j->err_code, "%s", j->err);
	}
}

/* Notes a failure as "URL: msg" or "URL: bytes A-B: msg". */
static void note(struct fx_job *j, int code, const char *msg)
{
	j->err_code = code;
	if (j->is_range)
		snprintf(j->err, sizeof(j->err), "%s: bytes %llu-%llu: %s",
			 j->url, (unsigned long long)j->off,
			 (unsigned long long)(j->off + j->len - 1), msg);
	else
		snprintf(j->err, sizeof(j->err), "%s: %s", j->url, msg);
}

static int finish(struct run *r, CURL *h, int cc)
{
	struct fx_job *j;
	struct fx_outcome o;
	enum fx_verdict v;
	char msg[512], *priv = NULL;
	int code;

	curl_easy_getinfo(h, CURLINFO_PRIVATE, &priv);
	j = (struct fx_job *)(void *)priv;
	fx_xfer_outcome(r->f, j, cc, &o);
	o.deadline_hit = r->deadline != 0 && fx_now_ms() + 20 >= r->deadline;
	j->status = o.status;
	v = fx_classify(&o, &code, msg, sizeof(msg));
	if (o.abort_fatal) {
		/* the caller's own failure, in its own words */
		fx_xfer_release(r->f, j);
		return ni_err_set(r->e, code, "%s", msg);
	}
	if (v == FX_OK) {
		msg[0] = '\0';
		code = r->accept(r->user, j, msg, sizeof(msg));
		if (code != 0) {
			if (msg[0] == '\0')
				snprintf(msg, sizeof(msg), "rejected: %s",
					 ni_strerror(code));
			v = FX_NEXT;
		}
	}
	if (v != FX_OK && v != FX_NOT_FOUND && v != FX_DEADLINE)
		note(j, code, msg);
	fx_xfer_release(r->f, j);
	if (!j->is_range) {
		free(j->buf);
		j->buf = NULL;
		j->cap = 0;
	}
	return step(r, j, v);
}

/* Fills empty slots and starts the attempts whose wait is over. */
static int start_ready(struct run *r)
{
	uint64_t now = fx_now_ms(), left = 0;
	struct fx_job *j;
	size_t s;
	int ret;

	for (s = 0; s < r->n_slots; s++) {
		j = &r->slots[s];
		if (j->state == FX_EMPTY && r->next < r->req->n)
			job_begin(r, j, r->next++, now);
		if (j->state != FX_WAITING)
			continue;
		if (r->deadline != 0 &&
		    (now >= r->deadline || j->not_before >= r->deadline))
			return fx_job_error(r->f, j, 1, r->e);
		if (j->not_before > now)
			continue;
		if (r->deadline != 0)
			left = r->deadline - now;
		if ((ret = fx_xfer_start(r->f, j, left, r->e)) != 0)
			return ret;
		j->state = FX_ACTIVE;
	}
	return 0;
}

/* How long to wait for sockets: not at all when a slot is free for the
 * next request, else until the next retry is due or the deadline at most
 * (libcurl shortens it to its own timers: a transfer still running at the
 * deadline ends by its own timeout, set from the deadline, and is waited
 * for, not polled for in a busy loop). */
static int poll_ms(const struct run *r)
{
	uint64_t now = fx_now_ms(), t = now + 1000;
	size_t s;

	for (s = 0; s < r->n_slots; s++) {
		if (r->slots[s].state == FX_EMPTY && r->next < r->req->n)
			return 0;
		if (r->slots[s].state == FX_WAITING &&
		    r->slots[s].not_before < t)
			t = r->slots[s].not_before;
	}
	if (r->deadline != 0 && r->deadline > now && r->deadline < t)
		t = r->deadline;
	return t > now ? (int)(t - now) : 0;
}

static int drain(struct run *r)
{
	CURLMsg *m;
	int left, ret;

	while ((m = curl_multi_info_read(r->f->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		if ((ret = finish(r, m->easy_handle, (int)m->data.result)) != 0)
			return ret;
	}
	return 0;
}

static int loop(struct run *r)
{
	CURLMcode mc;
	int running, ret;

	while (r->done < r->req->n) {
		if ((ret = start_ready(r)) != 0)
			return ret;
		mc = curl_multi_perform(r->f->multi, &running);
		if (mc == CURLM_OK && (ret = drain(r)) != 0)
			return ret;
		if (mc == CURLM_OK && r->done < r->req->n)
			mc = curl_multi_poll(r->f->multi, NULL, 0, poll_ms(r),
					     NULL);
		if (mc != CURLM_OK)
			return ni_err_set(r->e, mc == CURLM_OUT_OF_MEMORY ?
					  NI_ENOMEM : NI_EIO, "%s: libcurl: %s",
					  r->req->path,
					  curl_multi_strerror(mc));
	}
	return 0;
}

int fx_run(struct cache_fetcher *f, const struct fx_req *req,
	   fx_accept_fn accept, void *user, struct ni_err *e)
{
	struct run r = { .f = f, .req = req, .accept = accept, .user = user,
			 .e = e };
	size_t s;
	int ret;

	if (req->n == 0)
		return 0;
	r.n_slots = req->n < (size_t)f->o.max_parallel ?
		    req->n : (size_t)f->o.max_parallel;
	r.slots = calloc(r.n_slots, sizeof(*r.slots));
	if (r.slots == NULL)
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", req->path);
	if (f->o.deadline_ms > 0)
		r.deadline = fx_now_ms() + (uint64_t)f->o.deadline_ms;
	ret = loop(&r);
	for (s = 0; s < r.n_slots; s++) {
		fx_xfer_release(f, &r.slots[s]);
		free(r.slots[s].buf);
	}
	free(r.slots);
	return ret;
}
