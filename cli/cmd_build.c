/* cmd_build.c: `netimg build` (placeholder until the builder lands). */
#include <stdio.h>
#include "cli/cli.h"

int cmd_build(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "netimg build: not yet\n");
	return 1;
}
