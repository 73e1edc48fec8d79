/* writer_internal.h: the writer's state, shared by writer.c (data) and
 * serialize.c (inodes, directories, tables). */
#ifndef BLD_WRITER_INTERNAL_H
#define BLD_WRITER_INTERNAL_H

#include <sqfs/block_writer.h>
#include <sqfs/compressor.h>
#include <sqfs/predef.h>
#include <sqfs/super.h>

#include "builder/writer.h"

struct wrapwr {
	sqfs_block_writer_t base;
	struct bld_writer *w;
};

struct bld_writer {
	char *path;
	struct ni_err *e;
	int saved_errno;
	uint32_t block_size;
	sqfs_file_t *file;
	sqfs_compressor_t *cmp;
	sqfs_super_t super;
	sqfs_block_writer_t *inner;
	struct wrapwr wrap;
	sqfs_block_processor_t *proc;
	sqfs_frag_table_t *ftbl;
	struct bld_frag *frag;
	sqfs_id_table_t *idtbl;
	sqfs_xattr_writer_t *xwr;
	sqfs_meta_writer_t *im, *dm;
	sqfs_dir_writer_t *dirw;
	/* The file being written. */
	struct bld_inode *cur;
	uint64_t cur_group, full, appended;
	unsigned char *tail;
	size_t tail_used;
	/* The first bytes, kept until they say how to store the tail. */
	unsigned char head[8];
	size_t head_used;
	int started;
	struct bld_writer_stats stats;
	uint32_t next_inum;
};

/* A compressor that stores blocks that do not shrink uncompressed. */
int bld_compressor_create(const sqfs_compressor_config_t *cfg,
			  sqfs_compressor_t **out);
int bld_writer_sqerr(struct bld_writer *w, int err, const char *what);
/* Flushes the last fragment block and waits for every data block. */
int bld_writer_finish_data(struct bld_writer *w);

#endif
