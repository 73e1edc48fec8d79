/* fsutil.c: atomic file replacement and small path helpers. */
#include "common/fsutil.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ni_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ni_fsync_dir(const char *path)
{
	char *dir = ni_dirname(path);
	int fd, ret = 0;

	if (dir == NULL)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0 && errno != EINVAL)
		ret = -errno;
	close(fd);
	return ret;
}

int ni_atomic_open(struct ni_atomic *a, const char *path, mode_t mode,
		   struct ni_err *e)
{
	a->fd = -1;
	a->path = strdup(path);
	if (a->path == NULL || asprintf(&a->tmp, "%s.tmp.XXXXXX", path) < 0) {
		free(a->path);
		a->path = a->tmp = NULL;
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", path);
	}
	a->fd = mkstemp(a->tmp);
	if (a->fd < 0) {
		int err = errno;

		free(a->tmp);
		free(a->path);
		a->path = a->tmp = NULL;
		return ni_err_errno(e, err, "%s: cannot create", path);
	}
	ni_cleanup_add(a->tmp);
	/* mkstemp makes 0600; published files must be readable by others. */
	if (fchmod(a->fd, mode) != 0) {
		int err = errno;

		ni_atomic_abort(a);
		return ni_err_errno(e, err, "%s: chmod", path);
	}
	return 0;
}

int ni_atomic_write(struct ni_atomic *a, const void *buf, size_t len,
		    struct ni_err *e)
{
	int ret = ni_write_all(a->fd, buf, len);

	if (ret < 0)
		return ni_err_errno(e, -ret, "%s: write", a->path);
	return 0;
}

int ni_atomic_commit(struct ni_atomic *a, struct ni_err *e)
{
	int err;

	if (fsync(a->fd) != 0) {
		err = errno;
		goto fail;
	}
	if (close(a->fd) != 0) {
		a->fd = -1;
		err = errno;
		goto fail;
	}
	a->fd = -1;
	if (rename(a->tmp, a->path) != 0) {
		err = errno;
		goto fail;
	}
	ni_cleanup_remove(a->tmp);
	free(a->tmp);
	a->tmp = NULL;
	ni_fsync_dir(a->path);
	free(a->path);
	a->path = NULL;
	return 0;
fail:
	ni_err_errno(e, err, "%s: cannot write", a->path);
	ni_atomic_abort(a);
	return e ? e->code : ni_err_from_errno(err);
}

void ni_atomic_abort(struct ni_atomic *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	if (a->tmp != NULL) {
		unlink(a->tmp);
		ni_cleanup_remove(a->tmp);
	}
	free(a->tmp);
	free(a->path);
	a->tmp = a->path = NULL;
}

int ni_write_file_atomic(const char *path, const void *buf, size_t len,
			 mode_t mode, struct ni_err *e)
{
	struct ni_atomic a;
	int ret;

	ret = ni_atomic_open(&a, path, mode, e);
	if (ret)
		return ret;
	ret = ni_atomic_write(&a, buf, len, e);
	if (ret) {
		ni_atomic_abort(&a);
		return ret;
	}
	return ni_atomic_commit(&a, e);
}

int ni_read_file(const char *path, size_t max, char **out, size_t *len,
		 struct ni_err *e)
{
	size_t cap = 4096, used = 0;
	char *buf = NULL;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ni_err_errno(e, errno, "%s", path);
	for (;;) {
		ssize_t n;

		if (buf == NULL || used + 1 >= cap) {
			char *nb;

			cap = buf == NULL ? cap : cap * 2;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				err = ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			close(fd);
			free(buf);
			return ni_err_set(e, NI_EINVAL,
					  "%s: larger than %zu bytes", path,
					  max);
		}
	}
	close(fd);
	buf[used] = '\0';
	*out = buf;
	if (len != NULL)
		*len = used;
	return 0;
fail:
	close(fd);
	free(buf);
	return ni_err_errno(e, err, "%s", path);
}

int ni_mkdir_p(const char *path, mode_t mode, struct ni_err *e)
{
	char *p = strdup(path), *s;

	if (p == NULL)
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", path);
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST) {
			int err = errno;

			ni_err_errno(e, err, "%s: cannot create folder", p);
			free(p);
			return ni_err_from_errno(err);
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return 0;
}

char *ni_path_join(const char *dir, const char *name)
{
	char *out;
	size_t n = strlen(dir);

	if (asprintf(&out, "%s%s%s", dir, (n && dir[n - 1] == '/') ? "" : "/",
		     name) < 0)
		return NULL;
	return out;
}

char *ni_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

char *ni_path_relative_to(const char *base_file, const char *rel)
{
	char *dir, *out;

	if (rel[0] == '/')
		return strdup(rel);
	dir = ni_dirname(base_file);
	if (dir == NULL)
		return NULL;
	out = ni_path_join(dir, rel);
	free(dir);
	return out;
}
