/* cmd_point.c: `netimg point --repo DIR CHANNEL NAME@VERSION` (rollout) and
 * `netimg rollback --repo DIR CHANNEL [--to NAME@VERSION]`: one small
 * signed write each. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "common/units.h"
#include "images/channel.h"
#include "netboot/ipxe.h"

static int run(const char *cmd, int rollback, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "to", required_argument, NULL, 't' },
		{ "expires", required_argument, NULL, 'x' },
		{ "by", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	struct img_point_opts o = { 0 };
	struct img_point_result r;
	struct ni_err e = { 0 };
	char when[40];
	struct tm tm;
	time_t t;
	int ch, want = rollback ? 1 : 2, written;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': o.repo = optarg; break;
		case 't': if (!rollback) return cli_usage_error(cmd, "--to is for rollback");
			  o.target = optarg; break;
		case 'x':
			if (ni_parse_duration(optarg, &o.expires) != 0 || o.expires == 0)
				return cli_usage_error(cmd, "--expires %s: expected a duration such as 3600, 90m, 12h, 7d, 2w",
						       optarg);
			break;
		case 'b': o.who = optarg; break;
		default: return cli_usage_error(cmd, "bad option");
		}
	}
	if (o.repo == NULL || argc - optind != want || (o.expires < 0))
		return cli_usage_error(cmd, rollback ? "expected --repo DIR CHANNEL"
					     : "expected --repo DIR CHANNEL NAME@VERSION");
	o.channel = argv[optind];
	if (!rollback)
		o.target = argv[optind + 1];
	if (img_point(&o, rollback, &r, &e) != 0)
		return cli_fail(&e);
	t = (time_t)r.expires_at;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime_r(&t, &tm));
	printf("%s -> %s (serial %llu, expires %s)\n", o.channel, r.target,
	       (unsigned long long)r.serial, when);
	fflush(stdout);
	/* The channel's iPXE script follows its pointer, right after it. */
	if (nb_ipxe_channel_changed(o.repo, o.channel, &written, &e) != 0) {
		fprintf(stderr, "netimg: %s now points at %s, but its iPXE script was not rewritten: %s (run netimg ipxe --repo %s)\n",
			o.channel, r.target, e.msg, o.repo);
		return 1;
	}
	return 0;
}

int cmd_point(int argc, char **argv)
{
	return run("point", 0, argc, argv);
}

int cmd_rollback(int argc, char **argv)
{
	return run("rollback", 1, argc, argv);
}
