/* dpkg.h: updates dpkg's database inside the image for a .deb laid over
 * it, as `dpkg --unpack` leaves it: the status stanza (Status: install ok
 * unpacked, Config-Version when upgrading a configured package), info/
 * files under dpkg's names (PKG:ARCH.* for Multi-Arch: same), md5sums and
 * conffiles, and the files the old version had and this one dropped.
 * Maintainer scripts are never run. */
#ifndef BLD_DPKG_H
#define BLD_DPKG_H

#include <stddef.h>
#include <stdint.h>

#include "builder/input.h"
#include "builder/tree.h"

struct bld_dpkg_pkg {
	char *package, *version, *arch;
	char *old_version;          /* NULL when newly installed */
	size_t removed;             /* files of the old version dropped */
	size_t conffiles_kept;      /* locally modified: new one as .dpkg-dist */
};

/* What the image held at this package's conffile paths before the
 * package was laid over it. */
struct bld_dpkg_pre;

int bld_dpkg_prepare(struct bld_tree *t, struct bld_input *in,
		     struct bld_dpkg_pre **pre, struct ni_err *e);
int bld_dpkg_apply(struct bld_tree *t, struct bld_input *in,
		   struct bld_dpkg_pre *pre, char *const *paths,
		   size_t n_paths, int layer, int64_t mtime,
		   struct bld_dpkg_pkg *out, struct ni_err *e);
void bld_dpkg_pre_free(struct bld_dpkg_pre *pre);
void bld_dpkg_pkg_free(struct bld_dpkg_pkg *p);

#endif
