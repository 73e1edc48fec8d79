/* writer.c: the squashfs writer built on libsquashfs's public API. */
#include "builder/writer.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqfs/block.h>
#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/compressor.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>
#include <sqfs/xattr_writer.h>

#include "builder/writer_internal.h"

/* Wraps the library's block writer to learn where our fragment blocks
 * land: they are submitted as raw blocks whose user pointer carries the
 * fragment index + 1. */
static int wrap_write(sqfs_block_writer_t *base, void *user, sqfs_u32 size,
		      sqfs_u32 checksum, sqfs_u32 flags, const sqfs_u8 *data,
		      sqfs_u64 *location)
{
	struct wrapwr *ww = (struct wrapwr *)base;
	struct bld_writer *w = ww->w;
	int ret;

	ret = w->inner->write_data_block(w->inner, user, size, checksum, flags,
					 data, location);
	if (ret == 0 && user != NULL) {
		sqfs_u32 idx = (sqfs_u32)((uintptr_t)user - 1);
		sqfs_u32 sz = size;

		if (!(flags & SQFS_BLK_IS_COMPRESSED))
			sz |= 1u << 24;
		ret = sqfs_frag_table_set(w->ftbl, idx, *location, sz);
	}
	return ret;
}

static sqfs_u64 wrap_count(const sqfs_block_writer_t *base)
{
	const struct wrapwr *ww = (const struct wrapwr *)base;

	return ww->w->inner->get_block_count(ww->w->inner);
}

static void wrap_destroy(sqfs_object_t *o)
{
	(void)o; /* embedded in the writer */
}

int bld_writer_sqerr(struct bld_writer *w, int err, const char *what)
{
	if (err == SQFS_ERROR_IO && w->saved_errno == 0)
		w->saved_errno = errno;
	if (err == SQFS_ERROR_IO && w->saved_errno != 0)
		return ni_err_errno(w->e, w->saved_errno, "%s: %s", w->path, what);
	if (err == SQFS_ERROR_ALLOC)
		return ni_err_set(w->e, NI_ENOMEM, "%s: %s: out of memory",
				  w->path, what);
	return ni_err_set(w->e, NI_ESQFS, "%s: %s: squashfs error %d", w->path,
			  what, err);
}

static int frag_submit(void *user, uint32_t index, const void *data,
		       size_t len)
{
	struct bld_writer *w = user;
	sqfs_u32 idx;
	int ret;

	ret = sqfs_frag_table_append(w->ftbl, 0, 0, &idx);
	if (ret == 0 && idx != index)
		ret = SQFS_ERROR_INTERNAL;
	if (ret == 0)
		ret = sqfs_block_processor_submit_block(w->proc,
				(void *)(uintptr_t)(index + 1), 0, data, len);
	return ret ? bld_writer_sqerr(w, ret, "writing a fragment block") : 0;
}

static int create_compressor(struct bld_writer *w, const struct bld_writer_opts *o)
{
	sqfs_compressor_config_t cfg;
	int ret;

	ret = sqfs_compressor_config_init(&cfg, o->comp_id, o->block_size, 0);
	if (ret == 0)
		ret = bld_compressor_create(&cfg, &w->cmp);
	if (ret != 0)
		return bld_writer_sqerr(w, ret, "creating the compressor");
	ret = sqfs_super_init(&w->super, o->block_size, o->mod_time, o->comp_id);
	if (ret == 0)
		ret = sqfs_super_write(&w->super, w->file);
	if (ret != 0)
		return bld_writer_sqerr(w, ret, "writing the superblock");
	ret = w->cmp->write_options(w->cmp, w->file);
	if (ret < 0)
		return bld_writer_sqerr(w, ret, "writing compressor options");
	if (ret > 0)
		w->super.flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;
	return 0;
}

static int create_processor(struct bld_writer *w, const struct bld_writer_opts *o)
{
	sqfs_block_processor_desc_t d;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int ret;

	w->inner = sqfs_block_writer_create(w->file, 4096, 0);
	w->ftbl = sqfs_frag_table_create(0);
	if (w->inner == NULL || w->ftbl == NULL)
		return ni_err_set(w->e, NI_ENOMEM, "out of memory");
	w->wrap.base.base.destroy = wrap_destroy;
	w->wrap.base.write_data_block = wrap_write;
	w->wrap.base.get_block_count = wrap_count;
	w->wrap.w = w;
	memset(&d, 0, sizeof(d));
	d.size = sizeof(d);
	d.max_block_size = o->block_size;
	d.num_workers = o->workers ? o->workers : (cores > 0 ? (sqfs_u32)cores : 1);
	/* A bounded backlog keeps memory flat: blocks in flight, not files. */
	d.max_backlog = d.num_workers * 4;
	d.cmp = w->cmp;
	d.wr = &w->wrap.base;
	ret = sqfs_block_processor_create_ex(&d, &w->proc);
	return ret ? bld_writer_sqerr(w, ret, "creating the block processor") : 0;
}

int bld_writer_open(struct bld_writer **out, const char *path,
		    const char *shown, const struct bld_writer_opts *o,
		    struct ni_err *e)
{
	struct bld_writer *w = calloc(1, sizeof(*w));
	int ret;

	if (w == NULL || (w->path = strdup(shown)) == NULL) {
		free(w);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	w->e = e;
	w->block_size = o->block_size;
	w->tail = malloc(o->block_size);
	if (w->tail == NULL || bld_frag_new(&w->frag, o->block_size) != 0) {
		bld_writer_close(w);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	errno = 0;
	w->file = sqfs_open_file(path, SQFS_FILE_OPEN_OVERWRITE);
	if (w->file == NULL) {
		ret = ni_err_errno(e, errno ? errno : EIO, "%s: cannot create", shown);
		bld_writer_close(w);
		return ret;
	}
	if ((ret = create_compressor(w, o)) != 0 ||
	    (ret = create_processor(w, o)) != 0) {
		bld_writer_close(w);
		return ret;
	}
	*out = w;
	return 0;
}

/* Tails of compressed formats this long or longer get a block of their
 * own. Measured on the minbase example over six one-package updates: the
 * repository's new bytes fall by a quarter and the image does not grow;
 * taking shorter tails too saves nothing more and adds twice the chunks. */
#define PACKED_TAIL_MIN 2048

/* The first bytes of formats that are compressed already. */
static int is_packed(const unsigned char *h, size_t n)
{
	static const struct { unsigned char m[6]; size_t len; } magic[] = {
		{ { 0x1f, 0x8b }, 2 },                          /* gzip */
		{ { 0xfd, '7', 'z', 'X', 'Z', 0x00 }, 6 },      /* xz */
		{ { 0x28, 0xb5, 0x2f, 0xfd }, 4 },              /* zstd */
		{ { 'B', 'Z', 'h' }, 3 },                       /* bzip2 */
		{ { 0x89, 'P', 'N', 'G' }, 4 },                 /* PNG */
		{ { 0xff, 0xd8, 0xff }, 3 },                    /* JPEG */
		{ { 'P', 'K', 0x03, 0x04 }, 4 },                /* zip */
	};
	size_t i;

	for (i = 0; i < sizeof(magic) / sizeof(magic[0]); i++)
		if (n >= magic[i].len && memcmp(h, magic[i].m, magic[i].len) == 0)
			return 1;
	return 0;
}

int bld_writer_begin_file(struct bld_writer *w, struct bld_inode *ino,
			  uint64_t group)
{
	w->cur = ino;
	w->cur_group = group;
	w->appended = 0;
	w->tail_used = 0;
	w->head_used = 0;
	w->started = 0;
	return 0;
}

/* Appends to the block processor the part of the file that goes into
 * data blocks, and keeps the tail for a fragment block. */
static int feed(struct bld_writer *w, const unsigned char *p, size_t len)
{
	int ret;

	if (w->appended < w->full) {
		size_t n = w->full - w->appended < len ? w->full - w->appended : len;

		ret = sqfs_block_processor_append(w->proc, p, n);
		if (ret != 0)
			return bld_writer_sqerr(w, ret, "writing file data");
		w->appended += n;
		p += n;
		len -= n;
	}
	memcpy(w->tail + w->tail_used, p, len);
	w->tail_used += len;
	w->appended += len;
	return 0;
}

/* Once the file's first bytes are known: does its tail go into a
 * fragment block, or stay in a data block of its own? A tail of a file
 * in a compressed format does not shrink beside other tails, and packed
 * with them it would make a whole fragment block change with it; from
 * PACKED_TAIL_MIN bytes on it gets its own block (docs/formats.md,
 * "Stable layout"). */
static int start_file(struct bld_writer *w)
{
	struct bld_inode *ino = w->cur;
	uint64_t tail = ino->size % w->block_size;
	uint32_t flags = 0;
	int ret;

	w->full = ino->size - tail;
	if (tail >= PACKED_TAIL_MIN && is_packed(w->head, w->head_used)) {
		w->full = ino->size;
		flags = SQFS_BLK_DONT_FRAGMENT;
	}
	w->started = 1;
	ret = sqfs_block_processor_begin_file(w->proc, &ino->sq, NULL, flags);
	if (ret != 0)
		return bld_writer_sqerr(w, ret, "writing file data");
	ret = feed(w, w->head, w->head_used);
	w->head_used = 0;
	return ret;
}

int bld_writer_append(struct bld_writer *w, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t size = w->cur->size;
	int ret;

	if (w->appended + w->head_used + len > size)
		return NI_EINVAL; /* the caller names the entry */
	if (!w->started) {
		size_t want = size < sizeof(w->head) ? (size_t)size : sizeof(w->head);
		size_t n = want - w->head_used < len ? want - w->head_used : len;

		memcpy(w->head + w->head_used, p, n);
		w->head_used += n;
		p += n;
		len -= n;
		if (w->head_used < want)
			return 0;
		if ((ret = start_file(w)) != 0)
			return ret;
	}
	return feed(w, p, len);
}

int bld_writer_end_file(struct bld_writer *w)
{
	struct bld_inode *ino = w->cur;
	int ret;

	if (!w->started && w->head_used == ino->size && (ret = start_file(w)) != 0)
		return ret;
	if (!w->started || w->appended != ino->size)
		return NI_EARCHIVE; /* the caller names the entry */
	ret = sqfs_block_processor_end_file(w->proc);
	if (ret != 0)
		return bld_writer_sqerr(w, ret, "writing file data");
	ino->tail_len = (uint32_t)w->tail_used;
	w->stats.files++;
	w->stats.bytes_in += ino->size;
	w->cur = NULL;
	if (w->tail_used == 0)
		return 0;
	return bld_frag_add(w->frag, ino, w->tail, w->tail_used, w->cur_group,
			    frag_submit, w);
}

void bld_writer_stats(const struct bld_writer *w, struct bld_writer_stats *s)
{
	*s = w->stats;
	s->frag_blocks = bld_frag_count(w->frag);
	s->dedup_tails = bld_frag_dedup_count(w->frag);
}

void bld_writer_close(struct bld_writer *w)
{
	if (w == NULL)
		return;
	if (w->dirw) sqfs_destroy(w->dirw);
	if (w->dm) sqfs_destroy(w->dm);
	if (w->im) sqfs_destroy(w->im);
	if (w->xwr) sqfs_destroy(w->xwr);
	if (w->idtbl) sqfs_destroy(w->idtbl);
	if (w->proc) sqfs_destroy(w->proc);
	if (w->ftbl) sqfs_destroy(w->ftbl);
	if (w->inner) sqfs_destroy(w->inner);
	if (w->cmp) sqfs_destroy(w->cmp);
	if (w->file) sqfs_destroy(w->file);
	bld_frag_free(w->frag);
	free(w->tail);
	free(w->path);
	free(w);
}

int bld_writer_finish_data(struct bld_writer *w)
{
	int ret = bld_frag_flush(w->frag, frag_submit, w);

	if (ret != 0)
		return ret;
	ret = sqfs_block_processor_finish(w->proc);
	return ret ? bld_writer_sqerr(w, ret, "writing file data") : 0;
}
