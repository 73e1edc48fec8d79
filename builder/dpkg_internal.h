/* dpkg_internal.h: state of one .deb's database update, shared by dpkg.c
 * (entry points, conffile capture) and dpkg_db.c (status, info, removal). */
#ifndef BLD_DPKG_INTERNAL_H
#define BLD_DPKG_INTERNAL_H

#include "builder/deb822.h"
#include "builder/dpkg.h"

struct conf_pre;

struct bld_dpkg_job {
	struct bld_tree *t;
	struct bld_input *in;
	struct conf_pre *pre_c;
	size_t pre_n;
	char *const *paths;
	size_t n_paths;
	int layer;
	int64_t mtime;
	struct bld_dpkg_pkg *out;
	struct ni_err *e;
	struct bld_stanza ctl;     /* the package's control */
	struct bld_stanza old;     /* its status stanza before, if any */
	int had_old;
	char *prefix;              /* info file prefix: PKG or PKG:ARCH */
	char *old_prefix;
	/* Conffiles of the old version this one no longer ships: dpkg keeps
	 * them, listed, and marks them obsolete. "/path" and the old hash. */
	char **obsolete, **obsolete_hash;
	size_t n_obsolete;
};

int bld_dpkg_run(struct bld_dpkg_job *j);
int bld_dpkg_conffiles(const struct bld_input *in, char ***out, size_t *n);
void bld_dpkg_strv_free(char **v, size_t n);
/* The conffile capture of dpkg.c: path and the inode it had. */
const char *bld_dpkg_pre_path(const struct bld_dpkg_job *j, size_t i);
struct bld_inode *bld_dpkg_pre_old(const struct bld_dpkg_job *j, size_t i);

#endif
