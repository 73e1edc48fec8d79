/* repo_client.c: opening a repository as a client. */
#include "cli/repo_client.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/fsutil.h"
#include "images/keys.h"
#include "images/manifest.h"

#define MANIFEST_MAX (16u << 20)

int repo_client_open(struct repo_client *c, const char *repo, const char *key,
		     struct ni_err *e)
{
	char *def = NULL;
	int ret;

	memset(c, 0, sizeof(*c));
	if ((ret = cache_source_open(&c->src, repo, e)) != 0)
		return ret;
	if (key == NULL && !cache_source_is_local(c->src)) {
		repo_client_close(c);
		return ni_err_set(e, NI_EUSAGE,
				  "%s: give the repository's public key with --key (never taken from the server)",
				  repo);
	}
	if (key == NULL)
		key = def = ni_path_join(repo, "repo.pub");
	ret = img_key_load_public(key, &c->key, e);
	free(def);
	if (ret != 0)
		repo_client_close(c);
	return ret;
}

void repo_client_close(struct repo_client *c)
{
	cache_source_close(c->src);
	EVP_PKEY_free(c->key);
	memset(c, 0, sizeof(*c));
}

int repo_client_manifest(struct repo_client *c, const char *name,
			 const char *version, json_t **out, struct ni_err *e)
{
	char *rel = img_manifest_path(name, version);
	uint8_t *buf = NULL;
	size_t len;
	int ret;

	if (rel == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	ret = cache_source_get(c->src, rel, MANIFEST_MAX, &buf, &len, e);
	if (ret == NI_ENOENT)
		ret = ni_err_set(e, NI_ENOENT, "%s@%s: no such version", name, version);
	if (ret == 0)
		ret = img_manifest_open(c->key, rel, buf, len, out, e);
	free(buf);
	free(rel);
	return ret;
}

int repo_client_versions(struct repo_client *c, json_t **out, struct ni_err *e)
{
	uint8_t *buf = NULL;
	size_t len;
	json_t *j;
	int ret = cache_source_get(c->src, "versions/index.json", MANIFEST_MAX,
				   &buf, &len, e);

	if (ret == NI_ENOENT) {
		*out = json_array();
		return 0;
	}
	if (ret != 0)
		return ret;
	j = json_loadb((const char *)buf, len, 0, NULL);
	free(buf);
	if (!json_is_array(json_object_get(j, "versions"))) {
		json_decref(j);
		return ni_err_set(e, NI_EINVAL, "versions/index.json: malformed");
	}
	*out = json_incref(json_object_get(j, "versions"));
	json_decref(j);
	return 0;
}

int repo_client_options(const char *cmd, int argc, char **argv,
			const char **repo, const char **key)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*repo = *key = NULL;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': *repo = optarg; break;
		case 'k': *key = optarg; break;
		default: return cli_usage_error(cmd, "bad option");
		}
	}
	return *repo ? 0 : cli_usage_error(cmd, "expected --repo DIR|URL");
}
