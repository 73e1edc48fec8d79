/* cmd_init.c: `netimg init --repo DIR`. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "images/repo.h"

int cmd_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct ni_err e = { 0 };
	const char *repo = NULL;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'r')
			return cli_usage_error("init", "bad option");
		repo = optarg;
	}
	if (repo == NULL || optind != argc)
		return cli_usage_error("init", "expected --repo DIR");
	if (img_repo_init(repo, &e) != 0)
		return cli_fail(&e);
	printf("initialized repository %s (publish from %s/public/; keep %s/private/ private)\n",
	       repo, repo, repo);
	return 0;
}
