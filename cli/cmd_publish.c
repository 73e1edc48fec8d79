/* cmd_publish.c: `netimg publish --repo DIR IMAGE.sqfs [--name N --version V]`. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "common/progress.h"
#include "images/publish.h"

int cmd_publish(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "version", required_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct img_publish_opts o = { 0 };
	struct img_publish_result r;
	struct ni_err e = { 0 };
	char newb[32], size[32];
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o.repo = optarg; break;
		case 'n': o.name = optarg; break;
		case 'v': o.version = optarg; break;
		default: return cli_usage_error("publish", "bad option");
		}
	}
	if (o.repo == NULL || optind != argc - 1)
		return cli_usage_error("publish", "expected --repo DIR and one IMAGE");
	o.image = argv[optind];
	if (img_publish(&o, &r, &e) != 0) {
		img_publish_result_free(&r);
		return cli_fail(&e);
	}
	ni_fmt_bytes(r.new_bytes, newb, sizeof(newb));
	ni_fmt_bytes(r.image_size, size, sizeof(size));
	if (r.already)
		printf("%s@%s is already published with this image; nothing to do\n",
		       r.name, r.version);
	else
		printf("published %s@%s: %s image, %zu chunks, %zu new (%s new to the repository)\n",
		       r.name, r.version, size, r.chunks, r.new_chunks, newb);
	img_publish_result_free(&r);
	return 0;
}
