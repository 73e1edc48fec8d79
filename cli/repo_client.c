/* repo_client.c: opening a repository as a client. */
#include "cli/repo_client.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "images/keys.h"
#include "images/manifest.h"

#define MANIFEST_MAX (16u << 20)

int repo_client_opt(struct repo_client_opts *o, int ch, const char *arg)
{
	switch (ch) {
	case 'r': o->repo = arg; return 1;
	case 'k': o->key = arg; return 1;
	case REPO_CLIENT_OPT_STATE: o->state = arg; return 1;
	case REPO_CLIENT_OPT_CONFIG: o->config = arg; return 1;
	default: return 0;
	}
}

int repo_client_open(struct repo_client *c, const struct repo_client_opts *o,
		     struct ni_err *e)
{
	const char *key;
	char *def = NULL;
	int ret;

	memset(c, 0, sizeof(*c));
	if ((ret = cache_config_load(&c->conf, o->config, e)) != 0)
		return ret;
	c->repo = o->repo ? o->repo : cache_config_get(&c->conf, CFG_REPO);
	key = o->key ? o->key : cache_config_get(&c->conf, CFG_KEY);
	c->state = o->state ? o->state : cache_config_get(&c->conf, CFG_STATE);
	if (c->state == NULL)
		c->state = CACHE_STATE_DEFAULT;
	if (c->repo == NULL) {
		cache_config_free(&c->conf);
		return ni_err_set(e, NI_EUSAGE,
				  "no repository: give --repo DIR|URL or set repo in %s",
				  c->conf.path ? c->conf.path : CACHE_CONFIG_DEFAULT);
	}
	if ((ret = cache_source_open(&c->src, c->repo, e)) != 0) {
		repo_client_close(c);
		return ret;
	}
	if (key == NULL && !cache_source_is_local(c->src)) {
		ret = ni_err_set(e, NI_EUSAGE,
				 "%s: give the repository's public key with --key (never taken from the server)",
				 c->repo);
		repo_client_close(c);
		return ret;
	}
	if (key == NULL)
		key = def = ni_path_join(c->repo, "repo.pub");
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
	cache_config_free(&c->conf);
	memset(c, 0, sizeof(*c));
}

int repo_client_resolve(struct repo_client *c, const char *spec,
			struct repo_target *t, struct ni_err *e)
{
	struct cache_pointer_opts po = { .state = c->state };
	char *name = NULL, *version = NULL;
	int ret;

	memset(t, 0, sizeof(*t));
	if (cache_is_channel(spec)) {
		if ((ret = cache_pointer_get(c->src, c->key, spec, &po, &t->ptr, e)) != 0)
			return ret;
		t->is_channel = 1;
		t->manifest_sha256 = t->ptr.manifest_sha256;
		snprintf(t->name, sizeof(t->name), "%s", t->ptr.name);
		snprintf(t->version, sizeof(t->version), "%s", t->ptr.version);
		return 0;
	}
	if ((ret = img_split_version(spec, &name, &version, e)) == 0) {
		if (strlen(name) >= sizeof(t->name) || strlen(version) >= sizeof(t->version))
			ret = ni_err_set(e, NI_EINVAL, "%s: name or version too long", spec);
		else {
			strcpy(t->name, name);
			strcpy(t->version, version);
		}
	}
	free(name);
	free(version);
	return ret;
}

void repo_target_free(struct repo_target *t)
{
	cache_pointer_free(&t->ptr);
}

int repo_client_manifest(struct repo_client *c, const char *name,
			 const char *version, const char *want_sha,
			 json_t **out, struct ni_err *e)
{
	char *rel = img_manifest_path(name, version), hex[NI_SHA256_HEX];
	uint8_t *buf = NULL, d[NI_SHA256_LEN];
	size_t len;
	int ret;

	if (rel == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	ret = cache_source_get(c->src, rel, MANIFEST_MAX, &buf, &len, e);
	if (ret == NI_ENOENT)
		ret = ni_err_set(e, NI_ENOENT, "%s@%s: no such version", name, version);
	if (ret == 0 && want_sha != NULL) {
		ni_sha256_buf(buf, len, d);
		ni_hex(d, sizeof(d), hex);
		if (strcmp(hex, want_sha) != 0)
			ret = ni_err_set(e, NI_EHASH,
					 "%s: the manifest is not the one the channel pointer names",
					 rel);
	}
	if (ret == 0)
		ret = img_manifest_open_as(c->key, rel, buf, len, name, version, out, e);
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
			struct repo_client_opts *o)
{
	static const struct option longopts[] = {
		REPO_CLIENT_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		if (!repo_client_opt(o, ch, optarg))
			return cli_usage_error(cmd, "bad option");
	return 0;
}
