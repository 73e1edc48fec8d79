/* loop.c: the threads serving the session.
 *
 * libfuse's fuse_session_loop_mt leaves every idle thread blocked in
 * read(2) on /dev/fuse, and the kernel hands each request to the thread
 * that has waited longest: a folder walk, one request at a time, goes
 * round every thread of the pool in turn, and each hand-over is a wake-up
 * of another thread, often on another CPU (an inter-processor interrupt,
 * dear in a virtual machine). Measured on a 69,000-entry image on the
 * busy 2-CPU test VM: `find` with stat took 4-8 s with 16 threads, 0.6 s
 * with one.
 *
 * Here one thread reads at a time, and the thread that reads a request
 * serves it itself, then reads again: a walk is served by one thread
 * with no wake-up but the kernel's. Other threads are brought in (the one
 * idle the shortest first, or a new one up to the maximum) only when
 * serving alone would make requests wait:
 *   - when more requests are already queued as one is taken (many readers
 *     at once): another thread reads while this one serves;
 *   - when a request is still being served after TICK (a read that waits
 *     on the network, or a big one): a watchdog thread, which ticks only
 *     while requests come, brings another reader in.
 *
 * Stopping: the read ends when the mount goes (fusermount3 -u, umount),
 * and the thread that saw it tells the main thread (SIGUSR1). SIGINT,
 * SIGTERM and SIGHUP, blocked in every thread, are taken by the main
 * thread with sigwait. Either way the main thread cancels the threads:
 * as in libfuse, cancellation is enabled only while a thread waits in
 * read, so a request being served is always finished and answered. */
#include "fusefs/fusefs_internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* a request served alone for this long brings another reader in */
#define TICK_NS 1000000L
/* the watchdog stops ticking after this long without a request */
#define QUIET_TICKS 100

struct loop;

struct worker {
	struct worker *next;         /* the idle stack */
	struct worker *all;          /* every worker, for the join */
	pthread_t tid;
	pthread_cond_t cv;
	int lead;                    /* told to read */
	struct fuse_buf buf;
	struct loop *l;
};

struct loop {
	struct fuse_session *se;
	int fd;                      /* the session's /dev/fuse */
	pthread_mutex_t mu;
	struct worker *idle, *all;
	unsigned n, max;
	unsigned reading;            /* threads in (or about to enter) read */
	int exiting, error;
	pthread_t main;

	/* the watchdog */
	pthread_t wd;
	int wd_started;
	pthread_cond_t wd_cv;
	int wd_asleep;               /* waiting without a tick */
	uint64_t alone;              /* requests taken with nobody reading */
	int serving_alone;           /* the last of them is being served */
	unsigned quiet;              /* ticks without a request */
};

static void *work(void *arg);

/* Starts a worker told to read, with l->mu held. */
static int spawn(struct loop *l)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return -ENOMEM;
	pthread_cond_init(&w->cv, NULL);
	w->l = l;
	w->lead = 1;
	if (pthread_create(&w->tid, NULL, work, w) != 0) {
		pthread_cond_destroy(&w->cv);
		free(w);
		return -EAGAIN;
	}
	w->all = l->all;
	l->all = w;
	l->n++;
	return 0;
}

/* Gets another thread to read, with l->mu held: the idle one on top of
 * the stack, or a new one under the maximum; at the maximum, the next
 * thread done serving reads. */
static void more_readers(struct loop *l)
{
	struct worker *w = l->idle;

	if (w != NULL) {
		l->idle = w->next;
		w->lead = 1;
		pthread_cond_signal(&w->cv);
	} else if (l->n < l->max) {
		spawn(l);
	}
}

/* The end, with l->mu held: wake everyone waiting, tell the main thread. */
static void stop(struct loop *l, int error)
{
	struct worker *w;

	if (!l->exiting) {
		l->exiting = 1;
		l->error = error;
		pthread_kill(l->main, SIGUSR1);
	}
	for (w = l->idle; w != NULL; w = w->next)
		pthread_cond_signal(&w->cv);
	pthread_cond_signal(&l->wd_cv);
}

/* More requests queued behind the one just taken? */
static int queued(struct loop *l)
{
	struct pollfd p = { .fd = l->fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

static void *watchdog(void *arg)
{
	struct loop *l = arg;
	struct timespec t;
	uint64_t seen = 0;

	pthread_mutex_lock(&l->mu);
	while (!l->exiting) {
		if (l->quiet >= QUIET_TICKS) {
			l->wd_asleep = 1;
			pthread_cond_wait(&l->wd_cv, &l->mu);
			l->wd_asleep = 0;
			l->quiet = 0;
			seen = l->alone;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_nsec += TICK_NS;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&l->wd_cv, &l->mu, &t);
		if (l->exiting)
			break;
		/* the same request served alone since the last tick, and
		 * nobody reading: the queue would wait on it */
		if (l->serving_alone && l->alone == seen && l->reading == 0)
			more_readers(l);
		l->quiet = l->alone == seen ? l->quiet + 1 : 0;
		seen = l->alone;
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct loop *l = w->l;
	uint64_t mine = 0;
	int res;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_mutex_lock(&l->mu);
	for (;;) {
		if (l->exiting)
			break;
		if (l->reading >= 1 && !w->lead) {
			w->next = l->idle;
			l->idle = w;
			while (!w->lead && !l->exiting)
				pthread_cond_wait(&w->cv, &l->mu);
			continue;
		}
		w->lead = 0;
		l->reading++;
		pthread_mutex_unlock(&l->mu);
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		res = fuse_session_receive_buf(l->se, &w->buf);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		pthread_mutex_lock(&l->mu);
		l->reading--;
		if (res == -EINTR || res == -EAGAIN)
			continue;
		if (res <= 0 || fuse_session_exited(l->se)) {
			stop(l, res < 0 ? res : 0);
			break;
		}
		mine = 0;
		if (l->reading == 0) {
			if (queued(l)) {
				more_readers(l);
			} else {
				mine = ++l->alone;
				l->serving_alone = 1;
				if (l->wd_asleep)
					pthread_cond_signal(&l->wd_cv);
			}
		}
		pthread_mutex_unlock(&l->mu);
		fuse_session_process_buf(l->se, &w->buf);
		pthread_mutex_lock(&l->mu);
		if (mine != 0 && mine == l->alone)
			l->serving_alone = 0;
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int ffs_loop_run(struct fuse_session *se, unsigned max_threads,
		 const sigset_t *stop_signals)
{
	struct loop l;
	struct worker *w, *next;
	struct timespec zero = { 0, 0 };
	pthread_condattr_t ca;
	sigset_t set = *stop_signals;
	int sig, ret;

	memset(&l, 0, sizeof(l));
	l.se = se;
	l.fd = fuse_session_fd(se);
	l.max = max_threads ? max_threads : 1;
	l.main = pthread_self();
	l.quiet = QUIET_TICKS;
	pthread_mutex_init(&l.mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l.wd_cv, &ca);
	pthread_condattr_destroy(&ca);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_mutex_lock(&l.mu);
	ret = spawn(&l);
	if (ret == 0 && l.max > 1) {
		if (pthread_create(&l.wd, NULL, watchdog, &l) == 0)
			l.wd_started = 1;
	}
	pthread_mutex_unlock(&l.mu);
	if (ret != 0) {
		pthread_cond_destroy(&l.wd_cv);
		pthread_mutex_destroy(&l.mu);
		return ret;
	}
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		pthread_mutex_lock(&l.mu);
		if (sig != SIGUSR1)
			stop(&l, 0);
		ret = l.exiting;
		pthread_mutex_unlock(&l.mu);
		if (ret)
			break;
	}
	fuse_session_exit(se);
	/* the threads are reading, idle (woken by stop) or finishing a
	 * request; cancellation reaches only those reading */
	pthread_mutex_lock(&l.mu);
	for (w = l.all; w != NULL; w = w->all)
		pthread_cancel(w->tid);
	pthread_mutex_unlock(&l.mu);
	if (l.wd_started)
		pthread_join(l.wd, NULL);
	for (w = l.all; w != NULL; w = next) {
		next = w->all;
		pthread_join(w->tid, NULL);
		pthread_cond_destroy(&w->cv);
		free(w->buf.mem);
		free(w);
	}
	/* a SIGUSR1 sent after a signal had already stopped the loop */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	while (sigtimedwait(&set, NULL, &zero) > 0)
		;
	pthread_cond_destroy(&l.wd_cv);
	pthread_mutex_destroy(&l.mu);
	return l.error;
}
