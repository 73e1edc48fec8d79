/* cmd_fetch.c: `netimg fetch --repo DIR|URL[,URL...] [--key PUB]
 * CHANNEL|NAME@VERSION -o FILE.sqfs`: downloads, verifies and
 * reassembles. A channel is resolved through its verified pointer
 * (expiry and replay checked against the client's state folder). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cache/image.h"
#include "cli/cli.h"
#include "cli/repo_client.h"
#include "common/progress.h"

int cmd_fetch(int argc, char **argv)
{
	static const struct option longopts[] = {
		REPO_CLIENT_LONGOPTS,
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo_client_opts o = { 0 };
	const char *out = NULL;
	char size[32];
	struct cache_image_stats st;
	struct cache_image_req rq = { 0 };
	struct repo_client c;
	struct repo_target t;
	struct ni_err e = { 0 };
	double t0 = ni_now();
	int ch, ret = 0;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		if (repo_client_opt(&o, ch, optarg))
			continue;
		if (ch != 'o')
			return cli_usage_error("fetch", "bad option");
		out = optarg;
	}
	if (out == NULL || optind != argc - 1)
		return cli_usage_error("fetch", "expected --repo, CHANNEL or NAME@VERSION, and -o FILE");
	if (repo_client_open(&c, &o, &e) != 0)
		return cli_fail(&e);
	if (repo_client_resolve(&c, argv[optind], &t, &e) != 0) {
		ret = cli_fail(&e);
		goto out;
	}
	rq.name = t.name;
	rq.version = t.version;
	rq.manifest_sha256 = t.manifest_sha256;
	rq.out = out;
	if (cache_get_image(c.src, c.key, &rq, &st, &e) != 0) {
		ret = cli_fail(&e);
	} else {
		ni_fmt_bytes(st.image_size, size, sizeof(size));
		if (t.is_channel)
			printf("channel %s: serial %llu, %s@%s\n", t.ptr.channel,
			       (unsigned long long)t.ptr.serial, t.name, t.version);
		printf("fetched %s@%s to %s: %s, %zu chunks verified, %zu requests, %.1fs\n",
		       t.name, t.version, out, size, st.chunks, st.requests, ni_now() - t0);
	}
out:
	repo_target_free(&t);
	repo_client_close(&c);
	return ret;
}
