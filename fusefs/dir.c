/* dir.c: listing directories and looking names up in them.
 *
 * A lookup does not scan the listing from its start: an extended
 * directory inode carries an index, one entry per header of the listing
 * (libsquashfs writes one per header, mksquashfs one per meta data
 * block), each with the name of the header's first entry and where the
 * header is. Entries are sorted by name, so the lookup starts at the last
 * indexed header whose first name is not after the wanted one, and stops
 * at the first name after it: a few dozen entries are read even in a
 * folder of a hundred thousand. */
#include "fusefs/image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sqfs/block.h>
#include <sqfs/dir.h>
#include <sqfs/error.h>
#include <sqfs/inode.h>

int ffs_dir_open(struct ffs_image *im, const sqfs_inode_generic_t *dir,
		 struct ffs_dirpos *p)
{
	memset(p, 0, sizeof(*p));
	if (sqfs_readdir_state_init(&p->it, &im->super, dir) != 0)
		return -ENOTDIR;
	return 0;
}

int ffs_dir_next(struct ffs_image *im, struct ffs_ctx *c,
		 struct ffs_dirpos *p, sqfs_dir_entry_t **ent, uint64_t *ref,
		 uint32_t *inum)
{
	int ret;

	*ent = NULL;
	ret = sqfs_meta_reader_readdir(c->md, &p->it, ent, inum, ref);
	if (ret < 0)
		return ffs_sqerr(im, c, ret);
	if (ret > 0)
		return 1;
	p->index++;
	return 0;
}

/* Walks the index entries the inode reader laid out one after the other
 * (sqfs_dir_index_t and name, host order) and moves p to the header of
 * the last one whose name is not after name. The entries were checked
 * against the payload's size when the inode was read. */
static void seek_index(struct ffs_image *im, const sqfs_inode_generic_t *dir,
		       const char *name, struct ffs_dirpos *p)
{
	const uint8_t *ptr = (const uint8_t *)dir->extra;
	size_t used = dir->payload_bytes_used, off = 0, nlen, i;
	const sqfs_dir_index_t *best = NULL;
	sqfs_dir_index_t ent;
	size_t wlen = strlen(name);

	for (i = 0; i < dir->data.dir_ext.inodex_count; i++) {
		int cmp;

		if (off + sizeof(ent) > used)
			break;
		memcpy(&ent, ptr + off, sizeof(ent));
		nlen = (size_t)ent.size + 1;
		if (off + sizeof(ent) + nlen > used)
			break;
		cmp = memcmp(ptr + off + sizeof(ent), name,
			     nlen < wlen ? nlen : wlen);
		if (cmp > 0 || (cmp == 0 && nlen > wlen))
			break;
		best = (const sqfs_dir_index_t *)(ptr + off);
		off += sizeof(ent) + nlen;
	}
	if (best == NULL)
		return;
	memcpy(&ent, best, sizeof(ent));
	if (ent.index >= p->it.init.size)
		return;                 /* corrupt: fall back to a scan */
	p->it.current.block = im->super.directory_table_start + ent.start_block;
	p->it.current.offset = (p->it.init.offset + ent.index) %
			       SQFS_META_BLOCK_SIZE;
	p->it.current.size = p->it.init.size - ent.index;
	p->it.entries = 0;
}

int ffs_dir_lookup(struct ffs_image *im, struct ffs_ctx *c,
		   const sqfs_inode_generic_t *dir, const char *name,
		   uint64_t *ref)
{
	struct ffs_dirpos p;
	sqfs_dir_entry_t *ent;
	int ret, cmp;

	if ((ret = ffs_dir_open(im, dir, &p)) != 0)
		return ret;
	if (dir->base.type == SQFS_INODE_EXT_DIR)
		seek_index(im, dir, name, &p);
	for (;;) {
		ret = ffs_dir_next(im, c, &p, &ent, ref, NULL);
		if (ret != 0)
			return ret > 0 ? -ENOENT : ret;
		cmp = strcmp((const char *)ent->name, name);
		free(ent);
		if (cmp == 0)
			return 0;
		if (cmp > 0)
			return -ENOENT;
	}
}
