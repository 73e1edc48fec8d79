/* test_hot.c: the hot list's parser (images/hot.c). */
#include <string.h>

#include "images/hot.h"
#include "tests/unit/unit.h"

/* 0 when text parses into n paths; else the error code, msg set. */
static int parse(const char *text, size_t len, size_t *n, char *msg)
{
	struct img_hot h;
	struct ni_err e = { 0 };
	int ret = img_hot_parse("L", (const uint8_t *)text, len, &h, &e);

	*n = h.n;
	strcpy(msg, e.msg);
	img_hot_free(&h);
	return ret;
}

#define P(s, n, m) parse((s), sizeof(s) - 1, (n), (m))

static int t_hot_good(void)
{
	int fails = 0;
	struct img_hot h;
	struct ni_err e = { 0 };
	const char *s = "/usr/bin/bash\n/etc/passwd\n/a b/c\xc3\xa9\n";

	UCHECK(img_hot_parse("L", (const uint8_t *)s, strlen(s), &h, &e) == 0);
	UCHECK(h.n == 3);
	UCHECK(h.n == 3 && strcmp(h.path[0], "/usr/bin/bash") == 0);
	UCHECK(h.n == 3 && strcmp(h.path[2], "/a b/c\xc3\xa9") == 0);
	img_hot_free(&h);
	UCHECK(h.n == 0 && h.path == NULL);
	return fails;
}

static int t_hot_bad(void)
{
	int fails = 0;
	size_t n;
	char m[1024];

	UCHECK(P("", &n, m) == NI_EINVAL && strstr(m, "L: empty") != NULL);
	UCHECK(P("/a\n/b", &n, m) == NI_EINVAL && strstr(m, "L:2: the last line has no newline") != NULL);
	UCHECK(P("/a\n\n", &n, m) == NI_EINVAL && strstr(m, "L:2: an empty line") != NULL);
	UCHECK(P("a\n", &n, m) == NI_EINVAL && strstr(m, "L:1: not an absolute path") != NULL);
	UCHECK(P("/\n", &n, m) == NI_EINVAL && strstr(m, "L:1: '/' is not a file") != NULL);
	UCHECK(P("/a//b\n", &n, m) == NI_EINVAL && strstr(m, "'//'") != NULL);
	UCHECK(P("/a/\n", &n, m) == NI_EINVAL && strstr(m, "ending in '/'") != NULL);
	UCHECK(P("/a/./b\n", &n, m) == NI_EINVAL && strstr(m, "'.' or '..'") != NULL);
	UCHECK(P("/a/..\n", &n, m) == NI_EINVAL && strstr(m, "'.' or '..'") != NULL);
	UCHECK(P("/a/\0b\n", &n, m) == NI_EINVAL && strstr(m, "L:1: a NUL byte") != NULL);
	UCHECK(P("/x\n/y\n/x\n", &n, m) == NI_EINVAL &&
	       strstr(m, "L:3: '/x' is already on line 1") != NULL);
	/* names that merely start with dots are fine */
	UCHECK(P("/.a/..b/...\n", &n, m) == 0 && n == 1);
	return fails;
}

const struct unit_test unit_hot_tests[] = {
	{ "hot list: good lists", t_hot_good },
	{ "hot list: every malformed line named", t_hot_bad },
	{ NULL, NULL },
};
