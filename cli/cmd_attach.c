/* cmd_attach.c: `netimg attach --repo DIR NAME@VERSION KIND FILE [--by
 * WHO]`: adds (or replaces) a version's attachment; the manifest never
 * changes. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "common/progress.h"
#include "images/attach.h"

int cmd_attach(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "by", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	struct img_attach_opts o = { 0 };
	struct img_attach_result r;
	struct ni_err e = { 0 };
	char size[32];
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': o.repo = optarg; break;
		case 'b': o.who = optarg; break;
		default: return cli_usage_error("attach", "bad option");
		}
	}
	if (o.repo == NULL || argc - optind != 3)
		return cli_usage_error("attach", "expected --repo DIR NAME@VERSION KIND FILE");
	o.target = argv[optind];
	o.kind = argv[optind + 1];
	o.file = argv[optind + 2];
	if (img_attach(&o, &r, &e) != 0)
		return cli_fail(&e);
	ni_fmt_bytes(r.size, size, sizeof(size));
	printf("attached %s to %s: %s, sha256 %s", o.kind, o.target, size, r.sha256);
	if (r.replaced[0] != '\0')
		printf(" (replaces %.16s...)", r.replaced);
	printf("\n");
	return 0;
}
