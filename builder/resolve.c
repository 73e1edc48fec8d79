/* resolve.c: path lookup inside the image tree, following symlinks the way
 * the kernel would inside a chroot of the image: absolute targets start at
 * the image's root and ".." never climbs above it. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/overlay.h"

#define MAX_HOPS 40

int bld_path_normalize(const char *in, char *buf, size_t len)
{
	size_t o = 0;
	const char *p = in;

	while (*p != '\0') {
		const char *s = p;
		size_t n;

		while (*p != '\0' && *p != '/')
			p++;
		n = (size_t)(p - s);
		if (*p == '/')
			p++;
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return NI_EUNSAFE;
		if (o + n + 2 > len)
			return NI_EINVAL;
		if (o > 0)
			buf[o++] = '/';
		memcpy(buf + o, s, n);
		o += n;
	}
	buf[o] = '\0';
	return 0;
}

static struct bld_dentry *walk(struct bld_tree *t, struct bld_dentry *cur,
			       const char *path, int follow_last, int *hops);

static struct bld_dentry *follow(struct bld_tree *t, struct bld_dentry *link,
				 int *hops)
{
	const char *target = link->ino->target;

	if (++*hops > MAX_HOPS || target == NULL)
		return NULL;
	return walk(t, target[0] == '/' ? t->root : link->parent, target, 1,
		    hops);
}

static struct bld_dentry *walk(struct bld_tree *t, struct bld_dentry *cur,
			       const char *path, int follow_last, int *hops)
{
	char name[256];
	const char *p = path;

	while (cur != NULL && *p != '\0') {
		const char *s = p;
		size_t n;

		while (*p != '\0' && *p != '/')
			p++;
		n = (size_t)(p - s);
		while (*p == '/')
			p++;
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (n >= sizeof(name))
			return NULL;
		if (!bld_is_dir(cur))
			return NULL;
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			cur = cur->parent ? cur->parent : cur;
			continue;
		}
		memcpy(name, s, n);
		name[n] = '\0';
		cur = bld_dir_lookup(cur, name);
		if (cur != NULL && S_ISLNK(cur->ino->mode) &&
		    (*p != '\0' || follow_last))
			cur = follow(t, cur, hops);
	}
	return cur;
}

struct bld_dentry *bld_tree_resolve(struct bld_tree *t, const char *path,
				    int follow_last)
{
	int hops = 0;

	return walk(t, t->root, path, follow_last, &hops);
}

struct bld_dentry *bld_dentry_follow(struct bld_tree *t, struct bld_dentry *d)
{
	int hops = 0;

	while (d != NULL && S_ISLNK(d->ino->mode))
		d = follow(t, d, &hops);
	return d;
}
