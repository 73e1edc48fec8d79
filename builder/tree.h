/* tree.h: the in-memory file tree an image is assembled in. Directory
 * entries (bld_dentry) and inodes (bld_inode) are separate so that hard
 * links share one inode; children are kept sorted by name (squashfs wants
 * byte order), so the tree is ready to write as soon as it is complete. */
#ifndef BLD_TREE_H
#define BLD_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

struct sqfs_inode_generic_t;

struct bld_xattr {
	char *key;
	void *value;
	size_t size;
};

/* Where a regular file's bytes come from. */
struct bld_content {
	int layer;          /* index of the input layer, or -1 */
	uint64_t ordinal;   /* entry number within that layer's stream */
	unsigned char *mem; /* builder-made content (layer == -1) */
	size_t mem_len;
	int spooled;        /* a patch's file, copied to the spool in pass 1 */
	uint64_t spool_off;
};

struct bld_inode {
	uint32_t mode;      /* type and permission bits */
	uint32_t uid, gid;
	int64_t mtime;
	uint32_t links;     /* dentries that point here */
	uint64_t size;
	uint64_t rdev;
	char *target;       /* symlink target */
	struct bld_xattr *xattrs;
	size_t n_xattrs;
	struct bld_content src;
	uint8_t md5[16];    /* of regular content, when has_md5 */
	int has_md5;
	/* Filled by the writer. */
	struct sqfs_inode_generic_t *sq;
	uint32_t inum;
	uint64_t ref;
	uint32_t tail_frag, tail_off, tail_len;
	int serialized;
	int mark;           /* scratch for walks */
};

struct bld_dentry {
	char *name;
	struct bld_dentry *parent;
	struct bld_inode *ino;
	int layer;                  /* the layer that made this entry */
	/* Where the base had a file at this path (its entry number), or
	 * UINT64_MAX: files are written in the base's order, whichever layer
	 * they came from, so that a patched file takes its old place and its
	 * neighbours keep their fragment groups. */
	uint64_t base_pos;
	struct bld_dentry **kids;   /* sorted by name (directories) */
	size_t n_kids, cap_kids;
};

struct bld_tree {
	struct bld_dentry *root;
	uint64_t n_dentries;
};

int bld_tree_init(struct bld_tree *t, int64_t mtime);
void bld_tree_free(struct bld_tree *t);

struct bld_inode *bld_inode_new(uint32_t mode);
void bld_inode_unref(struct bld_inode *ino);
void bld_inode_set_mem(struct bld_inode *ino, unsigned char *buf, size_t len);

/* Child lookup and insertion in a directory (kept sorted). */
struct bld_dentry *bld_dir_lookup(const struct bld_dentry *dir,
				  const char *name);
/* Creates name in dir pointing at ino (takes a reference). Replaces an
 * existing entry of that name (unlinking its subtree). */
struct bld_dentry *bld_dir_put(struct bld_tree *t, struct bld_dentry *dir,
			       const char *name, struct bld_inode *ino,
			       int layer);
/* Removes a dentry and everything below it. */
void bld_dentry_remove(struct bld_tree *t, struct bld_dentry *d);

int bld_is_dir(const struct bld_dentry *d);

/* Writes the path of d, relative to the root ("" for the root) into buf. */
void bld_dentry_path(const struct bld_dentry *d, char *buf, size_t len);

/* Depth-first visit in sorted order; pre-order when post == 0. Stops and
 * returns the first non-zero value the callback returns. */
typedef int (*bld_visit_fn)(struct bld_dentry *d, void *user);
int bld_tree_walk(struct bld_dentry *d, int post, bld_visit_fn fn, void *user);

void bld_inode_clear_xattrs(struct bld_inode *ino);
int bld_inode_add_xattr(struct bld_inode *ino, const char *key,
			const void *value, size_t size);

#endif
