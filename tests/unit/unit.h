/* unit.h: the unit tests' tiny framework. Each test is a function that
 * returns its number of failures; main.c runs the table and prints one TAP
 * line per test. UCHECK notes a failure (as a TAP comment) and goes on. */
#ifndef NI_UNIT_H
#define NI_UNIT_H

#include <stdio.h>

struct unit_test {
	const char *name;
	int (*fn)(void);
};

#define UCHECK(cond)                                                      \
	do {                                                              \
		if (!(cond)) {                                            \
			printf("#   %s:%d: failed: %s\n", __FILE__,        \
			       __LINE__, #cond);                          \
			fails++;                                          \
		}                                                         \
	} while (0)

/* A fresh folder under /tmp (malloc'd), and its removal. */
char *unit_tmpdir(void);
void unit_rmtree(char *dir);
/* Writes text to dir/name; returns the malloc'd path. */
char *unit_write(const char *dir, const char *name, const char *text);

/* test_catalog.c */
extern const struct unit_test unit_catalog_tests[];

#endif
