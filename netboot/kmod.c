/* kmod.c: kernel module dependencies. */
#include "netboot/kmod.h"

#include <elf.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"

struct mod {
	char name[64];
	char *rel;          /* path relative to the tree */
	char *deps;         /* comma-separated names, or NULL: not read yet */
	int state;          /* 0 new, 1 visiting, 2 done */
};

static struct mod *mods;
static size_t n_mods, cap_mods;
static size_t tree_len;

static void norm(char *s)
{
	for (; *s; s++)
		if (*s == '-')
			*s = '_';
}

/* "kernel/fs/squashfs/squashfs.ko" -> "squashfs" */
static void name_of(const char *rel, char *out, size_t n)
{
	const char *b = strrchr(rel, '/');
	size_t len;

	b = b ? b + 1 : rel;
	len = strcspn(b, ".");
	snprintf(out, n, "%.*s", (int)(len < n ? len : n - 1), b);
	norm(out);
}

static int walk(const char *path, const struct stat *st, int type, struct FTW *f)
{
	size_t len = strlen(path);
	struct mod *m;

	(void)st;
	(void)f;
	if (type != FTW_F || len < 4 || strcmp(path + len - 3, ".ko") != 0)
		return 0;
	if (n_mods == cap_mods) {
		cap_mods = cap_mods ? cap_mods * 2 : 512;
		if ((m = realloc(mods, cap_mods * sizeof(*mods))) == NULL)
			return -1;
		mods = m;
	}
	m = &mods[n_mods++];
	memset(m, 0, sizeof(*m));
	m->rel = strdup(path + tree_len + 1);
	name_of(m->rel, m->name, sizeof(m->name));
	return m->rel ? 0 : -1;
}

static struct mod *find(const char *name)
{
	size_t i;

	for (i = 0; i < n_mods; i++)
		if (strcmp(mods[i].name, name) == 0)
			return &mods[i];
	return NULL;
}

/* The "depends=" string of a module's .modinfo ELF section. */
static char *modinfo_depends(const char *path, struct ni_err *e)
{
	char *buf = NULL, *res = NULL;
	size_t len, i;
	const Elf64_Ehdr *h;
	const Elf64_Shdr *sh;
	const char *names;

	if (ni_read_file(path, 256u << 20, &buf, &len, e) != 0)
		return NULL;
	h = (const Elf64_Ehdr *)buf;
	if (len < sizeof(*h) || memcmp(h->e_ident, ELFMAG, SELFMAG) != 0 ||
	    h->e_ident[EI_CLASS] != ELFCLASS64 || h->e_shoff + (uint64_t)h->e_shnum * sizeof(*sh) > len ||
	    h->e_shstrndx >= h->e_shnum) {
		ni_err_set(e, NI_EINVAL, "%s: not a kernel module (ELF64)", path);
		free(buf);
		return NULL;
	}
	sh = (const Elf64_Shdr *)(buf + h->e_shoff);
	names = buf + sh[h->e_shstrndx].sh_offset;
	for (i = 0; i < h->e_shnum; i++) {
		const char *p, *end;

		if (sh[h->e_shstrndx].sh_offset + sh[i].sh_name >= len ||
		    strcmp(names + sh[i].sh_name, ".modinfo") != 0 ||
		    sh[i].sh_offset + sh[i].sh_size > len)
			continue;
		p = buf + sh[i].sh_offset;
		end = p + sh[i].sh_size;
		while (p < end) {
			size_t l = strnlen(p, (size_t)(end - p));

			if (l > 8 && strncmp(p, "depends=", 8) == 0)
				res = strndup(p + 8, l - 8);
			p += l + 1;
		}
	}
	free(buf);
	return res ? res : strdup("");
}

/* Dependencies from modules.dep: "kernel/a/x.ko: kernel/b/y.ko ..." */
static void read_modules_dep(const char *tree)
{
	char *path = ni_path_join(tree, "modules.dep"), line[8192];
	FILE *f = path ? fopen(path, "r") : NULL;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *colon = strchr(line, ':'), *tok, *save = NULL, name[64];
		struct mod *m;
		size_t used = 0, cap;

		if (colon == NULL)
			continue;
		*colon = '\0';
		name_of(line, name, sizeof(name));
		if ((m = find(name)) == NULL || m->deps != NULL)
			continue;
		cap = strlen(colon + 1) + 1;
		if ((m->deps = calloc(1, cap)) == NULL)
			break;
		for (tok = strtok_r(colon + 1, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			name_of(tok, name, sizeof(name));
			used += (size_t)snprintf(m->deps + used, cap - used, "%s%s", used ? "," : "", name);
		}
	}
	if (f != NULL)
		fclose(f);
	free(path);
}

static int visit(struct mod *m, const char *tree, struct nb_kmods *out, struct ni_err *e)
{
	char *deps, *tok, *save = NULL, *path;
	char **np;
	int ret = 0;

	if (m->state == 2)
		return 0;
	if (m->state == 1)
		return ni_err_set(e, NI_ECYCLE, "%s: module dependency cycle at %s", tree, m->name);
	m->state = 1;
	if (m->deps == NULL) {
		path = ni_path_join(tree, m->rel);
		m->deps = path ? modinfo_depends(path, e) : NULL;
		free(path);
		if (m->deps == NULL)
			return e->code ? e->code : ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	deps = strdup(m->deps);
	for (tok = deps ? strtok_r(deps, ",", &save) : NULL; tok && ret == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		struct mod *d;

		norm(tok);
		if ((d = find(tok)) == NULL)
			ret = ni_err_set(e, NI_ENOENT, "%s: module %s needs %s, which is missing",
					 tree, m->name, tok);
		else
			ret = visit(d, tree, out, e);
	}
	free(deps);
	if (ret != 0)
		return ret;
	if ((np = realloc(out->path, (out->n + 1) * sizeof(*np))) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	out->path = np;
	if ((out->path[out->n] = strdup(m->rel)) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	out->n++;
	m->state = 2;
	return 0;
}

int nb_kmods_resolve(const char *tree, const char *const *names, size_t n,
		     struct nb_kmods *out, struct ni_err *e)
{
	char name[64];
	size_t i;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	n_mods = cap_mods = 0;
	mods = NULL;
	tree_len = strlen(tree);
	if (nftw(tree, walk, 32, FTW_PHYS) != 0)
		ret = ni_err_set(e, NI_EIO, "%s: cannot read the module tree", tree);
	if (ret == 0)
		read_modules_dep(tree);
	for (i = 0; i < n && ret == 0; i++) {
		struct mod *m;

		snprintf(name, sizeof(name), "%s", names[i]);
		norm(name);
		if ((m = find(name)) != NULL)
			ret = visit(m, tree, out, e);
	}
	for (i = 0; i < n_mods; i++) {
		free(mods[i].rel);
		free(mods[i].deps);
	}
	free(mods);
	mods = NULL;
	if (ret != 0)
		nb_kmods_free(out);
	return ret;
}

void nb_kmods_free(struct nb_kmods *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->path[i]);
	free(m->path);
	memset(m, 0, sizeof(*m));
}
