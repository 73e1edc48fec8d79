/* units.c: durations and sizes. */
#include "common/units.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int number(const char *s, uint64_t *n, const char **rest)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*n = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	*rest = end;
	return 0;
}

static int scale(uint64_t n, uint64_t mul, uint64_t max, uint64_t *out)
{
	if (mul != 0 && n > max / mul)
		return -1;
	*out = n * mul;
	return 0;
}

int ni_parse_duration(const char *s, int64_t *out)
{
	static const struct { const char *suffix; uint64_t mul; } units[] = {
		{ "", 1 }, { "s", 1 }, { "m", 60 }, { "h", 3600 },
		{ "d", 86400 }, { "w", 604800 },
	};
	const char *rest;
	uint64_t n, v;
	size_t i;

	if (s == NULL || number(s, &n, &rest) != 0)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(rest, units[i].suffix) == 0) {
			if (scale(n, units[i].mul, INT64_MAX, &v) != 0)
				return -1;
			*out = (int64_t)v;
			return 0;
		}
	return -1;
}

int ni_parse_size(const char *s, uint64_t *out)
{
	static const char *const prefixes = "KMGT";
	const char *rest, *p;
	uint64_t n, mul = 1;
	size_t i;

	if (s == NULL || number(s, &n, &rest) != 0)
		return -1;
	if (strcmp(rest, "B") == 0)
		rest++;
	if (*rest != '\0') {
		if ((p = strchr(prefixes, *rest)) == NULL)
			return -1;
		for (i = 0; i <= (size_t)(p - prefixes); i++)
			mul *= 1024;
		rest++;
		if (strcmp(rest, "") != 0 && strcmp(rest, "B") != 0 &&
		    strcmp(rest, "iB") != 0)
			return -1;
	}
	return scale(n, mul, UINT64_MAX, out);
}
