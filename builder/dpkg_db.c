/* dpkg_db.c: the status stanza, the info/ files and the removal of files
 * an upgraded package no longer ships. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/dpkg_internal.h"
#include "builder/overlay.h"
#include "common/hash.h"
#include "common/grow.h"

#define STATUS "var/lib/dpkg/status"
#define INFODIR "var/lib/dpkg/info"

static const char *const info_exts[] = {
	"list", "md5sums", "conffiles", "preinst", "postinst", "prerm",
	"postrm", "config", "templates", "shlibs", "symbols", "triggers",
	NULL,
};

struct strset {
	char **v;
	size_t n, cap;
};

struct rawst {
	const char *raw;
	size_t len;
	struct bld_stanza st;
};

struct status {
	struct bld_dentry *d;
	struct rawst *s;
	size_t n;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int set_add(struct strset *s, const char *p, size_t len)
{
	if (ni_grow(&s->v, &s->cap, s->n, sizeof(*s->v), 256) != 0)
		return NI_ENOMEM;
	if ((s->v[s->n] = strndup(p, len)) == NULL)
		return NI_ENOMEM;
	s->n++;
	return 0;
}

/* Adds each line of a text buffer. */
static int set_add_lines(struct strset *s, const char *p, size_t len)
{
	const char *end = p + len;
	int ret = 0;

	while (ret == 0 && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		if (le > p)
			ret = set_add(s, p, (size_t)(le - p));
		p = le + 1;
	}
	return ret;
}

static int set_has(const struct strset *s, const char *p)
{
	return bsearch(&p, s->v, s->n, sizeof(*s->v), cmp_str) != NULL;
}

static void set_free(struct strset *s)
{
	bld_dpkg_strv_free(s->v, s->n);
	memset(s, 0, sizeof(*s));
}

static int fail(struct bld_dpkg_job *j, int code, const char *what)
{
	return ni_err_set(j->e, code, "%s: %s", j->in->path, what);
}

static int load_status(struct bld_dpkg_job *j, struct status *s)
{
	const char *p, *end;
	struct rawst *n;
	int r;

	s->d = bld_tree_resolve(j->t, STATUS, 1);
	if (s->d == NULL || !S_ISREG(s->d->ino->mode) || s->d->ino->src.layer != -1)
		return fail(j, NI_EINVAL, "a .deb patch needs a dpkg database in the base ("
			    STATUS " is missing)");
	p = (const char *)s->d->ino->src.mem;
	end = p ? p + s->d->ino->src.mem_len : p;
	while (p != NULL) {
		const char *start = p;
		struct bld_stanza st;

		while (start < end && *start == '\n')
			start++;
		r = bld_stanza_parse(&p, end, &st);
		if (r == 0)
			break;
		if (r < 0)
			return fail(j, NI_EINVAL, "the image's " STATUS " is malformed");
		n = realloc(s->s, (s->n + 1) * sizeof(*n));
		if (n == NULL) {
			bld_stanza_free(&st);
			return NI_ENOMEM;
		}
		s->s = n;
		s->s[s->n].raw = start;
		s->s[s->n].len = (size_t)(p - start);
		s->s[s->n].st = st;
		s->n++;
	}
	return 0;
}

static void status_free(struct status *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		bld_stanza_free(&s->s[i].st);
	free(s->s);
}

static int same_pkg(const struct bld_dpkg_job *j, const struct bld_stanza *st)
{
	const char *p = bld_stanza_get(st, "Package");
	const char *a = bld_stanza_get(st, "Architecture");
	const char *ma = bld_stanza_get(&j->ctl, "Multi-Arch");
	const char *arch = bld_stanza_get(&j->ctl, "Architecture");

	if (p == NULL || strcmp(p, bld_stanza_get(&j->ctl, "Package")) != 0)
		return 0;
	/* Only Multi-Arch: same packages are installed once per arch. */
	if (ma != NULL && strcmp(ma, "same") == 0 && a != NULL)
		return strcmp(a, arch) == 0 || strcmp(a, "all") == 0;
	return 1;
}

static char *info_prefix(const struct bld_stanza *st)
{
	const char *ma = bld_stanza_get(st, "Multi-Arch");
	char *out;

	if (ma != NULL && strcmp(ma, "same") == 0) {
		if (asprintf(&out, "%s:%s", bld_stanza_get(st, "Package"),
			     bld_stanza_get(st, "Architecture")) < 0)
			return NULL;
		return out;
	}
	return strdup(bld_stanza_get(st, "Package"));
}

static struct bld_dentry *info_file(struct bld_dpkg_job *j, const char *prefix,
				    const char *ext)
{
	char path[1024];

	snprintf(path, sizeof(path), INFODIR "/%s.%s", prefix, ext);
	return bld_tree_resolve(j->t, path, 1);
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/* Every other package's files, from info/ *.list. */
static int other_lists(struct bld_dpkg_job *j, struct strset *s)
{
	struct bld_dentry *info = bld_tree_resolve(j->t, INFODIR, 1);
	char own[512], old[512];
	size_t i;
	int ret = 0;

	snprintf(own, sizeof(own), "%s.list", j->prefix);
	snprintf(old, sizeof(old), "%s.list", j->old_prefix ? j->old_prefix : j->prefix);
	for (i = 0; info != NULL && ret == 0 && i < info->n_kids; i++) {
		struct bld_dentry *k = info->kids[i];
		size_t n = strlen(k->name);

		if (n < 6 || strcmp(k->name + n - 5, ".list") != 0 ||
		    strcmp(k->name, own) == 0 || strcmp(k->name, old) == 0 ||
		    k->ino->src.layer != -1)
			continue;
		ret = set_add_lines(s, (const char *)k->ino->src.mem,
				    k->ino->src.mem_len);
	}
	qsort(s->v, s->n, sizeof(*s->v), cmp_str);
	return ret;
}

static int new_dentries(struct bld_dpkg_job *j, struct bld_dentry ***out,
			size_t *n)
{
	struct bld_dentry **v = calloc(j->n_paths + 1, sizeof(*v));
	size_t i;

	if (v == NULL)
		return NI_ENOMEM;
	*n = 0;
	for (i = 0; i < j->n_paths; i++) {
		struct bld_dentry *d = bld_tree_resolve(j->t, j->paths[i] + 1, 0);

		if (d != NULL)
			v[(*n)++] = d;
	}
	qsort(v, *n, sizeof(*v), cmp_ptr);
	*out = v;
	return 0;
}

static void drop_one(struct bld_dpkg_job *j, const char *p,
		     const struct strset *mine, const struct strset *others,
		     struct bld_dentry **nd, size_t n_nd)
{
	struct bld_dentry *d;

	if (strcmp(p, "/.") == 0 || set_has(mine, p) || set_has(others, p))
		return;
	d = bld_tree_resolve(j->t, p + 1, 0);
	if (d == NULL || d->parent == NULL ||
	    bsearch(&d, nd, n_nd, sizeof(*nd), cmp_ptr) != NULL)
		return;
	if (bld_is_dir(d) && d->n_kids > 0)
		return;
	if (!bld_is_dir(d))
		j->out->removed++;
	bld_dentry_remove(j->t, d);
}

static int add_obsolete(struct bld_dpkg_job *j, const char *path, size_t plen,
			const char *hash, size_t hlen)
{
	char **a = realloc(j->obsolete, (j->n_obsolete + 1) * sizeof(*a));
	char **b = a ? realloc(j->obsolete_hash, (j->n_obsolete + 1) * sizeof(*b)) : NULL;

	if (a != NULL)
		j->obsolete = a;
	if (b == NULL)
		return NI_ENOMEM;
	j->obsolete_hash = b;
	a[j->n_obsolete] = strndup(path, plen);
	b[j->n_obsolete] = strndup(hash, hlen);
	if (a[j->n_obsolete] == NULL || b[j->n_obsolete] == NULL) {
		free(a[j->n_obsolete]);
		free(b[j->n_obsolete]);
		return NI_ENOMEM;
	}
	j->n_obsolete++;
	return 0;
}

/* The old version's conffiles this one does not ship stay on disk and in
 * the list, marked obsolete, as dpkg does: they may hold local changes. */
static int find_obsolete(struct bld_dpkg_job *j, struct strset *mine)
{
	const char *c = bld_stanza_get(&j->old, "Conffiles");
	int ret = 0;

	while (c != NULL && *c && ret == 0) {
		const char *le = strchr(c, '\n'), *p, *sp;

		if (le == NULL)
			le = c + strlen(c);
		for (p = c; p < le && *p == ' '; p++)
			;
		sp = memchr(p, ' ', (size_t)(le - p));
		if (*p == '/' && sp != NULL) {
			const char *h = sp + 1, *he = memchr(h, ' ', (size_t)(le - h));
			char *path = strndup(p, (size_t)(sp - p));

			if (path == NULL)
				return NI_ENOMEM;
			if (!set_has(mine, path)) {
				ret = add_obsolete(j, p, (size_t)(sp - p), h,
						   (size_t)((he ? he : le) - h));
				if (ret == 0)
					ret = set_add(mine, path, strlen(path));
				qsort(mine->v, mine->n, sizeof(*mine->v), cmp_str);
			}
			free(path);
		}
		c = *le ? le + 1 : le;
	}
	return ret;
}

/* Removes what the old version listed and this one does not ship. */
static int remove_dropped(struct bld_dpkg_job *j)
{
	struct bld_dentry *list = info_file(j, j->old_prefix, "list"), **nd = NULL;
	struct strset old = { 0 }, mine = { 0 }, others = { 0 };
	size_t i, n_nd = 0;
	int ret;

	if (list == NULL || list->ino->src.layer != -1)
		return 0;
	ret = set_add_lines(&old, (const char *)list->ino->src.mem,
			    list->ino->src.mem_len);
	for (i = 0; ret == 0 && i < j->n_paths; i++)
		ret = set_add(&mine, j->paths[i], strlen(j->paths[i]));
	qsort(mine.v, mine.n, sizeof(*mine.v), cmp_str);
	if (ret == 0 && j->had_old)
		ret = find_obsolete(j, &mine);
	if (ret == 0 && (ret = other_lists(j, &others)) == 0 &&
	    (ret = new_dentries(j, &nd, &n_nd)) == 0)
		for (i = old.n; i-- > 0;)   /* children before folders */
			drop_one(j, old.v[i], &mine, &others, nd, n_nd);
	free(nd);
	set_free(&old);
	set_free(&mine);
	set_free(&others);
	return ret;
}

static const char *recorded_hash(const struct bld_dpkg_job *j, const char *path,
				 char *buf, size_t len)
{
	const char *c = j->had_old ? bld_stanza_get(&j->old, "Conffiles") : NULL;
	size_t pl = strlen(path);

	for (; c != NULL && *c; c++) {
		while (*c == '\n' || *c == ' ')
			c++;
		if (*c == '/' && strncmp(c + 1, path, pl) == 0 && c[pl + 1] == ' ') {
			sscanf(c + pl + 2, "%63s", buf);
			return buf;
		}
		c = strchr(c, '\n');
		if (c == NULL)
			break;
	}
	(void)len;
	return NULL;
}

/* A conffile the image had modified stays; the package's version goes
 * beside it as .dpkg-dist (dpkg's answer with --force-confold). */
static int keep_modified(struct bld_dpkg_job *j, struct bld_dentry *d,
			 struct bld_inode *old)
{
	char name[512];
	struct bld_inode *newino = d->ino;
	struct bld_dentry *parent = d->parent;
	char *leaf = strdup(d->name);
	int ok;

	if (leaf == NULL)
		return NI_ENOMEM;
	snprintf(name, sizeof(name), "%s.dpkg-dist", leaf);
	newino->links++;
	ok = bld_dir_put(j->t, parent, name, newino, j->layer) != NULL &&
	     bld_dir_put(j->t, parent, leaf, old, j->layer) != NULL;
	bld_inode_unref(newino);
	free(leaf);
	j->out->conffiles_kept++;
	return ok ? 0 : NI_ENOMEM;
}

static int conffiles(struct bld_dpkg_job *j, char **value)
{
	char *buf = NULL, hex[33], rec[64];
	size_t len = 0, i;
	FILE *m = open_memstream(&buf, &len);
	int ret = 0;

	if (m == NULL)
		return NI_ENOMEM;
	for (i = 0; ret == 0 && i < j->pre_n; i++) {
		const char *path = bld_dpkg_pre_path(j, i);
		struct bld_inode *old = bld_dpkg_pre_old(j, i);
		struct bld_dentry *d = bld_tree_resolve(j->t, path, 0);
		const char *was = recorded_hash(j, path, rec, sizeof(rec));

		if (d == NULL || !S_ISREG(d->ino->mode))
			continue;
		if (d->ino->has_md5)
			ni_hex(d->ino->md5, 16, hex);
		else
			strcpy(hex, "newconffile");
		fprintf(m, "\n /%s %s", path, hex);
		/* (obsolete ones follow the loop) */
		if (old != NULL && old != d->ino && old->has_md5 && was != NULL) {
			char oldhex[33];

			ni_hex(old->md5, 16, oldhex);
			if (strcmp(oldhex, was) != 0)
				ret = keep_modified(j, d, old);
		}
	}
	for (i = 0; i < j->n_obsolete; i++)
		fprintf(m, "\n %s %s obsolete", j->obsolete[i], j->obsolete_hash[i]);
	if (fclose(m) != 0 && ret == 0)
		ret = NI_ENOMEM;
	if (ret != 0 || len == 0) {
		free(buf);
		buf = NULL;
	}
	*value = buf;
	return ret;
}

static int new_stanza(struct bld_dpkg_job *j, char **text)
{
	struct bld_stanza st = { 0 };
	char *conf = NULL;
	const char *ostat = j->had_old ? bld_stanza_get(&j->old, "Status") : NULL;
	const char *cfgv = NULL;
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < j->ctl.n; i++)
		ret = bld_stanza_set(&st, j->ctl.f[i].name, j->ctl.f[i].value);
	if (ostat != NULL) {
		size_t n = strlen(ostat);

		/* dpkg remembers the configured version of an upgrade. */
		cfgv = (n > 10 && strcmp(ostat + n - 10, " installed") == 0)
			? bld_stanza_get(&j->old, "Version")
			: bld_stanza_get(&j->old, "Config-Version");
	}
	/* dpkg leaves out fields that only state the default. */
	if (bld_stanza_get(&st, "Essential") && strcmp(bld_stanza_get(&st, "Essential"), "no") == 0)
		bld_stanza_del(&st, "Essential");
	if (bld_stanza_get(&st, "Protected") && strcmp(bld_stanza_get(&st, "Protected"), "no") == 0)
		bld_stanza_del(&st, "Protected");
	if (bld_stanza_get(&st, "Multi-Arch") && strcmp(bld_stanza_get(&st, "Multi-Arch"), "no") == 0)
		bld_stanza_del(&st, "Multi-Arch");
	if (ret == 0)
		ret = bld_stanza_set(&st, "Status", "install ok unpacked");
	if (ret == 0 && cfgv != NULL)
		ret = bld_stanza_set(&st, "Config-Version", cfgv);
	if (ret == 0 && (ret = conffiles(j, &conf)) == 0 && conf != NULL)
		ret = bld_stanza_set(&st, "Conffiles", conf);
	free(conf);
	*text = ret == 0 ? bld_stanza_format(&st) : NULL;
	bld_stanza_free(&st);
	return ret ? ret : (*text ? 0 : NI_ENOMEM);
}

static int write_status(struct bld_dpkg_job *j, struct status *s, long idx,
			const char *stanza)
{
	const char *pkg = bld_stanza_get(&j->ctl, "Package");
	char *buf = NULL;
	size_t len = 0, i;
	int placed = 0;
	FILE *m = open_memstream(&buf, &len);

	if (m == NULL)
		return NI_ENOMEM;
	for (i = 0; i < s->n; i++) {
		const char *p = bld_stanza_get(&s->s[i].st, "Package");

		if (!placed && idx < 0 && p != NULL && strcmp(p, pkg) > 0) {
			fprintf(m, "%s\n", stanza);
			placed = 1;
		}
		if ((long)i == idx) {
			fprintf(m, "%s\n", stanza);
			placed = 1;
			continue;
		}
		fwrite(s->s[i].raw, 1, s->s[i].len, m);
		fputc('\n', m);
	}
	if (!placed)
		fprintf(m, "%s\n", stanza);
	if (fclose(m) != 0) {
		free(buf);
		return NI_ENOMEM;
	}
	bld_inode_set_mem(s->d->ino, (unsigned char *)buf, len);
	s->d->ino->mtime = j->mtime;
	return 0;
}

/* Rewrites a list file without the lines in drop. */
static int drop_lines(struct bld_inode *ino, const struct strset *drop)
{
	const char *p = (const char *)ino->src.mem, *end = p + ino->src.mem_len;
	char *out = malloc(ino->src.mem_len + 1), *o = out, line[4096];
	int changed = 0;

	if (out == NULL)
		return NI_ENOMEM;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
		}
		if (n < sizeof(line) && set_has(drop, line)) {
			changed = 1;
		} else {
			memcpy(o, p, n);
			o += n;
			*o++ = '\n';
		}
		p += n + 1;
	}
	if (!changed) {
		free(out);
		return 0;
	}
	bld_inode_set_mem(ino, (unsigned char *)out, (size_t)(o - out));
	return 0;
}

static int is_info_of(const char *name, const char *prefix)
{
	size_t n = strlen(prefix), i;

	if (prefix == NULL || strncmp(name, prefix, n) != 0 || name[n] != '.')
		return 0;
	for (i = 0; info_exts[i] != NULL; i++)
		if (strcmp(name + n + 1, info_exts[i]) == 0)
			return 1;
	return 0;
}

static int put_info(struct bld_dpkg_job *j, struct bld_dentry *info,
		    const char *ext, const void *data, size_t len, uint32_t mode)
{
	struct bld_inode *ino = bld_inode_new(S_IFREG | (mode & 07777));
	unsigned char *copy = malloc(len ? len : 1);
	char name[512];

	if (ino == NULL || copy == NULL) {
		free(ino);
		free(copy);
		return NI_ENOMEM;
	}
	memcpy(copy, data, len);
	bld_inode_set_mem(ino, copy, len);
	ni_md5_buf(copy, len, ino->md5);
	ino->mtime = j->mtime;
	snprintf(name, sizeof(name), "%s.%s", j->prefix, ext);
	return bld_dir_put(j->t, info, name, ino, j->layer) ? 0 : NI_ENOMEM;
}

static int is_conffile(const struct bld_dpkg_job *j, const char *path)
{
	size_t i;

	for (i = 0; i < j->pre_n; i++)
		if (strcmp(bld_dpkg_pre_path(j, i), path) == 0)
			return 1;
	return 0;
}

/* dpkg writes PKG.md5sums itself for a package that ships none: every
 * regular file but the conffiles, in the package's order. */
static int make_md5sums(struct bld_dpkg_job *j, struct bld_dentry *info)
{
	char *buf = NULL, hex[33];
	size_t len = 0, i;
	FILE *m = open_memstream(&buf, &len);
	int ret;

	if (m == NULL)
		return NI_ENOMEM;
	for (i = 0; i < j->n_paths; i++) {
		const char *p = j->paths[i] + 1;
		struct bld_dentry *d = bld_tree_resolve(j->t, p, 0);

		if (d == NULL || !S_ISREG(d->ino->mode) || !d->ino->has_md5 ||
		    is_conffile(j, p))
			continue;
		ni_hex(d->ino->md5, 16, hex);
		fprintf(m, "%s  %s\n", hex, p);
	}
	if (fclose(m) != 0) {
		free(buf);
		return NI_ENOMEM;
	}
	ret = len ? put_info(j, info, "md5sums", buf, len, 0644) : 0;
	free(buf);
	return ret;
}

/* Files this package now ships leave other packages' lists, as when dpkg
 * replaces them (Replaces:); folders stay shared. */
static int take_over(struct bld_dpkg_job *j, struct bld_dentry *info)
{
	struct strset mine = { 0 };
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < j->n_paths; i++) {
		/* Followed: a folder reached through merged-/usr's links
		 * (/lib) is shared, never taken. */
		struct bld_dentry *d = bld_tree_resolve(j->t, j->paths[i] + 1, 1);

		if (d != NULL && !bld_is_dir(d))
			ret = set_add(&mine, j->paths[i], strlen(j->paths[i]));
	}
	qsort(mine.v, mine.n, sizeof(*mine.v), cmp_str);
	for (i = 0; ret == 0 && mine.n > 0 && i < info->n_kids; i++) {
		struct bld_dentry *k = info->kids[i];
		size_t n = strlen(k->name);

		if (n < 6 || strcmp(k->name + n - 5, ".list") != 0 ||
		    is_info_of(k->name, j->prefix) || k->ino->src.layer != -1)
			continue;
		ret = drop_lines(k->ino, &mine);
	}
	set_free(&mine);
	return ret;
}

/* Where the base had the package's info files, by extension ("list"). */
struct places {
	struct place {
		char *ext;
		uint64_t pos;
	} *v;
	size_t n, cap;
};

static int remember_place(struct places *p, const struct bld_dentry *d,
			  const char *prefix)
{
	if (d->base_pos == UINT64_MAX)
		return 0;
	if (ni_grow(&p->v, &p->cap, p->n, sizeof(*p->v), 8) != 0 ||
	    (p->v[p->n].ext = strdup(d->name + strlen(prefix) + 1)) == NULL)
		return NI_ENOMEM;
	p->v[p->n++].pos = d->base_pos;
	return 0;
}

/* The rewritten info files take the places the old ones had in the base
 * (passes.c writes files in the base's order), so that an unchanged one
 * (the .list, .triggers of most updates) changes no fragment group. */
static void restore_places(struct bld_dpkg_job *j, struct places *p)
{
	char path[512];
	size_t i;

	for (i = 0; i < p->n; i++) {
		struct bld_dentry *d;

		snprintf(path, sizeof(path), INFODIR "/%s.%s", j->prefix, p->v[i].ext);
		d = bld_tree_resolve(j->t, path, 0);
		if (d != NULL && !bld_is_dir(d) && d->base_pos == UINT64_MAX)
			d->base_pos = p->v[i].pos;
		free(p->v[i].ext);
	}
	free(p->v);
}

static int write_info(struct bld_dpkg_job *j)
{
	struct bld_dentry *info = bld_tree_resolve(j->t, INFODIR, 1);
	struct places places = { 0 };
	char *list = NULL;
	size_t len = 0, i;
	FILE *m;
	int ret = 0;

	if (info == NULL || !bld_is_dir(info))
		return fail(j, NI_EINVAL, "the image has no " INFODIR " folder");
	for (i = info->n_kids; ret == 0 && i-- > 0;) {
		struct bld_dentry *k = info->kids[i];
		const char *prefix = is_info_of(k->name, j->prefix) ? j->prefix
			: j->old_prefix && is_info_of(k->name, j->old_prefix)
			? j->old_prefix : NULL;

		if (prefix == NULL)
			continue;
		ret = remember_place(&places, k, prefix);
		bld_dentry_remove(j->t, k);
	}
	if (ret != 0 || (m = open_memstream(&list, &len)) == NULL) {
		restore_places(j, &places);
		return NI_ENOMEM;
	}
	for (i = 0; i < j->n_paths; i++)
		fprintf(m, "%s\n", j->paths[i]);
	for (i = 0; i < j->n_obsolete; i++)
		fprintf(m, "%s\n", j->obsolete[i]);
	if (fclose(m) == 0)
		ret = put_info(j, info, "list", list, len, 0644);
	free(list);
	if (ret == 0 && bld_input_ctlfile(j->in, "md5sums") == NULL)
		ret = make_md5sums(j, info);
	if (ret == 0)
		ret = take_over(j, info);
	for (i = 0; ret == 0 && i < j->in->n_ctl; i++) {
		const struct bld_ctlfile *c = &j->in->ctl[i];

		if (strcmp(c->name, "control") == 0 || strchr(c->name, '/'))
			continue;
		ret = put_info(j, info, c->name, c->data, c->len, c->mode);
	}
	restore_places(j, &places);
	return ret;
}

int bld_dpkg_run(struct bld_dpkg_job *j)
{
	struct status s = { 0 };
	char *stanza = NULL;
	long idx = -1;
	size_t i;
	int ret;

	j->prefix = info_prefix(&j->ctl);
	if (j->prefix == NULL)
		return NI_ENOMEM;
	if ((ret = load_status(j, &s)) != 0)
		goto out;
	for (i = 0; i < s.n && idx < 0; i++)
		if (same_pkg(j, &s.s[i].st))
			idx = (long)i;
	if (idx >= 0) {
		j->old = s.s[idx].st;         /* borrowed; cleared below */
		j->had_old = 1;
		j->old_prefix = info_prefix(&j->old);
		j->out->old_version = strdup(bld_stanza_get(&j->old, "Version"));
	}
	j->out->package = strdup(bld_stanza_get(&j->ctl, "Package"));
	j->out->version = strdup(bld_stanza_get(&j->ctl, "Version"));
	j->out->arch = strdup(bld_stanza_get(&j->ctl, "Architecture"));
	if ((j->old_prefix && (ret = remove_dropped(j)) != 0) ||
	    (ret = new_stanza(j, &stanza)) != 0 ||
	    (ret = write_status(j, &s, idx, stanza)) != 0 ||
	    (ret = write_info(j)) != 0)
		goto out;
out:
	if (ret == NI_ENOMEM)
		ni_err_set(j->e, ret, "%s: out of memory", j->in->path);
	memset(&j->old, 0, sizeof(j->old));
	free(stanza);
	status_free(&s);
	return ret;
}
