/* files.c: each regular file's data blocks and fragment tail (files.h).
 * Reads the directory tree, the id and fragment tables with libsquashfs;
 * never file data. */
#include "images/files.h"

#include <stdlib.h>
#include <string.h>

#include <sqfs/block.h>
#include <sqfs/compressor.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/super.h>

#include "common/grow.h"

struct ctx {
	const char *path;
	sqfs_file_t *file;
	sqfs_super_t super;
	sqfs_compressor_t *cmp;
	sqfs_id_table_t *ids;
	sqfs_dir_reader_t *dr;
	sqfs_frag_table_t *ft;
	sqfs_tree_node_t *root;
	uint32_t *used;       /* per fragment block: highest tail end */
	struct img_files *out;
	struct ni_err *e;
};

static int sq_fail(struct ctx *c, int err, const char *what)
{
	return ni_err_set(c->e, err == SQFS_ERROR_ALLOC ? NI_ENOMEM : NI_ESQFS,
			  "%s: %s (squashfs error %d)", c->path, what, err);
}

static int add_file(struct ctx *c, const sqfs_tree_node_t *n)
{
	const sqfs_inode_generic_t *ino = n->inode;
	struct img_files *fs = c->out;
	struct img_file *f;
	sqfs_u64 size = 0;
	sqfs_u32 idx, off;
	size_t i, count;
	char *p = NULL;
	int err;

	if (ni_grow(&fs->f, &fs->cap, fs->n, sizeof(*fs->f), 256) != 0)
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	if ((err = sqfs_tree_node_get_path(n, &p)) != 0)
		return sq_fail(c, err, "building a path");
	f = &fs->f[fs->n++];
	memset(f, 0, sizeof(*f));
	f->path = p;
	f->inode = ino->base.inode_number;
	sqfs_inode_get_file_size(ino, &size);
	f->size = size;
	count = sqfs_inode_get_file_block_count(ino);
	for (i = 0; i < count; i++)
		f->data += SQFS_ON_DISK_BLOCK_SIZE(ino->extra[i]);
	f->frag = IMG_NO_FRAG;
	sqfs_inode_get_frag_location(ino, &idx, &off);
	if (idx == 0xFFFFFFFF || size % c->super.block_size == 0 ||
	    count * (uint64_t)c->super.block_size >= size)
		return 0;
	if (idx >= c->super.fragment_entry_count)
		return ni_err_set(c->e, NI_ESQFS, "%s: %s: fragment %u out of range",
				  c->path, p, (unsigned)idx);
	f->frag = idx;
	f->tail = (uint32_t)(size - count * (uint64_t)c->super.block_size);
	if (off + (uint64_t)f->tail > c->used[idx])
		c->used[idx] = off + f->tail;
	return 0;
}

static int walk(struct ctx *c, const sqfs_tree_node_t *n)
{
	int ret;

	for (; n != NULL; n = n->next) {
		int t = n->inode->base.type;

		if (t == SQFS_INODE_FILE || t == SQFS_INODE_EXT_FILE)
			ret = add_file(c, n);
		else
			ret = walk(c, n->children);
		if (ret != 0)
			return ret;
	}
	return 0;
}

/* The fragment blocks' places and sizes, once every tail end is known. */
static int fill_frags(struct ctx *c)
{
	struct img_files *fs = c->out;
	sqfs_fragment_t fr;
	size_t i;
	int err;

	for (i = 0; i < fs->n; i++) {
		struct img_file *f = &fs->f[i];

		if (f->frag == IMG_NO_FRAG)
			continue;
		if ((err = sqfs_frag_table_lookup(c->ft, f->frag, &fr)) != 0)
			return sq_fail(c, err, "reading the fragment table");
		f->frag_start = fr.start_offset;
		f->frag_disk = SQFS_ON_DISK_BLOCK_SIZE(fr.size);
		f->frag_used = c->used[f->frag];
	}
	return 0;
}

static int open_image(struct ctx *c)
{
	sqfs_compressor_config_t cfg;
	int err;

	c->file = sqfs_open_file(c->path, SQFS_FILE_OPEN_READ_ONLY);
	if (c->file == NULL)
		return ni_err_set(c->e, NI_EIO, "%s: cannot open", c->path);
	if ((err = sqfs_super_read(&c->super, c->file)) != 0)
		return sq_fail(c, err, "not a squashfs image");
	sqfs_compressor_config_init(&cfg, c->super.compression_id,
				    c->super.block_size, SQFS_COMP_FLAG_UNCOMPRESS);
	if ((err = sqfs_compressor_create(&cfg, &c->cmp)) != 0)
		return sq_fail(c, err, "unsupported compressor");
	c->ids = sqfs_id_table_create(0);
	c->ft = sqfs_frag_table_create(0);
	c->used = calloc(c->super.fragment_entry_count + 1, sizeof(*c->used));
	if (c->ids == NULL || c->ft == NULL || c->used == NULL)
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	if ((err = sqfs_id_table_read(c->ids, c->file, &c->super, c->cmp)) != 0)
		return sq_fail(c, err, "reading the id table");
	if (!(c->super.flags & SQFS_FLAG_NO_FRAGMENTS) &&
	    c->super.fragment_entry_count > 0 &&
	    (err = sqfs_frag_table_read(c->ft, c->file, &c->super, c->cmp)) != 0)
		return sq_fail(c, err, "reading the fragment table");
	c->dr = sqfs_dir_reader_create(&c->super, c->cmp, c->file, 0);
	if (c->dr == NULL)
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	if ((err = sqfs_dir_reader_get_full_hierarchy(c->dr, c->ids, NULL, 0,
						       &c->root)) != 0)
		return sq_fail(c, err, "reading the directory tree");
	return 0;
}

int img_files_read(const char *path, struct img_files *out, struct ni_err *e)
{
	struct ctx c = { .path = path, .out = out, .e = e };
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = open_image(&c)) == 0 && (ret = walk(&c, c.root)) == 0)
		ret = fill_frags(&c);
	if (c.root != NULL)
		sqfs_dir_tree_destroy(c.root);
	if (c.dr != NULL)
		sqfs_destroy(c.dr);
	if (c.ft != NULL)
		sqfs_destroy(c.ft);
	if (c.ids != NULL)
		sqfs_destroy(c.ids);
	if (c.cmp != NULL)
		sqfs_destroy(c.cmp);
	if (c.file != NULL)
		sqfs_destroy(c.file);
	free(c.used);
	if (ret != 0)
		img_files_free(out);
	return ret;
}

void img_files_free(struct img_files *fs)
{
	size_t i;

	for (i = 0; i < fs->n; i++)
		sqfs_free(fs->f[i].path);
	free(fs->f);
	memset(fs, 0, sizeof(*fs));
}

uint64_t img_file_frag_share(const struct img_file *f)
{
	if (f->frag == IMG_NO_FRAG || f->frag_used == 0)
		return 0;
	return ((uint64_t)f->tail * f->frag_disk + f->frag_used / 2) / f->frag_used;
}
