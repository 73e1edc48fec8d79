/* files.h: where each regular file of an image keeps its bytes: its data
 * blocks and its tail in a fragment block, read back with libsquashfs.
 * `netimg inspect --files` prints it; bench/delta.sh uses it to measure
 * what the files that changed between two versions cost compressed. */
#ifndef IMG_FILES_H
#define IMG_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define IMG_NO_FRAG UINT32_MAX

struct img_file {
	char *path;          /* "/usr/bin/ls" */
	uint32_t inode;      /* its inode number (hard links share it) */
	uint64_t size;       /* bytes of file data */
	uint64_t data;       /* on-disk bytes of its data blocks */
	uint32_t frag;       /* fragment index, or IMG_NO_FRAG */
	uint32_t tail;       /* bytes of its tail in that fragment block */
	uint64_t frag_start; /* the fragment block's offset in the image */
	uint32_t frag_disk;  /* the fragment block's on-disk size */
	uint32_t frag_used;  /* its uncompressed bytes that tails use: the
			      * highest tail end of any file in it */
};

struct img_files {
	struct img_file *f;  /* in path order */
	size_t n, cap;
};

int img_files_read(const char *path, struct img_files *out, struct ni_err *e);
void img_files_free(struct img_files *fs);

/* The tail's share of its fragment block's on-disk bytes:
 * tail * frag_disk / frag_used (0 without a tail). */
uint64_t img_file_frag_share(const struct img_file *f);

#endif
