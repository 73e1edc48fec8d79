/* dpkg.c: placeholder, replaced below. */
#include "builder/dpkg.h"
#include <stdlib.h>
int bld_dpkg_prepare(struct bld_tree *t, struct bld_input *in, struct bld_dpkg_pre **pre, struct ni_err *e) { *pre = NULL; return 0; }
int bld_dpkg_apply(struct bld_tree *t, struct bld_input *in, struct bld_dpkg_pre *pre, char *const *paths, size_t n_paths, int layer, int64_t mtime, struct bld_dpkg_pkg *out, struct ni_err *e) { return 0; }
void bld_dpkg_pre_free(struct bld_dpkg_pre *pre) { }
void bld_dpkg_pkg_free(struct bld_dpkg_pkg *p) { }
