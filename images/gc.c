/* gc.c: the driver of `netimg gc` and the removals. The order of steps
 * is what keeps a crash harmless (docs/formats.md, "Garbage
 * collection"): (1) new packs and their .idx, (2) kept versions'
 * location files switched to them by atomic rename, (3) the list of
 * versions without the removed ones, (4) each removed version's manifest
 * (then it no longer exists), attachments and location file, (5) chunk
 * indexes no kept version names, (6) dead and replaced packs, .idx before
 * .pack (publish dedups against every .idx), (7) blobs no kept attachment
 * names, (8) netboot files (boot/) no kept manifest names. Kept versions never reference anything removed at any step. */
#include "images/gc.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/grow.h"
#include "images/gc_internal.h"
#include "images/keys.h"
#include "images/publish_internal.h"

int gc_item(struct gc *g, enum img_gc_what what, uint64_t bytes,
	    const char *name, const char *fmt, ...)
{
	struct img_gc_result *r = g->r;
	struct img_gc_item *it;
	va_list ap;

	if (ni_grow(&r->items, &r->cap, r->n, sizeof(*r->items), 32) != 0)
		return ni_err_set(g->e, NI_ENOMEM, "out of memory");
	it = &r->items[r->n++];
	memset(it, 0, sizeof(*it));
	it->what = what;
	it->bytes = bytes;
	snprintf(it->name, sizeof(it->name), "%s", name);
	va_start(ap, fmt);
	vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
	va_end(ap);
	if (what != IMG_GC_KEPT)
		r->freed += bytes;
	return 0;
}

int gc_unlink(struct gc *g, const char *rel, uint64_t *bytes)
{
	char *path = img_repo_path(&g->repo, rel);
	struct stat st;
	int ret = 0;

	if (path == NULL)
		return ni_err_set(g->e, NI_ENOMEM, "out of memory");
	if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
		if (!g->o->dry_run && unlink(path) != 0 && errno != ENOENT)
			ret = ni_err_errno(g->e, errno, "%s: cannot remove", path);
		else
			*bytes += (uint64_t)st.st_size;
	}
	free(path);
	return ret;
}

/* Removes the files of folder public/REL (not recursing), then the
 * folder. */
static int unlink_dir(struct gc *g, const char *rel, uint64_t *bytes, size_t *count)
{
	char *dir = img_repo_path(&g->repo, rel), sub[400];
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (dir == NULL)
		return ni_err_set(g->e, NI_ENOMEM, "out of memory");
	d = opendir(dir);
	while (d != NULL && ret == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", rel, de->d_name);
		ret = gc_unlink(g, sub, bytes);
		if (count != NULL && de->d_name[0] != '.')
			(*count)++;
	}
	if (d != NULL)
		closedir(d);
	if (ret == 0 && d != NULL && !g->o->dry_run)
		rmdir(dir);
	free(dir);
	return ret;
}

/* Removes public/A/B if it is an empty folder (a NAME folder left empty). */
static void rmdir_empty(struct gc *g, const char *a, const char *b)
{
	char rel[300], *path;

	snprintf(rel, sizeof(rel), "%s/%s", a, b);
	if (!g->o->dry_run && (path = img_repo_path(&g->repo, rel)) != NULL) {
		rmdir(path);   /* fails, harmlessly, unless empty */
		free(path);
	}
}

static int remove_version(struct gc *g, const struct gc_ver *v)
{
	char rel[300], spec[200];
	uint64_t bytes = 0;
	size_t att = 0;
	int ret;

	snprintf(spec, sizeof(spec), "%s@%s", v->name, v->version);
	snprintf(rel, sizeof(rel), "versions/%s/%s.json", v->name, v->version);
	if ((ret = gc_unlink(g, rel, &bytes)) != 0)
		return ret;
	snprintf(rel, sizeof(rel), "attachments/%s/%s", v->name, v->version);
	if ((ret = unlink_dir(g, rel, &bytes, &att)) != 0)
		return ret;
	snprintf(rel, sizeof(rel), "attachments/%s/%s.json", v->name, v->version);
	if ((ret = gc_unlink(g, rel, &bytes)) != 0)
		return ret;
	snprintf(rel, sizeof(rel), "locations/%s/%s.json", v->name, v->version);
	if ((ret = gc_unlink(g, rel, &bytes)) != 0)
		return ret;
	rmdir_empty(g, "versions", v->name);
	rmdir_empty(g, "locations", v->name);
	rmdir_empty(g, "attachments", v->name);
	g->r->versions_removed++;
	if (att == 0)
		return gc_item(g, IMG_GC_VERSION, bytes, spec, "manifest, locations");
	return gc_item(g, IMG_GC_VERSION, bytes, spec, "manifest, locations, %zu attachment%s",
		       att, att == 1 ? "" : "s");
}

static int known_version(struct gc *g, const char *name, const char *version)
{
	size_t i;

	for (i = 0; i < g->nv; i++)
		if (strcmp(g->v[i].name, name) == 0 && strcmp(g->v[i].version, version) == 0)
			return 1;
	return 0;
}

/* Left by a publish or an attach that stopped before its manifest: a
 * location file or attachments of a version that does not exist. */
static int remove_orphans(struct gc *g, const char *top, int dirs)
{
	char *tdir = img_repo_path(&g->repo, top), *ndir, rel[400], ver[100];
	struct dirent *de, *fe;
	DIR *d, *nd;
	int ret = 0;

	if (tdir == NULL)
		return ni_err_set(g->e, NI_ENOMEM, "out of memory");
	d = opendir(tdir);
	while (d != NULL && ret == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !img_valid_name(de->d_name) ||
		    (ndir = ni_path_join(tdir, de->d_name)) == NULL)
			continue;
		nd = opendir(ndir);
		while (nd != NULL && ret == 0 && (fe = readdir(nd)) != NULL) {
			size_t n = strlen(fe->d_name), vl = n - (dirs ? 0 : 5);
			uint64_t bytes = 0;
			struct stat st;
			char *full;

			if (fe->d_name[0] == '.' || (!dirs && n < 6) || vl >= sizeof(ver) ||
			    (!dirs && strcmp(fe->d_name + vl, ".json") != 0))
				continue;
			snprintf(ver, sizeof(ver), "%.*s", (int)vl, fe->d_name);
			if (!img_valid_name(ver) || known_version(g, de->d_name, ver) ||
			    (full = ni_path_join(ndir, fe->d_name)) == NULL)
				continue;
			if (stat(full, &st) != 0 || !S_ISDIR(st.st_mode) != !dirs) {
				free(full);
				continue;
			}
			free(full);
			snprintf(rel, sizeof(rel), "%s/%.64s/%.64s%s", top, de->d_name, ver,
				 dirs ? "" : ".json");
			ret = dirs ? unlink_dir(g, rel, &bytes, NULL) : gc_unlink(g, rel, &bytes);
			if (ret == 0)
				ret = gc_item(g, IMG_GC_DEBRIS, bytes, rel,
					      "of %s@%s, which is not published (an interrupted writer)",
					      de->d_name, ver);
		}
		if (nd != NULL)
			closedir(nd);
		free(ndir);
		rmdir_empty(g, top, de->d_name);
	}
	if (d != NULL)
		closedir(d);
	free(tdir);
	return ret;
}

static int index_kept(struct gc *g, const char *hex)
{
	size_t i;

	for (i = 0; i < g->nv; i++)
		if (g->v[i].why[0] != '\0' && strncmp(g->v[i].index_sha, hex, 64) == 0)
			return 1;
	return 0;
}

/* indexes/: HEX.bin, a kept version's index, and HEX.from-OLD, a delta
 * to it, stay; anything else named by a hash goes (format 1's HEX.json
 * too). */
static int index_file_kept(struct gc *g, const char *name)
{
	const char *rest = name + 64;

	if (strcmp(rest, ".bin") != 0 &&
	    !(strncmp(rest, ".from-", 6) == 0 && strlen(rest + 6) == 64 &&
	      strspn(rest + 6, "0123456789abcdef") == 64))
		return 0;
	return index_kept(g, name);
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int blob_kept(struct gc *g, const char *hex)
{
	const char *key = hex;

	return g->nb && bsearch(&key, g->blobs, g->nb, sizeof(*g->blobs), cmp_strp) != NULL;
}

static int boot_kept(struct gc *g, const char *file)
{
	size_t i;

	for (i = 0; i < g->nv; i++)
		if (g->v[i].why[0] != '\0' &&
		    (strcmp(g->v[i].boot[0], file) == 0 || strcmp(g->v[i].boot[1], file) == 0))
			return 1;
	return 0;
}

/* Content-named files in public/TOP (64 hex digits and suffix, or any
 * name starting with 64 hex digits when suffix is NULL) that kept does
 * not keep, and leftovers of writers stopped by a crash
 * (.new.XXXXXX, NAME.tmp.XXXXXX: only writers holding the lock write
 * here, and gc holds it); with kept NULL, only the leftovers. */
static int sweep(struct gc *g, const char *top, enum img_gc_what what,
		 int (*kept)(struct gc *g, const char *hex), const char *suffix)
{
	char *dir = img_repo_path(&g->repo, top), rel[300];
	size_t sl = suffix ? strlen(suffix) : 0;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (dir == NULL)
		return ni_err_set(g->e, NI_ENOMEM, "out of memory");
	d = opendir(dir);
	while (d != NULL && ret == 0 && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		uint64_t bytes = 0;
		int leftover = strncmp(de->d_name, ".new.", 5) == 0 ||
			       strstr(de->d_name, ".tmp.") != NULL;

		if (!leftover && (kept == NULL ||
				  strspn(de->d_name, "0123456789abcdef") != 64 ||
				  (suffix != NULL && (n != 64 + sl ||
						      strcmp(de->d_name + 64, suffix) != 0)) ||
				  kept(g, de->d_name)))
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", top, de->d_name);
		if ((ret = gc_unlink(g, rel, &bytes)) == 0)
			ret = gc_item(g, leftover ? IMG_GC_DEBRIS : what, bytes, de->d_name,
				      leftover ? "a writer's unfinished file" : "no kept version uses it");
		if (ret == 0 && what == IMG_GC_BLOB && !leftover)
			g->r->blobs_removed++;
	}
	if (d != NULL)
		closedir(d);
	free(dir);
	return ret;
}

static int remove_packs(struct gc *g)
{
	char rel[120];
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < g->np; i++) {
		struct gc_pack *p = &g->p[i];
		uint64_t bytes = 0;

		if (p->fate == GC_KEEP)
			continue;
		snprintf(rel, sizeof(rel), "packs/%s.idx", p->name);
		if ((ret = gc_unlink(g, rel, &bytes)) != 0)
			break;
		snprintf(rel, sizeof(rel), "packs/%s.pack", p->name);
		if ((ret = gc_unlink(g, rel, &bytes)) != 0)
			break;
		if (p->fate == GC_REMOVE) {
			g->r->packs_removed++;
			ret = gc_item(g, IMG_GC_PACK, bytes, p->name, "%s",
				      !p->has_idx ? "no .idx: an interrupted writer's" : "no live chunk");
		} else {
			uint64_t now = p->live + p->new_idx_size;

			g->r->packs_rewritten++;
			ret = gc_item(g, IMG_GC_REPACK, bytes > now ? bytes - now : 0, p->name,
				      "%llu%% live: %llu -> %llu bytes%s%.16s%s",
				      (unsigned long long)(p->live * 100 / (p->size ? p->size : 1)),
				      (unsigned long long)p->size, (unsigned long long)p->live,
				      g->o->dry_run ? "" : " as ", p->new_name,
				      g->o->dry_run ? "" : "...");
		}
	}
	return ret;
}

static int report_versions(struct gc *g)
{
	char spec[200];
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < g->nv; i++) {
		if (g->v[i].why[0] == '\0')
			continue;
		g->r->versions_kept++;
		snprintf(spec, sizeof(spec), "%s@%s", g->v[i].name, g->v[i].version);
		ret = gc_item(g, IMG_GC_KEPT, 0, spec, "%s", g->v[i].why);
	}
	return ret;
}

static int run(struct gc *g)
{
	char *pub = img_key_public_path(g->repo.dir);
	size_t i;
	int ret;

	ret = pub ? img_key_load_public(pub, &g->pub, g->e)
		  : ni_err_set(g->e, NI_ENOMEM, "out of memory");
	free(pub);
	if (ret != 0 || (ret = gc_scan_versions(g)) != 0 || (ret = gc_scan_channels(g)) != 0 ||
	    (ret = gc_load_packs(g)) != 0 || (ret = gc_mark_live(g)) != 0 ||
	    (ret = gc_scan_blobs(g)) != 0 || (ret = report_versions(g)) != 0)
		return ret;
	gc_plan_packs(g);
	if (!g->o->dry_run &&
	    ((ret = gc_rewrite_packs(g)) != 0 || (ret = gc_rewrite_locations(g)) != 0 ||
	     (ret = img_write_versions_list(&g->repo, gc_is_removed, g, g->e)) != 0))
		return ret;
	for (i = 0; ret == 0 && i < g->nv; i++)
		if (g->v[i].why[0] == '\0')
			ret = remove_version(g, &g->v[i]);
	if (ret == 0)
		ret = remove_orphans(g, "locations", 0);
	if (ret == 0)
		ret = remove_orphans(g, "attachments", 1);
	if (ret == 0)
		ret = remove_orphans(g, "attachments", 0);
	if (ret == 0)
		ret = sweep(g, "indexes", IMG_GC_INDEX, index_file_kept, NULL);
	if (ret == 0)
		ret = remove_packs(g);
	if (ret == 0)
		ret = sweep(g, "packs", IMG_GC_DEBRIS, NULL, "");
	if (ret == 0)
		ret = sweep(g, "blobs", IMG_GC_BLOB, blob_kept, "");
	if (ret == 0)
		ret = sweep(g, "boot", IMG_GC_BOOT, boot_kept, ".vmlinuz");
	if (ret == 0)
		ret = sweep(g, "boot", IMG_GC_BOOT, boot_kept, ".initramfs");
	return ret;
}

int img_gc(const struct img_gc_opts *o, struct img_gc_result *r, struct ni_err *e)
{
	struct gc g = { .o = o, .r = r, .e = e };
	size_t i;
	int ret;

	memset(r, 0, sizeof(*r));
	g.keep = o->keep < 0 ? IMG_GC_KEEP_DEFAULT : o->keep;
	if ((ret = img_repo_open(&g.repo, o->repo, 1, e)) != 0)
		return ret;
	ret = run(&g);
	for (i = 0; i < g.nv; i++) {
		free(g.v[i].name);
		free(g.v[i].version);
	}
	for (i = 0; i < g.np; i++)
		free(g.p[i].c);
	for (i = 0; i < g.nb; i++)
		free(g.blobs[i]);
	free(g.v);
	free(g.p);
	free(g.blobs);
	EVP_PKEY_free(g.pub);
	img_repo_close(&g.repo);
	return ret;
}

void img_gc_result_free(struct img_gc_result *r)
{
	free(r->items);
	memset(r, 0, sizeof(*r));
}
