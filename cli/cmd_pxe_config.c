/* cmd_pxe_config.c: `netimg pxe-config --url URL [--interface IF]
 * [--subnet NET]`: prints a dnsmasq proxy-DHCP and TFTP configuration. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "netboot/pxeconf.h"

int cmd_pxe_config(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "interface", required_argument, NULL, 'i' },
		{ "subnet", required_argument, NULL, 's' },
		{ "tftp-root", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct nb_pxe_opts o = { 0 };
	struct ni_err e = { 0 };
	char *text, *url = NULL, *comma;
	int ch, ret;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u': free(url); url = strdup(optarg); break;
		case 'i': o.interface = optarg; break;
		case 's': o.subnet = optarg; break;
		case 't': o.tftp_root = optarg; break;
		default: free(url); return cli_usage_error("pxe-config", "bad option");
		}
	}
	if (url == NULL || optind != argc) {
		free(url);
		return cli_usage_error("pxe-config", "expected --url URL [--interface IF] [--subnet NET]");
	}
	/* iPXE fetches boot.ipxe from the first repository URL. */
	if ((comma = strchr(url, ',')) != NULL)
		*comma = '\0';
	o.url = url;
	ret = nb_pxe_config(&o, &text, &e);
	free(url);
	if (ret != 0)
		return e.code == NI_EUSAGE ? cli_usage_error("pxe-config", "%s", e.msg) : cli_fail(&e);
	fputs(text, stdout);
	free(text);
	return 0;
}
