/* image_check.c: chunks hashed on worker threads as they arrive. */
#include "cache/image_check.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WORKERS 4
/* Buffered chunks (verify) waiting at most; the receiver waits beyond. */
#define QUEUED_MAX (64u << 20)
/* What a worker reads back from the output at a time. */
#define READ_BLOCK (64u << 10)

struct item {
	struct item *next;
	size_t i;
	unsigned gen;
	uint64_t off, len;
	const uint8_t *sha;
	uint8_t *buf;
};

struct image_check {
	pthread_mutex_t mu;
	pthread_cond_t work;     /* an item was queued, or stop */
	pthread_cond_t done;     /* a verdict came, or queued bytes fell */
	struct item *head, *tail;
	size_t queued;           /* bytes of buffers in the queue */
	unsigned *gen;
	unsigned char *verdict;
	int *err;
	int fd;
	int stop;
	pthread_t th[MAX_WORKERS];
	unsigned n_th;
};

/* Hashes one item: its buffer, or its region of the output. */
static enum ic_verdict check(const struct image_check *c,
			     const struct item *it, uint8_t *blk, int *err)
{
	uint8_t d[NI_SHA256_LEN];
	struct ni_sha256 *h;
	uint64_t done = 0;

	if (it->buf != NULL) {
		ni_sha256_buf(it->buf, (size_t)it->len, d);
		return memcmp(d, it->sha, sizeof(d)) == 0 ? IC_OK : IC_BAD;
	}
	if ((h = ni_sha256_new()) == NULL) {
		*err = ENOMEM;
		return IC_IOERR;
	}
	while (done < it->len) {
		size_t want = it->len - done < READ_BLOCK ?
			      (size_t)(it->len - done) : READ_BLOCK;
		ssize_t got = pread(c->fd, blk, want, (off_t)(it->off + done));

		if (got <= 0) {
			if (got < 0 && errno == EINTR)
				continue;
			*err = got < 0 ? errno : EIO;
			ni_sha256_free(h);
			return IC_IOERR;
		}
		ni_sha256_update(h, blk, (size_t)got);
		done += (uint64_t)got;
	}
	ni_sha256_final(h, d);
	return memcmp(d, it->sha, sizeof(d)) == 0 ? IC_OK : IC_BAD;
}

static void *worker(void *arg)
{
	struct image_check *c = arg;
	uint8_t *blk = c->fd >= 0 ? malloc(READ_BLOCK) : NULL;
	struct item *it;
	enum ic_verdict v;
	int err;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->head == NULL && !c->stop)
			pthread_cond_wait(&c->work, &c->mu);
		if (c->head == NULL)
			break;
		it = c->head;
		c->head = it->next;
		if (c->head == NULL)
			c->tail = NULL;
		pthread_mutex_unlock(&c->mu);

		err = 0;
		if (it->buf == NULL && blk == NULL) {
			v = IC_IOERR;
			err = ENOMEM;
		} else {
			v = check(c, it, blk, &err);
		}

		pthread_mutex_lock(&c->mu);
		if (c->gen[it->i] == it->gen) {
			c->verdict[it->i] = (unsigned char)v;
			c->err[it->i] = err;
		}
		if (it->buf != NULL)
			c->queued -= (size_t)it->len;
		pthread_cond_broadcast(&c->done);
		free(it->buf);
		free(it);
	}
	pthread_mutex_unlock(&c->mu);
	free(blk);
	return NULL;
}

static unsigned default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN) - 1;

	return n < 1 ? 1u : n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
}

int ic_start(struct image_check **out, size_t n, int fd, unsigned workers,
	     struct ni_err *e)
{
	struct image_check *c = calloc(1, sizeof(*c));
	unsigned k;

	*out = NULL;
	if (c == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	c->gen = calloc(n + 1, sizeof(*c->gen));
	c->verdict = calloc(n + 1, 1);
	c->err = calloc(n + 1, sizeof(*c->err));
	if (c->gen == NULL || c->verdict == NULL || c->err == NULL) {
		free(c->gen);
		free(c->verdict);
		free(c->err);
		free(c);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	c->fd = fd;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->work, NULL);
	pthread_cond_init(&c->done, NULL);
	if (workers == 0)
		workers = default_workers();
	if (workers > MAX_WORKERS)
		workers = MAX_WORKERS;
	for (k = 0; k < workers; k++) {
		if (pthread_create(&c->th[k], NULL, worker, c) != 0)
			break;
		c->n_th++;
	}
	if (c->n_th == 0) {
		ic_stop(c);
		return ni_err_set(e, NI_ENOMEM, "cannot start a thread to "
				  "check chunks");
	}
	*out = c;
	return 0;
}

void ic_stop(struct image_check *c)
{
	struct item *it;
	unsigned k;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	/* what is still queued is of no use now */
	while ((it = c->head) != NULL) {
		c->head = it->next;
		free(it->buf);
		free(it);
	}
	c->tail = NULL;
	pthread_cond_broadcast(&c->work);
	pthread_mutex_unlock(&c->mu);
	for (k = 0; k < c->n_th; k++)
		pthread_join(c->th[k], NULL);
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->done);
	pthread_mutex_destroy(&c->mu);
	free(c->gen);
	free(c->verdict);
	free(c->err);
	free(c);
}

void ic_reset(struct image_check *c, size_t i)
{
	pthread_mutex_lock(&c->mu);
	c->gen[i]++;
	c->verdict[i] = IC_PENDING;
	c->err[i] = 0;
	pthread_mutex_unlock(&c->mu);
}

int ic_submit(struct image_check *c, size_t i, uint64_t off, uint64_t len,
	      const uint8_t *sha, uint8_t *buf, struct ni_err *e)
{
	struct item *it = malloc(sizeof(*it));

	if (it == NULL) {
		free(buf);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	it->next = NULL;
	it->i = i;
	it->off = off;
	it->len = len;
	it->sha = sha;
	it->buf = buf;
	pthread_mutex_lock(&c->mu);
	while (buf != NULL && c->queued > 0 && c->queued + len > QUEUED_MAX)
		pthread_cond_wait(&c->done, &c->mu);
	it->gen = c->gen[i];
	c->verdict[i] = IC_PENDING;
	if (buf != NULL)
		c->queued += (size_t)len;
	if (c->tail != NULL)
		c->tail->next = it;
	else
		c->head = it;
	c->tail = it;
	pthread_cond_signal(&c->work);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

enum ic_verdict ic_wait(struct image_check *c, size_t i, int *err)
{
	enum ic_verdict v;

	pthread_mutex_lock(&c->mu);
	while ((v = (enum ic_verdict)c->verdict[i]) == IC_PENDING)
		pthread_cond_wait(&c->done, &c->mu);
	if (err != NULL)
		*err = c->err[i];
	pthread_mutex_unlock(&c->mu);
	return v;
}
