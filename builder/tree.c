/* tree.c: the image's file tree: sorted directories of dentries, inodes
 * shared by hard links, and removal of whole subtrees. */
#include "builder/tree.h"

#include "common/grow.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct bld_inode *bld_inode_new(uint32_t mode)
{
	struct bld_inode *ino = calloc(1, sizeof(*ino));

	if (ino == NULL)
		return NULL;
	ino->mode = mode;
	ino->src.layer = -1;
	return ino;
}

void bld_inode_clear_xattrs(struct bld_inode *ino)
{
	size_t i;

	for (i = 0; i < ino->n_xattrs; i++) {
		free(ino->xattrs[i].key);
		free(ino->xattrs[i].value);
	}
	free(ino->xattrs);
	ino->xattrs = NULL;
	ino->n_xattrs = 0;
}

static void inode_free(struct bld_inode *ino)
{
	bld_inode_clear_xattrs(ino);
	free(ino->target);
	free(ino->src.mem);
	free(ino->sq);
	free(ino);
}

void bld_inode_unref(struct bld_inode *ino)
{
	if (ino != NULL && --ino->links == 0)
		inode_free(ino);
}

void bld_inode_set_mem(struct bld_inode *ino, unsigned char *buf, size_t len)
{
	free(ino->src.mem);
	ino->src.layer = -1;
	ino->src.mem = buf;
	ino->src.mem_len = len;
	ino->size = len;
}

int bld_inode_add_xattr(struct bld_inode *ino, const char *key,
			const void *value, size_t size)
{
	struct bld_xattr *x;

	size_t at;

	x = realloc(ino->xattrs, (ino->n_xattrs + 1) * sizeof(*x));
	if (x == NULL)
		return NI_ENOMEM;
	ino->xattrs = x;
	/* Kept sorted by key: the image must not depend on listing order. */
	for (at = ino->n_xattrs; at > 0 && strcmp(x[at - 1].key, key) > 0; at--)
		;
	memmove(x + at + 1, x + at, (ino->n_xattrs - at) * sizeof(*x));
	x += at;
	x->key = strdup(key);
	x->value = malloc(size ? size : 1);
	if (x->key == NULL || x->value == NULL) {
		free(x->key);
		free(x->value);
		memmove(x, x + 1, (ino->n_xattrs - at) * sizeof(*x));
		return NI_ENOMEM;
	}
	memcpy(x->value, value, size);
	x->size = size;
	ino->n_xattrs++;
	return 0;
}

int bld_is_dir(const struct bld_dentry *d)
{
	return S_ISDIR(d->ino->mode);
}

int bld_tree_init(struct bld_tree *t, int64_t mtime)
{
	t->n_dentries = 1;
	t->root = calloc(1, sizeof(*t->root));
	if (t->root == NULL)
		return NI_ENOMEM;
	t->root->name = strdup("");
	t->root->ino = bld_inode_new(S_IFDIR | 0755);
	if (t->root->name == NULL || t->root->ino == NULL) {
		free(t->root->name);
		free(t->root->ino);
		free(t->root);
		return NI_ENOMEM;
	}
	t->root->ino->links = 1;
	t->root->base_pos = UINT64_MAX;
	t->root->ino->mtime = mtime;
	return 0;
}

static void dentry_free(struct bld_dentry *d)
{
	size_t i;

	for (i = 0; i < d->n_kids; i++)
		dentry_free(d->kids[i]);
	free(d->kids);
	bld_inode_unref(d->ino);
	free(d->name);
	free(d);
}

void bld_tree_free(struct bld_tree *t)
{
	if (t->root != NULL)
		dentry_free(t->root);
	t->root = NULL;
}

/* Index of name in dir, or of where it would go (with *found = 0). */
static size_t find_slot(const struct bld_dentry *dir, const char *name,
			int *found)
{
	size_t lo = 0, hi = dir->n_kids;

	*found = 0;
	/* Archives are mostly sorted: try the end first. */
	if (hi > 0 && strcmp(dir->kids[hi - 1]->name, name) < 0)
		return hi;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(dir->kids[mid]->name, name);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct bld_dentry *bld_dir_lookup(const struct bld_dentry *dir,
				  const char *name)
{
	int found;
	size_t i = find_slot(dir, name, &found);

	return found ? dir->kids[i] : NULL;
}

static void count_dentries(const struct bld_dentry *d, uint64_t *n)
{
	size_t i;

	(*n)++;
	for (i = 0; i < d->n_kids; i++)
		count_dentries(d->kids[i], n);
}

struct bld_dentry *bld_dir_put(struct bld_tree *t, struct bld_dentry *dir,
			       const char *name, struct bld_inode *ino,
			       int layer)
{
	struct bld_dentry *d;
	int found;
	size_t i = find_slot(dir, name, &found);

	if (found) {
		d = dir->kids[i];
		if (d->ino == ino) {       /* a hard link to itself */
			d->layer = layer;
			return d;
		}
		while (d->n_kids > 0)
			bld_dentry_remove(t, d->kids[d->n_kids - 1]);
		bld_inode_unref(d->ino);
		ino->links++;
		d->ino = ino;
		d->layer = layer;
		return d;
	}
	if (ni_grow(&dir->kids, &dir->cap_kids, dir->n_kids, sizeof(*dir->kids), 8))
		return NULL;
	d = calloc(1, sizeof(*d));
	if (d == NULL || (d->name = strdup(name)) == NULL) {
		free(d);
		return NULL;
	}
	d->parent = dir;
	d->base_pos = UINT64_MAX;
	d->ino = ino;
	d->layer = layer;
	ino->links++;
	memmove(dir->kids + i + 1, dir->kids + i,
		(dir->n_kids - i) * sizeof(*dir->kids));
	dir->kids[i] = d;
	dir->n_kids++;
	t->n_dentries++;
	return d;
}

void bld_dentry_remove(struct bld_tree *t, struct bld_dentry *d)
{
	struct bld_dentry *dir = d->parent;
	uint64_t gone = 0;
	int found;
	size_t i;

	if (dir == NULL)
		return;
	i = find_slot(dir, d->name, &found);
	if (!found)
		return;
	count_dentries(d, &gone);
	t->n_dentries -= gone;
	memmove(dir->kids + i, dir->kids + i + 1,
		(dir->n_kids - i - 1) * sizeof(*dir->kids));
	dir->n_kids--;
	dentry_free(d);
}

static size_t path_into(const struct bld_dentry *d, char *buf, size_t len)
{
	size_t off, n;

	if (d->parent == NULL)
		return 0;
	off = path_into(d->parent, buf, len);
	n = strlen(d->name);
	if (off > 0 && off + 1 < len)
		buf[off++] = '/';
	if (off + n >= len)
		n = off < len ? len - off - 1 : 0;
	memcpy(buf + off, d->name, n);
	return off + n;
}

void bld_dentry_path(const struct bld_dentry *d, char *buf, size_t len)
{
	size_t n = path_into(d, buf, len);

	buf[n < len ? n : len - 1] = '\0';
}

int bld_tree_walk(struct bld_dentry *d, int post, bld_visit_fn fn, void *user)
{
	size_t i;
	int ret;

	if (!post && (ret = fn(d, user)) != 0)
		return ret;
	for (i = 0; i < d->n_kids; i++) {
		ret = bld_tree_walk(d->kids[i], post, fn, user);
		if (ret != 0)
			return ret;
	}
	return post ? fn(d, user) : 0;
}
