/* gc_scan.c: what gc keeps: the published versions (each manifest
 * verified), what the channels point at now and in their last N history
 * entries (each pointer verified), the newest pointer write, and the blobs
 * the kept versions' attachments name. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "common/grow.h"
#include "images/attach.h"
#include "images/channel.h"
#include "images/gc_internal.h"
#include "images/manifest.h"
#include "images/publish_internal.h"

/* Appends " (why)" to the error message. */
static int explain(struct gc *g, int code, const char *why)
{
	char msg[sizeof(g->e->msg)];

	snprintf(msg, sizeof(msg), "%s", g->e->msg);
	return ni_err_set(g->e, code, "%s (%s)", msg, why);
}

/* The manifest's netboot files (boot.files.kernel/initramfs.path, each
 * "boot/NAME"): their NAMEs, which gc keeps while the version is kept. */
static void boot_files(json_t *m, struct gc_ver *v)
{
	static const char *const what[2] = { "kernel", "initramfs" };
	json_t *files = json_object_get(json_object_get(m, "boot"), "files");
	int i;

	for (i = 0; i < 2; i++) {
		const char *p = json_string_value(
			json_object_get(json_object_get(files, what[i]), "path"));

		if (p != NULL && strncmp(p, "boot/", 5) == 0 && strlen(p + 5) < sizeof(v->boot[i]))
			snprintf(v->boot[i], sizeof(v->boot[i]), "%s", p + 5);
	}
}

static int add_version(struct gc *g, const char *name, const char *file)
{
	size_t n = strlen(file);
	char *version, rel[300];
	json_t *m = NULL;
	struct gc_ver *v;
	const char *ih;
	int ret;

	if (n < 6 || file[0] == '.' || strcmp(file + n - 5, ".json") != 0)
		return 0;
	if ((version = strndup(file, n - 5)) == NULL)
		return ni_err_set(g->e, NI_ENOMEM, "out of memory");
	if (!img_valid_name(version)) {
		free(version);
		return 0;
	}
	snprintf(rel, sizeof(rel), "versions/%s/%s", name, file);
	ret = img_repo_read_signed(&g->repo, g->pub, rel, &m, NULL, NULL, g->e);
	ih = json_string_value(json_object_get(json_object_get(m, "index"), "sha256"));
	if (ret == 0 && (ih == NULL || strlen(ih) != 64))
		ret = ni_err_set(g->e, NI_EINVAL, "%s/%s: the manifest names no chunk index",
				 g->repo.pub, rel);
	if (ret == 0 && ni_grow(&g->v, &g->capv, g->nv, sizeof(*g->v), 16) != 0)
		ret = ni_err_set(g->e, NI_ENOMEM, "out of memory");
	if (ret == 0) {
		v = &g->v[g->nv++];
		memset(v, 0, sizeof(*v));
		v->name = strdup(name);
		v->version = version;
		version = NULL;
		snprintf(v->index_sha, sizeof(v->index_sha), "%s", ih);
		v->published = (int64_t)json_integer_value(json_object_get(m, "published"));
		boot_files(m, v);
		if (v->name == NULL)
			ret = ni_err_set(g->e, NI_ENOMEM, "out of memory");
	}
	if (ret != 0 && ret != NI_ENOMEM)
		ret = explain(g, ret, "gc removes nothing while a manifest does not verify");
	free(version);
	json_decref(m);
	return ret;
}

int gc_scan_versions(struct gc *g)
{
	char *vdir = img_repo_path(&g->repo, "versions"), *ndir;
	struct dirent *de, *fe;
	DIR *d, *nd;
	int ret = 0;

	if (vdir == NULL)
		return ni_err_set(g->e, NI_ENOMEM, "out of memory");
	d = opendir(vdir);
	while (d != NULL && ret == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !img_valid_name(de->d_name) ||
		    (ndir = ni_path_join(vdir, de->d_name)) == NULL)
			continue;
		nd = opendir(ndir);
		while (nd != NULL && ret == 0 && (fe = readdir(nd)) != NULL)
			ret = add_version(g, de->d_name, fe->d_name);
		if (nd != NULL)
			closedir(nd);
		free(ndir);
	}
	if (d != NULL)
		closedir(d);
	free(vdir);
	return ret;
}

static struct gc_ver *find(struct gc *g, const char *target)
{
	const char *at = target ? strchr(target, '@') : NULL;
	size_t i;

	for (i = 0; at != NULL && i < g->nv; i++)
		if (strlen(g->v[i].name) == (size_t)(at - target) &&
		    strncmp(g->v[i].name, target, (size_t)(at - target)) == 0 &&
		    strcmp(g->v[i].version, at + 1) == 0)
			return &g->v[i];
	return NULL;
}

static void keep(struct gc *g, const char *target, const char *fmt, const char *channel)
{
	struct gc_ver *v = find(g, target);

	if (v != NULL && v->why[0] == '\0')
		snprintf(v->why, sizeof(v->why), fmt, channel);
}

/* Reads and verifies one pointer into ptrs. */
static int one_channel(struct gc *g, const char *channel, json_t *ptrs)
{
	char rel[100];
	json_t *p = NULL;
	int64_t t;
	int ret;

	snprintf(rel, sizeof(rel), "channels/%s.json", channel);
	ret = img_repo_read_signed(&g->repo, g->pub, rel, &p, NULL, NULL, g->e);
	if (ret == 0 && !json_is_string(json_object_get(p, "target")))
		ret = ni_err_set(g->e, NI_EINVAL, "%s/%s: not a channel pointer", g->repo.pub, rel);
	if (ret != 0) {
		if (ret != NI_ENOMEM)
			explain(g, ret, "gc cannot tell what the channel needs");
		json_decref(p);
		return ret;
	}
	t = (int64_t)json_integer_value(json_object_get(p, "time"));
	if (t > g->r->newest_pointer)
		g->r->newest_pointer = t;
	json_object_set_new(p, "channel", json_string(channel));
	json_array_append_new(ptrs, p);
	return 0;
}

static int cmp_ver(const void *a, const void *b)
{
	const struct gc_ver *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strverscmp(x->version, y->version);
}

int gc_scan_channels(struct gc *g)
{
	char *dir = img_repo_path(&g->repo, "channels"), stem[80];
	json_t *ptrs = json_array(), *p, *h;
	struct dirent *de;
	size_t i, k;
	DIR *d;
	int ret = 0;

	if (dir == NULL || ptrs == NULL) {
		free(dir);
		json_decref(ptrs);
		return ni_err_set(g->e, NI_ENOMEM, "out of memory");
	}
	d = opendir(dir);
	while (d != NULL && ret == 0 && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n < 6 || n - 5 >= sizeof(stem) || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(stem, sizeof(stem), "%.*s", (int)(n - 5), de->d_name);
		if (img_valid_channel(stem))
			ret = one_channel(g, stem, ptrs);
	}
	if (d != NULL)
		closedir(d);
	free(dir);
	if (g->nv > 1)
		qsort(g->v, g->nv, sizeof(*g->v), cmp_ver);
	/* what channels point at now first, then their recent history */
	json_array_foreach(ptrs, i, p)
		keep(g, json_string_value(json_object_get(p, "target")), "channel %s points at it",
		     json_string_value(json_object_get(p, "channel")));
	json_array_foreach(ptrs, i, p)
		json_array_foreach(json_object_get(p, "history"), k, h)
			if ((int)k < g->keep)
				keep(g, json_string_value(json_object_get(h, "target")),
				     "in channel %s's last history entries",
				     json_string_value(json_object_get(p, "channel")));
	json_decref(ptrs);
	/* Not rolled out yet: published at or after the newest pointer
	 * write (with no channel at all, that is every version). */
	for (i = 0; ret == 0 && i < g->nv; i++)
		if (g->v[i].why[0] == '\0' && g->v[i].published >= g->r->newest_pointer)
			snprintf(g->v[i].why, sizeof(g->v[i].why),
				 "published after the newest pointer write: not rolled out yet");
	return ret;
}

int gc_is_removed(void *u, const char *name, const char *version)
{
	struct gc *g = u;
	size_t i;

	for (i = 0; i < g->nv; i++)
		if (strcmp(g->v[i].name, name) == 0 && strcmp(g->v[i].version, version) == 0)
			return g->v[i].why[0] == '\0';
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The blob a record names (read without verifying: keeping a blob a
 * doubtful record names is the safe side). */
static int record_blob(struct gc *g, const char *dir, const char *file)
{
	char *path = ni_path_join(dir, file), *buf = NULL, *nl;
	const char *sha;
	size_t len, n = strlen(file);
	json_t *j = NULL;
	int ret = 0;

	if (path == NULL)
		return ni_err_set(g->e, NI_ENOMEM, "out of memory");
	if (n > 5 && strcmp(file + n - 5, ".json") == 0 && file[0] != '.' &&
	    ni_read_file(path, 1u << 20, &buf, &len, NULL) == 0 &&
	    (nl = strchr(buf, '\n')) != NULL && (j = json_loads(nl + 1, 0, NULL)) != NULL &&
	    (sha = json_string_value(json_object_get(j, "sha256"))) != NULL &&
	    strlen(sha) == 64) {
		if (ni_grow(&g->blobs, &g->capb, g->nb, sizeof(*g->blobs), 16) != 0 ||
		    (g->blobs[g->nb] = strdup(sha)) == NULL)
			ret = ni_err_set(g->e, NI_ENOMEM, "out of memory");
		else
			g->nb++;
	}
	json_decref(j);
	free(buf);
	free(path);
	return ret;
}

int gc_scan_blobs(struct gc *g)
{
	char rel[300], *dir;
	struct dirent *de;
	size_t i;
	DIR *d;
	int ret = 0;

	for (i = 0; ret == 0 && i < g->nv; i++) {
		if (g->v[i].why[0] == '\0')
			continue;
		snprintf(rel, sizeof(rel), "attachments/%s/%s", g->v[i].name, g->v[i].version);
		if ((dir = img_repo_path(&g->repo, rel)) == NULL)
			return ni_err_set(g->e, NI_ENOMEM, "out of memory");
		d = opendir(dir);
		while (d != NULL && ret == 0 && (de = readdir(d)) != NULL)
			ret = record_blob(g, dir, de->d_name);
		if (d != NULL)
			closedir(d);
		free(dir);
	}
	if (g->nb > 1)
		qsort(g->blobs, g->nb, sizeof(*g->blobs), cmp_str);
	return ret;
}
