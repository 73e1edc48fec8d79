/* cmd_history.c: `netimg history --repo DIR|URL [--key PUB] CHANNEL`: the
 * channel's verified pointer and the versions it pointed at before. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/repo_client.h"
#include "images/channel.h"
#include "images/sign.h"

static void line(json_t *p, const char *mark)
{
	time_t t = (time_t)json_integer_value(json_object_get(p, "time"));
	char when[40];
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime_r(&t, &tm));
	printf("%s serial %-4lld %-24s %s by %s\n", mark,
	       (long long)json_integer_value(json_object_get(p, "serial")),
	       json_string_value(json_object_get(p, "target")), when,
	       json_string_value(json_object_get(p, "who")));
}

int cmd_history(int argc, char **argv)
{
	struct repo_client_opts o;
	struct repo_client c;
	struct ni_err e = { 0 };
	char rel[160];
	uint8_t *buf = NULL;
	const void *payload;
	size_t len, plen, i;
	json_t *p = NULL, *h;
	int ret = 0;

	if ((ret = repo_client_options("history", argc, argv, &o)) != 0)
		return ret;
	if (optind != argc - 1)
		return cli_usage_error("history", "expected --repo DIR|URL CHANNEL");
	if (!img_valid_channel(argv[optind]))
		return cli_usage_error("history", "'%s' is not a channel name", argv[optind]);
	snprintf(rel, sizeof(rel), "channels/%s.json", argv[optind]);
	if (repo_client_open(&c, &o, &e) != 0)
		return cli_fail(&e);
	if (cache_source_get(c.src, rel, 16u << 20, &buf, &len, &e) != 0 ||
	    img_open_signed(c.key, rel, buf, len, &payload, &plen, NULL, &e) != 0 ||
	    (p = json_loadb(payload, plen, 0, NULL)) == NULL) {
		if (e.code == 0)
			ni_err_set(&e, NI_EINVAL, "%s: malformed pointer", rel);
		ret = cli_fail(&e);
	} else {
		time_t x = (time_t)json_integer_value(json_object_get(p, "expires"));
		char when[40];
		struct tm tm;

		line(p, "*");
		json_array_foreach(json_object_get(p, "history"), i, h)
			line(h, " ");
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime_r(&x, &tm));
		printf("%s %s\n", x > time(NULL) ? "expires" : "EXPIRED", when);
	}
	json_decref(p);
	free(buf);
	repo_client_close(&c);
	return ret;
}
