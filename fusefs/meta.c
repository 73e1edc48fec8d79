/* meta.c: meta data blocks (inodes, folder listings, xattrs) decoded once
 * for every thread.
 *
 * libsquashfs's sqfs_meta_reader_t holds one decoded block, for one
 * caller; each context has its own readers, so without help every thread
 * decodes the same blocks again and again (a lookup alone touches the
 * folder's inode, its listing and the entry's inode, three blocks). The
 * readers are therefore built over two small wrappers: a file that
 * remembers where it last read, and a decompressor that, since a reader
 * always reads a block's bytes right before decoding them, knows which
 * block it is asked to decode, and serves it from the shared meta data
 * cache (bcache.c, keyed by the block's place in the image), decoding it
 * only on a miss. Data blocks do not go through here. */
#include "fusefs/image.h"

#include <errno.h>
#include <string.h>

#include <sqfs/block.h>
#include <sqfs/error.h>
#include <sqfs/io.h>
#include <sqfs/xattr_reader.h>

#include "fusefs/bcache.h"

static int mfile_read(sqfs_file_t *f, sqfs_u64 off, void *buf, size_t size)
{
	struct ffs_mfile *m = (struct ffs_mfile *)f;

	m->last = off;
	return m->real->read_at(m->real, off, buf, size);
}

static sqfs_u64 mfile_size(const sqfs_file_t *f)
{
	const struct ffs_mfile *m = (const struct ffs_mfile *)f;

	return m->real->get_size(m->real);
}

static sqfs_s32 mcmp_do_block(sqfs_compressor_t *cmp, const sqfs_u8 *in,
			      sqfs_u32 size, sqfs_u8 *out, sqfs_u32 outsize)
{
	struct ffs_mcmp *m = (struct ffs_mcmp *)cmp;
	struct ffs_blk *b;
	sqfs_s32 n;
	int ret = ffs_bcache_get(m->im->mc, m->mf->last, &b);

	if (ret < 0)
		return ret == -ENOMEM ? SQFS_ERROR_ALLOC : SQFS_ERROR_COMPRESSOR;
	if (ret == 1) {
		n = m->raw->do_block(m->raw, in, size, ffs_blk_buf(b),
				     SQFS_META_BLOCK_SIZE);
		ffs_bcache_done(m->im->mc, b, n > 0 ? 0 : -EIO,
				n > 0 ? (size_t)n : 0);
		if (n <= 0) {
			ffs_bcache_put(m->im->mc, b);
			return n < 0 ? n : SQFS_ERROR_COMPRESSOR;
		}
	}
	if (b->len > outsize) {
		ffs_bcache_put(m->im->mc, b);
		return SQFS_ERROR_OVERFLOW;
	}
	memcpy(out, b->data, b->len);
	n = (sqfs_s32)b->len;
	ffs_bcache_put(m->im->mc, b);
	return n;
}

void ffs_meta_wrap(struct ffs_image *im, struct ffs_ctx *c)
{
	memset(&c->mf, 0, sizeof(c->mf));
	c->mf.base.read_at = mfile_read;
	c->mf.base.get_size = mfile_size;
	c->mf.real = im->file;
	memset(&c->mc, 0, sizeof(c->mc));
	c->mc.base.do_block = mcmp_do_block;
	c->mc.raw = c->cmp;
	c->mc.mf = &c->mf;
	c->mc.im = im;
}

sqfs_xattr_reader_t *ffs_ctx_xattr(struct ffs_image *im, struct ffs_ctx *c,
				   int *err)
{
	int ret;

	*err = 0;
	if (im->xattr == NULL || c->xr != NULL)
		return c->xr;
	c->xr = sqfs_xattr_reader_create(0);
	if (c->xr == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	ret = sqfs_xattr_reader_load(c->xr, &im->super, &c->mf.base,
				     &c->mc.base);
	if (ret != 0) {
		sqfs_destroy(c->xr);
		c->xr = NULL;
		*err = ffs_sqerr(im, c, ret);
	}
	return c->xr;
}
