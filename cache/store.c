/* store.c: the cache folder, its lock and usage count, and its chunks. */
#include "cache/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/fsutil.h"

#define FULL_BACKOFF_S 5

int store_lock(struct cache_store *s, struct ni_err *e)
{
	pthread_mutex_lock(&s->mu);
	while (flock(s->lock_fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int err = errno;

			pthread_mutex_unlock(&s->mu);
			return ni_err_errno(e, err, "%s/lock", s->dir);
		}
	}
	return 0;
}

void store_unlock(struct cache_store *s)
{
	flock(s->lock_fd, LOCK_UN);
	pthread_mutex_unlock(&s->mu);
}

uint64_t store_usage_read(struct cache_store *s)
{
	char buf[32] = { 0 };

	if (pread(s->lock_fd, buf, sizeof(buf) - 1, 0) <= 0)
		return 0;
	return strtoull(buf, NULL, 10);
}

void store_usage_write(struct cache_store *s, uint64_t v)
{
	char buf[32];

	/* fixed width: one small write, never a shorter number's leftovers */
	snprintf(buf, sizeof(buf), "%020" PRIu64 "\n", v);
	if (pwrite(s->lock_fd, buf, 21, 0) != 21) {
		/* a hint only: the next eviction scan counts again */
	}
}

static uint64_t quota_of_state(struct cache_store *s)
{
	json_t *st = store_state_load(s);
	json_int_t q = json_integer_value(json_object_get(st, "quota"));

	json_decref(st);
	return q > 0 ? (uint64_t)q : 0;
}

static int set_quota(struct cache_store *s, uint64_t quota, struct ni_err *e)
{
	json_t *st;
	int ret;

	if ((ret = store_lock(s, e)) != 0)
		return ret;
	st = store_state_load(s);
	if ((uint64_t)json_integer_value(json_object_get(st, "quota")) == quota) {
		ret = 0;
	} else {
		json_object_set_new(st, "quota", json_integer((json_int_t)quota));
		ret = store_state_save(s, st, e);
	}
	json_decref(st);
	store_unlock(s);
	return ret;
}

static int open_dirs(struct cache_store *s, struct ni_err *e)
{
	char *p = ni_path_join(s->dir, "chunks");
	int ret;

	if (p == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	ret = ni_mkdir_p(p, 0755, e);
	free(p);
	if (ret != 0)
		return ret;
	s->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0)
		return ni_err_errno(e, errno, "%s", s->dir);
	if (mkdirat(s->dir_fd, "versions", 0755) != 0 && errno != EEXIST)
		return ni_err_errno(e, errno, "%s/versions", s->dir);
	if (mkdirat(s->dir_fd, "tmp", 0755) != 0 && errno != EEXIST)
		return ni_err_errno(e, errno, "%s/tmp", s->dir);
	s->chunks_fd = openat(s->dir_fd, "chunks", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->chunks_fd < 0)
		return ni_err_errno(e, errno, "%s/chunks", s->dir);
	s->lock_fd = openat(s->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lock_fd < 0)
		return ni_err_errno(e, errno, "%s/lock", s->dir);
	return 0;
}

int cache_store_open(struct cache_store **out, const char *dir,
		     uint64_t quota, struct ni_err *e)
{
	struct cache_store *s = calloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	if (s == NULL || (s->dir = strdup(dir)) == NULL) {
		free(s);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	s->dir_fd = s->chunks_fd = s->lock_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	ret = open_dirs(s, e);
	if (ret == 0 && quota != 0)
		ret = set_quota(s, quota, e);
	if (ret != 0) {
		cache_store_close(s);
		return ret;
	}
	s->quota = quota ? quota : quota_of_state(s);
	if (s->quota == 0)
		s->quota = CACHE_STORE_QUOTA_DEFAULT;
	*out = s;
	return 0;
}

void cache_store_close(struct cache_store *s)
{
	if (s == NULL)
		return;
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	if (s->chunks_fd >= 0)
		close(s->chunks_fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	pthread_mutex_destroy(&s->mu);
	free(s->dir);
	free(s);
}

const char *cache_store_dir(const struct cache_store *s)
{
	return s->dir;
}

uint64_t cache_store_quota(const struct cache_store *s)
{
	return s->quota;
}

void store_chunk_rel(const uint8_t *sha, char *buf, size_t cap)
{
	char hex[NI_SHA256_HEX];

	ni_hex(sha, NI_SHA256_LEN, hex);
	snprintf(buf, cap, "%.2s/%s", hex, hex);
}

void store_drop_chunk(struct cache_store *s, const char *rel,
		      const struct stat *st)
{
	struct stat now;

	/* another process may have put a good copy in its place meanwhile */
	if (fstatat(s->chunks_fd, rel, &now, AT_SYMLINK_NOFOLLOW) != 0 ||
	    now.st_ino != st->st_ino || now.st_dev != st->st_dev)
		return;
	if (unlinkat(s->chunks_fd, rel, 0) != 0)
		return;
	if (store_lock(s, NULL) == 0) {
		uint64_t u = store_usage_read(s);

		store_usage_write(s, u > (uint64_t)st->st_size ? u - (uint64_t)st->st_size : 0);
		store_unlock(s);
	}
}

static int read_full(int fd, uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

int cache_store_get(struct cache_store *s, const uint8_t *sha, uint8_t *buf,
		    size_t len, struct ni_err *e)
{
	char rel[80];
	uint8_t d[NI_SHA256_LEN];
	struct stat st;
	int fd, bad;

	store_chunk_rel(sha, rel, sizeof(rel));
	fd = openat(s->chunks_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? NI_ENOENT
				       : ni_err_errno(e, errno, "%s/chunks/%s", s->dir, rel);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return ni_err_set(e, NI_EIO, "%s/chunks/%s: not a regular file", s->dir, rel);
	}
	bad = (uint64_t)st.st_size != len || read_full(fd, buf, len) != 0;
	if (!bad) {
		ni_sha256_buf(buf, len, d);
		bad = memcmp(d, sha, NI_SHA256_LEN) != 0;
	}
	if (!bad) {
		/* LRU: a chunk's mtime is its last use (best effort). Loads from
		 * disk are few: a reader keeps recent chunks in memory. */
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_NOW } };

		(void)futimens(fd, ts);
	}
	close(fd);
	if (bad) {
		store_drop_chunk(s, rel, &st);
		return ni_err_set(e, NI_EHASH, "%s/chunks/%s: damaged (%s), removed",
				  s->dir, rel, (uint64_t)st.st_size != len ? "wrong length"
									   : "hash mismatch");
	}
	return 0;
}

void cache_store_willneed(struct cache_store *s, const uint8_t *sha)
{
	char rel[80];
	int fd;

	store_chunk_rel(sha, rel, sizeof(rel));
	fd = openat(s->chunks_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
		close(fd);
	}
}

int cache_store_has(struct cache_store *s, const uint8_t *sha, size_t len)
{
	char rel[80];
	struct stat st;

	store_chunk_rel(sha, rel, sizeof(rel));
	return fstatat(s->chunks_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(st.st_mode) && (uint64_t)st.st_size == len;
}

static int make_fanout(struct cache_store *s, const char *rel, struct ni_err *e)
{
	char sub[3] = { rel[0], rel[1], 0 };
	unsigned k = (unsigned)strtoul(sub, NULL, 16);

	if (s->made[k])
		return 0;
	if (mkdirat(s->chunks_fd, sub, 0755) != 0 && errno != EEXIST)
		return ni_err_errno(e, errno, "%s/chunks/%s", s->dir, sub);
	s->made[k] = 1;
	return 0;
}

/* Writes and fsyncs data into a file with no name (or a temporary name
 * under DIR/tmp), then links it as rel: a link never replaces a name.
 * Returns 0 (*linked: 1 new, 0 already there) or -errno. */
static int write_chunk(struct cache_store *s, const char *rel, const void *data,
		       size_t len, int flags, int *linked)
{
	char sub[3] = { rel[0], rel[1], 0 }, *tmp = NULL, proc[64];
	int fd = -1, ret = 0;

	*linked = 0;
	if (!s->no_tmpfile) {
		int dfd = openat(s->chunks_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd < 0)
			return -errno;
		fd = openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
		ret = fd < 0 ? -errno : 0;
		close(dfd);
		if (ret == -EOPNOTSUPP || ret == -EISDIR || ret == -EINVAL)
			s->no_tmpfile = 1;
		else if (ret != 0)
			return ret;
	}
	if (s->no_tmpfile) {
		if (asprintf(&tmp, "%s/tmp/%.16s.XXXXXX", s->dir, rel + 3) < 0)
			return -ENOMEM;
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd < 0 || fchmod(fd, 0644) != 0) {
			ret = -errno;
			goto out;
		}
	}
	ret = ni_write_all(fd, data, len);
	if (ret == 0 && !(flags & CACHE_PUT_NOSYNC) && fsync(fd) != 0)
		ret = -errno;
	if (ret == 0) {
		char *dst = NULL;

		if (tmp == NULL) {
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
			if (linkat(AT_FDCWD, proc, s->chunks_fd, rel, AT_SYMLINK_FOLLOW) != 0)
				ret = -errno;
		} else if (asprintf(&dst, "%s/chunks/%s", s->dir, rel) < 0) {
			ret = -ENOMEM;
		} else if (link(tmp, dst) != 0) {
			ret = -errno;
		}
		free(dst);
		if (ret == -EEXIST)
			ret = 0;
		else if (ret == 0)
			*linked = 1;
	}
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	return ret;
}

int cache_store_put(struct cache_store *s, const uint8_t *sha,
		    const void *data, size_t len, int flags, struct ni_err *e)
{
	char rel[80];
	int ret, linked;

	if (s->full_until > time(NULL))
		return ni_err_set(e, NI_ENOSPC, "%s: disk full", s->dir);
	store_chunk_rel(sha, rel, sizeof(rel));
	if ((ret = make_fanout(s, rel, e)) != 0)
		return ret;
	ret = write_chunk(s, rel, data, len, flags, &linked);
	if (ret == -ENOSPC || ret == -EDQUOT) {
		s->full_until = time(NULL) + FULL_BACKOFF_S;
		return ni_err_errno(e, -ret, "%s/chunks/%s", s->dir, rel);
	}
	if (ret != 0)
		return ni_err_errno(e, -ret, "%s/chunks/%s", s->dir, rel);
	if (!linked)
		return 0;
	if ((ret = store_lock(s, e)) != 0)
		return ret;
	{
		uint64_t u = store_usage_read(s) + len;

		store_usage_write(s, u);
		/* a failed eviction does not undo the chunk: the next one retries */
		if (u > s->quota)
			(void)store_evict_locked(s, s->quota - s->quota / 100, NULL, NULL);
	}
	store_unlock(s);
	return ret;
}

int cache_store_sync(struct cache_store *s, struct ni_err *e)
{
	if (syncfs(s->dir_fd) != 0)
		return ni_err_errno(e, errno, "%s: syncfs", s->dir);
	return 0;
}
