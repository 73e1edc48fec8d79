/* overlay.c: applies one layer's entries to the tree (the first pass). */
#include "builder/overlay.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/hash.h"
#include "common/grow.h"

#define PATH_MAXLEN 4096
#define CAPTURE_MAX (64u << 20)

/* dpkg's database is edited in memory, so its files are read in the first
 * pass; files under etc/ get an MD5 to tell modified conffiles. */
static int wants_capture(const char *path)
{
	return strncmp(path, "var/lib/dpkg/", 13) == 0;
}

static int wants_md5(const struct bld_overlay *ov, const char *path)
{
	size_t i;

	if (strncmp(path, "etc/", 4) == 0)
		return 1;
	for (i = 0; i < ov->n_md5_paths; i++)
		if (strcmp(ov->md5_paths[i], path) == 0)
			return 1;
	return 0;
}

static int unsafe(struct bld_overlay *ov, struct bld_input *in,
		  const char *entry, const char *why)
{
	return ni_err_set(ov->e, NI_EUNSAFE, "%s: entry '%s': %s", in->path,
			  entry, why);
}

static struct bld_inode *implicit_dir(struct bld_overlay *ov)
{
	struct bld_inode *ino = bld_inode_new(S_IFDIR | 0755);

	if (ino != NULL)
		ino->mtime = ov->clamp >= 0 ? ov->clamp : 0;
	return ino;
}

/* Finds (creating folders as needed) the folder an entry goes into. */
static int get_parent(struct bld_overlay *ov, struct bld_input *in,
		      const char *entry, char *norm, struct bld_dentry **dir,
		      const char **leaf)
{
	struct bld_dentry *cur = ov->tree->root, *next;
	char *p = norm, *slash;

	while ((slash = strchr(p, '/')) != NULL) {
		*slash = '\0';
		next = bld_dir_lookup(cur, p);
		if (next == NULL) {
			struct bld_inode *ino = implicit_dir(ov);

			next = ino ? bld_dir_put(ov->tree, cur, p, ino, ov->layer) : NULL;
			if (next == NULL)
				return ni_err_set(ov->e, NI_ENOMEM, "out of memory");
		} else if (S_ISLNK(next->ino->mode)) {
			if (next->layer == ov->layer)
				return unsafe(ov, in, entry,
					      "would be written through a symlink the same archive creates");
			next = bld_dentry_follow(ov->tree, next);
			if (next == NULL)
				return unsafe(ov, in, entry,
					      "its folder is a dangling symlink");
		}
		if (!bld_is_dir(next))
			return ni_err_set(ov->e, NI_EINVAL,
					  "%s: entry '%s': a parent is not a folder",
					  in->path, entry);
		*slash = '/';
		p = slash + 1;
		cur = next;
	}
	*dir = cur;
	*leaf = p;
	return 0;
}

static int set_meta(struct bld_overlay *ov, struct bld_inode *ino,
		    struct archive_entry *ent)
{
	const char *key;
	const void *val;
	size_t size;
	int64_t mt = archive_entry_mtime(ent);

	ino->mode = archive_entry_mode(ent);
	ino->uid = (uint32_t)archive_entry_uid(ent);
	ino->gid = (uint32_t)archive_entry_gid(ent);
	ino->mtime = (ov->clamp >= 0 && mt > ov->clamp) ? ov->clamp : mt;
	if (ino->mtime < 0)
		ino->mtime = 0;
	archive_entry_xattr_reset(ent);
	while (archive_entry_xattr_next(ent, &key, &val, &size) == ARCHIVE_OK) {
		/* squashfs stores these namespaces only. */
		if (strncmp(key, "user.", 5) != 0 &&
		    strncmp(key, "trusted.", 8) != 0 &&
		    strncmp(key, "security.", 9) != 0)
			continue;
		if (bld_inode_add_xattr(ino, key, val, size) != 0)
			return NI_ENOMEM;
	}
	return 0;
}

/* Streams an entry's data: into its MD5 when want_md5, and into the
 * spool (for a patch's file, so the second pass need not reopen the
 * patch) when ov->spool_fd >= 0. */
static int stream_data(struct bld_overlay *ov, struct bld_input *in,
		       struct bld_inode *ino, const char *path, int want_md5)
{
	unsigned char buf[1 << 16];
	struct ni_sha256 *h = want_md5 ? ni_md5_new() : NULL;
	uint64_t used = 0, at = *ov->spool_size;
	size_t got;
	int ret;

	if (want_md5 && h == NULL)
		return ni_err_set(ov->e, NI_ENOMEM, "out of memory");
	while ((ret = bld_input_read(in, buf, sizeof(buf), &got)) == 0 && got > 0) {
		if (h != NULL)
			ni_sha256_update(h, buf, got);
		if (pwrite(ov->spool_fd, buf, got, (off_t)(at + used)) != (ssize_t)got) {
			ret = ni_err_errno(ov->e, errno, "%s: cannot spool '%s'",
					   in->path, path);
			break;
		}
		used += got;
	}
	if (ret == 0 && used != ino->size)
		ret = ni_err_set(ov->e, NI_EARCHIVE, "%s: entry '%s': truncated",
				 in->path, path);
	if (ret != 0) {
		if (h != NULL)
			ni_sha256_free(h);
		return ret;
	}
	if (h != NULL) {
		uint8_t d[NI_SHA256_LEN];

		ni_sha256_final(h, d);   /* MD5: the first 16 bytes */
		memcpy(ino->md5, d, sizeof(ino->md5));
		ino->has_md5 = 1;
	}
	ino->src.spooled = 1;
	ino->src.spool_off = at;
	*ov->spool_size += used;
	return 0;
}

static int read_content(struct bld_overlay *ov, struct bld_input *in,
			struct bld_inode *ino, const char *path, int keep)
{
	size_t cap = ino->size + 1, used = 0, got;
	unsigned char *buf;
	int ret;

	if (ino->size > CAPTURE_MAX)
		return ni_err_set(ov->e, NI_EINVAL, "%s: '%s' too large",
				  in->path, path);
	buf = malloc(cap);
	if (buf == NULL)
		return ni_err_set(ov->e, NI_ENOMEM, "out of memory");
	do {
		ret = bld_input_read(in, buf + used, cap - used, &got);
		used += got;
	} while (ret == 0 && got > 0 && used < cap);
	if (ret == 0 && used != ino->size)
		ret = ni_err_set(ov->e, NI_EARCHIVE,
				 "%s: entry '%s': truncated (%zu of %llu bytes)",
				 in->path, path, used,
				 (unsigned long long)ino->size);
	if (ret != 0) {
		free(buf);
		return ret;
	}
	ni_md5_buf(buf, used, ino->md5);
	ino->has_md5 = 1;
	if (keep)
		bld_inode_set_mem(ino, buf, used);
	else
		free(buf);
	return 0;
}

static int new_inode(struct bld_overlay *ov, struct bld_input *in,
		     struct archive_entry *ent, const char *path,
		     struct bld_inode **out)
{
	struct bld_inode *ino = bld_inode_new(archive_entry_mode(ent));
	int ret;

	if (ino == NULL || set_meta(ov, ino, ent) != 0) {
		if (ino != NULL) {
			ino->links = 1;
			bld_inode_unref(ino);
		}
		return ni_err_set(ov->e, NI_ENOMEM, "out of memory");
	}
	*out = ino;
	ino->links = 0;
	if (S_ISLNK(ino->mode)) {
		const char *tgt = archive_entry_symlink(ent);

		ino->target = strdup(tgt ? tgt : "");
		return ino->target ? 0 : NI_ENOMEM;
	}
	if (S_ISCHR(ino->mode) || S_ISBLK(ino->mode))
		ino->rdev = archive_entry_rdev(ent);
	if (!S_ISREG(ino->mode))
		return 0;
	ino->size = (uint64_t)archive_entry_size(ent);
	ino->src.layer = ov->layer;
	ino->src.ordinal = ov->entries;
	ret = 0;
	/* A package's files all get an MD5: dpkg writes PKG.md5sums itself
	 * for a package that ships none. A patch's files are spooled. */
	if (wants_capture(path))
		ret = read_content(ov, in, ino, path, 1);
	else if (!(ov->flags & BLD_LAYER_BASE))
		ret = stream_data(ov, in, ino, path,
				  wants_md5(ov, path) || (ov->flags & BLD_LAYER_DEB));
	else if (wants_md5(ov, path))
		ret = read_content(ov, in, ino, path, 0);
	return ret;
}

/* Removes what lower layers put at d, keeping what this layer added. */
static void hide_lower(struct bld_overlay *ov, struct bld_dentry *d)
{
	size_t i;

	if (d->layer != ov->layer) {
		bld_dentry_remove(ov->tree, d);
		return;
	}
	for (i = d->n_kids; i-- > 0;)
		hide_lower(ov, d->kids[i]);
}

static int whiteout(struct bld_overlay *ov, struct bld_dentry *dir,
		    const char *leaf)
{
	struct bld_dentry *d;
	size_t i;

	if (strcmp(leaf, ".wh..wh..opq") == 0) {
		for (i = dir->n_kids; i-- > 0;)
			hide_lower(ov, dir->kids[i]);
		return 0;
	}
	/* As OCI says: a whiteout hides lower layers, not its own. */
	d = bld_dir_lookup(dir, leaf + 4);
	if (d != NULL)
		hide_lower(ov, d);
	return 0;
}

static int apply_dir(struct bld_overlay *ov, struct bld_dentry *dir,
		     const char *leaf, struct archive_entry *ent)
{
	struct bld_dentry *d = leaf[0] ? bld_dir_lookup(dir, leaf) : dir;
	struct bld_inode *ino;

	/* Only the base says what the root looks like: a patch made with
	 * `tar -C somedir .` would otherwise hand the root to its owner. */
	if (leaf[0] == '\0' && !(ov->flags & BLD_LAYER_BASE))
		return 0;

	if (d != NULL && S_ISLNK(d->ino->mode)) {
		struct bld_dentry *t = bld_dentry_follow(ov->tree, d);

		/* dpkg keeps a symlink to a folder where a package ships a
		 * folder: merged-/usr's /lib -> usr/lib stays a link. */
		if (t != NULL && bld_is_dir(t))
			return 0;
	}
	if (d != NULL && bld_is_dir(d)) {
		if (ov->flags & BLD_LAYER_DEB)
			return 0;
		d->layer = ov->layer;
		bld_inode_clear_xattrs(d->ino);
		return set_meta(ov, d->ino, ent);
	}
	ino = bld_inode_new(S_IFDIR);
	if (ino == NULL || set_meta(ov, ino, ent) != 0 ||
	    bld_dir_put(ov->tree, dir, leaf, ino, ov->layer) == NULL)
		return ni_err_set(ov->e, NI_ENOMEM, "out of memory");
	return 0;
}

static int apply_hardlink(struct bld_overlay *ov, struct bld_input *in,
			  struct bld_dentry *dir, const char *leaf,
			  const char *entry, const char *target)
{
	char norm[PATH_MAXLEN];
	struct bld_dentry *t;

	if (bld_path_normalize(target, norm, sizeof(norm)) != 0)
		return unsafe(ov, in, entry, "hard link target climbs out of the root");
	t = bld_tree_resolve(ov->tree, norm, 0);
	if (t == NULL)
		return ni_err_set(ov->e, NI_ENOENT,
				  "%s: entry '%s': hard link to missing target '%s'",
				  in->path, entry, target);
	if (bld_is_dir(t))
		return unsafe(ov, in, entry, "hard link to a folder");
	if ((t = bld_dir_put(ov->tree, dir, leaf, t->ino, ov->layer)) == NULL)
		return ni_err_set(ov->e, NI_ENOMEM, "out of memory");
	if (ov->flags & BLD_LAYER_BASE)
		t->base_pos = ov->entries;
	return 0;
}

static int record_path(struct bld_overlay *ov, const char *norm)
{
	char *s;

	if (!(ov->flags & BLD_LAYER_DEB))
		return 0;
	if (ni_grow(&ov->paths, &ov->cap_paths, ov->n_paths, sizeof(*ov->paths), 64))
		return NI_ENOMEM;
	if (asprintf(&s, "/%s", norm[0] ? norm : ".") < 0)
		return NI_ENOMEM;
	ov->paths[ov->n_paths++] = s;
	return 0;
}

static int apply_file(struct bld_overlay *ov, struct bld_input *in,
		      struct archive_entry *ent, struct bld_dentry *dir,
		      const char *leaf, const char *norm)
{
	struct bld_inode *ino = NULL;
	int ret;

	if (leaf[0] == '\0')
		return unsafe(ov, in, archive_entry_pathname(ent),
			      "the root must be a folder");
	ret = new_inode(ov, in, ent, norm, &ino);
	if (ret == 0) {
		struct bld_dentry *d = bld_dir_put(ov->tree, dir, leaf, ino, ov->layer);

		if (d == NULL)
			ret = ni_err_set(ov->e, NI_ENOMEM, "out of memory");
		else if (ov->flags & BLD_LAYER_BASE)
			d->base_pos = ov->entries;
	}
	if (ret != 0 && ino != NULL && ino->links == 0) {
		ino->links = 1;
		bld_inode_unref(ino);
	}
	return ret;
}

static int apply_entry(struct bld_overlay *ov, struct bld_input *in,
		       struct archive_entry *ent)
{
	const char *name = archive_entry_pathname(ent);
	const char *hl = archive_entry_hardlink(ent);
	mode_t type = archive_entry_filetype(ent);
	char norm[PATH_MAXLEN], work[PATH_MAXLEN];
	struct bld_dentry *dir = ov->tree->root;
	const char *leaf = "";
	int ret;

	if (name == NULL)
		return ni_err_set(ov->e, NI_EARCHIVE, "%s: an entry has no name",
				  in->path);
	ret = bld_path_normalize(name, norm, sizeof(norm));
	if (ret == NI_EUNSAFE)
		return unsafe(ov, in, name, "path climbs out of the root ('..')");
	if (ret != 0)
		return ni_err_set(ov->e, ret, "%s: entry '%s': path too long",
				  in->path, name);
	if ((type == AE_IFCHR || type == AE_IFBLK) && hl == NULL &&
	    !(ov->flags & BLD_LAYER_BASE))
		return unsafe(ov, in, name, "device node inside a patch");
	strcpy(work, norm);
	if (work[0] != '\0') {
		ret = get_parent(ov, in, name, work, &dir, &leaf);
		if (ret != 0)
			return ret;
	}
	if ((ret = record_path(ov, norm)) != 0)
		return ni_err_set(ov->e, ret, "out of memory");
	if (!(ov->flags & BLD_LAYER_DEB) && strncmp(leaf, ".wh.", 4) == 0)
		return whiteout(ov, dir, leaf);
	if (hl != NULL)
		return apply_hardlink(ov, in, dir, leaf, name, hl);
	if (type == AE_IFDIR)
		return apply_dir(ov, dir, leaf, ent);
	return apply_file(ov, in, ent, dir, leaf, norm);
}

int bld_overlay_apply(struct bld_overlay *ov, struct bld_input *in)
{
	struct archive_entry *ent;
	int r;

	while ((r = bld_input_next(in, &ent)) == 1) {
		r = apply_entry(ov, in, ent);
		ov->entries++;
		if (r != 0)
			return r;
	}
	return r;
}

void bld_overlay_free(struct bld_overlay *ov)
{
	size_t i;

	for (i = 0; i < ov->n_paths; i++)
		free(ov->paths[i]);
	free(ov->paths);
	ov->paths = NULL;
	ov->n_paths = ov->cap_paths = 0;
}
