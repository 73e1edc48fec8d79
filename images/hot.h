/* hot.h: a version's hot set: the files it touches first, in that order,
 * as `netimg mount --record FILE` writes them (one absolute path inside
 * the image per line). `netimg hot` checks a list against the version's
 * image and attaches it (kind "hot"); clients map its files to the image
 * bytes that hold them (data blocks, fragment block) with libsquashfs, to
 * fetch those first. Format in docs/formats.md. */
#ifndef IMG_HOT_H
#define IMG_HOT_H

#include <stddef.h>
#include <stdint.h>

#include <sqfs/io.h>

#include "common/err.h"

#define IMG_HOT_KIND "hot"
/* the largest list (bytes) and the longest path */
#define IMG_HOT_MAX (64u << 20)
#define IMG_HOT_PATH_MAX 4096

struct img_hot {
	char **path;     /* in the list's order (line i + 1) */
	size_t n, cap;
};

/* Parses a list: lines of a clean absolute path ("/a/b": no empty,
 * "." or ".." component, no trailing '/'), each ending in '\n', no NUL,
 * no path twice, at least one line. Errors name what:LINE. */
int img_hot_parse(const char *what, const uint8_t *buf, size_t len,
		  struct img_hot *h, struct ni_err *e);
void img_hot_free(struct img_hot *h);

/* Image bytes. */
struct img_hot_extent {
	uint64_t off, len;
};

/* The metadata a client needs to find files: the superblock and the
 * tables (inodes, folders, fragments, ids, xattrs: from the inode table
 * to the end of the filesystem). n is set to 1 or 2. */
int img_hot_meta(sqfs_file_t *file, const char *what,
		 struct img_hot_extent x[2], size_t *n, struct ni_err *e);

/* Called for each file of the list, in order: its data blocks and its
 * fragment block (n: 0 to 2 extents; 0 for an empty file). */
typedef int (*img_hot_cb)(void *user, size_t i, const struct img_hot_extent *x,
			  size_t n);

/* strict (netimg hot): a path that is missing from the image or not a
 * regular file is an error naming list_name:LINE; otherwise it is passed
 * over (a client trusts a signed list, but only for what to fetch first).
 * what names the image in errors. */
#define IMG_HOT_STRICT 1
int img_hot_resolve(sqfs_file_t *file, const char *what, const char *list_name,
		    const struct img_hot *h, int flags, img_hot_cb cb, void *user,
		    struct ni_err *e);

#endif
