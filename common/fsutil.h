/* fsutil.h: file helpers every module shares: atomic replacement of a file
 * (temporary name, fsync, rename), whole-file reads, mkdir -p, paths. */
#ifndef NI_FSUTIL_H
#define NI_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

/* An output file written under a temporary name next to its final path
 * and renamed over it only on commit: readers never see a half-written
 * file and a failed write leaves the previous file untouched. */
struct ni_atomic {
	int fd;
	char *path;
	char *tmp;
};

int ni_atomic_open(struct ni_atomic *a, const char *path, mode_t mode,
		   struct ni_err *e);
int ni_atomic_write(struct ni_atomic *a, const void *buf, size_t len,
		    struct ni_err *e);
/* fsyncs, renames into place and fsyncs the directory. */
int ni_atomic_commit(struct ni_atomic *a, struct ni_err *e);
/* Removes the temporary file; safe to call after commit or twice. */
void ni_atomic_abort(struct ni_atomic *a);

/* Writes a whole buffer to path atomically. */
int ni_write_file_atomic(const char *path, const void *buf, size_t len,
			 mode_t mode, struct ni_err *e);

/* Reads a whole file (at most max bytes, else NI_EINVAL). *out is
 * NUL-terminated for convenience; *len excludes the NUL. */
int ni_read_file(const char *path, size_t max, char **out, size_t *len,
		 struct ni_err *e);

int ni_mkdir_p(const char *path, mode_t mode, struct ni_err *e);

/* Returns a malloc'd "dir/name", or NULL. */
char *ni_path_join(const char *dir, const char *name);
/* Returns a malloc'd copy of the folder part of path ("." if none). */
char *ni_dirname(const char *path);
/* Joins rel onto base's folder unless rel is absolute. */
char *ni_path_relative_to(const char *base_file, const char *rel);

/* Loops over write(2) until done; returns 0 or -errno. */
int ni_write_all(int fd, const void *buf, size_t len);
int ni_fsync_dir(const char *path);

#endif
