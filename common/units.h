/* units.h: durations and sizes as people write them on a command line or
 * in a config file. */
#ifndef NI_UNITS_H
#define NI_UNITS_H

#include <stdint.h>

/* "90" (seconds), "90s", "30m", "12h", "7d", "2w". Returns 0 and the
 * seconds, or -1 for anything else (empty, negative, overflow, junk). */
int ni_parse_duration(const char *s, int64_t *out);

/* "1048576", "512K", "20M", "2G", "1T" (binary multiples; a trailing "B"
 * or "iB" is allowed: "20MiB", "2GB"). Returns 0, or -1. */
int ni_parse_size(const char *s, uint64_t *out);

#endif
