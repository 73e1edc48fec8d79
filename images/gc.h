/* gc.h: `netimg gc`: removes the versions no channel needs any more and
 * the storage only they used. Kept: every version a channel points at,
 * or pointed at within its last N history entries (default 3), and every
 * version published after the newest pointer write of any channel (not
 * rolled out yet: otherwise publish-then-gc would remove a version before
 * anyone could point at it). Packs with no live chunk are removed; a pack
 * whose live bytes fall under half is rewritten with only its live
 * chunks. Blobs no kept attachment names, and netboot files (boot/) no
 * kept manifest names, are removed. Every step is
 * ordered so that a crash at any point leaves every kept version
 * fetchable and verifiable: new files first, references switched by
 * atomic rename, deletions last. Runs under the publishers' lock. */
#ifndef IMG_GC_H
#define IMG_GC_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define IMG_GC_KEEP_DEFAULT 3

struct img_gc_opts {
	const char *repo;
	int keep;             /* history entries per channel; < 0: the default */
	int dry_run;          /* plan and report, change nothing */
};

enum img_gc_what {
	IMG_GC_KEPT,          /* a version kept, and why (detail) */
	IMG_GC_VERSION,       /* a version removed (manifest, locations, attachments) */
	IMG_GC_PACK,          /* a pack (and .idx) removed: no live chunk */
	IMG_GC_REPACK,        /* a pack rewritten with its live chunks only */
	IMG_GC_INDEX,         /* a chunk index no kept version names */
	IMG_GC_BLOB,          /* a blob no kept attachment names */
	IMG_GC_BOOT,          /* a netboot file (boot/) no kept manifest names */
	IMG_GC_DEBRIS,        /* left by an interrupted writer (no manifest, temp file) */
};

struct img_gc_item {
	enum img_gc_what what;
	char name[200];
	char detail[200];
	uint64_t bytes;       /* freed (for REPACK: old size minus new) */
};

struct img_gc_result {
	struct img_gc_item *items;
	size_t n, cap;
	size_t versions_kept, versions_removed, packs_removed, packs_rewritten,
	       blobs_removed;
	uint64_t freed;       /* bytes */
	int64_t newest_pointer;   /* the newest pointer write (0: no channel) */
};

int img_gc(const struct img_gc_opts *o, struct img_gc_result *r, struct ni_err *e);
void img_gc_result_free(struct img_gc_result *r);

#endif
