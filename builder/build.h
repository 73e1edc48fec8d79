/* build.h: `netimg build`: recipe + approved patches -> image + record. */
#ifndef BLD_BUILD_H
#define BLD_BUILD_H

#include <stdint.h>

#include "builder/catalog.h"
#include "builder/recipe.h"
#include "common/err.h"

struct bld_progress_cb {
	void (*fn)(void *user, uint64_t bytes, uint64_t total, uint64_t files);
	void *user;
};

struct bld_options {
	const char *recipe;
	const char *output;        /* NULL: out/NAME-VERSION.sqfs beside the recipe */
	unsigned workers;          /* 0: one per core */
	struct bld_progress_cb progress;
};

struct bld_result {
	char *image;               /* final image path */
	char *record;              /* final build record path */
	char *record_json;         /* the record's text */
	uint64_t image_size, files, bytes;
	uint8_t image_sha[NI_SHA256_LEN];
	size_t n_patches, n_skipped;
};

int bld_build(const struct bld_options *o, struct bld_result *res,
	      struct ni_err *e);
void bld_result_free(struct bld_result *res);

#endif
