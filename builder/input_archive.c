/* input_archive.c: archives of any format libarchive reads, and Debian
 * packages (an ar holding control.tar.* and data.tar.*: the control files
 * are kept in memory, data.tar is streamed straight out of the ar). */
#include "builder/input.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CTL_MAX (64u << 20) /* a control archive is a few KiB; bound it */

struct arpriv {
	struct archive *a;      /* the archive whose entries we hand out */
	struct archive_entry *cur;
	struct archive *outer;  /* .deb: the ar around data.tar */
	unsigned char buf[1 << 16];
};

static int ar_error(struct bld_input *in, struct archive *a, const char *what)
{
	const char *msg = archive_error_string(a);

	return ni_err_set(in->e, NI_EARCHIVE, "%s: %s%s%s", in->path,
			  what, msg ? ": " : "", msg ? msg : "");
}

static int ar_next(struct bld_input *in, struct archive_entry **ent)
{
	struct arpriv *p = in->priv;
	int r = archive_read_next_header(p->a, ent);

	p->cur = NULL;
	if (r == ARCHIVE_EOF)
		return 0;
	if (r == ARCHIVE_OK || r == ARCHIVE_WARN) {
		p->cur = *ent;
		return 1;
	}
	return ar_error(in, p->a, "corrupt or truncated archive");
}

static int ar_read(struct bld_input *in, void *buf, size_t len, size_t *got)
{
	struct arpriv *p = in->priv;
	la_ssize_t n = archive_read_data(p->a, buf, len);

	if (n < 0) {
		const char *msg = archive_error_string(p->a);

		return ni_err_set(in->e, NI_EARCHIVE,
				  "%s: entry '%s': corrupt or truncated archive%s%s",
				  in->path, p->cur ? archive_entry_pathname(p->cur) : "?",
				  msg ? ": " : "", msg ? msg : "");
	}
	*got = (size_t)n;
	return 0;
}

static void ar_close(struct bld_input *in)
{
	struct arpriv *p = in->priv;

	if (p == NULL)
		return;
	if (p->a != NULL)
		archive_read_free(p->a);
	if (p->outer != NULL)
		archive_read_free(p->outer);
	free(p);
	in->priv = NULL;
}

static const struct bld_input_ops archive_ops = {
	ar_next, ar_read, ar_close,
};

static struct archive *new_reader(void)
{
	struct archive *a = archive_read_new();

	if (a == NULL)
		return NULL;
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	return a;
}

int bld_input_open_archive(struct bld_input *in)
{
	struct arpriv *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return ni_err_set(in->e, NI_ENOMEM, "%s: out of memory", in->path);
	in->priv = p;
	in->ops = &archive_ops;
	p->a = new_reader();
	if (p->a == NULL)
		return ni_err_set(in->e, NI_ENOMEM, "%s: out of memory", in->path);
	if (archive_read_open_filename(p->a, in->path, 1 << 16) != ARCHIVE_OK)
		return ar_error(in, p->a, "cannot open archive");
	return 0;
}

/* ---- Debian packages ---------------------------------------------- */

static int read_member(struct bld_input *in, struct archive *a,
		       unsigned char **out, size_t *len)
{
	size_t cap = 1 << 16, used = 0;
	unsigned char *buf = malloc(cap);

	for (;;) {
		la_ssize_t n;

		if (buf == NULL)
			return ni_err_set(in->e, NI_ENOMEM, "%s: out of memory",
					  in->path);
		n = archive_read_data(a, buf + used, cap - used);
		if (n < 0) {
			free(buf);
			return ar_error(in, a, "corrupt Debian package");
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used == cap) {
			unsigned char *nb;

			if (cap >= CTL_MAX) {
				free(buf);
				return ni_err_set(in->e, NI_EINVAL,
						  "%s: control archive too large",
						  in->path);
			}
			nb = realloc(buf, cap * 2);
			if (nb == NULL)
				free(buf);
			buf = nb;
			cap *= 2;
		}
	}
	*out = buf;
	*len = used;
	return 0;
}

static int add_ctlfile(struct bld_input *in, struct archive *a,
		       struct archive_entry *ent)
{
	const char *name = archive_entry_pathname(ent);
	struct bld_ctlfile *c;

	while (name[0] == '.' && name[1] == '/')
		name += 2;
	if (archive_entry_filetype(ent) != AE_IFREG || name[0] == '\0')
		return 0;
	c = realloc(in->ctl, (in->n_ctl + 1) * sizeof(*c));
	if (c == NULL)
		return ni_err_set(in->e, NI_ENOMEM, "%s: out of memory", in->path);
	in->ctl = c;
	c += in->n_ctl;
	memset(c, 0, sizeof(*c));
	c->mode = archive_entry_perm(ent);
	c->name = strdup(name);
	if (c->name == NULL)
		return ni_err_set(in->e, NI_ENOMEM, "%s: out of memory", in->path);
	in->n_ctl++;
	return read_member(in, a, &c->data, &c->len);
}

static int parse_control_tar(struct bld_input *in, unsigned char *buf,
			     size_t len)
{
	struct archive *a = new_reader();
	struct archive_entry *ent;
	int r, ret = 0;

	if (a == NULL)
		return ni_err_set(in->e, NI_ENOMEM, "%s: out of memory", in->path);
	if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK) {
		ret = ar_error(in, a, "corrupt control archive");
		goto out;
	}
	while ((r = archive_read_next_header(a, &ent)) == ARCHIVE_OK ||
	       r == ARCHIVE_WARN) {
		ret = add_ctlfile(in, a, ent);
		if (ret != 0)
			goto out;
	}
	if (r != ARCHIVE_EOF)
		ret = ar_error(in, a, "corrupt control archive");
out:
	archive_read_free(a);
	return ret;
}

static la_ssize_t outer_read(struct archive *inner, void *user,
			     const void **buf)
{
	struct bld_input *in = user;
	struct arpriv *p = in->priv;
	la_ssize_t n = archive_read_data(p->outer, p->buf, sizeof(p->buf));

	if (n < 0)
		archive_set_error(inner, EIO, "%s",
				  archive_error_string(p->outer));
	*buf = p->buf;
	return n;
}

static int open_data_tar(struct bld_input *in, const char *member)
{
	struct arpriv *p = in->priv;

	in->data_member = strdup(member);
	p->a = new_reader();
	if (p->a == NULL || in->data_member == NULL)
		return ni_err_set(in->e, NI_ENOMEM, "%s: out of memory", in->path);
	if (archive_read_open(p->a, in, NULL, outer_read, NULL) != ARCHIVE_OK)
		return ar_error(in, p->a, "corrupt data archive");
	return 0;
}

static int scan_deb_members(struct bld_input *in)
{
	struct arpriv *p = in->priv;
	struct archive_entry *ent;
	int r;

	while ((r = archive_read_next_header(p->outer, &ent)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(ent);

		if (strncmp(name, "control.tar", 11) == 0) {
			unsigned char *buf = NULL;
			size_t len = 0;
			int ret = read_member(in, p->outer, &buf, &len);

			if (ret == 0) {
				ret = parse_control_tar(in, buf, len);
				free(buf);
			}
			if (ret != 0)
				return ret;
		} else if (strncmp(name, "data.tar", 8) == 0) {
			if (in->ctl == NULL)
				return ni_err_set(in->e, NI_EINVAL,
						  "%s: not a Debian package: data before control",
						  in->path);
			return open_data_tar(in, name);
		}
	}
	if (r != ARCHIVE_EOF)
		return ar_error(in, p->outer, "corrupt Debian package");
	return ni_err_set(in->e, NI_EINVAL,
			  "%s: not a Debian package: no data.tar member",
			  in->path);
}

int bld_input_open_deb(struct bld_input *in)
{
	struct arpriv *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return ni_err_set(in->e, NI_ENOMEM, "%s: out of memory", in->path);
	in->priv = p;
	in->ops = &archive_ops;
	p->outer = archive_read_new();
	if (p->outer == NULL)
		return ni_err_set(in->e, NI_ENOMEM, "%s: out of memory", in->path);
	archive_read_support_format_ar(p->outer);
	if (archive_read_open_filename(p->outer, in->path, 1 << 16) != ARCHIVE_OK)
		return ar_error(in, p->outer, "cannot open Debian package");
	return scan_deb_members(in);
}

/* ---- gzip integrity ----------------------------------------------- */

#include <zlib.h>

int bld_input_verify_gzip(const char *path, struct ni_err *e)
{
	static __thread unsigned char buf[1 << 16];
	unsigned char magic[2] = { 0 };
	gzFile gz;
	FILE *f = fopen(path, "rb");
	int n, errnum;

	if (f == NULL)
		return 0; /* not a file (a folder): nothing to check */
	n = (int)fread(magic, 1, 2, f);
	fclose(f);
	if (n != 2 || magic[0] != 0x1f || magic[1] != 0x8b)
		return 0;
	gz = gzopen(path, "rb");
	if (gz == NULL)
		return ni_err_errno(e, errno, "%s: cannot read", path);
	while ((n = gzread(gz, buf, sizeof(buf))) > 0)
		;
	if (n < 0) {
		int ret = ni_err_set(e, NI_EARCHIVE,
				     "%s: corrupt or truncated archive: gzip: %s",
				     path, gzerror(gz, &errnum));

		gzclose(gz);
		return ret;
	}
	gzclose(gz);
	return 0;
}
