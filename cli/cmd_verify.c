/* cmd_verify.c: `netimg verify --repo DIR|URL [--key PUB] [NAME@VERSION...]`:
 * checks signatures and every chunk of the named versions (default: all),
 * and reports what is wrong. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/attach.h"
#include "cache/image.h"
#include "cli/cli.h"
#include "cli/repo_client.h"
#include "images/manifest.h"

/* Every attachment of the version: record signature, the manifest hash
 * it names, the blob's size and hash. */
static int verify_attachments(struct repo_client *c, const char *name,
			      const char *version, const char *msha, size_t *n,
			      struct ni_err *e)
{
	struct cache_attach_req rq = { .name = name, .version = version,
				       .manifest_sha256 = msha };
	struct cache_attachment a;
	json_t *kinds, *k;
	size_t i;
	int ret = cache_attach_list(c->src, name, version, &kinds, e);

	*n = 0;
	json_array_foreach(kinds, i, k) {
		rq.kind = json_string_value(k);
		if ((ret = cache_attach_get(c->src, c->key, &rq, &a, e)) != 0)
			break;
		cache_attach_free(&a);
		(*n)++;
	}
	json_decref(kinds);
	return ret;
}

static int verify_one(struct repo_client *c, const char *name,
		      const char *version, const char *manifest_sha256)
{
	struct cache_image_stats st;
	char msha[NI_SHA256_HEX];
	struct cache_image_req rq = { .name = name, .version = version,
				      .manifest_sha256 = msha };
	struct ni_err e = { 0 };
	size_t n;

	/* the manifest's hash pins the bytes the image check and the
	 * attachment records are checked against */
	if (cache_manifest_sha256(c->src, c->key, name, version, manifest_sha256,
				  msha, &e) != 0 ||
	    cache_get_image(c->src, c->key, &rq, &st, &e) != 0 ||
	    verify_attachments(c, name, version, msha, &n, &e) != 0) {
		cli_fail(&e);
		return 1;
	}
	printf("%s@%s: ok (signature, index and %zu chunks verified", name,
	       version, st.chunks);
	if (n > 0)
		printf("; %zu attachment%s", n, n == 1 ? "" : "s");
	printf(")\n");
	return 0;
}

static int verify_all(struct repo_client *c)
{
	size_t i;
	json_t *j, *v;
	struct ni_err e = { 0 };
	int bad = 0;

	if (repo_client_versions(c, &j, &e) != 0)
		return cli_fail(&e);
	json_array_foreach(j, i, v)
		bad |= verify_one(c, json_string_value(json_object_get(v, "name")),
				  json_string_value(json_object_get(v, "version")), NULL);
	json_decref(j);
	return bad;
}

int cmd_verify(int argc, char **argv)
{
	struct repo_client_opts o;
	struct repo_client c;
	struct ni_err e = { 0 };
	int ret, bad = 0, i;

	if ((ret = repo_client_options("verify", argc, argv, &o)) != 0)
		return ret;
	if (repo_client_open(&c, &o, &e) != 0)
		return cli_fail(&e);
	if (optind == argc)
		bad = verify_all(&c);
	for (i = optind; i < argc; i++) {
		struct repo_target t;

		if (repo_client_resolve(&c, argv[i], &t, &e) != 0)
			bad = cli_fail(&e);
		else
			bad |= verify_one(&c, t.name, t.version, t.manifest_sha256);
		repo_target_free(&t);
	}
	repo_client_close(&c);
	return bad ? 1 : 0;
}
