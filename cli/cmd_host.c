/* cmd_host.c: `netimg host add|list|remove|move --repo DIR ...`: the
 * inventory of netbooting machines (which channel each MAC boots). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "netboot/hosts.h"

static int list(const char *repo, int json)
{
	struct ni_err e = { 0 };
	json_t *inv, *h;
	size_t i;

	if (nb_hosts_load(repo, &inv, &e) != 0)
		return cli_fail(&e);
	if (json) {
		json_dumpf(json_object_get(inv, "hosts"), stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		printf("%-17s  %-20s  %s\n", "MAC", "NAME", "CHANNEL");
		json_array_foreach(json_object_get(inv, "hosts"), i, h)
			printf("%-17s  %-20s  %s\n",
			       json_string_value(json_object_get(h, "mac")),
			       json_string_value(json_object_get(h, "name")),
			       json_string_value(json_object_get(h, "channel")));
	}
	json_decref(inv);
	return 0;
}

int cmd_host(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "channel", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *repo = NULL, *name = NULL, *channel = NULL, *sub;
	char mac[NB_MAC_LEN];
	struct ni_err e = { 0 };
	enum nb_host_op op;
	int ch, json = 0, ret;

	if (argc < 2)
		return cli_usage_error("host", "expected add, list, remove or move");
	sub = argv[1];
	optind = 2;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': repo = optarg; break;
		case 'n': name = optarg; break;
		case 'c': channel = optarg; break;
		case 'j': json = 1; break;
		default: return cli_usage_error("host", "bad option");
		}
	}
	if (repo == NULL)
		return cli_usage_error("host", "--repo DIR is required");
	if (strcmp(sub, "list") == 0) {
		if (optind != argc || name || channel)
			return cli_usage_error("host", "expected: host list --repo DIR [--json]");
		return list(repo, json);
	}
	if (strcmp(sub, "add") == 0) {
		op = NB_HOST_ADD;
		if (optind != argc - 1 || name == NULL || channel == NULL)
			return cli_usage_error("host", "expected: host add --repo DIR MAC --name NAME --channel CHANNEL");
	} else if (strcmp(sub, "remove") == 0) {
		op = NB_HOST_REMOVE;
		if (optind != argc - 1 || name || channel)
			return cli_usage_error("host", "expected: host remove --repo DIR MAC|NAME");
	} else if (strcmp(sub, "move") == 0) {
		op = NB_HOST_MOVE;
		if (optind != argc - 1 || name || channel == NULL)
			return cli_usage_error("host", "expected: host move --repo DIR MAC|NAME --channel CHANNEL");
	} else {
		return cli_usage_error("host", "unknown subcommand '%s'", sub);
	}
	ret = nb_host_change(repo, op, argv[optind], name, channel, mac, &e);
	if (ret != 0)
		return cli_fail(&e);
	if (op == NB_HOST_ADD)
		printf("added %s (%s) to channel %s\n", mac, name, channel);
	else if (op == NB_HOST_REMOVE)
		printf("removed %s\n", mac);
	else
		printf("moved %s to channel %s\n", mac, channel);
	return 0;
}
