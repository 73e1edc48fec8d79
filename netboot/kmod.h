/* kmod.h: which kernel modules an initramfs needs, with their
 * dependencies, from a module tree (lib/modules/RELEASE/): modules.dep
 * when present, else the "depends=" of each module's .modinfo section (the
 * list modules.dep is made from; a Debian package and an image built
 * without maintainer scripts have no modules.dep). */
#ifndef NB_KMOD_H
#define NB_KMOD_H

#include <stddef.h>

#include "common/err.h"

struct nb_kmods {
	char **path;        /* relative to the module tree, load order */
	size_t n;
};

/* Resolves names (module names, '-' and '_' alike) in tree; a name the
 * tree lacks is skipped (built into the kernel, or a driver this kernel
 * does not have). Dependencies come before their users. */
int nb_kmods_resolve(const char *tree, const char *const *names, size_t n,
		     struct nb_kmods *out, struct ni_err *e);
void nb_kmods_free(struct nb_kmods *m);

#endif
