/* fusefs.h: a read-only FUSE filesystem (libfuse3 low-level API,
 * multithreaded) over a squashfs image reached through a sqfs_file_t.
 *
 * fusefs knows nothing of HTTP, repositories or caches: it reads the
 * image only through file->read_at() and file->get_size(). What the file
 * is (a local image opened with sqfs_open_file, or the cache's virtual
 * image whose reads fetch and verify chunks) is the caller's business.
 *
 * The contract for that sqfs_file_t:
 *   - read_at() is called from many threads at once and must be safe so;
 *   - it returns 0 only when every requested byte is in the buffer and
 *     correct (verified), and a negative SQFS_ERROR_* otherwise: fusefs
 *     answers the read(2), stat(2), readdir(3)... that needed those bytes
 *     with EIO (ENOMEM for SQFS_ERROR_ALLOC) and caches nothing of a
 *     failed read, so a later read of the same bytes tries again;
 *   - it returns within a bounded time (fusefs has no timer of its own:
 *     a read_at that hangs hangs the reader that needed it);
 *   - get_size() is the image's full size (a cache that holds part of
 *     the image still says the whole size).
 * write_at() and truncate() are never called.
 *
 * Use (netimg mount forks first and does all of it in the child, so the
 * file may have threads of its own; the child writes its error line or,
 * through ready_fd, one byte once the mount serves, to the waiting
 * parent):
 *   fusefs_open(&fs, file, "name", &e);     superblock, tables, root
 *   fusefs_mount(fs, &opts, &e);            the kernel mount
 *   fusefs_run(fs, ready_fd, &e);           serves until unmounted
 *   fusefs_close(fs);  then destroy the file
 */
#ifndef NI_FUSEFS_H
#define NI_FUSEFS_H

#include <stdint.h>
#include <sqfs/predef.h>

#include "common/err.h"

struct fusefs;

struct fusefs_opts {
	const char *mountpoint;
	/* what /proc/mounts shows as the source: the image path or
	 * NAME@VERSION; default the name given to fusefs_open */
	const char *fsname;
	/* let other users than the one mounting see the mount (needs
	 * user_allow_other in /etc/fuse.conf unless root). Permissions are
	 * always checked by the kernel against the image's modes. */
	int allow_other;
	/* a file to write the paths of the regular files read, in order of
	 * first open, one per line; NULL for none. Written atomically every
	 * record_interval seconds (0: 30) when it changed, and at unmount. */
	const char *record_path;
	unsigned record_interval;
	/* most threads serving requests at once (0: 16) */
	unsigned max_threads;
	/* libfuse's debug output on stderr (foreground use only) */
	int debug;
};

struct fusefs_stats {
	uint64_t reads, read_bytes, read_errors, meta_errors;
	uint64_t cache_hits, cache_misses;
};

/* Reads and checks the superblock and the id, fragment and xattr tables
 * through file, which must outlive fs (fusefs_close does not destroy it).
 * name names the image in error messages. */
int fusefs_open(struct fusefs **out, sqfs_file_t *file, const char *name,
		struct ni_err *e);

/* Mounts fs on o->mountpoint: after it returns 0 the kernel has the mount
 * and queues requests until fusefs_run serves them. A dead FUSE mount
 * left on the mount point (its process was killed) is cleared first.
 * Starts no thread. The strings in o are copied. */
int fusefs_mount(struct fusefs *fs, const struct fusefs_opts *o,
		 struct ni_err *e);

/* Serves requests with up to o->max_threads threads until the mount goes
 * away (fusermount3 -u, umount) or SIGINT, SIGTERM or SIGHUP arrives, then
 * unmounts if still mounted and writes the record. The three signals are
 * blocked in the calling thread (and so in every thread it starts) while
 * it runs, and taken with sigwait; call it before starting threads that
 * should not get them. When ready_fd >= 0, the byte 1 is written to it
 * (and it is closed) once the kernel's INIT request is answered: the
 * mount then serves requests. Returns 0 after a clean unmount. */
int fusefs_run(struct fusefs *fs, int ready_fd, struct ni_err *e);

void fusefs_get_stats(struct fusefs *fs, struct fusefs_stats *st);

/* Unmounts a dead FUSE mount on mountpoint (its process was killed: the
 * kernel answers ENOTCONN), lazily; does nothing to anything else.
 * fusefs_mount does it first too. Returns 0, or -errno. */
int fusefs_clear_dead(const char *mountpoint);

/* Unmounts if still mounted (without serving) and frees fs. */
void fusefs_close(struct fusefs *fs);

#endif
