/* input.h: one layer's input, read as a stream of libarchive entries:
 * a directory (walked in sorted order), any archive libarchive reads, a
 * Debian package (its data.tar, with its control files kept aside), or a
 * squashfs image (read with libsquashfs). Reading a layer twice gives the
 * same entries in the same order, which the builder relies on: the first
 * pass reads headers, the second streams the data of the entries that
 * made it into the image. */
#ifndef BLD_INPUT_H
#define BLD_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

struct archive_entry;

enum bld_input_kind {
	BLD_IN_DIR,
	BLD_IN_ARCHIVE,
	BLD_IN_DEB,
	BLD_IN_SQFS,
};

/* A file of a .deb's control archive (control, md5sums, conffiles, ...). */
struct bld_ctlfile {
	char *name;
	unsigned char *data;
	size_t len;
	uint32_t mode;
};

struct bld_input;

struct bld_input_ops {
	/* 1 and *ent on an entry, 0 at the end, <0 on error. */
	int (*next)(struct bld_input *in, struct archive_entry **ent);
	/* Reads the current entry's data; *got == 0 at its end. */
	int (*read)(struct bld_input *in, void *buf, size_t len, size_t *got);
	void (*close)(struct bld_input *in);
};

struct bld_input {
	enum bld_input_kind kind;
	char *path;
	const struct bld_input_ops *ops;
	void *priv;
	struct ni_err *e;
	/* BLD_IN_DEB: the control archive's files. */
	struct bld_ctlfile *ctl;
	size_t n_ctl;
	char *data_member;   /* data.tar.xz etc. */
};

enum bld_input_kind bld_input_detect(const char *path);
/* Refuses what cannot be an input: not a regular file or folder, empty. */
int bld_input_check(const char *path, struct ni_err *e);
/* Reads a gzip-compressed input to its end to check its CRC-32, which
 * libarchive does not; a no-op for other inputs. */
int bld_input_verify_gzip(const char *path, struct ni_err *e);

/* Opens path for reading its entries; errors name the path. */
int bld_input_open(struct bld_input **in, const char *path,
		   struct ni_err *e);
int bld_input_next(struct bld_input *in, struct archive_entry **ent);
int bld_input_read(struct bld_input *in, void *buf, size_t len, size_t *got);
void bld_input_close(struct bld_input *in);

const struct bld_ctlfile *bld_input_ctlfile(const struct bld_input *in,
					    const char *name);

/* Per-kind openers (input_archive.c, input_dir.c, input_sqfs.c). */
int bld_input_open_archive(struct bld_input *in);
int bld_input_open_deb(struct bld_input *in);
int bld_input_open_dir(struct bld_input *in);
int bld_input_open_sqfs(struct bld_input *in);

#endif
