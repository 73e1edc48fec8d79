/* build.c: the build: recipe and catalog -> layers; first pass lays every
 * layer over the tree (and edits dpkg's database); second pass streams the
 * data of every file that made it into the image to the writer; then the
 * image is renamed into place and its build record written beside it. */
#include "builder/build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/build_internal.h"
#include "builder/input.h"
#include "common/cleanup.h"
#include "common/fsutil.h"

static int add_layer(struct bld_ctx *c, const char *path,
		     const struct bld_patch *patch)
{
	struct bld_layer *l;

	l = realloc(c->layers, (c->n_layers + 1) * sizeof(*l));
	if (l == NULL)
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	c->layers = l;
	l += c->n_layers;
	memset(l, 0, sizeof(*l));
	l->path = strdup(path);
	l->patch = patch;
	if (l->path == NULL)
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	c->n_layers++;
	return 0;
}

static int check_base(struct bld_ctx *c)
{
	struct bld_recipe *r = &c->recipe;
	char want[NI_SHA256_HEX], got[NI_SHA256_HEX];
	struct stat st;
	int ret;

	if ((ret = bld_input_check(r->base, c->e)) != 0)
		return ret;
	if (stat(r->base, &st) != 0)
		return ni_err_errno(c->e, errno, "%s", r->base);
	if (S_ISDIR(st.st_mode)) {
		if (r->has_base_sha)
			return ni_err_set(c->e, NI_EINVAL,
					  "%s: [base] sha256 pins a file, but %s is a folder",
					  r->path, r->base);
		return 0;
	}
	if ((ret = ni_sha256_file(r->base, c->base_sha)) != 0)
		return ni_err_errno(c->e, -ret, "%s: cannot read", r->base);
	c->has_base_sha = 1;
	if (r->has_base_sha && memcmp(r->base_sha, c->base_sha, NI_SHA256_LEN)) {
		ni_hex(r->base_sha, NI_SHA256_LEN, want);
		ni_hex(c->base_sha, NI_SHA256_LEN, got);
		return ni_err_set(c->e, NI_EHASH,
				  "%s: SHA-256 mismatch (pinned %s, file has %s)",
				  r->base, want, got);
	}
	return 0;
}

static int plan_layers(struct bld_ctx *c)
{
	struct bld_recipe *r = &c->recipe;
	size_t i;
	int ret;

	if ((ret = check_base(c)) != 0 || (ret = add_layer(c, r->base, NULL)))
		return ret;
	if (r->catalog == NULL)
		return 0;
	if ((ret = bld_catalog_load(r->catalog, &c->cat, c->e)) != 0)
		return ret;
	c->have_cat = 1;
	ret = bld_catalog_select(&c->cat, r->min_sev, r->exclude, r->n_exclude,
				 &c->sel, c->e);
	if (ret != 0)
		return ret;
	c->have_sel = 1;
	for (i = 0; i < c->sel.n_apply; i++) {
		char *p = bld_patch_path(&c->cat, c->sel.apply[i]);

		if (p == NULL)
			return ni_err_set(c->e, NI_ENOMEM, "out of memory");
		ret = add_layer(c, p, c->sel.apply[i]);
		free(p);
		if (ret != 0)
			return ret;
	}
	return 0;
}

static char *default_output(const struct bld_recipe *r)
{
	char *out;

	if (asprintf(&out, "%s/out/%s-%s.sqfs", r->dir, r->name, r->version) < 0)
		return NULL;
	return out;
}

static char *record_path_for(const char *image)
{
	size_t n = strlen(image);
	char *out;

	if (n > 5 && strcmp(image + n - 5, ".sqfs") == 0) {
		if (asprintf(&out, "%.*s.json", (int)(n - 5), image) < 0)
			return NULL;
	} else if (asprintf(&out, "%s.json", image) < 0) {
		return NULL;
	}
	return out;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* The output folder, and an unlinked spool file in it for the patches'
 * file data (so it is on the disk the image goes to, not in /tmp). */
static int make_spool(struct bld_ctx *c)
{
	char *dir = ni_dirname(c->image), *tmp = NULL;
	int ret;

	if (dir == NULL)
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	ret = ni_mkdir_p(dir, 0755, c->e);
	free(dir);
	if (ret != 0)
		return ret;
	if (asprintf(&tmp, "%s.spool.XXXXXX", c->image) < 0)
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	c->spool_fd = mkstemp(tmp);
	if (c->spool_fd < 0)
		ret = ni_err_errno(c->e, errno, "%s: cannot create", c->image);
	else
		unlink(tmp);
	free(tmp);
	return ret;
}

static int make_tmp(struct bld_ctx *c)
{
	int fd, ret;

	if (asprintf(&c->tmp, "%s.tmp.XXXXXX", c->image) < 0)
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	fd = mkstemp(c->tmp);
	if (fd < 0) {
		ret = ni_err_errno(c->e, errno, "%s: cannot create", c->image);
		free(c->tmp);
		c->tmp = NULL;
		return ret;
	}
	ni_cleanup_add(c->tmp);
	fchmod(fd, 0644);
	close(fd);
	return 0;
}

/* The record is written and synced under a temporary name first, so the
 * image is never renamed into place without a record to go with it. */
static int commit_outputs(struct bld_ctx *c, struct bld_result *res)
{
	struct ni_atomic rec;
	struct stat st;
	int ret;

	if ((ret = fsync_path(c->tmp)) != 0 || (stat(c->tmp, &st) != 0 && (ret = -errno)))
		return ni_err_errno(c->e, -ret, "%s: cannot write", c->image);
	res->image_size = (uint64_t)st.st_size;
	if ((ret = ni_sha256_file(c->tmp, res->image_sha)) != 0)
		return ni_err_errno(c->e, -ret, "%s: cannot read back", c->image);
	if (stat(res->record, &st) == 0 && !S_ISREG(st.st_mode))
		return ni_err_set(c->e, NI_EEXIST, "%s: cannot write: %s",
				  res->record, strerror(S_ISDIR(st.st_mode) ? EISDIR : EEXIST));
	if ((ret = bld_record_build(c, res)) != 0 ||
	    (ret = ni_atomic_open(&rec, res->record, 0644, c->e)) != 0)
		return ret;
	if ((ret = ni_atomic_write(&rec, res->record_json,
				   strlen(res->record_json), c->e)) != 0)
		goto fail;
	if (fsync(rec.fd) != 0) {
		ret = ni_err_errno(c->e, errno, "%s: cannot write", res->record);
		goto fail;
	}
	if (rename(c->tmp, c->image) != 0) {
		ret = ni_err_errno(c->e, errno, "%s: cannot rename into place",
				   c->image);
		goto fail;
	}
	ni_cleanup_remove(c->tmp);
	free(c->tmp);
	c->tmp = NULL;
	return ni_atomic_commit(&rec, c->e);
fail:
	ni_atomic_abort(&rec);
	return ret;
}

static void ctx_free(struct bld_ctx *c)
{
	size_t i;

	for (i = 0; i < c->n_layers; i++) {
		free(c->layers[i].path);
		bld_dpkg_pkg_free(&c->layers[i].pkg);
	}
	free(c->layers);
	if (c->spool_fd >= 0)
		close(c->spool_fd);
	if (c->tmp != NULL) {
		unlink(c->tmp);
		ni_cleanup_remove(c->tmp);
	}
	free(c->tmp);
	free(c->image);
	free(c->kernel_release);
	bld_tree_free(&c->tree);
	if (c->have_sel)
		bld_selection_free(&c->sel);
	if (c->have_cat)
		bld_catalog_free(&c->cat);
	bld_recipe_free(&c->recipe);
}

int bld_build(const struct bld_options *o, struct bld_result *res,
	      struct ni_err *e)
{
	struct bld_ctx c;
	int ret;

	memset(&c, 0, sizeof(c));
	memset(res, 0, sizeof(*res));
	c.spool_fd = -1;
	c.e = e;
	c.opts = o;
	if ((ret = bld_recipe_load(o->recipe, &c.recipe, e)) != 0)
		goto out;
	c.image = o->output ? strdup(o->output) : default_output(&c.recipe);
	res->record = c.image ? record_path_for(c.image) : NULL;
	if (c.image == NULL || res->record == NULL) {
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = plan_layers(&c)) != 0 ||
	    (ret = make_spool(&c)) != 0 ||
	    (ret = bld_pass_layers(&c)) != 0 ||
	    (ret = make_tmp(&c)) != 0 ||
	    (ret = bld_pass_data(&c, res)) != 0 ||
	    (ret = commit_outputs(&c, res)) != 0)
		goto out;
	res->image = c.image;
	c.image = NULL;
out:
	ctx_free(&c);
	if (ret != 0)
		bld_result_free(res);
	return ret;
}

void bld_result_free(struct bld_result *res)
{
	free(res->image);
	free(res->record);
	free(res->record_json);
	memset(res, 0, sizeof(*res));
}
