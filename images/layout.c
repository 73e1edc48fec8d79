/* layout.c: reads an image's squashfs layout back and cuts it into chunks
 * (see layout.h). Only headers and tables are read, never file data. */
#include "images/layout.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include <sqfs/block.h>
#include <sqfs/compressor.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_reader.h>
#include <sqfs/super.h>

#include "common/grow.h"

struct ctx {
	const char *path;
	sqfs_file_t *file;
	sqfs_super_t super;
	sqfs_compressor_t *cmp;
	struct img_layout *l;
	struct ni_err *e;
};

static int sq_fail(struct ctx *c, int err, const char *what)
{
	return ni_err_set(c->e, err == SQFS_ERROR_ALLOC ? NI_ENOMEM : NI_ESQFS,
			  "%s: %s (squashfs error %d)", c->path, what, err);
}

static int add(struct ctx *c, uint64_t off, uint64_t len, int kind)
{
	struct img_layout *l = c->l;

	if (len == 0)
		return 0;
	if (ni_grow(&l->c, &l->cap, l->n, sizeof(*l->c), 1024) != 0)
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	l->c[l->n].off = off;
	l->c[l->n].len = (uint32_t)len;
	l->c[l->n].kind = (uint8_t)kind;
	l->n++;
	return 0;
}

/* A file's data blocks: contiguous, cut at block boundaries when large. */
static int add_file(struct ctx *c, const sqfs_inode_generic_t *ino)
{
	size_t i, count = sqfs_inode_get_file_block_count(ino);
	sqfs_u64 pos, start;
	int ret;

	if (count == 0 || sqfs_inode_get_file_block_start(ino, &pos) != 0)
		return 0;
	start = pos;
	for (i = 0; i < count; i++) {
		sqfs_u32 sz = SQFS_ON_DISK_BLOCK_SIZE(ino->extra[i]);

		if (pos + sz - start > IMG_CHUNK_MAX && pos > start) {
			if ((ret = add(c, start, pos - start, IMG_CHUNK_DATA)) != 0)
				return ret;
			start = pos;
		}
		pos += sz;
	}
	return add(c, start, pos - start, IMG_CHUNK_DATA);
}

static int scan_inodes(struct ctx *c)
{
	sqfs_meta_reader_t *mr;
	sqfs_inode_generic_t *ino;
	sqfs_u64 block = 0;      /* relative to the inode table */
	size_t offset = 0;
	sqfs_u32 i;
	int ret = 0;

	mr = sqfs_meta_reader_create(c->file, c->cmp, c->super.inode_table_start,
				     c->super.directory_table_start);
	if (mr == NULL)
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	for (i = 0; ret == 0 && i < c->super.inode_count; i++) {
		int err = sqfs_meta_reader_read_inode(mr, &c->super, block,
						      offset, &ino);

		if (err != 0) {
			ret = sq_fail(c, err, "reading the inode table");
			break;
		}
		sqfs_meta_reader_get_position(mr, &block, &offset);
		block -= c->super.inode_table_start;
		if (ino->base.type == SQFS_INODE_FILE ||
		    ino->base.type == SQFS_INODE_EXT_FILE)
			ret = add_file(c, ino);
		sqfs_free(ino);
	}
	sqfs_destroy(mr);
	return ret;
}

static int scan_frags(struct ctx *c)
{
	sqfs_frag_table_t *t;
	sqfs_fragment_t f;
	sqfs_u32 i;
	int ret = 0, err;

	if (c->super.flags & SQFS_FLAG_NO_FRAGMENTS ||
	    c->super.fragment_entry_count == 0)
		return 0;
	if ((t = sqfs_frag_table_create(0)) == NULL)
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	err = sqfs_frag_table_read(t, c->file, &c->super, c->cmp);
	for (i = 0; err == 0 && ret == 0 && i < c->super.fragment_entry_count; i++) {
		err = sqfs_frag_table_lookup(t, i, &f);
		if (err == 0)
			ret = add(c, f.start_offset, SQFS_ON_DISK_BLOCK_SIZE(f.size),
				  IMG_CHUNK_FRAG);
	}
	sqfs_destroy(t);
	return err ? sq_fail(c, err, "reading the fragment table") : ret;
}

/* Cuts [start, end) at metadata block boundaries (2-byte headers). */
static int add_meta(struct ctx *c, uint64_t start, uint64_t end, int kind)
{
	uint64_t pos = start, cut = start;
	int ret;

	while (pos < end) {
		sqfs_u16 hdr;

		if (c->file->read_at(c->file, pos, &hdr, 2) != 0)
			break;
		pos += 2 + (le16toh(hdr) & 0x7FFF);
		if (pos - cut >= IMG_META_CHUNK || pos >= end) {
			if ((ret = add(c, cut, (pos > end ? end : pos) - cut, kind)))
				return ret;
			cut = pos;
		}
	}
	return cut < end ? add(c, cut, end - cut, kind) : 0;
}

/* Where the first table after the directory table starts: the lowest
 * location that the fragment, export and id indexes and the xattr
 * descriptor point at. */
static uint64_t first_index_target(struct ctx *c, uint64_t idx_pos,
				   uint64_t best)
{
	sqfs_u64 loc;

	if (idx_pos == 0xFFFFFFFFFFFFFFFFULL || idx_pos >= c->super.bytes_used)
		return best;
	if (c->file->read_at(c->file, idx_pos, &loc, sizeof(loc)) != 0)
		return best;
	loc = le64toh(loc);
	return (loc >= c->super.directory_table_start && loc < best) ? loc : best;
}

static uint64_t tables_start(struct ctx *c)
{
	const sqfs_super_t *s = &c->super;
	uint64_t best = s->bytes_used;

	if (!(s->flags & SQFS_FLAG_NO_FRAGMENTS) && s->fragment_entry_count)
		best = first_index_target(c, s->fragment_table_start, best);
	best = first_index_target(c, s->export_table_start, best);
	best = first_index_target(c, s->id_table_start, best);
	/* The xattr descriptor starts with the key/value area's location. */
	best = first_index_target(c, s->xattr_id_table_start, best);
	return best;
}

static int cmp_chunk(const void *a, const void *b)
{
	const struct img_chunk *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Sorts, drops what is covered twice (deduplicated data), and fills the
 * holes so the chunks cover [0, size) exactly. */
static int normalize(struct ctx *c)
{
	struct img_layout *l = c->l;
	size_t i, n = l->n;
	uint64_t pos = 0;
	int ret;

	qsort(l->c, n, sizeof(*l->c), cmp_chunk);
	for (i = 0; i < n; i++) {
		struct img_chunk *k = &l->c[i];
		uint64_t end = k->off + k->len;

		if (end <= pos) {
			k->len = 0;           /* inside an earlier chunk */
			continue;
		}
		if (k->off < pos) {
			k->len = (uint32_t)(end - pos);
			k->off = pos;
		} else if (k->off > pos && (ret = add(c, pos, k->off - pos,
						    pos == 0 ? IMG_CHUNK_SUPER
							     : IMG_CHUNK_OTHER)) != 0) {
			return ret;
		}
		k = &l->c[i];                 /* add() may move the array */
		pos = k->off + k->len;
	}
	if (pos < l->size && (ret = add(c, pos, l->size - pos, IMG_CHUNK_OTHER)))
		return ret;
	for (i = 0, n = 0; i < l->n; i++)
		if (l->c[i].len > 0)
			l->c[n++] = l->c[i];
	l->n = n;
	qsort(l->c, n, sizeof(*l->c), cmp_chunk);
	return 0;
}

static int scan_tables(struct ctx *c)
{
	const sqfs_super_t *s = &c->super;
	uint64_t t = tables_start(c);
	int ret;

	if ((ret = add_meta(c, s->inode_table_start, s->directory_table_start,
			    IMG_CHUNK_INODES)) != 0 ||
	    (ret = add_meta(c, s->directory_table_start, t, IMG_CHUNK_DIRS)) != 0)
		return ret;
	return add(c, t, s->bytes_used - t, IMG_CHUNK_TABLES);
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
	c->l->size = c->file->get_size(c->file);
	if (c->super.bytes_used > c->l->size ||
	    c->super.inode_table_start > c->super.directory_table_start ||
	    c->super.directory_table_start > c->super.bytes_used)
		return ni_err_set(c->e, NI_ESQFS, "%s: corrupt superblock", c->path);
	sqfs_compressor_config_init(&cfg, c->super.compression_id,
				    c->super.block_size, SQFS_COMP_FLAG_UNCOMPRESS);
	if ((err = sqfs_compressor_create(&cfg, &c->cmp)) != 0)
		return sq_fail(c, err, "unsupported compressor");
	return 0;
}

int img_layout_read(const char *path, struct img_layout *l, struct ni_err *e)
{
	struct ctx c = { .path = path, .l = l, .e = e };
	int ret;

	memset(l, 0, sizeof(*l));
	if ((ret = open_image(&c)) == 0 && (ret = scan_inodes(&c)) == 0 &&
	    (ret = scan_frags(&c)) == 0 && (ret = scan_tables(&c)) == 0)
		ret = normalize(&c);
	if (c.cmp != NULL)
		sqfs_destroy(c.cmp);
	if (c.file != NULL)
		sqfs_destroy(c.file);
	if (ret != 0)
		img_layout_free(l);
	return ret;
}

void img_layout_free(struct img_layout *l)
{
	free(l->c);
	memset(l, 0, sizeof(*l));
}

const char *img_chunk_kind_name(enum img_chunk_kind k)
{
	static const char *const names[] = {
		"super", "data", "fragment", "inodes", "directories",
		"tables", "other",
	};

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}
