/* fusefs_internal.h: the mount's state, shared by the FUSE operations
 * (ll.c), the session (mount.c) and the access record (record.c). */
#ifndef FUSEFS_INTERNAL_H
#define FUSEFS_INTERNAL_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <signal.h>

#include "fusefs/fusefs.h"
#include "fusefs/image.h"

struct ffs_record;

struct fusefs {
	struct ffs_image *im;
	struct fuse_session *se;
	char *mountpoint;            /* absolute */
	int mounted;
	int ready_fd;
	unsigned max_threads;
	struct ffs_record *rec;      /* NULL unless --record */
	/* a test hook (NETIMG_TEST_READ_DELAY_MS): every file read sleeps
	 * this long first, as a read waiting on the network would */
	long read_delay_ms;
};

extern const struct fuse_lowlevel_ops ffs_ll_ops;

/* FUSE node ids: the root is FUSE_ROOT_ID, every other inode its
 * reference in the inode table plus 2. Stable for the image's life and
 * shared by hard links (they are one inode). */
static inline fuse_ino_t ffs_nodeid(const struct ffs_image *im, uint64_t ref)
{
	return ref == im->super.root_inode_ref ? FUSE_ROOT_ID :
		(fuse_ino_t)(ref + 2);
}

static inline uint64_t ffs_ref(const struct ffs_image *im, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? im->super.root_inode_ref :
		(uint64_t)ino - 2;
}

/* loop.c: serves se with up to max_threads threads until the mount goes
 * or one of stop_signals arrives (they must be blocked in every thread).
 * Returns 0, or -errno when reading the session failed. */
int ffs_loop_run(struct fuse_session *se, unsigned max_threads,
		 const sigset_t *stop_signals);

/* record.c */
int ffs_record_new(struct ffs_record **out, const char *path,
		   unsigned interval, struct ni_err *e);
/* Remembers the first name seen for ino (from lookup or readdirplus). */
void ffs_record_name(struct ffs_record *r, fuse_ino_t ino, fuse_ino_t parent,
		     const char *name);
/* Appends ino's path on its first open. */
void ffs_record_open(struct ffs_record *r, fuse_ino_t ino);
/* Writes the (empty) record once, so an unwritable path fails early. */
int ffs_record_check(struct ffs_record *r, struct ni_err *e);
int ffs_record_start(struct ffs_record *r, struct ni_err *e);
/* Stops the periodic writer and writes the file a last time. */
int ffs_record_finish(struct ffs_record *r, struct ni_err *e);
void ffs_record_free(struct ffs_record *r);

#endif
