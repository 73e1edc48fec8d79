/* repo_client.h: what the commands that read a repository share: the
 * --repo/--key options, and a verified manifest read. */
#ifndef CLI_REPO_CLIENT_H
#define CLI_REPO_CLIENT_H

#include <jansson.h>
#include <openssl/evp.h>

#include "cache/source.h"
#include "common/err.h"

struct repo_client {
	struct cache_source *src;
	EVP_PKEY *key;
};

/* Opens --repo (a folder or URL[,URL]) and the public key: --key, or for
 * a folder its repo.pub. A URL without --key is refused: a client never
 * trusts a key that came from the server. */
int repo_client_open(struct repo_client *c, const char *repo, const char *key,
		     struct ni_err *e);
void repo_client_close(struct repo_client *c);
int repo_client_manifest(struct repo_client *c, const char *name,
			 const char *version, json_t **out, struct ni_err *e);

/* Parses the options every reading command shares, --repo and --key;
 * positionals are left from optind on. Returns 0, or the usage exit code
 * (after printing the one line). */
int repo_client_options(const char *cmd, int argc, char **argv,
			const char **repo, const char **key);

/* The published versions (public/versions/index.json), in order, as
 * (name, version) pairs: a JSON array the caller releases. None when the
 * repository has published nothing yet. */
int repo_client_versions(struct repo_client *c, json_t **out, struct ni_err *e);

#endif
