/* kernel_deb.c: a kernel and its modules out of a Debian linux-image
 * package: the .deb is an ar archive whose data.tar.* holds them; both
 * layers are read with libarchive, the inner one streamed from the outer. */
#include "netboot/kernel.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"

struct outer {
	struct archive *a;
	char buf[65536];
};

static la_ssize_t outer_read(struct archive *in, void *user, const void **buf)
{
	struct outer *o = user;
	la_ssize_t n = archive_read_data(o->a, o->buf, sizeof(o->buf));

	(void)in;
	*buf = o->buf;
	return n;
}

/* "./lib/modules/R/..." or "./boot/vmlinuz-R": where it goes in dir, or
 * NULL to skip. Sets release from the first one seen. */
static const char *wanted(const char *p, char *release, size_t rn)
{
	const char *r;
	size_t n;

	if (strncmp(p, "./", 2) == 0)
		p += 2;
	if (strstr(p, "..") != NULL)
		return NULL;
	if (strncmp(p, "boot/vmlinuz-", 13) == 0) {
		const char *k = p + strlen("boot/vmlinuz-");

		if (*k == '\0' || strchr(k, '/') != NULL)
			return NULL;
		if (release[0] == '\0')
			snprintf(release, rn, "%s", k);
		return strcmp(k, release) == 0 ? p : NULL;
	}
	if (strncmp(p, "lib/modules/", 12) == 0)
		r = p + 12;
	else if (strncmp(p, "usr/lib/modules/", 16) == 0)
		r = p + 16;
	else
		return NULL;
	n = strcspn(r, "/");
	if (r[n] != '/' || r[n + 1] == '\0')
		return NULL;
	return p[0] == 'u' ? p + 4 : p;
}

static int extract(struct archive *in, const char *deb, const char *dir,
		   char *release, size_t rn, struct ni_err *e)
{
	struct archive_entry *en;
	char buf[65536];
	int r, ret = 0;

	while (ret == 0 && (r = archive_read_next_header(in, &en)) == ARCHIVE_OK) {
		const char *rel = wanted(archive_entry_pathname(en), release, rn);
		char *path, *pdir;
		int fd = -1;
		la_ssize_t n;

		if (rel == NULL || archive_entry_filetype(en) != AE_IFREG)
			continue;
		path = strncmp(rel, "boot/", 5) == 0 ? ni_path_join(dir, "vmlinuz") : ni_path_join(dir, rel);
		pdir = path ? ni_dirname(path) : NULL;
		if (pdir == NULL)
			ret = ni_err_set(e, NI_ENOMEM, "out of memory");
		if (ret == 0)
			ret = ni_mkdir_p(pdir, 0755, e);
		/* A scratch folder: no fsync, it is read once and removed. */
		if (ret == 0 && (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
			ret = ni_err_errno(e, errno, "%s", path);
		while (ret == 0 && (n = archive_read_data(in, buf, sizeof(buf))) != 0) {
			if (n < 0)
				ret = ni_err_set(e, NI_EARCHIVE, "%s: %s: %s", deb,
						 archive_entry_pathname(en), archive_error_string(in));
			else if (ni_write_all(fd, buf, (size_t)n) != 0)
				ret = ni_err_errno(e, errno, "%s", path);
		}
		if (fd >= 0 && close(fd) != 0 && ret == 0)
			ret = ni_err_errno(e, errno, "%s", path);
		free(pdir);
		free(path);
	}
	if (ret == 0 && r != ARCHIVE_EOF)
		ret = ni_err_set(e, NI_EARCHIVE, "%s: %s", deb, archive_error_string(in));
	return ret;
}

int nb_kernel_from_deb(const char *deb, const char *dir, char *release,
		       size_t rn, struct ni_err *e)
{
	struct outer o = { .a = archive_read_new() };
	struct archive *in = NULL;
	struct archive_entry *en;
	int r, ret = NI_ENOENT, found = 0;

	release[0] = '\0';
	if (o.a == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	archive_read_support_format_ar(o.a);
	if (archive_read_open_filename(o.a, deb, 65536) != ARCHIVE_OK) {
		ret = ni_err_set(e, NI_EARCHIVE, "%s: %s", deb, archive_error_string(o.a));
		goto out;
	}
	while ((r = archive_read_next_header(o.a, &en)) == ARCHIVE_OK) {
		if (strncmp(archive_entry_pathname(en), "data.tar", 8) != 0)
			continue;
		found = 1;
		in = archive_read_new();
		archive_read_support_filter_all(in);
		archive_read_support_format_tar(in);
		if (archive_read_open(in, &o, NULL, outer_read, NULL) != ARCHIVE_OK)
			ret = ni_err_set(e, NI_EARCHIVE, "%s: data.tar: %s", deb, archive_error_string(in));
		else
			ret = extract(in, deb, dir, release, rn, e);
		break;
	}
	if (!found)
		ret = ni_err_set(e, NI_EINVAL, "%s: not a Debian package (no data.tar)", deb);
	else if (ret == 0 && release[0] == '\0')
		ret = ni_err_set(e, NI_EINVAL, "%s: no boot/vmlinuz-* in the package (not a linux-image package?)",
				 deb);
out:
	if (in != NULL)
		archive_read_free(in);
	archive_read_free(o.a);
	return ret;
}
