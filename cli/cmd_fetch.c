/* cmd_fetch.c: `netimg fetch --repo DIR|URL[,URL...] [--key PUB]
 * NAME@VERSION -o FILE.sqfs`: downloads, verifies and reassembles. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cache/image.h"
#include "cli/cli.h"
#include "cli/repo_client.h"
#include "common/progress.h"
#include "images/manifest.h"

int cmd_fetch(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "key", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *repo = NULL, *key = NULL, *out = NULL;
	char *name = NULL, *version = NULL, size[32];
	struct cache_image_stats st;
	struct cache_image_req rq = { 0 };
	struct repo_client c;
	struct ni_err e = { 0 };
	double t0 = ni_now();
	int ch, ret = 0;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': repo = optarg; break;
		case 'k': key = optarg; break;
		case 'o': out = optarg; break;
		default: return cli_usage_error("fetch", "bad option");
		}
	}
	if (repo == NULL || out == NULL || optind != argc - 1)
		return cli_usage_error("fetch", "expected --repo, NAME@VERSION and -o FILE");
	if (img_split_version(argv[optind], &name, &version, &e) != 0 ||
	    repo_client_open(&c, repo, key, &e) != 0) {
		free(name);
		free(version);
		return cli_fail(&e);
	}
	rq.name = name;
	rq.version = version;
	rq.out = out;
	if (cache_get_image(c.src, c.key, &rq, &st, &e) != 0) {
		ret = cli_fail(&e);
	} else {
		ni_fmt_bytes(st.image_size, size, sizeof(size));
		printf("fetched %s@%s to %s: %s, %zu chunks verified, %zu requests, %.1fs\n",
		       name, version, out, size, st.chunks, st.requests, ni_now() - t0);
	}
	repo_client_close(&c);
	free(name);
	free(version);
	return ret;
}
