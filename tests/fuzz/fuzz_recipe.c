/* fuzz_recipe.c: libFuzzer target for the recipe (INI) parser. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "builder/recipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz-recipe.XXXXXX";
	struct bld_recipe r;
	struct ni_err e;
	int fd = mkstemp(path);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		bld_recipe_load(path, &r, &e);
		bld_recipe_free(&r);
	}
	close(fd);
	unlink(path);
	return 0;
}
