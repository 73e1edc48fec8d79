/* main.c: the netimg binary: dispatches the first word to a command. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/cleanup.h"

int main(int argc, char **argv)
{
	const struct cli_cmd *cmd;

	ni_cleanup_install();
	if (argc < 2)
		return cmd_help(0, NULL) == 0 ? 2 : 2;
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("netimg %s\n", NETIMG_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(0, NULL);
	cmd = cli_find(argv[1]);
	if (cmd == NULL) {
		fprintf(stderr, "netimg: '%s' is not a command; see 'netimg help'\n",
			argv[1]);
		return 2;
	}
	if (cli_wants_help(cmd->name, argc - 1, argv + 1))
		return 0;
	return cmd->fn(argc - 1, argv + 1);
}
