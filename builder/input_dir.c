/* input_dir.c: a directory tree as a stream of entries, walked in byte
 * order of names so the image does not depend on readdir's order. Entries
 * are filled by libarchive's disk reader (modes, owners, times, xattrs);
 * hard links are reported against the first path seen. */
#include "builder/input.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/linkmap.h"
#include "common/fsutil.h"
#include "common/grow.h"

struct frame {
	char *rel;      /* "" for the top */
	char **names;
	size_t n, i;
};

struct dirpriv {
	struct archive *disk;
	struct archive_entry *ent;
	struct frame *stack;
	size_t depth, cap;
	struct bld_linkmap links;
	int started;
	int fd;         /* the current regular file, opened on first read */
	char *cur_abs;  /* its path, while it is the current entry */
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void frame_free(struct frame *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->names[i]);
	free(f->names);
	free(f->rel);
}

static char *abs_path(struct bld_input *in, const char *rel)
{
	return rel[0] ? ni_path_join(in->path, rel) : strdup(in->path);
}

static int list_dir(struct bld_input *in, const char *abs, struct frame *f)
{
	DIR *d = opendir(abs);
	struct dirent *de;
	size_t cap = 0;

	if (d == NULL)
		return ni_err_errno(in->e, errno, "%s: cannot read folder", abs);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (ni_grow(&f->names, &cap, f->n, sizeof(*f->names), 16) != 0)
			goto nomem;
		if ((f->names[f->n] = strdup(de->d_name)) == NULL)
			goto nomem;
		f->n++;
	}
	closedir(d);
	if (f->n > 1)
		qsort(f->names, f->n, sizeof(*f->names), cmp_names);
	return 0;
nomem:
	closedir(d);
	return ni_err_set(in->e, NI_ENOMEM, "%s: out of memory", abs);
}

static int push(struct bld_input *in, const char *rel)
{
	struct dirpriv *p = in->priv;
	struct frame *f;
	char *abs;
	int ret;

	if (ni_grow(&p->stack, &p->cap, p->depth, sizeof(*p->stack), 16) != 0)
		return ni_err_set(in->e, NI_ENOMEM, "out of memory");
	f = &p->stack[p->depth];
	memset(f, 0, sizeof(*f));
	f->rel = strdup(rel);
	abs = abs_path(in, rel);
	if (f->rel == NULL || abs == NULL) {
		free(abs);
		free(f->rel);
		return ni_err_set(in->e, NI_ENOMEM, "out of memory");
	}
	p->depth++;
	ret = list_dir(in, abs, f);
	free(abs);
	return ret;
}

static int fill_entry(struct bld_input *in, const char *rel,
		      struct archive_entry **ent)
{
	struct dirpriv *p = in->priv;
	char *abs = abs_path(in, rel);
	struct stat st;
	const char *first;
	int err;

	if (abs == NULL)
		return ni_err_set(in->e, NI_ENOMEM, "out of memory");
	if (lstat(abs, &st) != 0) {
		err = ni_err_errno(in->e, errno, "%s", abs);
		free(abs);
		return err;
	}
	archive_entry_clear(p->ent);
	archive_entry_copy_pathname(p->ent, rel[0] ? rel : ".");
	archive_entry_copy_sourcepath(p->ent, abs);
	if (archive_read_disk_entry_from_file(p->disk, p->ent, -1, &st) !=
	    ARCHIVE_OK) {
		err = ni_err_set(in->e, NI_EIO, "%s: %s", abs,
				 archive_error_string(p->disk));
		free(abs);
		return err;
	}
	free(p->cur_abs);
	p->cur_abs = abs;
	if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
		first = bld_linkmap_seen(&p->links, st.st_dev, st.st_ino, rel, &err);
		if (err)
			return ni_err_set(in->e, err, "out of memory");
		if (first != NULL) {
			archive_entry_copy_hardlink(p->ent, first);
			archive_entry_set_size(p->ent, 0);
		}
	}
	*ent = p->ent;
	return S_ISDIR(st.st_mode) ? push(in, rel) : 0;
}

static int dir_next(struct bld_input *in, struct archive_entry **ent)
{
	struct dirpriv *p = in->priv;
	char *rel;
	int ret;

	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	if (!p->started) {
		p->started = 1;
		ret = fill_entry(in, "", ent);
		return ret ? ret : 1;
	}
	while (p->depth > 0) {
		struct frame *f = &p->stack[p->depth - 1];

		if (f->i == f->n) {
			frame_free(f);
			p->depth--;
			continue;
		}
		rel = f->rel[0] ? ni_path_join(f->rel, f->names[f->i])
				: strdup(f->names[f->i]);
		f->i++;
		if (rel == NULL)
			return ni_err_set(in->e, NI_ENOMEM, "out of memory");
		ret = fill_entry(in, rel, ent);
		free(rel);
		return ret ? ret : 1;
	}
	return 0;
}

static int dir_read(struct bld_input *in, void *buf, size_t len, size_t *got)
{
	struct dirpriv *p = in->priv;
	ssize_t n;

	if (p->fd < 0) {
		p->fd = open(p->cur_abs, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (p->fd < 0)
			return ni_err_errno(in->e, errno, "%s", p->cur_abs);
	}
	do
		n = read(p->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return ni_err_errno(in->e, errno, "%s", p->cur_abs);
	*got = (size_t)n;
	return 0;
}

static void dir_close(struct bld_input *in)
{
	struct dirpriv *p = in->priv;

	if (p == NULL)
		return;
	while (p->depth > 0)
		frame_free(&p->stack[--p->depth]);
	free(p->stack);
	bld_linkmap_free(&p->links);
	if (p->fd >= 0)
		close(p->fd);
	free(p->cur_abs);
	if (p->ent != NULL)
		archive_entry_free(p->ent);
	if (p->disk != NULL)
		archive_read_free(p->disk);
	free(p);
	in->priv = NULL;
}

static const struct bld_input_ops dir_ops = { dir_next, dir_read, dir_close };

int bld_input_open_dir(struct bld_input *in)
{
	struct dirpriv *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return ni_err_set(in->e, NI_ENOMEM, "out of memory");
	p->fd = -1;
	in->priv = p;
	in->ops = &dir_ops;
	p->disk = archive_read_disk_new();
	p->ent = archive_entry_new();
	if (p->disk == NULL || p->ent == NULL)
		return ni_err_set(in->e, NI_ENOMEM, "out of memory");
	return 0;
}
