/* image.c: opening the image (superblock, tables), the pool of per-thread
 * reading contexts, inodes and their stat. */
#include "fusefs/image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <sqfs/block.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/xattr_reader.h>

#include "fusefs/bcache.h"

/* Decoded blocks kept for unaligned and fragment reads: at least this
 * many bytes, and at least 8 blocks. */
#define BCACHE_BYTES (8u << 20)
/* Decoded meta data blocks (8 KiB each) kept for every thread. */
#define MCACHE_BYTES (8u << 20)

static int sq_fail(struct ni_err *e, const char *name, int sqerr,
		   const char *what)
{
	if (sqerr == SQFS_ERROR_ALLOC)
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", name);
	return ni_err_set(e, NI_ESQFS, "%s: %s (libsquashfs error %d)", name,
			  what, sqerr);
}

/* The directory table ends where the first table after it starts. */
static uint64_t dir_table_end(const sqfs_super_t *s)
{
	uint64_t end = s->id_table_start;

	if (s->fragment_table_start < end)
		end = s->fragment_table_start;
	if (s->export_table_start < end)
		end = s->export_table_start;
	return end;
}

static int check_super(struct ffs_image *im, struct ni_err *e)
{
	const sqfs_super_t *s = &im->super;
	uint64_t size = im->file->get_size(im->file);

	if (s->bytes_used > size)
		return ni_err_set(e, NI_EINVAL,
				  "%s: image is truncated (%llu of %llu bytes)",
				  im->name, (unsigned long long)size,
				  (unsigned long long)s->bytes_used);
	if (s->inode_table_start >= s->directory_table_start ||
	    s->directory_table_start >= dir_table_end(s) ||
	    s->id_table_start >= s->bytes_used)
		return ni_err_set(e, NI_EINVAL, "%s: corrupt superblock "
				  "(table offsets out of order)", im->name);
	return 0;
}

static int load_tables(struct ffs_image *im, struct ni_err *e)
{
	int err;

	sqfs_compressor_config_init(&im->ccfg, im->super.compression_id,
				    im->super.block_size,
				    SQFS_COMP_FLAG_UNCOMPRESS);
	if ((err = sqfs_compressor_create(&im->ccfg, &im->cmp)) != 0)
		return sq_fail(e, im->name, err, "unsupported compressor");
	if ((im->super.flags & SQFS_FLAG_COMPRESSOR_OPTIONS) &&
	    (err = im->cmp->read_options(im->cmp, im->file)) != 0)
		return sq_fail(e, im->name, err, "corrupt compressor options");
	im->ids = sqfs_id_table_create(0);
	im->frags = sqfs_frag_table_create(0);
	if (im->ids == NULL || im->frags == NULL)
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", im->name);
	if ((err = sqfs_id_table_read(im->ids, im->file, &im->super, im->cmp)))
		return sq_fail(e, im->name, err, "corrupt id table");
	if (!(im->super.flags & SQFS_FLAG_NO_FRAGMENTS) &&
	    im->super.fragment_entry_count > 0 &&
	    (err = sqfs_frag_table_read(im->frags, im->file, &im->super,
					im->cmp)))
		return sq_fail(e, im->name, err, "corrupt fragment table");
	if (!(im->super.flags & SQFS_FLAG_NO_XATTRS) &&
	    im->super.xattr_id_table_start != 0xFFFFFFFFFFFFFFFFULL) {
		im->xattr = sqfs_xattr_reader_create(0);
		if (im->xattr == NULL)
			return ni_err_set(e, NI_ENOMEM, "%s: out of memory",
					  im->name);
		if ((err = sqfs_xattr_reader_load(im->xattr, &im->super,
						  im->file, im->cmp)))
			return sq_fail(e, im->name, err, "corrupt xattr table");
	}
	return 0;
}

/* Reads the root inode once, so a mount of an image whose inode or
 * directory table is unreadable fails at mount time. */
static int check_root(struct ffs_image *im, struct ni_err *e)
{
	struct ffs_ctx *c = ffs_ctx_get(im);
	sqfs_inode_generic_t *root = NULL;
	struct ffs_dirpos p;
	sqfs_dir_entry_t *ent = NULL;
	uint64_t ref;
	int ret;

	if (c == NULL)
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", im->name);
	ret = ffs_inode_read(im, c, im->super.root_inode_ref, &root);
	if (ret == 0 && !S_ISDIR(root->base.mode))
		ret = -ENOTDIR;
	if (ret == 0)
		ret = ffs_dir_open(im, root, &p);
	if (ret == 0) {
		ret = ffs_dir_next(im, c, &p, &ent, &ref, NULL);
		ret = ret > 0 ? 0 : ret;
	}
	free(ent);
	free(root);
	ffs_ctx_put(im, c);
	if (ret == -ENOMEM)
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", im->name);
	if (ret != 0)
		return ni_err_set(e, NI_ESQFS, "%s: corrupt image: cannot read "
				  "the root folder", im->name);
	return 0;
}

int ffs_image_open(struct ffs_image **out, sqfs_file_t *file,
		   const char *name, struct ni_err *e)
{
	struct ffs_image *im = calloc(1, sizeof(*im));
	size_t bytes;
	int err;

	*out = NULL;
	if (im == NULL || (im->name = strdup(name)) == NULL) {
		free(im);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&im->mu, NULL);
	im->file = file;
	if ((err = sqfs_super_read(&im->super, file)) != 0) {
		sq_fail(e, name, err, "not a squashfs image");
		goto fail;
	}
	im->block_size = im->super.block_size;
	im->dir_end = dir_table_end(&im->super);
	bytes = (size_t)im->block_size * 8 > BCACHE_BYTES ?
		(size_t)im->block_size * 8 : BCACHE_BYTES;
	if (check_super(im, e) != 0 || load_tables(im, e) != 0)
		goto fail;
	if (ffs_bcache_new(&im->bc, bytes, im->block_size) != 0 ||
	    ffs_bcache_new(&im->mc, MCACHE_BYTES, SQFS_META_BLOCK_SIZE) != 0) {
		ni_err_set(e, NI_ENOMEM, "%s: out of memory", name);
		goto fail;
	}
	if (check_root(im, e) != 0)
		goto fail;
	*out = im;
	return 0;
fail:
	ffs_image_close(im);
	return e ? e->code : NI_EINVAL;
}

static void ctx_free(struct ffs_ctx *c)
{
	if (c == NULL)
		return;
	if (c->mi) sqfs_destroy(c->mi);
	if (c->md) sqfs_destroy(c->md);
	if (c->xr) sqfs_destroy(c->xr);
	if (c->cmp) sqfs_destroy(c->cmp);
	free(c->scratch);
	free(c->out);
	free(c);
}

void ffs_image_close(struct ffs_image *im)
{
	struct ffs_ctx *c;

	if (im == NULL)
		return;
	while ((c = im->pool) != NULL) {
		im->pool = c->next;
		ctx_free(c);
	}
	ffs_bcache_free(im->bc);
	ffs_bcache_free(im->mc);
	if (im->xattr) sqfs_destroy(im->xattr);
	if (im->frags) sqfs_destroy(im->frags);
	if (im->ids) sqfs_destroy(im->ids);
	if (im->cmp) sqfs_destroy(im->cmp);
	pthread_mutex_destroy(&im->mu);
	free(im->name);
	free(im);
}

static struct ffs_ctx *ctx_new(struct ffs_image *im)
{
	struct ffs_ctx *c = calloc(1, sizeof(*c));
	const sqfs_super_t *s = &im->super;

	if (c == NULL)
		return NULL;
	if (sqfs_compressor_create(&im->ccfg, &c->cmp) != 0)
		goto fail;
	ffs_meta_wrap(im, c);
	c->mi = sqfs_meta_reader_create(&c->mf.base, &c->mc.base,
					s->inode_table_start,
					s->directory_table_start);
	c->md = sqfs_meta_reader_create(&c->mf.base, &c->mc.base,
					s->directory_table_start, im->dir_end);
	c->scratch = malloc(im->block_size);
	if (c->mi == NULL || c->md == NULL || c->scratch == NULL)
		goto fail;
	return c;
fail:
	ctx_free(c);
	return NULL;
}

struct ffs_ctx *ffs_ctx_get(struct ffs_image *im)
{
	struct ffs_ctx *c;

	pthread_mutex_lock(&im->mu);
	c = im->pool;
	if (c != NULL)
		im->pool = c->next;
	pthread_mutex_unlock(&im->mu);
	return c != NULL ? c : ctx_new(im);
}

void ffs_ctx_put(struct ffs_image *im, struct ffs_ctx *c)
{
	if (c == NULL)
		return;
	if (c->bad) {
		/* The readers may hold a half-read block: start afresh. */
		ctx_free(c);
		return;
	}
	pthread_mutex_lock(&im->mu);
	c->next = im->pool;
	im->pool = c;
	pthread_mutex_unlock(&im->mu);
}

int ffs_sqerr(struct ffs_image *im, struct ffs_ctx *c, int sqerr)
{
	if (sqerr == 0)
		return 0;
	if (c != NULL)
		c->bad = 1;
	__atomic_add_fetch(&im->n_meta_errors, 1, __ATOMIC_RELAXED);
	return sqerr == SQFS_ERROR_ALLOC ? -ENOMEM : -EIO;
}

int ffs_inode_read(struct ffs_image *im, struct ffs_ctx *c, uint64_t ref,
		   sqfs_inode_generic_t **out)
{
	int err = sqfs_meta_reader_read_inode(c->mi, &im->super, ref >> 16,
					      ref & 0xFFFF, out);

	return ffs_sqerr(im, c, err);
}

static uint32_t inode_nlink(const sqfs_inode_generic_t *in)
{
	switch (in->base.type) {
	case SQFS_INODE_DIR: return in->data.dir.nlink;
	case SQFS_INODE_EXT_DIR: return in->data.dir_ext.nlink;
	case SQFS_INODE_FILE: return 1;
	case SQFS_INODE_EXT_FILE: return in->data.file_ext.nlink;
	case SQFS_INODE_SLINK: case SQFS_INODE_EXT_SLINK:
		return in->data.slink.nlink;
	case SQFS_INODE_BDEV: case SQFS_INODE_CDEV:
	case SQFS_INODE_EXT_BDEV: case SQFS_INODE_EXT_CDEV:
		return in->data.dev.nlink;
	default:
		return in->data.ipc.nlink;
	}
}

int ffs_inode_stat(struct ffs_image *im, const sqfs_inode_generic_t *in,
		   struct stat *st)
{
	sqfs_u32 uid, gid, dev;
	sqfs_u64 size = 0;

	if (sqfs_id_table_index_to_id(im->ids, in->base.uid_idx, &uid) != 0 ||
	    sqfs_id_table_index_to_id(im->ids, in->base.gid_idx, &gid) != 0) {
		__atomic_add_fetch(&im->n_meta_errors, 1, __ATOMIC_RELAXED);
		return -EIO;
	}
	memset(st, 0, sizeof(*st));
	st->st_ino = in->base.inode_number;
	st->st_mode = in->base.mode;
	st->st_nlink = inode_nlink(in);
	st->st_uid = uid;
	st->st_gid = gid;
	st->st_blksize = im->block_size;
	st->st_mtim.tv_sec = in->base.mod_time;
	st->st_atim = st->st_ctim = st->st_mtim;
	switch (in->base.type) {
	case SQFS_INODE_FILE: case SQFS_INODE_EXT_FILE:
		sqfs_inode_get_file_size(in, &size);
		st->st_blocks = (blkcnt_t)((size + 511) / 512);
		break;
	case SQFS_INODE_DIR:
		size = in->data.dir.size;
		break;
	case SQFS_INODE_EXT_DIR:
		size = in->data.dir_ext.size;
		break;
	case SQFS_INODE_SLINK: case SQFS_INODE_EXT_SLINK:
		size = in->data.slink.target_size;
		break;
	case SQFS_INODE_BDEV: case SQFS_INODE_CDEV:
	case SQFS_INODE_EXT_BDEV: case SQFS_INODE_EXT_CDEV:
		/* the kernel's new_encode_dev format */
		dev = in->data.dev.devno;
		st->st_rdev = makedev((dev & 0xfff00) >> 8,
				      (dev & 0xff) | ((dev >> 12) & 0xfff00));
		break;
	default:
		break;
	}
	st->st_size = (off_t)size;
	return 0;
}
