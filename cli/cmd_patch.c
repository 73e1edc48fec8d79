/* cmd_patch.c: placeholder. */
#include <stdio.h>
#include "cli/cli.h"

int cmd_patch(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 1;
}
