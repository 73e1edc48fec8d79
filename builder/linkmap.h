/* linkmap.h: remembers the first path seen for each multiply-linked
 * inode of an input (keyed by device and inode number), so the readers of
 * folders and squashfs images can report hard links as libarchive does. */
#ifndef BLD_LINKMAP_H
#define BLD_LINKMAP_H

#include <stddef.h>
#include <stdint.h>

struct bld_linkmap {
	struct bld_linkslot *slots;
	size_t cap, used;
};

/* The first path recorded for (a, b), or NULL after recording path.
 * *err is set to NI_ENOMEM on allocation failure. */
const char *bld_linkmap_seen(struct bld_linkmap *m, uint64_t a, uint64_t b,
			     const char *path, int *err);
void bld_linkmap_free(struct bld_linkmap *m);

#endif
