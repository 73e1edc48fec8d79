/* layout.h: an image's squashfs layout, read back with libsquashfs, cut
 * into chunks: each file's data blocks, each fragment block, and the
 * metadata tables, so an unchanged file yields the same chunks in the
 * next version. The chunks cover the file exactly, in order. */
#ifndef IMG_LAYOUT_H
#define IMG_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum img_chunk_kind {
	IMG_CHUNK_SUPER,     /* superblock and compressor options */
	IMG_CHUNK_DATA,      /* data blocks of one file (or part of a big one) */
	IMG_CHUNK_FRAG,      /* one fragment block */
	IMG_CHUNK_INODES,    /* inode table (cut at metadata blocks) */
	IMG_CHUNK_DIRS,      /* directory table */
	IMG_CHUNK_TABLES,    /* fragment, id, xattr and export tables */
	IMG_CHUNK_OTHER,     /* padding, or bytes no table claims */
};

struct img_chunk {
	uint64_t off;
	uint32_t len;
	uint8_t kind;
};

struct img_layout {
	struct img_chunk *c;
	size_t n, cap;
	uint64_t size;       /* the image file's size */
};

/* Most bytes one chunk holds: big files are cut at block boundaries. */
#define IMG_CHUNK_MAX (1u << 20)
/* Metadata tables are cut at metadata block boundaries near this. */
#define IMG_META_CHUNK (64u << 10)

int img_layout_read(const char *path, struct img_layout *l, struct ni_err *e);
void img_layout_free(struct img_layout *l);
const char *img_chunk_kind_name(enum img_chunk_kind k);

#endif
