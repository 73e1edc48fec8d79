/* build_internal.h: the build's state, shared by build.c (plan, commit),
 * passes.c (the two passes) and record.c (the build record). */
#ifndef BLD_BUILD_INTERNAL_H
#define BLD_BUILD_INTERNAL_H

#include "builder/build.h"
#include "builder/dpkg.h"
#include "builder/input.h"
#include "builder/tree.h"

struct bld_layer {
	char *path;
	const struct bld_patch *patch;  /* NULL for the base */
	enum bld_input_kind kind;
	struct bld_dpkg_pkg pkg;        /* for .deb layers */
	uint64_t entries;
};

struct bld_ctx {
	const struct bld_options *opts;
	struct ni_err *e;
	struct bld_recipe recipe;
	struct bld_catalog cat;
	struct bld_selection sel;
	int have_cat, have_sel;
	uint8_t base_sha[NI_SHA256_LEN];
	int has_base_sha;
	struct bld_layer *layers;       /* [0] is the base */
	size_t n_layers;
	struct bld_tree tree;
	char *image, *tmp;
	char *kernel_release;           /* [boot] kernel = image: found */
	int spool_fd;                   /* patches' files (unlinked temp) */
	uint64_t spool_size;
	uint64_t n_files, n_dirs, n_links, n_other, data_bytes;
};

int bld_pass_layers(struct bld_ctx *c);
int bld_pass_data(struct bld_ctx *c, struct bld_result *res);
int bld_record_build(struct bld_ctx *c, struct bld_result *res);

#endif
