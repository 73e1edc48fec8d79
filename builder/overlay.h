/* overlay.h: lays one input layer over the tree, as the builder's first
 * pass: paths are resolved inside the image's root the way dpkg resolves
 * them on a real system (through symlinks of earlier layers, never out of
 * the root), OCI whiteouts delete, and the tar-bomb patterns are refused. */
#ifndef BLD_OVERLAY_H
#define BLD_OVERLAY_H

#include <stdint.h>

#include "builder/input.h"
#include "builder/tree.h"

enum bld_layer_flags {
	BLD_LAYER_BASE = 1,      /* device nodes allowed */
	BLD_LAYER_DEB = 2,       /* dpkg semantics: no whiteouts, keep dirs */
};

struct bld_overlay {
	struct bld_tree *tree;
	int layer;
	unsigned flags;
	int64_t clamp;           /* mtimes above it are clamped; <0: none */
	struct ni_err *e;
	/* Paths as the layer names them ("/usr/bin/x"), in order: the
	 * package's file list for dpkg. Only kept for BLD_LAYER_DEB. */
	char **paths;
	size_t n_paths, cap_paths;
	uint64_t entries;
	/* Paths (no leading '/') whose MD5 is wanted besides etc/: a
	 * package's conffiles. Borrowed. */
	char *const *md5_paths;
	size_t n_md5_paths;
	/* Patches' files are copied here in the first pass (not the base's:
	 * the base is read again, in order). */
	int spool_fd;
	uint64_t *spool_size;
};

/* Reads every entry of in and applies it to ov->tree. */
int bld_overlay_apply(struct bld_overlay *ov, struct bld_input *in);
void bld_overlay_free(struct bld_overlay *ov);

/* Normalizes an entry path into components in buf ("a/b/c", no leading
 * "./" or "/", no "." or empty parts). Refuses "..". Returns 0, or
 * NI_EUNSAFE. */
int bld_path_normalize(const char *in, char *buf, size_t len);

/* Resolves a normalized path inside the tree. Every component but the
 * last is followed through symlinks (absolute ones from the image's root);
 * the last is followed only when follow_last. NULL when missing. */
struct bld_dentry *bld_tree_resolve(struct bld_tree *t, const char *path,
				    int follow_last);

/* Follows d while it is a symlink; NULL if dangling or looping. */
struct bld_dentry *bld_dentry_follow(struct bld_tree *t, struct bld_dentry *d);

#endif
