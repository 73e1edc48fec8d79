/* serve_http.c: what the server decides from a request's headers and path,
 * without I/O: byte ranges, entity-tag lists, HTTP dates, the clean
 * relative path, and the type and caching of a file. Every input here
 * came from the network; each parser stops at the string's end. */
#include "images/serve.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Reads decimal digits, saturating at UINT64_MAX; returns the end, or
 * NULL when there is no digit. */
static const char *read_u64(const char *p, uint64_t *v)
{
	const char *start = p;
	uint64_t n = 0;

	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
	}
	*v = n;
	return p == start ? NULL : p;
}

static enum img_range suffix_range(uint64_t n, uint64_t size, uint64_t *off,
				   uint64_t *len)
{
	if (n == 0 || size == 0)
		return IMG_RANGE_UNSAT;
	*len = n < size ? n : size;
	*off = size - *len;
	return IMG_RANGE_PART;
}

enum img_range img_serve_parse_range(const char *h, uint64_t size,
				     uint64_t *off, uint64_t *len)
{
	uint64_t a, b = UINT64_MAX;
	const char *p;

	if (h == NULL || strncasecmp(h, "bytes", 5) != 0)
		return IMG_RANGE_WHOLE;
	p = skip_ows(h + 5);
	if (*p != '=')
		return IMG_RANGE_WHOLE;
	p = skip_ows(p + 1);
	if (strchr(p, ',') != NULL)
		return IMG_RANGE_WHOLE; /* several ranges: the whole file (RFC 7233) */
	if (*p == '-') {
		p = read_u64(p + 1, &a);
		if (p == NULL || *skip_ows(p) != '\0')
			return IMG_RANGE_WHOLE;
		return suffix_range(a, size, off, len);
	}
	p = read_u64(p, &a);
	if (p == NULL || *p != '-')
		return IMG_RANGE_WHOLE;
	p++;
	if (*p >= '0' && *p <= '9')
		p = read_u64(p, &b);
	if (*skip_ows(p) != '\0' || a > b)
		return IMG_RANGE_WHOLE;
	if (a >= size)
		return IMG_RANGE_UNSAT;
	if (b > size - 1)
		b = size - 1;
	*off = a;
	*len = b - a + 1;
	return IMG_RANGE_PART;
}

int img_serve_etag_matches(const char *h, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = h, *end;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return 0;
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p == '"') {
			/* an entity tag may hold commas: it ends at its quote */
			end = strchr(p + 1, '"');
			if (end == NULL)
				return 0;
			end++;
			if ((size_t)(end - p) == elen && memcmp(p, etag, elen) == 0)
				return 1;
			p = end;
		}
		while (*p != '\0' && *p != ',')
			p++;
	}
}

static const char wdays[7][4] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

void img_serve_http_date(time_t t, char out[IMG_HTTP_DATE_LEN])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	/* the remainders only bound what the compiler must assume */
	snprintf(out, IMG_HTTP_DATE_LEN, "%.3s, %02u %.3s %04u %02u:%02u:%02u GMT",
		 wdays[(unsigned)tm.tm_wday % 7], (unsigned)tm.tm_mday % 32,
		 months[(unsigned)tm.tm_mon % 12],
		 (unsigned)(tm.tm_year + 1900) % 10000,
		 (unsigned)tm.tm_hour % 24, (unsigned)tm.tm_min % 60,
		 (unsigned)tm.tm_sec % 61);
}

static int month_of(const char *m)
{
	int i;

	for (i = 0; i < 12; i++)
		if (strcmp(m, months[i]) == 0)
			return i;
	return -1;
}

/* Fills tm from the three HTTP-date forms of RFC 7231 7.1.1.1. */
static int scan_date(const char *s, struct tm *tm, int *year)
{
	char wd[16], mon[4];
	int n = -1, len = (int)strlen(s);

	if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", wd,
		   &tm->tm_mday, mon, year, &tm->tm_hour, &tm->tm_min,
		   &tm->tm_sec, &n) == 7 && n == len)
		return month_of(mon);
	n = -1;
	if (sscanf(s, "%9[A-Za-z], %2d-%3[A-Za-z]-%2d %2d:%2d:%2d GMT%n", wd,
		   &tm->tm_mday, mon, year, &tm->tm_hour, &tm->tm_min,
		   &tm->tm_sec, &n) == 7 && n == len) {
		*year += *year < 70 ? 2000 : 1900;
		return month_of(mon);
	}
	n = -1;
	if (sscanf(s, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%n", wd, mon,
		   &tm->tm_mday, &tm->tm_hour, &tm->tm_min, &tm->tm_sec, year,
		   &n) == 7 && n == len)
		return month_of(mon);
	return -1;
}

int img_serve_parse_http_date(const char *s, time_t *t)
{
	struct tm tm;
	int year = 0, mon;

	memset(&tm, 0, sizeof(tm));
	mon = scan_date(s, &tm, &year);
	if (mon < 0 || year < 1900 || year > 9999 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 ||
	    tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return -1;
	tm.tm_mon = mon;
	tm.tm_year = year - 1900;
	*t = timegm(&tm);
	return 0;
}

int img_serve_clean_path(const char *url, char *rel, size_t cap)
{
	const char *p = url, *c;
	size_t n = 0, len;

	if (url[0] != '/' || strchr(url, '\\') != NULL || cap == 0)
		return -1;
	while (*p != '\0') {
		while (*p == '/')
			p++;
		for (c = p; *p != '\0' && *p != '/'; p++)
			;
		len = (size_t)(p - c);
		if (len == 0 || (len == 1 && c[0] == '.'))
			continue;
		if (len == 2 && c[0] == '.' && c[1] == '.')
			return -1;
		if (n + len + 2 > cap)
			return -1;
		if (n > 0)
			rel[n++] = '/';
		memcpy(rel + n, c, len);
		n += len;
	}
	rel[n] = '\0';
	return 0;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

const char *img_serve_content_type(const char *rel)
{
	if (has_suffix(rel, ".json"))
		return "application/json";
	if (has_suffix(rel, ".ipxe") || has_suffix(rel, ".pub"))
		return "text/plain";
	return "application/octet-stream";
}

/* Channel pointers, boot scripts, the list of versions (rewritten by each
 * publish), location files (rewritten by a repack), attachment records and
 * lists (an attachment may be replaced) and repo.json change in place (by
 * rename); every other published file is immutable under its name. docs/nginx-repo.conf says the same to nginx. */
const char *img_serve_cache_control(const char *rel)
{
	if (strncmp(rel, "channels/", 9) == 0 || has_suffix(rel, ".ipxe") ||
	    strncmp(rel, "locations/", 10) == 0 ||
	    strncmp(rel, "attachments/", 12) == 0 ||
	    strcmp(rel, "versions/index.json") == 0 ||
	    strcmp(rel, "repo.json") == 0)
		return "no-cache";
	return "public, max-age=31536000, immutable";
}
