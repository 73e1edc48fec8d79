/* input.c: picks the reader for a layer's input and dispatches to it. */
#include "builder/input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum bld_input_kind bld_input_detect(const char *path)
{
	unsigned char magic[21] = { 0 };
	struct stat st;
	ssize_t n;
	int fd;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return BLD_IN_DIR;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return BLD_IN_ARCHIVE; /* the opener reports the error */
	n = read(fd, magic, sizeof(magic));
	close(fd);
	if (n >= 4 && memcmp(magic, "hsqs", 4) == 0)
		return BLD_IN_SQFS;
	if (n >= 21 && memcmp(magic, "!<arch>\ndebian-binary", 21) == 0)
		return BLD_IN_DEB;
	return BLD_IN_ARCHIVE;
}

int bld_input_check(const char *path, struct ni_err *e)
{
	struct stat st;

	if (stat(path, &st) != 0 || access(path, R_OK) != 0)
		return ni_err_errno(e, errno, "%s: cannot read", path);
	if (S_ISDIR(st.st_mode))
		return 0;
	/* A FIFO or a device would block or never end. */
	if (!S_ISREG(st.st_mode))
		return ni_err_set(e, NI_EINVAL,
				  "%s: not a regular file or a folder", path);
	if (st.st_size == 0)
		return ni_err_set(e, NI_EARCHIVE, "%s: empty file, not an archive",
				  path);
	return 0;
}

int bld_input_open(struct bld_input **out, const char *path,
		   struct ni_err *e)
{
	struct bld_input *in = calloc(1, sizeof(*in));
	int ret;

	if (in == NULL || (in->path = strdup(path)) == NULL) {
		free(in);
		return ni_err_set(e, NI_ENOMEM, "%s: out of memory", path);
	}
	in->e = e;
	if ((ret = bld_input_check(path, e)) != 0) {
		free(in->path);
		free(in);
		return ret;
	}
	in->kind = bld_input_detect(path);
	switch (in->kind) {
	case BLD_IN_DIR: ret = bld_input_open_dir(in); break;
	case BLD_IN_SQFS: ret = bld_input_open_sqfs(in); break;
	case BLD_IN_DEB: ret = bld_input_open_deb(in); break;
	default: ret = bld_input_open_archive(in); break;
	}
	if (ret != 0) {
		bld_input_close(in);
		return ret;
	}
	*out = in;
	return 0;
}

int bld_input_next(struct bld_input *in, struct archive_entry **ent)
{
	return in->ops->next(in, ent);
}

int bld_input_read(struct bld_input *in, void *buf, size_t len, size_t *got)
{
	return in->ops->read(in, buf, len, got);
}

void bld_input_close(struct bld_input *in)
{
	size_t i;

	if (in == NULL)
		return;
	if (in->ops != NULL)
		in->ops->close(in);
	for (i = 0; i < in->n_ctl; i++) {
		free(in->ctl[i].name);
		free(in->ctl[i].data);
	}
	free(in->ctl);
	free(in->data_member);
	free(in->path);
	free(in);
}

const struct bld_ctlfile *bld_input_ctlfile(const struct bld_input *in,
					    const char *name)
{
	size_t i;

	for (i = 0; i < in->n_ctl; i++)
		if (strcmp(in->ctl[i].name, name) == 0)
			return &in->ctl[i];
	return NULL;
}
