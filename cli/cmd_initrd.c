/* cmd_initrd.c: `netimg initrd --repo DIR NAME@VERSION [--by WHO]`:
 * rebuilds a version's netboot initramfs as an attachment. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "netboot/initrd.h"

int cmd_initrd(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "by", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	const char *repo = NULL, *who = NULL;
	struct nb_initrd_result r;
	struct ni_err e = { 0 };
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': repo = optarg; break;
		case 'b': who = optarg; break;
		default: return cli_usage_error("initrd", "bad option");
		}
	}
	if (repo == NULL || optind != argc - 1)
		return cli_usage_error("initrd", "expected --repo DIR NAME@VERSION");
	if (nb_initrd_rebuild(repo, argv[optind], who, &r, &e) != 0)
		return cli_fail(&e);
	printf("%s: new initramfs attached (blobs/%s, %llu bytes)%s\n", argv[optind], r.sha256,
	       (unsigned long long)r.size, r.scripts ? "; iPXE scripts rewritten" : "");
	return 0;
}
