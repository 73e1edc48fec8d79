/* input_sqfs.c: a squashfs image as a stream of entries (libsquashfs's
 * directory and data readers), so an existing image can be the base. */
#include "builder/input.h"
#include "builder/linkmap.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/super.h>
#include <sqfs/xattr.h>
#include <sqfs/xattr_reader.h>

struct sqpriv {
	sqfs_file_t *file;
	sqfs_super_t super;
	sqfs_compressor_t *cmp;
	sqfs_id_table_t *idtbl;
	sqfs_dir_reader_t *dr;
	sqfs_data_reader_t *data;
	sqfs_xattr_reader_t *xr;
	sqfs_tree_node_t *root, *cur;
	int started;
	struct archive_entry *ent;
	sqfs_u64 offset;
	struct bld_linkmap links;
};

static int sq_err(struct bld_input *in, int err, const char *what)
{
	return ni_err_set(in->e, err == SQFS_ERROR_ALLOC ? NI_ENOMEM : NI_ESQFS,
			  "%s: %s (squashfs error %d)", in->path, what, err);
}

static sqfs_tree_node_t *next_node(sqfs_tree_node_t *n)
{
	if (S_ISDIR(n->inode->base.mode) && n->children != NULL)
		return n->children;
	while (n != NULL && n->next == NULL)
		n = n->parent;
	return n ? n->next : NULL;
}

static int add_xattrs(struct bld_input *in, struct sqpriv *p,
		      const sqfs_tree_node_t *n)
{
	sqfs_xattr_entry_t *key;
	sqfs_xattr_value_t *val;
	sqfs_xattr_id_t desc;
	sqfs_u32 idx, i;
	int err;

	if (p->xr == NULL || sqfs_inode_get_xattr_index(n->inode, &idx) != 0 ||
	    idx == 0xFFFFFFFF)
		return 0;
	if ((err = sqfs_xattr_reader_get_desc(p->xr, idx, &desc)) != 0 ||
	    (err = sqfs_xattr_reader_seek_kv(p->xr, &desc)) != 0)
		return sq_err(in, err, "reading xattrs");
	for (i = 0; i < desc.count; i++) {
		if ((err = sqfs_xattr_reader_read_key(p->xr, &key)) != 0)
			return sq_err(in, err, "reading xattrs");
		err = sqfs_xattr_reader_read_value(p->xr, key, &val);
		if (err != 0) {
			sqfs_free(key);
			return sq_err(in, err, "reading xattrs");
		}
		archive_entry_xattr_add_entry(p->ent, (const char *)key->key,
					      val->value, val->size);
		sqfs_free(key);
		sqfs_free(val);
	}
	return 0;
}

static int fill(struct bld_input *in, struct sqpriv *p, sqfs_tree_node_t *n)
{
	const sqfs_inode_generic_t *ino = n->inode;
	sqfs_u64 size = 0;
	const char *first;
	char *path;
	int err;

	if ((err = sqfs_tree_node_get_path(n, &path)) != 0)
		return sq_err(in, err, "corrupt directory tree");
	archive_entry_clear(p->ent);
	archive_entry_copy_pathname(p->ent, path[1] ? path + 1 : ".");
	archive_entry_set_mode(p->ent, ino->base.mode);
	archive_entry_set_uid(p->ent, n->uid);
	archive_entry_set_gid(p->ent, n->gid);
	archive_entry_set_mtime(p->ent, ino->base.mod_time, 0);
	if (S_ISLNK(ino->base.mode))
		archive_entry_copy_symlink(p->ent, (const char *)ino->extra);
	if (S_ISCHR(ino->base.mode) || S_ISBLK(ino->base.mode))
		archive_entry_set_rdev(p->ent, ino->base.type == SQFS_INODE_EXT_BDEV ||
				       ino->base.type == SQFS_INODE_EXT_CDEV ?
				       ino->data.dev_ext.devno : ino->data.dev.devno);
	if (S_ISREG(ino->base.mode)) {
		sqfs_inode_get_file_size(ino, &size);
		archive_entry_set_size(p->ent, (la_int64_t)size);
		/* Only extended file inodes can have more than one link. */
		first = ino->base.type == SQFS_INODE_EXT_FILE &&
			ino->data.file_ext.nlink > 1
			? bld_linkmap_seen(&p->links, 0, ino->base.inode_number,
					   path + 1, &err) : NULL;
		if (first != NULL) {
			archive_entry_copy_hardlink(p->ent, first);
			archive_entry_set_size(p->ent, 0);
		}
	}
	sqfs_free(path);
	p->offset = 0;
	return err ? ni_err_set(in->e, err, "out of memory") : add_xattrs(in, p, n);
}

static int sq_next(struct bld_input *in, struct archive_entry **ent)
{
	struct sqpriv *p = in->priv;
	int ret;

	p->cur = p->started ? next_node(p->cur) : p->root;
	p->started = 1;
	if (p->cur == NULL)
		return 0;
	ret = fill(in, p, p->cur);
	*ent = p->ent;
	return ret ? ret : 1;
}

static int sq_read(struct bld_input *in, void *buf, size_t len, size_t *got)
{
	struct sqpriv *p = in->priv;
	sqfs_s32 n;

	if (len > (1u << 30))
		len = 1u << 30;
	n = sqfs_data_reader_read(p->data, p->cur->inode, p->offset, buf,
				  (sqfs_u32)len);
	if (n < 0)
		return sq_err(in, n, "reading file data");
	p->offset += (sqfs_u64)n;
	*got = (size_t)n;
	return 0;
}

static void sq_close(struct bld_input *in)
{
	struct sqpriv *p = in->priv;

	if (p == NULL)
		return;
	bld_linkmap_free(&p->links);
	if (p->ent) archive_entry_free(p->ent);
	if (p->root) sqfs_dir_tree_destroy(p->root);
	if (p->xr) sqfs_destroy(p->xr);
	if (p->data) sqfs_destroy(p->data);
	if (p->dr) sqfs_destroy(p->dr);
	if (p->idtbl) sqfs_destroy(p->idtbl);
	if (p->cmp) sqfs_destroy(p->cmp);
	if (p->file) sqfs_destroy(p->file);
	free(p);
	in->priv = NULL;
}

static const struct bld_input_ops sqfs_ops = { sq_next, sq_read, sq_close };

static int open_tables(struct bld_input *in, struct sqpriv *p)
{
	sqfs_compressor_config_t cfg;
	int err;

	if ((err = sqfs_super_read(&p->super, p->file)) != 0)
		return sq_err(in, err, "not a valid squashfs image");
	sqfs_compressor_config_init(&cfg, p->super.compression_id,
				    p->super.block_size,
				    SQFS_COMP_FLAG_UNCOMPRESS);
	if ((err = sqfs_compressor_create(&cfg, &p->cmp)) != 0)
		return sq_err(in, err, "unsupported compressor");
	p->idtbl = sqfs_id_table_create(0);
	p->dr = sqfs_dir_reader_create(&p->super, p->cmp, p->file, 0);
	p->data = sqfs_data_reader_create(p->file, p->super.block_size, p->cmp, 0);
	p->ent = archive_entry_new();
	if (!p->idtbl || !p->dr || !p->data || !p->ent)
		return ni_err_set(in->e, NI_ENOMEM, "out of memory");
	if ((err = sqfs_id_table_read(p->idtbl, p->file, &p->super, p->cmp)) ||
	    (err = sqfs_data_reader_load_fragment_table(p->data, &p->super)))
		return sq_err(in, err, "corrupt image tables");
	if (!(p->super.flags & SQFS_FLAG_NO_XATTRS)) {
		p->xr = sqfs_xattr_reader_create(0);
		if (p->xr == NULL)
			return ni_err_set(in->e, NI_ENOMEM, "out of memory");
		if ((err = sqfs_xattr_reader_load(p->xr, &p->super, p->file, p->cmp)))
			return sq_err(in, err, "corrupt xattr table");
	}
	err = sqfs_dir_reader_get_full_hierarchy(p->dr, p->idtbl, NULL, 0, &p->root);
	return err ? sq_err(in, err, "corrupt directory tree") : 0;
}

int bld_input_open_sqfs(struct bld_input *in)
{
	struct sqpriv *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return ni_err_set(in->e, NI_ENOMEM, "out of memory");
	in->priv = p;
	in->ops = &sqfs_ops;
	p->file = sqfs_open_file(in->path, SQFS_FILE_OPEN_READ_ONLY);
	if (p->file == NULL)
		return ni_err_set(in->e, NI_EIO, "%s: cannot open image", in->path);
	return open_tables(in, p);
}
