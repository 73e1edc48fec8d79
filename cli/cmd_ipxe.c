/* cmd_ipxe.c: `netimg ipxe --repo DIR --url URL[,URL...] [--default C]`:
 * writes the iPXE scripts into DIR/public/. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "netboot/ipxe.h"

int cmd_ipxe(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "url", required_argument, NULL, 'u' },
		{ "default", required_argument, NULL, 'd' },
		{ "no-default", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct nb_ipxe_opts o = { 0 };
	struct nb_ipxe_result r;
	struct ni_err e = { 0 };
	int ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': o.repo = optarg; break;
		case 'u': o.urls = optarg; break;
		case 'd': o.default_channel = optarg; break;
		case 'n': o.default_channel = ""; break;
		default: return cli_usage_error("ipxe", "bad option");
		}
	}
	if (o.repo == NULL || optind != argc)
		return cli_usage_error("ipxe", "expected --repo DIR [--url URL[,URL...]]");
	if (nb_ipxe_setup(&o, &r, &e) != 0)
		return e.code == NI_EUSAGE ? cli_usage_error("ipxe", "%s", e.msg) : cli_fail(&e);
	printf("wrote boot.ipxe, %zu channel script%s, %zu host script%s; unknown machines %s%s\n",
	       r.channels, r.channels == 1 ? "" : "s", r.hosts, r.hosts == 1 ? "" : "s",
	       r.default_channel[0] ? "boot channel " : "boot nothing",
	       r.default_channel);
	return 0;
}
