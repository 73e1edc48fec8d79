/* serve_log.c: the access-log line of a request, in the combined format
 * of Apache and nginx (time in UTC, no referer). Every field came from the
 * network: quotes, backslashes and control bytes are written as \xHH so
 * one request is always one line, and the line is cut at its buffer. */
#include "images/serve.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct out {
	char *p;
	size_t cap, n;  /* n < cap always: room for the NUL */
};

static void put(struct out *o, const char *s)
{
	size_t len = strlen(s);

	if (len > o->cap - 1 - o->n)
		len = o->cap - 1 - o->n;
	memcpy(o->p + o->n, s, len);
	o->n += len;
	o->p[o->n] = '\0';
}

static void put_escaped(struct out *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char ch;
	char esc[5] = { '\\', 'x', 0, 0, 0 }, one[2] = { 0, 0 };

	if (s == NULL) {
		put(o, "-");
		return;
	}
	for (; (ch = (unsigned char)*s) != '\0' && o->n < o->cap - 1; s++) {
		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
			esc[2] = hex[ch >> 4];
			esc[3] = hex[ch & 15];
			put(o, esc);
		} else {
			one[0] = (char)ch;
			put(o, one);
		}
	}
}

void img_serve_format_log(const struct img_log_entry *le, char *line,
			  size_t cap)
{
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
	};
	struct out o = { line, cap, 0 };
	char buf[64];
	struct tm tm;

	if (cap == 0)
		return;
	line[0] = '\0';
	if (gmtime_r(&le->when, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	put_escaped(&o, le->addr);
	snprintf(buf, sizeof(buf), " - - [%02u/%.3s/%04u:%02u:%02u:%02u +0000] \"",
		 (unsigned)tm.tm_mday % 32, months[(unsigned)tm.tm_mon % 12],
		 (unsigned)(tm.tm_year + 1900) % 10000, (unsigned)tm.tm_hour % 24,
		 (unsigned)tm.tm_min % 60, (unsigned)tm.tm_sec % 61);
	put(&o, buf);
	put_escaped(&o, le->method);
	put(&o, " ");
	put_escaped(&o, le->target);
	put(&o, " ");
	put_escaped(&o, le->version);
	if (le->status != 0 && le->bytes >= 0)
		snprintf(buf, sizeof(buf), "\" %u %" PRId64 " \"-\" \"",
			 le->status, le->bytes);
	else if (le->status != 0)
		snprintf(buf, sizeof(buf), "\" %u - \"-\" \"", le->status);
	else
		snprintf(buf, sizeof(buf), "\" - - \"-\" \"");
	put(&o, buf);
	put_escaped(&o, le->agent);
	put(&o, "\"");
}
