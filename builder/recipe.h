/* recipe.h: the build recipe, an INI file. Relative paths are relative to
 * the recipe's folder; unknown sections or keys, missing files and
 * malformed values are errors naming the file and line. */
#ifndef BLD_RECIPE_H
#define BLD_RECIPE_H

#include <stddef.h>
#include <stdint.h>

#include "builder/catalog.h"
#include "common/err.h"
#include "common/hash.h"

struct bld_recipe {
	char *path;           /* as given */
	char *dir;            /* its folder */
	char *name, *version;
	int comp_id;          /* SQFS_COMPRESSOR */
	char *compression;
	uint32_t block_size;
	int64_t epoch;        /* -1 when neither the recipe nor the
			       * environment sets it */
	int epoch_from_env;
	char *base;           /* resolved path */
	char *base_raw;       /* as written */
	int has_base_sha;
	uint8_t base_sha[NI_SHA256_LEN];
	char *catalog;        /* resolved path, NULL without [patches] */
	char *catalog_raw;
	enum bld_severity min_sev;
	char **exclude;
	size_t n_exclude;
	int has_boot;
	char *boot_kernel;    /* "image", or a resolved .deb path */
	char *boot_kernel_raw;
	char *boot_cmdline;
};

/* Parses path. SOURCE_DATE_EPOCH, when set, overrides [image] epoch. */
int bld_recipe_load(const char *path, struct bld_recipe *r, struct ni_err *e);
void bld_recipe_free(struct bld_recipe *r);

#endif
