/* serialize.c: after the data, writes the tree (inodes, directories) and
 * the tables, then the final superblock. Inode numbers: every non-folder
 * inode in sorted depth-first order, then folders bottom-up, so a folder
 * is always written after everything it lists. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqfs/dir_writer.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>
#include <sqfs/xattr_writer.h>

#include "builder/writer_internal.h"

static int number_files(struct bld_dentry *d, void *user)
{
	struct bld_writer *w = user;

	if (!bld_is_dir(d) && d->ino->inum == 0)
		d->ino->inum = ++w->next_inum;
	return 0;
}

static int number_dirs(struct bld_dentry *d, void *user)
{
	struct bld_writer *w = user;

	if (bld_is_dir(d))
		d->ino->inum = ++w->next_inum;
	return 0;
}

static int xattr_index(struct bld_writer *w, const struct bld_inode *ino,
		       sqfs_u32 *idx)
{
	size_t i;
	int ret;

	*idx = 0xFFFFFFFF;
	if (ino->n_xattrs == 0)
		return 0;
	ret = sqfs_xattr_writer_begin(w->xwr, 0);
	for (i = 0; ret == 0 && i < ino->n_xattrs; i++)
		ret = sqfs_xattr_writer_add(w->xwr, ino->xattrs[i].key,
					    ino->xattrs[i].value,
					    ino->xattrs[i].size);
	if (ret == 0)
		ret = sqfs_xattr_writer_end(w->xwr, idx);
	return ret;
}

static sqfs_inode_generic_t *other_inode(const struct bld_inode *ino)
{
	size_t extra = S_ISLNK(ino->mode) ? strlen(ino->target) : 0;
	sqfs_inode_generic_t *sq = calloc(1, sizeof(*sq) + extra);

	if (sq == NULL)
		return NULL;
	switch (ino->mode & S_IFMT) {
	case S_IFLNK:
		sq->base.type = SQFS_INODE_SLINK;
		sq->data.slink.nlink = ino->links;
		sq->data.slink.target_size = (sqfs_u32)extra;
		memcpy(sq->extra, ino->target, extra);
		break;
	case S_IFCHR:
	case S_IFBLK:
		sq->base.type = S_ISCHR(ino->mode) ? SQFS_INODE_CDEV : SQFS_INODE_BDEV;
		sq->data.dev.nlink = ino->links;
		sq->data.dev.devno = (sqfs_u32)ino->rdev;
		break;
	default:
		sq->base.type = S_ISFIFO(ino->mode) ? SQFS_INODE_FIFO : SQFS_INODE_SOCKET;
		sq->data.ipc.nlink = ino->links;
		break;
	}
	return sq;
}

static int finish_file_inode(struct bld_inode *ino)
{
	sqfs_inode_generic_t *sq = ino->sq;
	int ret;

	if (sq == NULL)
		return SQFS_ERROR_INTERNAL; /* data never written */
	ret = sqfs_inode_set_file_size(sq, ino->size);
	if (ret == 0 && ino->tail_len > 0)
		ret = sqfs_inode_set_frag_location(sq, ino->tail_frag, ino->tail_off);
	if (ret == 0 && ino->links > 1) {
		ret = sqfs_inode_make_extended(sq);
		sq->data.file_ext.nlink = ino->links;
	}
	return ret;
}

static int write_inode(struct bld_writer *w, struct bld_inode *ino,
		       sqfs_inode_generic_t *sq)
{
	sqfs_u64 block;
	sqfs_u32 offset, xidx;
	int64_t mt = ino->mtime;
	int ret;

	sq->base.mode = (sqfs_u16)ino->mode;
	sq->base.mod_time = mt < 0 ? 0 : mt > 0xFFFFFFFFLL ? 0xFFFFFFFFu : (sqfs_u32)mt;
	sq->base.inode_number = ino->inum;
	/* The dir writer already put a folder's xattr index in its inode. */
	if (sq->base.type != SQFS_INODE_DIR && sq->base.type != SQFS_INODE_EXT_DIR &&
	    ((ret = xattr_index(w, ino, &xidx)) != 0 ||
	     (ret = sqfs_inode_set_xattr_index(sq, xidx)) != 0))
		return ret;
	if ((ret = sqfs_id_table_id_to_index(w->idtbl, ino->uid, &sq->base.uid_idx)) ||
	    (ret = sqfs_id_table_id_to_index(w->idtbl, ino->gid, &sq->base.gid_idx)))
		return ret;
	sqfs_meta_writer_get_position(w->im, &block, &offset);
	ino->ref = (block << 16) | offset;
	ino->serialized = 1;
	w->stats.inodes++;
	return sqfs_meta_writer_write_inode(w->im, sq);
}

static int emit_file(struct bld_dentry *d, void *user)
{
	struct bld_writer *w = user;
	struct bld_inode *ino = d->ino;
	sqfs_inode_generic_t *sq;
	int ret;

	if (bld_is_dir(d) || ino->serialized)
		return 0;
	if (S_ISREG(ino->mode)) {
		if ((ret = finish_file_inode(ino)) != 0)
			return ret;
		return write_inode(w, ino, ino->sq);
	}
	sq = other_inode(ino);
	if (sq == NULL)
		return SQFS_ERROR_ALLOC;
	ret = write_inode(w, ino, sq);
	free(sq);
	return ret;
}

static int emit_dir(struct bld_dentry *d, void *user)
{
	struct bld_writer *w = user;
	sqfs_inode_generic_t *sq;
	sqfs_u32 xidx, parent;
	size_t i, subdirs = 0;
	int ret;

	if (!bld_is_dir(d))
		return 0;
	if ((ret = sqfs_dir_writer_begin(w->dirw, 0)) != 0)
		return ret;
	for (i = 0; i < d->n_kids; i++) {
		struct bld_inode *k = d->kids[i]->ino;

		subdirs += S_ISDIR(k->mode) ? 1 : 0;
		ret = sqfs_dir_writer_add_entry(w->dirw, d->kids[i]->name,
						k->inum, k->ref, k->mode);
		if (ret != 0)
			return ret;
	}
	if ((ret = sqfs_dir_writer_end(w->dirw)) != 0 ||
	    (ret = xattr_index(w, d->ino, &xidx)) != 0)
		return ret;
	parent = d->parent ? d->parent->ino->inum : w->next_inum + 1;
	sq = sqfs_dir_writer_create_inode(w->dirw, 0, xidx, parent);
	if (sq == NULL)
		return SQFS_ERROR_ALLOC;
	/* A folder's links: its entry, its ".", and each subfolder's "..". */
	if (sq->base.type == SQFS_INODE_DIR)
		sq->data.dir.nlink = (sqfs_u32)(2 + subdirs);
	else
		sq->data.dir_ext.nlink = (sqfs_u32)(2 + subdirs);
	ret = write_inode(w, d->ino, sq);
	free(sq);
	return ret;
}

static int write_tree(struct bld_writer *w, struct bld_tree *t)
{
	int ret;

	w->next_inum = 0;
	bld_tree_walk(t->root, 0, number_files, w);
	bld_tree_walk(t->root, 1, number_dirs, w);
	w->super.inode_count = w->next_inum;
	w->super.inode_table_start = w->file->get_size(w->file);
	if ((ret = bld_tree_walk(t->root, 0, emit_file, w)) != 0 ||
	    (ret = bld_tree_walk(t->root, 1, emit_dir, w)) != 0 ||
	    (ret = sqfs_meta_writer_flush(w->im)) != 0 ||
	    (ret = sqfs_meta_writer_flush(w->dm)) != 0)
		return ret;
	w->super.root_inode_ref = t->root->ino->ref;
	w->super.directory_table_start = w->file->get_size(w->file);
	return sqfs_meta_write_write_to_file(w->dm);
}

static int pad_image(struct bld_writer *w)
{
	static const unsigned char zero[4096];
	sqfs_u64 size = w->file->get_size(w->file);
	size_t pad = size % 4096 ? 4096 - size % 4096 : 0;

	return pad ? w->file->write_at(w->file, size, zero, pad) : 0;
}

static int write_tables(struct bld_writer *w)
{
	int ret;

	if ((ret = sqfs_frag_table_write(w->ftbl, w->file, &w->super, w->cmp)) ||
	    (ret = sqfs_id_table_write(w->idtbl, w->file, &w->super, w->cmp)) ||
	    (ret = sqfs_xattr_writer_flush(w->xwr, w->file, &w->super, w->cmp)))
		return ret;
	w->super.bytes_used = w->file->get_size(w->file);
	if ((ret = sqfs_super_write(&w->super, w->file)) != 0)
		return ret;
	w->stats.image_size = w->super.bytes_used;
	return pad_image(w);
}

int bld_writer_finish(struct bld_writer *w, struct bld_tree *t)
{
	int ret = bld_writer_finish_data(w);

	if (ret != 0)
		return ret;
	w->idtbl = sqfs_id_table_create(0);
	w->xwr = sqfs_xattr_writer_create(0);
	w->im = sqfs_meta_writer_create(w->file, w->cmp, 0);
	w->dm = sqfs_meta_writer_create(w->file, w->cmp,
					SQFS_META_WRITER_KEEP_IN_MEMORY);
	w->dirw = w->dm ? sqfs_dir_writer_create(w->dm, 0) : NULL;
	if (!w->idtbl || !w->xwr || !w->im || !w->dm || !w->dirw)
		return ni_err_set(w->e, NI_ENOMEM, "out of memory");
	errno = 0;
	if ((ret = write_tree(w, t)) != 0)
		return bld_writer_sqerr(w, ret, "writing inodes and folders");
	if ((ret = write_tables(w)) != 0)
		return bld_writer_sqerr(w, ret, "writing the tables");
	return 0;
}
