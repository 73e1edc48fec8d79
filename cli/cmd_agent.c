/* cmd_agent.c: `netimg agent [client options] [--cache DIR] [--cache-size N]
 * [--interval DURATION] [--jitter DURATION] [--bandwidth RATE] [--once]
 * [CHANNEL]`: the laptop's service. It polls the channel's pointer with
 * conditional requests (If-None-Match on the last ETag: a 304 costs no
 * body and no check), every interval plus a random jitter; a pointer is
 * verified as `sync` verifies it (signature, channel, expiry, replay
 * against the state folder). When it names a version the cache does not
 * hold for the channel, the version is synced at the bandwidth cap in a
 * child process and then recorded as the channel's (cache_channel_put):
 * the next mount or boot takes it, never a running mount.
 *
 * Offline is normal: a network error is a log line and the next poll
 * retries. SIGTERM/SIGINT stop it at once: a sync under way is killed
 * (the store is crash-safe; the next start resumes it), a poll under way
 * is abandoned (the state file is replaced atomically). One line per
 * event on stderr, each with a UTC timestamp. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/channels.h"
#include "cache/fetch.h"
#include "cache/vimage_sync.h"
#include "cli/cli.h"
#include "cli/repo_client.h"
#include "common/progress.h"
#include "common/units.h"
#include "images/channel.h"

#define POINTER_MAX (16u << 20)
#define PROGRESS_EVERY 2.0   /* seconds between a sync's progress lines */

static volatile sig_atomic_t g_stop, g_in_poll;

struct agent {
	struct repo_client c;
	const char *channel, *dir;
	uint64_t quota;
	int64_t interval, jitter;
	long long bps;
	struct cache_fetcher *f;     /* the poller's own (NULL: a folder) */
	char rel[128];               /* channels/CHANNEL.json */
	char etag[256];              /* of the last pointer accepted */
	struct cache_pointer last;   /* the last pointer accepted */
	int have_last;
};

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	char ts[32], msg[1200];
	time_t t = time(NULL);
	struct tm tm;
	va_list ap;

	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s netimg agent[%ld]: %s\n", ts, (long)getpid(), msg);
	fflush(stderr);
}

static void on_signal(int sig)
{
	static const char m[] = "netimg agent: stopped by a signal during a poll\n";

	g_stop = sig;
	if (g_in_poll) {   /* a poll holds nothing that cannot be dropped */
		ssize_t r = write(2, m, sizeof(m) - 1);

		(void)r;
		_exit(0);
	}
}

static int open_poller(struct agent *a, struct ni_err *e)
{
	struct cache_fetch_opts fo;
	char *copy, *tok, *save = NULL;
	const char *m[16];
	size_t n = 0;
	int ret;

	if (cache_source_is_local(a->c.src))
		return 0;
	cache_fetch_opts_init(&fo);
	fo.retries = 1;             /* the next poll is the retry */
	fo.deadline_ms = 30000;
	if ((copy = strdup(a->c.repo)) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok && n < 16; tok = strtok_r(NULL, ",", &save))
		m[n++] = tok;
	ret = cache_fetcher_new(&a->f, m, n, &fo, e);
	free(copy);
	return ret;
}

/* Fetches the pointer: 1 when unchanged (304), 0 with a new one in *p, or
 * an error in e. */
static int fetch_pointer(struct agent *a, struct cache_pointer *p,
			 char *etag, size_t cap, struct ni_err *e)
{
	struct cache_pointer_opts po = { .state = a->c.state };
	struct cache_fetch_info info = { 0 };
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	etag[0] = '\0';
	g_in_poll = 1;
	if (g_stop)
		raise(g_stop);
	if (a->f != NULL)
		ret = cache_fetch_mem_if(a->f, a->rel, POINTER_MAX, a->etag, &buf,
					 &len, &info, e);
	else
		ret = cache_source_get(a->c.src, a->rel, POINTER_MAX, &buf, &len, e);
	if (ret == NI_ENOENT)
		ret = ni_err_set(e, NI_ENOENT, "%s: no such channel", a->rel);
	if (ret == 0) {
		ret = cache_pointer_check(a->c.key, a->channel, buf, len, &po, p, e);
		snprintf(etag, cap, "%s", info.etag);
	}
	g_in_poll = 0;
	free(buf);
	return ret;
}

static int same_version(const struct cache_channel_rec *r,
			const struct cache_pointer *p)
{
	return strcmp(r->name, p->name) == 0 && strcmp(r->version, p->version) == 0 &&
	       strcmp(r->manifest_sha256, p->manifest_sha256) == 0;
}

/* ---- the sync, in a child process ---- */

struct prog {
	const char *spec;
	double t0, last;
};

static void on_progress(void *user, uint64_t done, uint64_t total,
			uint64_t chunks)
{
	struct prog *pg = user;
	double now = ni_now();
	char d[32], t[32], r[32];

	(void)chunks;
	if (now - pg->last < PROGRESS_EVERY && done < total)
		return;
	pg->last = now;
	ni_fmt_bytes(done, d, sizeof(d));
	ni_fmt_bytes(total, t, sizeof(t));
	ni_fmt_bytes(now > pg->t0 ? (uint64_t)(done / (now - pg->t0)) : 0, r, sizeof(r));
	logf_("sync %s: %s of %s (%d%%), %s/s", pg->spec, d, t,
	      total ? (int)(done * 100 / total) : 100, r);
}

static int sync_child(struct agent *a)
{
	const struct cache_pointer *p = &a->last;
	struct cache_store *st = NULL;
	struct cache_image_req rq = { 0 };
	struct cache_vimage_opts o;
	struct cache_sync_result r;
	struct ni_err e = { 0 };
	struct prog pg = { p->target, ni_now(), 0 };
	char got[32];
	int ret;

	cache_vimage_opts_init(&o);
	memset(&r, 0, sizeof(r));
	o.repo = a->c.repo;
	o.key = a->c.key;
	o.max_recv_bps = a->bps;
	rq.name = p->name;
	rq.version = p->version;
	rq.manifest_sha256 = p->manifest_sha256;
	ret = cache_store_open(&st, a->dir, a->quota, &e);
	if (ret == 0)
		ret = cache_sync(st, &rq, &o, on_progress, &pg, &r, &e);
	if (r.hot_ignored[0] != '\0')
		logf_("sync %s: hot set ignored: %s", p->target, r.hot_ignored);
	else if (r.has_hot)
		logf_("sync %s: hot set first: %zu of %zu files, %zu chunks", p->target,
		      r.hot.files, r.hot_listed, r.hot.chunks);
	if (ret == 0)
		ret = cache_channel_put(cache_store_dir(st), a->c.key, p, &e);
	if (ret == 0) {
		double secs = ni_now() - pg.t0;

		ni_fmt_bytes(r.fetched, got, sizeof(got));
		logf_("sync %s: done: fetched %s (%llu bytes) in %.1fs, %llu bytes already cached; pinned%s%s",
		      p->target, got, (unsigned long long)r.fetched, secs,
		      (unsigned long long)r.cached, r.kept[0] ? ", kept " : "", r.kept);
		logf_("channel %s: now %s (serial %llu), taken at the next mount or boot",
		      a->channel, p->target, (unsigned long long)p->serial);
	} else {
		logf_("sync %s: failed: %s (retried at the next poll)", p->target, e.msg);
	}
	cache_store_close(st);
	return ret == 0 ? 0 : 1;
}

/* Runs the sync of a->last in a child; waits for it, or kills it when a
 * signal asks the agent to stop. 0 when it synced. */
static int run_sync(struct agent *a)
{
	pid_t parent = getpid(), pid;
	int status = 0;

	logf_("sync %s: starting%s", a->last.target, a->bps ? " (bandwidth capped)" : "");
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		logf_("sync %s: cannot fork: %s", a->last.target, strerror(errno));
		return 1;
	}
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		/* the agent killed with -9: its sync stops too */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		_exit(sync_child(a));
	}
	for (;;) {
		pid_t w = waitpid(pid, &status, 0);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return 1;
		if (g_stop) {
			kill(pid, SIGTERM);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			logf_("sync %s: interrupted (resumed at the next start)", a->last.target);
			return 1;
		}
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

/* ---- one poll ---- */

/* One poll and, when needed, the sync: 0 ok, 1 an error (logged). */
static int poll_once(struct agent *a)
{
	struct cache_pointer p;
	struct cache_channel_rec rec;
	struct ni_err e = { 0 }, ce = { 0 };
	char etag[256], held[200] = "none";
	int ret, has;

	ret = fetch_pointer(a, &p, etag, sizeof(etag), &e);
	if (ret < 0 || ret > 1) {
		has = cache_channel_get(a->dir, a->c.key, a->channel, &rec, &ce) == 0;
		if (has)
			snprintf(held, sizeof(held), "%s@%s", rec.name, rec.version);
		if (ret == NI_ESTATE || ret == NI_EINVAL)
			logf_("poll %s: refused: %s; keeping %s", a->channel, e.msg, held);
		else
			logf_("poll %s: error: %s (offline? retried at the next poll; keeping %s)",
			      a->channel, e.msg, held);
		return 1;
	}
	if (ret == 1) {
		if (!a->have_last) {   /* cannot happen: no ETag before a pointer */
			a->etag[0] = '\0';
			logf_("poll %s: not modified, but no pointer kept", a->channel);
			return 1;
		}
		if (a->last.expires <= (int64_t)time(NULL)) {
			logf_("poll %s: refused: %s: expired pointer (not modified since; the repository must run netimg refresh)",
			      a->channel, a->rel);
			return 1;
		}
		logf_("poll %s: not modified (304)", a->channel);
	} else {
		if (a->have_last)
			cache_pointer_free(&a->last);
		a->last = p;
		a->have_last = 1;
		snprintf(a->etag, sizeof(a->etag), "%s", etag);
	}
	has = cache_channel_get(a->dir, a->c.key, a->channel, &rec, &ce) == 0;
	if (has && same_version(&rec, &a->last)) {
		if (ret == 0)
			logf_("poll %s: %s (serial %llu): up to date", a->channel,
			      a->last.target, (unsigned long long)a->last.serial);
		return 0;
	}
	if (has)
		snprintf(held, sizeof(held), "%s@%s", rec.name, rec.version);
	logf_("poll %s: new version %s (serial %llu; the cache holds %s)", a->channel,
	      a->last.target, (unsigned long long)a->last.serial, held);
	return run_sync(a);
}

/* Sleeps secs, waking early when a signal asks to stop. */
static void nap(int64_t secs)
{
	double until = ni_now() + (double)secs;

	while (!g_stop && ni_now() < until) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
}

static int parse_opts(struct agent *a, const char *interval, const char *jitter,
		      const char *bw, const char *size)
{
	const struct cache_config *cf = &a->c.conf;
	char buf[64];
	uint64_t v;

	if (interval == NULL)
		interval = cache_config_get(cf, CFG_AGENT_INTERVAL);
	if (jitter == NULL)
		jitter = cache_config_get(cf, CFG_AGENT_JITTER);
	if (bw == NULL)
		bw = cache_config_get(cf, CFG_AGENT_BANDWIDTH);
	if (size == NULL)
		size = cache_config_get(cf, CFG_CACHE_SIZE);
	a->interval = 300;
	a->jitter = 60;
	if (interval != NULL && (ni_parse_duration(interval, &a->interval) != 0 || a->interval < 1))
		return cli_usage_error("agent", "--interval: '%s' is not a duration of 1s or more", interval);
	if (jitter != NULL && ni_parse_duration(jitter, &a->jitter) != 0)
		return cli_usage_error("agent", "--jitter: '%s' is not a duration", jitter);
	if (bw != NULL) {
		size_t n = strlen(bw);

		snprintf(buf, sizeof(buf), "%s", bw);
		if (n >= 2 && n < sizeof(buf) && strcmp(buf + n - 2, "/s") == 0)
			buf[n - 2] = '\0';
		if (ni_parse_size(buf, &v) != 0 || v > (uint64_t)1 << 50)
			return cli_usage_error("agent", "--bandwidth: '%s' is not a rate (bytes a second: 500K, 10M)", bw);
		a->bps = (long long)v;
	}
	if (size != NULL && (ni_parse_size(size, &a->quota) != 0 || a->quota == 0))
		return cli_usage_error("agent", "--cache-size: '%s' is not a size", size);
	return 0;
}

int cmd_agent(int argc, char **argv)
{
	static const struct option longopts[] = {
		REPO_CLIENT_LONGOPTS,
		{ "cache", required_argument, NULL, 'c' },
		{ "cache-size", required_argument, NULL, 's' },
		{ "interval", required_argument, NULL, 'i' },
		{ "jitter", required_argument, NULL, 'J' },
		{ "bandwidth", required_argument, NULL, 'b' },
		{ "once", no_argument, NULL, '1' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo_client_opts ro = { 0 };
	const char *interval = NULL, *jitter = NULL, *bw = NULL, *size = NULL;
	struct agent a;
	struct sigaction sa;
	struct ni_err e = { 0 };
	int ch, once = 0, ret;

	memset(&a, 0, sizeof(a));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (repo_client_opt(&ro, ch, optarg))
			continue;
		switch (ch) {
		case 'c': a.dir = optarg; break;
		case 's': size = optarg; break;
		case 'i': interval = optarg; break;
		case 'J': jitter = optarg; break;
		case 'b': bw = optarg; break;
		case '1': once = 1; break;
		default: return cli_usage_error("agent", "bad option");
		}
	}
	if (optind < argc - 1)
		return cli_usage_error("agent", "expected at most one CHANNEL");
	if (repo_client_open(&a.c, &ro, &e) != 0)
		return cli_fail(&e);
	a.channel = optind < argc ? argv[optind] : cache_config_get(&a.c.conf, CFG_CHANNEL);
	if (a.dir == NULL)
		a.dir = cache_config_get(&a.c.conf, CFG_CACHE);
	if (a.dir == NULL)
		a.dir = CACHE_STORE_DIR;
	if (a.channel == NULL)
		ret = cli_usage_error("agent", "no channel: give CHANNEL or set channel in [client] of %s",
				      a.c.conf.path ? a.c.conf.path : CACHE_CONFIG_DEFAULT);
	else if (!img_valid_channel(a.channel))
		ret = cli_usage_error("agent", "'%s' is not a channel name (the agent follows a channel)",
				      a.channel);
	else
		ret = parse_opts(&a, interval, jitter, bw, size);
	if (ret != 0)
		goto out;
	snprintf(a.rel, sizeof(a.rel), "channels/%s.json", a.channel);
	if (open_poller(&a, &e) != 0) {
		ret = cli_fail(&e);
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	srandom((unsigned)(time(NULL) ^ getpid()));
	if (once) {
		ret = poll_once(&a);
		goto out;
	}
	logf_("following channel %s of %s: every %llds + up to %llds, cache %s%s",
	      a.channel, a.c.repo, (long long)a.interval, (long long)a.jitter, a.dir,
	      a.bps ? ", bandwidth capped" : "");
	while (!g_stop) {
		poll_once(&a);
		nap(a.interval + (a.jitter > 0 ? random() % (a.jitter + 1) : 0));
	}
	logf_("stopped (signal %d)", (int)g_stop);
	ret = 0;
out:
	if (a.have_last)
		cache_pointer_free(&a.last);
	cache_fetcher_free(a.f);
	repo_client_close(&a.c);
	return ret;
}
