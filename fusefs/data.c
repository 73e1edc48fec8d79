/* data.c: reading regular files.
 *
 * libsquashfs's sqfs_data_reader_t keeps one decoded block and one
 * fragment block for its caller, so it cannot be shared by threads, and
 * it walks the block list from the start on every read. Here a file's
 * block offsets are summed once when it is opened, and every thread
 * decodes with its own context:
 *   - a block that the request covers whole is decoded straight into the
 *     reply buffer (the common case: the kernel asks for aligned runs of
 *     blocks), and never cached: the kernel's page cache keeps it;
 *   - a block read in part, and every fragment block (shared by the
 *     tails of many small files), goes through the shared block cache.
 * Every decoded block must have exactly the size the inode says (the
 * fragment block: room for the tail): anything else is corruption and
 * the read fails with EIO; nothing of it is kept. */
#include "fusefs/image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sqfs/block.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>

#include "fusefs/bcache.h"

#define NO_FRAG 0xFFFFFFFFu

int ffs_file_open(struct ffs_image *im, sqfs_inode_generic_t *in,
		  struct ffs_file **out)
{
	struct ffs_file *f;
	sqfs_u64 start, i, bs = im->block_size;

	*out = NULL;
	if (in->base.type != SQFS_INODE_FILE &&
	    in->base.type != SQFS_INODE_EXT_FILE) {
		free(in);
		return -EISDIR;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		free(in);
		return -ENOMEM;
	}
	f->inode = in;
	f->ino = in->base.inode_number;
	sqfs_inode_get_file_size(in, &f->size);
	sqfs_inode_get_file_block_start(in, &start);
	sqfs_inode_get_frag_location(in, &f->frag_idx, &f->frag_off);
	if (f->frag_off == NO_FRAG)
		f->frag_idx = NO_FRAG;
	f->nblocks = sqfs_inode_get_file_block_count(in);
	/* the block list must cover the file, the fragment the rest */
	if (f->nblocks > f->size / bs + 1 ||
	    (f->frag_idx == NO_FRAG && f->nblocks * bs < f->size)) {
		ffs_file_close(f);
		return -EIO;
	}
	f->off = malloc((f->nblocks ? f->nblocks : 1) * sizeof(*f->off));
	if (f->off == NULL) {
		ffs_file_close(f);
		return -ENOMEM;
	}
	for (i = 0; i < f->nblocks; i++) {
		f->off[i] = start;
		start += SQFS_ON_DISK_BLOCK_SIZE(in->extra[i]);
	}
	*out = f;
	return 0;
}

void ffs_file_close(struct ffs_file *f)
{
	if (f == NULL)
		return;
	free(f->off);
	free(f->inode);
	free(f);
}

/* Reads the stored block at off (size word sz, as in the inode's block
 * list or the fragment table) and decodes it into dst (cap bytes).
 * Returns the decoded length, or -errno. */
static ssize_t load(struct ffs_image *im, struct ffs_ctx *c, uint64_t off,
		    uint32_t sz, uint8_t *dst, size_t cap)
{
	size_t disk = SQFS_ON_DISK_BLOCK_SIZE(sz);
	sqfs_s32 n;
	int err;

	if (disk > im->block_size)
		return -EIO;            /* corrupt size word */
	if (!SQFS_IS_BLOCK_COMPRESSED(sz)) {
		if (disk > cap)
			return -EIO;
		err = im->file->read_at(im->file, off, dst, disk);
		return err ? (err == SQFS_ERROR_ALLOC ? -ENOMEM : -EIO) :
			(ssize_t)disk;
	}
	err = im->file->read_at(im->file, off, c->scratch, disk);
	if (err)
		return err == SQFS_ERROR_ALLOC ? -ENOMEM : -EIO;
	n = c->cmp->do_block(c->cmp, c->scratch, (sqfs_u32)disk, dst,
			     (sqfs_u32)cap);
	if (n <= 0) {
		/* a decoder's state after garbage is not worth trusting */
		c->bad = 1;
		return -EIO;
	}
	return n;
}

/* A block through the shared cache: *out is a ready block to put back. */
static int cached(struct ffs_image *im, struct ffs_ctx *c, uint64_t off,
		  uint32_t sz, struct ffs_blk **out)
{
	struct ffs_blk *b;
	ssize_t n;
	int ret = ffs_bcache_get(im->bc, off, &b);

	if (ret < 0)
		return ret;
	if (ret == 0) {
		*out = b;
		return 0;
	}
	n = load(im, c, off, sz, ffs_blk_buf(b), im->block_size);
	ffs_bcache_done(im->bc, b, n < 0 ? (int)n : 0, n < 0 ? 0 : (size_t)n);
	if (n < 0) {
		ffs_bcache_put(im->bc, b);
		return (int)n;
	}
	*out = b;
	return 0;
}

/* Copies [inoff, inoff + n) of data block i into dst. */
static int read_block(struct ffs_image *im, struct ffs_ctx *c,
		      struct ffs_file *f, uint64_t i, size_t inoff, size_t n,
		      char *dst)
{
	uint64_t bs = im->block_size, left = f->size - i * bs;
	size_t want = left < bs ? (size_t)left : (size_t)bs;
	uint32_t sz = f->inode->extra[i];
	struct ffs_blk *b;
	ssize_t got;
	int ret;

	if (SQFS_IS_SPARSE_BLOCK(sz)) {
		memset(dst, 0, n);
		return 0;
	}
	if (inoff == 0 && n == want) {
		got = load(im, c, f->off[i], sz, (uint8_t *)dst, want);
		return got < 0 ? (int)got : (got == (ssize_t)want ? 0 : -EIO);
	}
	if ((ret = cached(im, c, f->off[i], sz, &b)) != 0)
		return ret;
	ret = b->len == want ? 0 : -EIO;
	if (ret == 0)
		memcpy(dst, b->data + inoff, n);
	ffs_bcache_put(im->bc, b);
	return ret;
}

/* Copies [inoff, inoff + n) of the file's tail from its fragment block. */
static int read_tail(struct ffs_image *im, struct ffs_ctx *c,
		     struct ffs_file *f, size_t inoff, size_t n, char *dst)
{
	uint64_t tail = f->size - f->nblocks * (uint64_t)im->block_size;
	sqfs_fragment_t fr;
	struct ffs_blk *b;
	int ret;

	if (f->frag_idx == NO_FRAG)
		return -EIO;
	if (sqfs_frag_table_lookup(im->frags, f->frag_idx, &fr) != 0)
		return -EIO;
	if ((ret = cached(im, c, fr.start_offset, fr.size, &b)) != 0)
		return ret;
	ret = (uint64_t)f->frag_off + tail <= b->len ? 0 : -EIO;
	if (ret == 0)
		memcpy(dst, b->data + f->frag_off + inoff, n);
	ffs_bcache_put(im->bc, b);
	return ret;
}

ssize_t ffs_file_read(struct ffs_image *im, struct ffs_ctx *c,
		      struct ffs_file *f, uint64_t off, size_t len, char *buf)
{
	uint64_t bs = im->block_size, pos, end, i;
	size_t inoff, n;
	int ret = 0;

	if (off >= f->size || len == 0)
		return 0;
	end = f->size - off < len ? f->size : off + len;
	for (pos = off; pos < end && ret == 0; pos += n) {
		i = pos / bs;
		inoff = (size_t)(pos % bs);
		n = (size_t)(bs - inoff < end - pos ? bs - inoff : end - pos);
		if (i < f->nblocks)
			ret = read_block(im, c, f, i, inoff, n, buf + (pos - off));
		else
			ret = read_tail(im, c, f, inoff, n, buf + (pos - off));
	}
	if (ret != 0) {
		__atomic_add_fetch(&im->n_read_errors, 1, __ATOMIC_RELAXED);
		return ret;
	}
	__atomic_add_fetch(&im->n_reads, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&im->n_read_bytes, end - off, __ATOMIC_RELAXED);
	return (ssize_t)(end - off);
}
