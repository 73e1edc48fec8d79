/* fuzz_http.c: libFuzzer target for the header parsers that read what
 * the network sends: the server's Range, If-None-Match, HTTP dates and
 * URL paths, and the fetcher's Content-Range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cache/fetch.h"
#include "images/serve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), rel[512];
	uint64_t off, len, first, last, total;
	time_t t;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (img_serve_parse_range(s, 1000000, &off, &len) == IMG_RANGE_PART &&
	    (len == 0 || off + len > 1000000))
		abort();
	img_serve_etag_matches(s, "\"abc-1-2\"");
	img_serve_parse_http_date(s, &t);
	if (img_serve_clean_path(s, rel, sizeof(rel)) == 0 && strstr(rel, ".."))
		if (strcmp(rel, "..") == 0 || strncmp(rel, "../", 3) == 0 ||
		    strstr(rel, "/../") != NULL)
			abort();
	if (cache_parse_content_range(s, &first, &last, &total) == 0 &&
	    (last < first || (total != UINT64_MAX && last >= total)))
		abort();
	free(s);
	return 0;
}
