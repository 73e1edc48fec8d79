/* cmd_refresh.c: `netimg refresh --repo DIR [--expires TIME]
 * [CHANNEL...]`: re-signs channel pointers with a new expiry; run it from
 * a timer. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/cli.h"
#include "common/units.h"
#include "images/channel.h"

int cmd_refresh(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "expires", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	struct img_refresh_opts o = { 0 };
	struct img_refresh_item *it = NULL;
	struct ni_err e = { 0 };
	char when[40];
	struct tm tm;
	time_t t;
	size_t n, i;
	int ch, ret = 0;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': o.repo = optarg; break;
		case 'x':
			if (ni_parse_duration(optarg, &o.expires) != 0 || o.expires == 0)
				return cli_usage_error("refresh", "--expires %s: expected a duration such as 3600, 90m, 12h, 7d, 2w",
						       optarg);
			break;
		default: return cli_usage_error("refresh", "bad option");
		}
	}
	if (o.repo == NULL)
		return cli_usage_error("refresh", "expected --repo DIR");
	o.channels = argv + optind;
	o.n = (size_t)(argc - optind);
	if (img_refresh(&o, &it, &n, &e) != 0)
		ret = cli_fail(&e);
	for (i = 0; i < n; i++) {
		t = (time_t)it[i].expires_at;
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime_r(&t, &tm));
		printf("%s -> %s (serial %llu kept, expires %s)\n", it[i].channel,
		       it[i].target, (unsigned long long)it[i].serial, when);
	}
	if (ret == 0 && n == 0)
		printf("no channels to refresh in %s\n", o.repo);
	free(it);
	return ret;
}
