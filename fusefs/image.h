/* image.h: a squashfs image opened for many threads reading at once.
 * The FUSE layer (ll.c) sits on top; this layer knows nothing of FUSE.
 *
 * libsquashfs's readers (meta data, xattr) and some decompressors (gzip)
 * keep state, so each thread borrows a context (struct ffs_ctx) holding
 * its own copies from a pool for the length of one request. Tables that
 * are only looked up after loading (ids, fragments) are shared. Decoded
 * data and fragment blocks are shared through a small cache (bcache.c).
 *
 * Functions return 0 or a negative errno (-EIO, -ENOMEM, -ENOENT, ...),
 * ready to hand to fuse_reply_err. A failed read marks the context so
 * its readers are rebuilt: libsquashfs's meta data reader can keep a
 * half-overwritten block after a failed read, which must never be
 * served. */
#ifndef FUSEFS_IMAGE_H
#define FUSEFS_IMAGE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <sqfs/predef.h>
#include <sqfs/compressor.h>
#include <sqfs/io.h>
#include <sqfs/meta_reader.h>
#include <sqfs/super.h>

#include "common/err.h"

struct ffs_bcache;
struct ffs_image;

/* What a context's meta data readers read through (meta.c): the image
 * file, remembering where the last read was, and a decompressor that
 * serves a block decoded before (by any thread) from the shared meta
 * data cache, keyed by where the block is in the image. */
struct ffs_mfile {
	sqfs_file_t base;
	sqfs_file_t *real;
	uint64_t last;               /* offset of the last read */
};
struct ffs_mcmp {
	sqfs_compressor_t base;
	sqfs_compressor_t *raw;
	struct ffs_mfile *mf;
	struct ffs_image *im;
};

struct ffs_ctx {
	struct ffs_ctx *next;
	sqfs_compressor_t *cmp;      /* this context's own decompressor */
	struct ffs_mfile mf;
	struct ffs_mcmp mc;
	sqfs_meta_reader_t *mi;      /* the inode table */
	sqfs_meta_reader_t *md;      /* the directory table */
	sqfs_xattr_reader_t *xr;     /* loaded on first use (ffs_ctx_xattr) */
	uint8_t *scratch;            /* one block as stored */
	char *out;                   /* the FUSE layer's reply buffer */
	size_t outcap;
	int bad;                     /* a read failed: rebuild before reuse */
};

struct ffs_image {
	sqfs_file_t *file;
	char *name;
	sqfs_super_t super;
	sqfs_compressor_config_t ccfg;
	sqfs_compressor_t *cmp;      /* loads the tables at open */
	sqfs_id_table_t *ids;
	sqfs_frag_table_t *frags;
	sqfs_xattr_reader_t *xattr;  /* loaded at open to check the table */
	uint64_t dir_end;            /* where the directory table ends */
	uint32_t block_size;
	struct ffs_bcache *bc;       /* data and fragment blocks */
	struct ffs_bcache *mc;       /* meta data blocks */

	pthread_mutex_t mu;          /* the context pool */
	struct ffs_ctx *pool;

	/* counters, updated with atomics */
	uint64_t n_reads, n_read_bytes, n_read_errors, n_meta_errors;
};

int ffs_image_open(struct ffs_image **out, sqfs_file_t *file,
		   const char *name, struct ni_err *e);
void ffs_image_close(struct ffs_image *im);

/* Borrows a context (NULL when out of memory) and gives it back. */
struct ffs_ctx *ffs_ctx_get(struct ffs_image *im);
void ffs_ctx_put(struct ffs_image *im, struct ffs_ctx *c);

/* meta.c: sets up c->mf and c->mc over im (no allocation). */
void ffs_meta_wrap(struct ffs_image *im, struct ffs_ctx *c);
/* The context's xattr reader, loaded on first use: NULL with *err set
 * (-EIO, -ENOMEM) on failure, NULL with *err 0 when the image has none. */
sqfs_xattr_reader_t *ffs_ctx_xattr(struct ffs_image *im, struct ffs_ctx *c,
				   int *err);

/* Maps a libsquashfs error to a negative errno and, when it is not a
 * plain "not found", marks c bad. */
int ffs_sqerr(struct ffs_image *im, struct ffs_ctx *c, int sqerr);

/* The inode at ref ((block << 16) | offset in the inode table). Free it
 * with free(). */
int ffs_inode_read(struct ffs_image *im, struct ffs_ctx *c, uint64_t ref,
		   sqfs_inode_generic_t **out);
/* The stat of an inode as the kernel's squashfs reports it: st_ino is
 * the squashfs inode number (hard links share it), all three times are
 * the modification time. */
int ffs_inode_stat(struct ffs_image *im, const sqfs_inode_generic_t *in,
		   struct stat *st);

/* Directories. A position is a readdir state plus the index of the next
 * entry, so a listing can resume where the last reply stopped. */
struct ffs_dirpos {
	sqfs_readdir_state_t it;
	uint64_t index;
};
int ffs_dir_open(struct ffs_image *im, const sqfs_inode_generic_t *dir,
		 struct ffs_dirpos *p);
/* Next entry: 0 with *ent (free()), its inode's *ref and number *inum
 * set (inum may be NULL), 1 at the end. */
int ffs_dir_next(struct ffs_image *im, struct ffs_ctx *c,
		 struct ffs_dirpos *p, sqfs_dir_entry_t **ent, uint64_t *ref,
		 uint32_t *inum);
/* The entry name in dir, found through the directory index: -ENOENT
 * when absent. */
int ffs_dir_lookup(struct ffs_image *im, struct ffs_ctx *c,
		   const sqfs_inode_generic_t *dir, const char *name,
		   uint64_t *ref);

/* Regular files. */
struct ffs_file {
	sqfs_inode_generic_t *inode;
	uint64_t size;
	uint64_t nblocks;            /* full-size data blocks, tail included
				      * when there is no fragment */
	uint64_t *off;               /* where each block starts in the image */
	uint32_t frag_idx, frag_off; /* frag_idx 0xFFFFFFFF: no fragment */
	uint64_t ino;                /* the squashfs inode number */
};
int ffs_file_open(struct ffs_image *im, sqfs_inode_generic_t *in,
		  struct ffs_file **out);   /* takes in, even on failure */
void ffs_file_close(struct ffs_file *f);
/* Reads up to len bytes at off: the count (0 at the end) or -errno. */
ssize_t ffs_file_read(struct ffs_image *im, struct ffs_ctx *c,
		      struct ffs_file *f, uint64_t off, size_t len, char *buf);

/* Extended attributes: the names ("user.x\0security.y\0"), or one value.
 * With size 0 only *len is set. -ERANGE when size is too small, -ENODATA
 * when the name is absent. */
int ffs_xattr_list(struct ffs_image *im, struct ffs_ctx *c,
		   const sqfs_inode_generic_t *in, char *buf, size_t size,
		   size_t *len);
int ffs_xattr_get(struct ffs_image *im, struct ffs_ctx *c,
		  const sqfs_inode_generic_t *in, const char *name,
		  char *buf, size_t size, size_t *len);

#endif
