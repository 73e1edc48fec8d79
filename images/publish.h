/* publish.h: `netimg publish`: an image becomes version NAME@VERSION of a
 * repository: its layout chunks (images/layout.c) that the repository
 * lacks go into a new pack, and a chunk index, a location file and a
 * signed manifest describe it. Layout in docs/repository-design.md. */
#ifndef IMG_PUBLISH_H
#define IMG_PUBLISH_H

#include <jansson.h>
#include <stdint.h>

#include "common/err.h"
#include "common/hash.h"

struct img_publish_opts {
	const char *repo;
	const char *image;
	const char *name, *version;   /* override the build record's */
	/* added to the manifest's "boot" (its boot files: kernel,
	 * initramfs), made by the caller beforehand; or NULL */
	json_t *boot_files;
};

struct img_publish_result {
	char *name, *version;
	uint64_t image_size, new_bytes;
	size_t chunks, new_chunks;
	int already;                  /* the same image was published before */
	uint8_t manifest_sha[NI_SHA256_LEN];
};

int img_publish(const struct img_publish_opts *o, struct img_publish_result *r,
		struct ni_err *e);
void img_publish_result_free(struct img_publish_result *r);

#endif
