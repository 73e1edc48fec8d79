/* test_units.c: durations and sizes as written on command lines. */
#include <stdint.h>

#include "common/units.h"
#include "tests/unit/unit.h"

static int t_duration(void)
{
	int fails = 0;
	int64_t v = -7;

	UCHECK(ni_parse_duration("90", &v) == 0 && v == 90);
	UCHECK(ni_parse_duration("90s", &v) == 0 && v == 90);
	UCHECK(ni_parse_duration("30m", &v) == 0 && v == 1800);
	UCHECK(ni_parse_duration("12h", &v) == 0 && v == 43200);
	UCHECK(ni_parse_duration("7d", &v) == 0 && v == 604800);
	UCHECK(ni_parse_duration("2w", &v) == 0 && v == 1209600);
	UCHECK(ni_parse_duration("0", &v) == 0 && v == 0);
	v = -7;
	UCHECK(ni_parse_duration("", &v) == -1);
	UCHECK(ni_parse_duration("-5", &v) == -1);
	UCHECK(ni_parse_duration("5x", &v) == -1);
	UCHECK(ni_parse_duration("d", &v) == -1);
	UCHECK(ni_parse_duration("5 d", &v) == -1);
	UCHECK(ni_parse_duration("99999999999999999999", &v) == -1);
	UCHECK(ni_parse_duration("9223372036854775807w", &v) == -1);
	UCHECK(ni_parse_duration(NULL, &v) == -1);
	UCHECK(v == -7);
	return fails;
}

static int t_size(void)
{
	int fails = 0;
	uint64_t v = 7;

	UCHECK(ni_parse_size("1048576", &v) == 0 && v == 1048576);
	UCHECK(ni_parse_size("100B", &v) == 0 && v == 100);
	UCHECK(ni_parse_size("512K", &v) == 0 && v == 512 * 1024);
	UCHECK(ni_parse_size("20M", &v) == 0 && v == 20u << 20);
	UCHECK(ni_parse_size("20MiB", &v) == 0 && v == 20u << 20);
	UCHECK(ni_parse_size("2GB", &v) == 0 && v == 2ull << 30);
	UCHECK(ni_parse_size("1T", &v) == 0 && v == 1ull << 40);
	v = 7;
	UCHECK(ni_parse_size("", &v) == -1);
	UCHECK(ni_parse_size("-1", &v) == -1);
	UCHECK(ni_parse_size("2X", &v) == -1);
	UCHECK(ni_parse_size("2Mb", &v) == -1);
	UCHECK(ni_parse_size("2MiBs", &v) == -1);
	UCHECK(ni_parse_size("99999999999T", &v) == -1);
	UCHECK(v == 7);
	return fails;
}

const struct unit_test unit_units_tests[] = {
	{ "units: durations (s, m, h, d, w), junk and overflow refused", t_duration },
	{ "units: sizes (K, M, G, T, B, iB), junk and overflow refused", t_size },
	{ NULL, NULL },
};
