/* writer.h: writes a squashfs image with libsquashfs: file data through
 * the block processor (its worker threads compress), tails packed into
 * fragment blocks in stable groups (see frag.c) except those of files in
 * a compressed format, then inodes, directories, fragment, id and xattr
 * tables, and the superblock. */
#ifndef BLD_WRITER_H
#define BLD_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "builder/tree.h"
#include "common/err.h"

struct bld_writer_opts {
	int comp_id;           /* SQFS_COMPRESSOR */
	uint32_t block_size;
	uint32_t mod_time;     /* superblock time */
	unsigned workers;      /* compressor threads; 0: one per core */
};

struct bld_writer_stats {
	uint64_t files, bytes_in, image_size, frag_blocks, dedup_tails;
	uint64_t inodes;
};

struct bld_writer;

/* Writes to path (the caller's temporary name); messages name shown. */
int bld_writer_open(struct bld_writer **w, const char *path,
		    const char *shown, const struct bld_writer_opts *o,
		    struct ni_err *e);
/* A regular file's data: begin, append its bytes, end. group is a hash
 * of the file's path: it decides fragment group boundaries. */
int bld_writer_begin_file(struct bld_writer *w, struct bld_inode *ino,
			  uint64_t group);
int bld_writer_append(struct bld_writer *w, const void *buf, size_t len);
int bld_writer_end_file(struct bld_writer *w);
/* Waits for the data, writes the tree and the tables, syncs the file. */
int bld_writer_finish(struct bld_writer *w, struct bld_tree *t);
void bld_writer_stats(const struct bld_writer *w, struct bld_writer_stats *s);
void bld_writer_close(struct bld_writer *w);

/* Fragment packing (frag.c), used by the writer. */
struct bld_frag;
int bld_frag_new(struct bld_frag **f, uint32_t block_size);
void bld_frag_free(struct bld_frag *f);
/* Adds a tail; sets ino->tail_frag/tail_off. Calls submit(user, idx,
 * data, len) whenever a fragment block is complete. */
typedef int (*bld_frag_submit_fn)(void *user, uint32_t index,
				  const void *data, size_t len);
int bld_frag_add(struct bld_frag *f, struct bld_inode *ino, const void *data,
		 size_t len, uint64_t group, bld_frag_submit_fn submit,
		 void *user);
int bld_frag_flush(struct bld_frag *f, bld_frag_submit_fn submit, void *user);
uint32_t bld_frag_count(const struct bld_frag *f);
uint64_t bld_frag_dedup_count(const struct bld_frag *f);

#endif
