/* main.c: runs every unit test table and prints TAP (one line per test). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"

/* test_fetch.c */
extern const struct unit_test unit_fetch_tests[];

/* test_sign.c */
extern const struct unit_test unit_sign_tests[];

/* test_units.c */
extern const struct unit_test unit_units_tests[];

/* test_chunkidx.c */
extern const struct unit_test unit_chunkidx_tests[];

/* test_fusefs.c */
extern const struct unit_test unit_fusefs_tests[];

/* test_hot.c */
extern const struct unit_test unit_hot_tests[];

static const struct unit_test *const tables[] = {
	unit_catalog_tests,
	unit_fetch_tests,
	unit_sign_tests,
	unit_units_tests,
	unit_fusefs_tests,
	unit_chunkidx_tests,
	unit_hot_tests,
	NULL,
};

char *unit_tmpdir(void)
{
	char *dir = strdup("/tmp/netimg-unit.XXXXXX");

	if (dir == NULL || mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	return dir;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void unit_rmtree(char *dir)
{
	if (dir != NULL)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

char *unit_write(const char *dir, const char *name, const char *text)
{
	char *path;
	FILE *f;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		exit(1);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	return path;
}

int main(void)
{
	const struct unit_test *const *t;
	const struct unit_test *u;
	int n = 0, failed = 0;

	for (t = tables; *t != NULL; t++)
		for (u = *t; u->name != NULL; u++)
			n++;
	printf("1..%d\n", n);
	n = 0;
	for (t = tables; *t != NULL; t++)
		for (u = *t; u->name != NULL; u++) {
			int f;

			fflush(stdout);
			f = u->fn();
			printf("%sok %d - %s\n", f ? "not " : "", ++n, u->name);
			failed += f != 0;
		}
	return failed != 0;
}
