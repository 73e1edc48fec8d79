/* record.c: `netimg mount --record FILE`: the regular files the mount
 * opens, in the order of their first open, one absolute path (inside the
 * image) per line. The lookups and directory listings the kernel makes
 * tell each node's first name and parent; an open appends the node once.
 * The file is replaced atomically (temporary name, fsync, rename) every
 * interval seconds when something was added, and at unmount. A path with
 * a newline in it is left out (the format is one path per line). */
#include "fusefs/fusefs_internal.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fsutil.h"
#include "common/grow.h"

/* An open-addressing map from node id (never 0) to a pointer. */
struct map {
	uint64_t *keys;
	void **vals;
	size_t cap, n;
};

struct name {
	fuse_ino_t parent;
	char name[];
};

struct ffs_record {
	char *path;
	unsigned interval;
	pthread_mutex_t mu;          /* names, opened, order */
	struct map names;            /* ino -> struct name */
	struct map opened;           /* ino -> (void *)1 */
	fuse_ino_t *order;
	size_t norder, ordercap, written;
	pthread_mutex_t wmu;         /* one write at a time */
	pthread_cond_t cv;
	pthread_t thr;
	int running, stop;
};

static size_t hslot(uint64_t k, size_t cap)
{
	k ^= k >> 31;
	k *= 0x7fb5d329728ea185ULL;
	k ^= k >> 27;
	return (size_t)k & (cap - 1);
}

static void **map_find(struct map *m, uint64_t k)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	for (i = hslot(k, m->cap); m->keys[i] != 0; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == k)
			return &m->vals[i];
	return NULL;
}

/* Inserts k unless present; returns 1 when inserted, 0 when present,
 * -ENOMEM. */
static int map_add(struct map *m, uint64_t k, void *v)
{
	size_t i;

	if (map_find(m, k) != NULL)
		return 0;
	if ((m->n + 1) * 2 > m->cap) {
		struct map big = { 0 };
		size_t j;

		big.cap = m->cap ? m->cap * 2 : 1024;
		big.keys = calloc(big.cap, sizeof(*big.keys));
		big.vals = calloc(big.cap, sizeof(*big.vals));
		if (big.keys == NULL || big.vals == NULL) {
			free(big.keys);
			free(big.vals);
			return -ENOMEM;
		}
		for (j = 0; j < m->cap; j++)
			if (m->keys[j] != 0)
				map_add(&big, m->keys[j], m->vals[j]);
		free(m->keys);
		free(m->vals);
		*m = big;
	}
	for (i = hslot(k, m->cap); m->keys[i] != 0; i = (i + 1) & (m->cap - 1))
		;
	m->keys[i] = k;
	m->vals[i] = v;
	m->n++;
	return 1;
}

static void map_free(struct map *m, int free_vals)
{
	size_t i;

	if (free_vals)
		for (i = 0; i < m->cap; i++)
			if (m->keys[i] != 0)
				free(m->vals[i]);
	free(m->keys);
	free(m->vals);
}

/* The absolute folder of path, so the daemon (which leaves the current
 * folder) writes where the user meant. */
static char *absolute(const char *path, struct ni_err *e)
{
	char *d = strdup(path), *b = strdup(path), *real = NULL, *out = NULL;

	if (d == NULL || b == NULL) {
		ni_err_set(e, NI_ENOMEM, "out of memory");
		goto done;
	}
	real = realpath(dirname(d), NULL);
	if (real == NULL) {
		ni_err_errno(e, errno, "%s: cannot write the record", path);
		goto done;
	}
	out = ni_path_join(real, basename(b));
	if (out == NULL)
		ni_err_set(e, NI_ENOMEM, "out of memory");
done:
	free(real);
	free(d);
	free(b);
	return out;
}

int ffs_record_new(struct ffs_record **out, const char *path,
		   unsigned interval, struct ni_err *e)
{
	struct ffs_record *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (r == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	if ((r->path = absolute(path, e)) == NULL) {
		free(r);
		return e ? e->code : NI_EIO;
	}
	r->interval = interval ? interval : 30;
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->wmu, NULL);
	pthread_cond_init(&r->cv, NULL);
	*out = r;
	return 0;
}

static int write_now(struct ffs_record *r, int force, struct ni_err *e);

int ffs_record_check(struct ffs_record *r, struct ni_err *e)
{
	/* an empty record at once: a path that cannot be written fails the
	 * mount, not the unmount */
	return write_now(r, 1, e);
}

void ffs_record_name(struct ffs_record *r, fuse_ino_t ino, fuse_ino_t parent,
		     const char *name)
{
	size_t len = strlen(name);
	struct name *n;

	if (ino == FUSE_ROOT_ID)
		return;
	pthread_mutex_lock(&r->mu);
	if (map_find(&r->names, ino) == NULL &&
	    (n = malloc(sizeof(*n) + len + 1)) != NULL) {
		n->parent = parent;
		memcpy(n->name, name, len + 1);
		if (map_add(&r->names, ino, n) != 1)
			free(n);
	}
	pthread_mutex_unlock(&r->mu);
}

void ffs_record_open(struct ffs_record *r, fuse_ino_t ino)
{
	pthread_mutex_lock(&r->mu);
	if (map_find(&r->opened, ino) == NULL &&
	    ni_grow(&r->order, &r->ordercap, r->norder, sizeof(*r->order),
		    256) == 0 &&
	    map_add(&r->opened, ino, (void *)1) == 1)
		r->order[r->norder++] = ino;
	pthread_mutex_unlock(&r->mu);
}

/* Appends ino's path and a newline to *buf, with r->mu held. Nodes whose
 * names are unknown, too deep or hold a newline are skipped. */
static int append_path(struct ffs_record *r, fuse_ino_t ino, char **buf,
		       size_t *len, size_t *cap)
{
	const struct name *parts[PATH_MAX / 2];
	size_t depth = 0, need = 1, i, l;
	void **v;

	while (ino != FUSE_ROOT_ID) {
		if (depth == sizeof(parts) / sizeof(parts[0]) ||
		    (v = map_find(&r->names, ino)) == NULL)
			return 0;
		parts[depth] = *v;
		if (strchr(parts[depth]->name, '\n') != NULL)
			return 0;
		need += strlen(parts[depth]->name) + 1;
		ino = parts[depth++]->parent;
	}
	if (depth == 0)
		return 0;
	if (*len + need > *cap) {
		size_t ncap = (*len + need) * 2;
		char *nb = realloc(*buf, ncap);

		if (nb == NULL)
			return -ENOMEM;
		*buf = nb;
		*cap = ncap;
	}
	for (i = depth; i-- > 0;) {
		(*buf)[(*len)++] = '/';
		l = strlen(parts[i]->name);
		memcpy(*buf + *len, parts[i]->name, l);
		*len += l;
	}
	(*buf)[(*len)++] = '\n';
	return 0;
}

/* Writes the file when something was added since the last write. */
static int write_now(struct ffs_record *r, int force, struct ni_err *e)
{
	char *buf = NULL;
	size_t len = 0, cap = 0, i, n;
	int ret = 0;

	pthread_mutex_lock(&r->wmu);
	pthread_mutex_lock(&r->mu);
	n = r->norder;
	if (n == r->written && !force) {
		pthread_mutex_unlock(&r->mu);
		pthread_mutex_unlock(&r->wmu);
		return 0;
	}
	for (i = 0; i < n && ret == 0; i++)
		ret = append_path(r, r->order[i], &buf, &len, &cap);
	pthread_mutex_unlock(&r->mu);
	if (ret != 0)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	else
		ret = ni_write_file_atomic(r->path, buf ? buf : "", len, 0644, e);
	if (ret == 0)
		r->written = n;
	pthread_mutex_unlock(&r->wmu);
	free(buf);
	return ret;
}

static void *writer(void *arg)
{
	struct ffs_record *r = arg;
	struct timespec until;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += r->interval;
		while (!r->stop &&
		       pthread_cond_timedwait(&r->cv, &r->mu, &until) != ETIMEDOUT)
			;
		if (r->stop)
			break;
		pthread_mutex_unlock(&r->mu);
		write_now(r, 0, NULL);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int ffs_record_start(struct ffs_record *r, struct ni_err *e)
{
	if (pthread_create(&r->thr, NULL, writer, r) != 0)
		return ni_err_set(e, NI_ENOMEM, "cannot start a thread");
	r->running = 1;
	return 0;
}

int ffs_record_finish(struct ffs_record *r, struct ni_err *e)
{
	if (r->running) {
		pthread_mutex_lock(&r->mu);
		r->stop = 1;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->thr, NULL);
		r->running = 0;
	}
	return write_now(r, 0, e);
}

void ffs_record_free(struct ffs_record *r)
{
	if (r == NULL)
		return;
	map_free(&r->names, 1);
	map_free(&r->opened, 0);
	free(r->order);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->wmu);
	pthread_mutex_destroy(&r->mu);
	free(r->path);
	free(r);
}
