/* serve_path.c: opens a requested file beneath public/ so that no symlink
 * or ".." leads out of it: openat2(2) with RESOLVE_BENEATH (symlinks that
 * stay inside are followed), or on kernels before 5.6 a walk of the path
 * one component at a time that refuses every symlink. */
#include "images/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* O_NONBLOCK: opening a FIFO someone left in public/ must not hang a
 * server thread; it is refused after fstat like any non-regular file. */
#define FILE_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

static int no_openat2; /* set once the kernel said ENOSYS */

static int open_beneath(int root, const char *rel)
{
	struct open_how how;
	int fd, tries;

	memset(&how, 0, sizeof(how));
	how.flags = FILE_FLAGS;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	/* EAGAIN: a rename elsewhere raced a ".." in a symlink; retry */
	for (tries = 0; tries < 8; tries++) {
		fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
	}
	return -EAGAIN;
}

static int open_walk(int root, const char *rel)
{
	char name[NAME_MAX + 1];
	const char *p = rel, *slash;
	int dir = root, fd, err;
	size_t len;

	while ((slash = strchr(p, '/')) != NULL) {
		len = (size_t)(slash - p);
		if (len > NAME_MAX) {
			fd = -1;
			err = ENAMETOOLONG;
		} else {
			memcpy(name, p, len);
			name[len] = '\0';
			fd = openat(dir, name,
				    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			err = errno;
		}
		if (dir != root)
			close(dir);
		if (fd < 0)
			return -err;
		dir = fd;
		p = slash + 1;
	}
	fd = openat(dir, p, FILE_FLAGS | O_NOFOLLOW);
	err = errno;
	if (dir != root)
		close(dir);
	return fd >= 0 ? fd : -err;
}

int img_serve_open(int root_fd, const char *rel, int walk_only)
{
	int fd;

	if (!walk_only && !__atomic_load_n(&no_openat2, __ATOMIC_RELAXED)) {
		fd = open_beneath(root_fd, rel);
		if (fd == -ENOSYS)
			__atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
		/* EPERM: a seccomp filter that predates openat2 */
		else if (fd != -EPERM)
			return fd;
	}
	return open_walk(root_fd, rel);
}
