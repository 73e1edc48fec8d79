/* loop.c: serving the session with a pool of threads, leader/followers.
 *
 * libfuse's fuse_session_loop_mt leaves every idle thread blocked in
 * read(2) on /dev/fuse, and the kernel hands each request to the thread
 * that has waited longest: a folder walk, one request at a time, goes
 * round every thread of the pool in turn, each one cold (cache, and the
 * scheduler's wake-up latency on a busy machine). Measured on a 69,000
 * entry image under load: `find` with stat took 4-8 s with 16 threads
 * and 0.8-1.9 s with 2.
 *
 * Here one thread at a time reads (the leader). Once it has a request it
 * hands the reading over to the idle thread that became idle last (a
 * stack), or starts a new one while under the maximum, then serves its
 * request and joins the stack. One request at a time keeps two threads
 * warm; many at once (eight readers) grow the pool as far as they need.
 *
 * Stopping: the leader's read ends when the mount goes (fusermount3 -u,
 * umount) and it tells the main thread (SIGUSR1). SIGINT, SIGTERM and
 * SIGHUP, blocked in every thread, are taken by the main thread with
 * sigwait. Either way the main thread cancels the threads: as in libfuse,
 * cancellation is enabled only while a thread waits in read, so a
 * request being served is always finished and answered. */
#include "fusefs/fusefs_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct loop;

struct worker {
	struct worker *next;         /* the idle stack */
	struct worker *all;          /* every worker, for the join */
	pthread_t tid;
	pthread_cond_t cv;
	int lead;                    /* told to become the reader */
	int started;
	struct fuse_buf buf;
	struct loop *l;
};

struct loop {
	struct fuse_session *se;
	pthread_mutex_t mu;
	struct worker *idle, *all;
	unsigned n, max;
	int leaderless;              /* nobody reads: the next one free will */
	int exiting, error;
	pthread_t main;
};

static void *work(void *arg);

/* Starts a worker told to lead, with l->mu held. */
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
	w->started = 1;
	w->all = l->all;
	l->all = w;
	l->n++;
	return 0;
}

/* Someone else reads from now on, with l->mu held. */
static void hand_over(struct loop *l)
{
	struct worker *w = l->idle;

	if (w != NULL) {
		l->idle = w->next;
		w->lead = 1;
		pthread_cond_signal(&w->cv);
	} else if (l->n >= l->max || spawn(l) != 0) {
		l->leaderless = 1;
	}
}

/* The end, with l->mu held: wake the idle, tell the main thread. */
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
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct loop *l = w->l;
	int res;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!w->lead && !l->exiting)
			pthread_cond_wait(&w->cv, &l->mu);
		if (l->exiting)
			break;
		w->lead = 0;
		pthread_mutex_unlock(&l->mu);
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		res = fuse_session_receive_buf(l->se, &w->buf);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		pthread_mutex_lock(&l->mu);
		if (res == -EINTR || res == -EAGAIN) {
			w->lead = 1;
			continue;
		}
		if (res <= 0 || fuse_session_exited(l->se)) {
			stop(l, res < 0 ? res : 0);
			break;
		}
		hand_over(l);
		pthread_mutex_unlock(&l->mu);
		fuse_session_process_buf(l->se, &w->buf);
		pthread_mutex_lock(&l->mu);
		if (l->leaderless) {
			l->leaderless = 0;
			w->lead = 1;
			continue;
		}
		w->next = l->idle;
		l->idle = w;
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
	sigset_t set = *stop_signals;
	int sig, ret;

	memset(&l, 0, sizeof(l));
	l.se = se;
	l.max = max_threads ? max_threads : 1;
	l.main = pthread_self();
	pthread_mutex_init(&l.mu, NULL);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_mutex_lock(&l.mu);
	ret = spawn(&l);
	pthread_mutex_unlock(&l.mu);
	if (ret != 0) {
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
	pthread_mutex_destroy(&l.mu);
	return l.error;
}
