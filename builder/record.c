/* record.c: the build record, OUT.json beside the image: what went in
 * (recipe, base, every patch applied and every one skipped, and why),
 * counts and the image's SHA-256. It holds no wall-clock time, so the
 * record is as reproducible as the image. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/build_internal.h"
#include "common/version.h"

static json_t *hexj(const uint8_t *d)
{
	char hex[NI_SHA256_HEX];

	ni_hex(d, NI_SHA256_LEN, hex);
	return json_string(hex);
}

static const char *kind_name(enum bld_input_kind k)
{
	switch (k) {
	case BLD_IN_DIR: return "directory";
	case BLD_IN_DEB: return "deb";
	case BLD_IN_SQFS: return "squashfs";
	default: return "archive";
	}
}

static json_t *recipe_json(const struct bld_ctx *c)
{
	const struct bld_recipe *r = &c->recipe;
	json_t *o = json_object(), *ex = json_array();
	size_t i;

	for (i = 0; i < r->n_exclude; i++)
		json_array_append_new(ex, json_string(r->exclude[i]));
	json_object_set_new(o, "path", json_string(r->path));
	json_object_set_new(o, "compression", json_string(r->compression));
	json_object_set_new(o, "block_size", json_integer(r->block_size));
	json_object_set_new(o, "epoch", r->epoch < 0 ? json_null() : json_integer(r->epoch));
	json_object_set_new(o, "epoch_from_SOURCE_DATE_EPOCH", json_boolean(r->epoch_from_env));
	json_object_set_new(o, "catalog", r->catalog_raw ? json_string(r->catalog_raw) : json_null());
	json_object_set_new(o, "min_severity", json_string(bld_severity_name(r->min_sev)));
	json_object_set_new(o, "exclude", ex);
	return o;
}

static json_t *boot_json(const struct bld_ctx *c)
{
	const struct bld_recipe *r = &c->recipe;
	json_t *o;

	if (!r->has_boot)
		return json_null();
	o = json_object();
	if (c->kernel_release != NULL)
		json_object_set_new(o, "kernel_release", json_string(c->kernel_release));
	json_object_set_new(o, "kernel", json_string(r->boot_kernel_raw));
	json_object_set_new(o, "cmdline", json_string(r->boot_cmdline ? r->boot_cmdline : ""));
	return o;
}

static json_t *patch_json(const struct bld_layer *l)
{
	const struct bld_patch *p = l->patch;
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(p->id));
	json_object_set_new(o, "title", json_string(p->title ? p->title : ""));
	json_object_set_new(o, "severity", json_string(bld_severity_name(p->severity)));
	json_object_set_new(o, "file", json_string(p->source_name ? p->source_name : p->file));
	json_object_set_new(o, "sha256", hexj(p->sha256));
	json_object_set_new(o, "approved_by", json_string(p->by ? p->by : ""));
	json_object_set_new(o, "approved_at", json_integer(p->when));
	json_object_set_new(o, "kind", json_string(kind_name(l->kind)));
	if (l->kind == BLD_IN_DEB && l->pkg.package != NULL) {
		json_object_set_new(o, "package", json_string(l->pkg.package));
		json_object_set_new(o, "version", json_string(l->pkg.version));
		json_object_set_new(o, "architecture", json_string(l->pkg.arch));
		json_object_set_new(o, "replaced_version", l->pkg.old_version ?
				    json_string(l->pkg.old_version) : json_null());
		json_object_set_new(o, "files_removed", json_integer((json_int_t)l->pkg.removed));
		json_object_set_new(o, "conffiles_kept", json_integer((json_int_t)l->pkg.conffiles_kept));
		json_object_set_new(o, "maintainer_scripts_run", json_false());
	}
	return o;
}

static json_t *skipped_json(const struct bld_selection *sel)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < sel->n_skipped; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "id", json_string(sel->skipped[i].patch->id));
		json_object_set_new(o, "reason", json_string(bld_skip_name(sel->skipped[i].why)));
		if (sel->skipped[i].by_id != NULL)
			json_object_set_new(o, "superseded_by", json_string(sel->skipped[i].by_id));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *base_json(const struct bld_ctx *c)
{
	json_t *o = json_object();

	json_object_set_new(o, "source", json_string(c->recipe.base_raw));
	json_object_set_new(o, "kind", json_string(kind_name(c->layers[0].kind)));
	json_object_set_new(o, "sha256", c->has_base_sha ? hexj(c->base_sha) : json_null());
	return o;
}

static json_t *counts_json(const struct bld_ctx *c, const struct bld_result *res)
{
	json_t *o = json_object();

	json_object_set_new(o, "files", json_integer((json_int_t)c->n_files));
	json_object_set_new(o, "directories", json_integer((json_int_t)c->n_dirs));
	json_object_set_new(o, "symlinks", json_integer((json_int_t)c->n_links));
	json_object_set_new(o, "other", json_integer((json_int_t)c->n_other));
	json_object_set_new(o, "file_bytes", json_integer((json_int_t)res->bytes));
	return o;
}

int bld_record_build(struct bld_ctx *c, struct bld_result *res)
{
	json_t *root = json_object(), *patches = json_array(), *img = json_object();
	const char *slash = strrchr(c->image, '/');
	char *text;
	size_t i;

	for (i = 1; i < c->n_layers; i++)
		json_array_append_new(patches, patch_json(&c->layers[i]));
	json_object_set_new(img, "file", json_string(slash ? slash + 1 : c->image));
	json_object_set_new(img, "size", json_integer((json_int_t)res->image_size));
	json_object_set_new(img, "sha256", hexj(res->image_sha));
	json_object_set_new(root, "format", json_integer(1));
	json_object_set_new(root, "builder", json_string("netimg " NETIMG_VERSION));
	json_object_set_new(root, "name", json_string(c->recipe.name));
	json_object_set_new(root, "version", json_string(c->recipe.version));
	json_object_set_new(root, "recipe", recipe_json(c));
	json_object_set_new(root, "boot", boot_json(c));
	json_object_set_new(root, "base", base_json(c));
	json_object_set_new(root, "patches", patches);
	json_object_set_new(root, "skipped", c->have_sel ? skipped_json(&c->sel) : json_array());
	json_object_set_new(root, "maintainer_scripts", json_string(
		"not run: .deb patches are unpacked and dpkg's database updated, "
		"but preinst/postinst are never executed"));
	json_object_set_new(root, "counts", counts_json(c, res));
	json_object_set_new(root, "image", img);
	res->n_patches = c->n_layers - 1;
	res->n_skipped = c->have_sel ? c->sel.n_skipped : 0;
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	if (text == NULL || asprintf(&res->record_json, "%s\n", text) < 0) {
		free(text);
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	}
	free(text);
	return 0;
}
