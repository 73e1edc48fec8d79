/* dpkg.c: dpkg's database inside the image, updated for a .deb layer as
 * `dpkg --unpack` would leave it (see dpkg.h). The database's files were
 * read into memory in the first pass (overlay.c captures var/lib/dpkg/). */
#include "builder/dpkg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/deb822.h"
#include "builder/dpkg_internal.h"
#include "builder/overlay.h"
#include "common/hash.h"

#define STATUS "var/lib/dpkg/status"
#define INFODIR "var/lib/dpkg/info"

struct conf_pre {
	char *path;               /* normalized, no leading '/' */
	struct bld_inode *old;    /* what the image had there, referenced */
};

struct bld_dpkg_pre {
	struct conf_pre *c;
	size_t n;
};

static int err_pkg(struct ni_err *e, struct bld_input *in, const char *what)
{
	return ni_err_set(e, NI_EINVAL, "%s: %s", in->path, what);
}

/* The conffile paths a package's control archive lists. */
int bld_dpkg_conffiles(const struct bld_input *in, char ***out, size_t *n)
{
	const struct bld_ctlfile *cf = bld_input_ctlfile(in, "conffiles");
	const char *p, *end;

	*out = NULL;
	*n = 0;
	if (cf == NULL)
		return 0;
	for (p = (const char *)cf->data, end = p + cf->len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *path;
		size_t len = (size_t)((nl ? nl : end) - p);
		char line[4096], **a;

		if (len >= sizeof(line))
			return NI_EINVAL;
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl ? nl + 1 : end;
		path = strrchr(line, ' ');  /* "remove-on-upgrade /etc/x" */
		path = path ? path + 1 : line;
		if (path[0] != '/')
			continue;
		a = realloc(*out, (*n + 1) * sizeof(*a));
		if (a == NULL || (a[*n] = strdup(path + 1)) == NULL)
			return NI_ENOMEM;
		*out = a;
		(*n)++;
	}
	return 0;
}

void bld_dpkg_strv_free(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

int bld_dpkg_prepare(struct bld_tree *t, struct bld_input *in,
		     struct bld_dpkg_pre **out, struct ni_err *e)
{
	struct bld_dpkg_pre *pre = calloc(1, sizeof(*pre));
	char **paths;
	size_t n, i;

	*out = pre;
	if (pre == NULL || bld_dpkg_conffiles(in, &paths, &n) != 0)
		return err_pkg(e, in, "cannot read its conffiles list");
	pre->c = calloc(n ? n : 1, sizeof(*pre->c));
	if (pre->c == NULL) {
		bld_dpkg_strv_free(paths, n);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	for (i = 0; i < n; i++) {
		struct bld_dentry *d = bld_tree_resolve(t, paths[i], 0);

		pre->c[pre->n].path = paths[i];
		paths[i] = NULL;
		if (d != NULL && S_ISREG(d->ino->mode)) {
			pre->c[pre->n].old = d->ino;
			d->ino->links++;
		}
		pre->n++;
	}
	bld_dpkg_strv_free(paths, n);
	return 0;
}

void bld_dpkg_pre_free(struct bld_dpkg_pre *pre)
{
	size_t i;

	if (pre == NULL)
		return;
	for (i = 0; i < pre->n; i++) {
		free(pre->c[i].path);
		bld_inode_unref(pre->c[i].old);
	}
	free(pre->c);
	free(pre);
}

void bld_dpkg_pkg_free(struct bld_dpkg_pkg *p)
{
	free(p->package);
	free(p->version);
	free(p->arch);
	free(p->old_version);
	memset(p, 0, sizeof(*p));
}

static int read_control(struct bld_input *in, struct bld_stanza *ctl,
			struct ni_err *e)
{
	const struct bld_ctlfile *cf = bld_input_ctlfile(in, "control");
	const char *p;

	if (cf == NULL)
		return err_pkg(e, in, "not a Debian package: no control file");
	p = (const char *)cf->data;
	if (bld_stanza_parse(&p, p + cf->len, ctl) != 1)
		return err_pkg(e, in, "malformed control file");
	if (!bld_stanza_get(ctl, "Package") || !bld_stanza_get(ctl, "Version") ||
	    !bld_stanza_get(ctl, "Architecture"))
		return err_pkg(e, in, "control file lacks Package, Version or Architecture");
	return 0;
}

int bld_dpkg_apply(struct bld_tree *t, struct bld_input *in,
		   struct bld_dpkg_pre *pre, char *const *paths,
		   size_t n_paths, int layer, int64_t mtime,
		   struct bld_dpkg_pkg *out, struct ni_err *e)
{
	struct bld_dpkg_job j;
	int ret;

	memset(&j, 0, sizeof(j));
	j.t = t;
	j.in = in;
	j.pre_c = pre->c;
	j.pre_n = pre->n;
	j.paths = paths;
	j.n_paths = n_paths;
	j.layer = layer;
	j.mtime = mtime;
	j.out = out;
	j.e = e;
	if ((ret = read_control(in, &j.ctl, e)) != 0)
		goto out;
	ret = bld_dpkg_run(&j);
out:
	bld_stanza_free(&j.ctl);
	bld_stanza_free(&j.old);
	free(j.prefix);
	free(j.old_prefix);
	bld_dpkg_strv_free(j.obsolete, j.n_obsolete);
	bld_dpkg_strv_free(j.obsolete_hash, j.n_obsolete);
	return ret;
}

const char *bld_dpkg_pre_path(const struct bld_dpkg_job *j, size_t i)
{
	return j->pre_c[i].path;
}

struct bld_inode *bld_dpkg_pre_old(const struct bld_dpkg_job *j, size_t i)
{
	return j->pre_c[i].old;
}
