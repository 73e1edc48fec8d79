/* cmd_attachments.c: `netimg attachments --repo DIR|URL [--key PUB]
 * CHANNEL|NAME@VERSION [KIND -o FILE]`: lists a version's attachments,
 * each verified (record signature, the manifest hash it names, the blob's
 * size and hash), or writes one, verified, to FILE. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cache/attach.h"
#include "cli/cli.h"
#include "cli/repo_client.h"
#include "common/progress.h"

static int one(struct repo_client *c, struct cache_attach_req *rq)
{
	struct cache_attachment a;
	struct ni_err e = { 0 };
	char when[40], size[32];
	struct tm tm;
	time_t t;

	if (cache_attach_get(c->src, c->key, rq, &a, &e) != 0)
		return cli_fail(&e);
	t = (time_t)a.time;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime_r(&t, &tm));
	ni_fmt_bytes(a.size, size, sizeof(size));
	if (rq->out != NULL)
		printf("wrote %s@%s's '%s' attachment to %s: %s, sha256 %s (verified)\n",
		       rq->name, rq->version, rq->kind, rq->out, size, a.sha256);
	else
		printf("%-12s %10s  sha256 %.16s...  %s by %s  ok\n", a.kind, size, a.sha256,
		       when, a.who);
	cache_attach_free(&a);
	return 0;
}

int cmd_attachments(int argc, char **argv)
{
	static const struct option longopts[] = {
		REPO_CLIENT_LONGOPTS,
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo_client_opts o = { 0 };
	struct cache_attach_req rq = { 0 };
	struct repo_client c;
	struct repo_target t;
	struct ni_err e = { 0 };
	char msha[NI_SHA256_HEX];
	json_t *kinds = NULL, *k;
	size_t i;
	int ch, ret = 0;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		if (repo_client_opt(&o, ch, optarg))
			continue;
		if (ch != 'o')
			return cli_usage_error("attachments", "bad option");
		rq.out = optarg;
	}
	if (argc - optind != (rq.out ? 2 : 1))
		return cli_usage_error("attachments", rq.out ? "-o FILE needs CHANNEL|NAME@VERSION and KIND"
							     : "expected --repo and CHANNEL|NAME@VERSION [KIND -o FILE]");
	if (repo_client_open(&c, &o, &e) != 0)
		return cli_fail(&e);
	if (repo_client_resolve(&c, argv[optind], &t, &e) != 0 ||
	    cache_manifest_sha256(c.src, c.key, t.name, t.version, t.manifest_sha256,
				  msha, &e) != 0) {
		ret = cli_fail(&e);
		goto out;
	}
	rq.name = t.name;
	rq.version = t.version;
	rq.manifest_sha256 = msha;
	if (rq.out != NULL) {
		rq.kind = argv[optind + 1];
		ret = one(&c, &rq);
		goto out;
	}
	if (cache_attach_list(c.src, t.name, t.version, &kinds, &e) != 0) {
		ret = cli_fail(&e);
		goto out;
	}
	if (json_array_size(kinds) == 0)
		printf("%s@%s: no attachments\n", t.name, t.version);
	json_array_foreach(kinds, i, k) {
		rq.kind = json_string_value(k);
		ret |= one(&c, &rq);
	}
out:
	json_decref(kinds);
	repo_target_free(&t);
	repo_client_close(&c);
	return ret;
}
