/* repo_client.h: what the commands that read a repository share: the
 * --repo/--key/--state/--config options (and the client configuration
 * file behind them), a verified manifest read, and the resolution of
 * CHANNEL or NAME@VERSION to a version to read. */
#ifndef CLI_REPO_CLIENT_H
#define CLI_REPO_CLIENT_H

#include <getopt.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "cache/config.h"
#include "cache/pointer.h"
#include "cache/source.h"
#include "common/err.h"

struct repo_client_opts {
	const char *repo, *key, *state, *config;
};

/* The long options every reading command accepts; add to its table. */
#define REPO_CLIENT_OPT_STATE 0x1001
#define REPO_CLIENT_OPT_CONFIG 0x1002
#define REPO_CLIENT_LONGOPTS \
	{ "repo", required_argument, NULL, 'r' }, \
	{ "key", required_argument, NULL, 'k' }, \
	{ "state", required_argument, NULL, REPO_CLIENT_OPT_STATE }, \
	{ "config", required_argument, NULL, REPO_CLIENT_OPT_CONFIG }

/* Takes getopt's ch/optarg if it is one of the shared options: 1, else 0. */
int repo_client_opt(struct repo_client_opts *o, int ch, const char *arg);

struct repo_client {
	struct cache_source *src;
	EVP_PKEY *key;
	struct cache_config conf;
	const char *repo;         /* as opened (option or config) */
	const char *state;        /* the state folder */
};

/* Opens the repository (--repo, else the config's repo: a folder or
 * URL[,URL]) and the public key (--key, the config's key, or for a
 * folder its repo.pub). A URL without a key is refused: a client never
 * trusts a key that came from the server. */
int repo_client_open(struct repo_client *c, const struct repo_client_opts *o,
		     struct ni_err *e);
void repo_client_close(struct repo_client *c);
/* The verified manifest of NAME@VERSION; want_sha (hex, or NULL) is the
 * hash its exact bytes must have (from a channel pointer). */
int repo_client_manifest(struct repo_client *c, const char *name,
			 const char *version, const char *want_sha,
			 json_t **out, struct ni_err *e);

/* What a command reads: NAME@VERSION as given, or the version a channel's
 * verified pointer names (expiry and replay checked against the state
 * folder), with the manifest hash the pointer pins. */
struct repo_target {
	char name[80], version[80];
	const char *manifest_sha256;  /* into ptr, or NULL for NAME@VERSION */
	int is_channel;
	struct cache_pointer ptr;
};
int repo_client_resolve(struct repo_client *c, const char *spec,
			struct repo_target *t, struct ni_err *e);
void repo_target_free(struct repo_target *t);

/* Parses only the shared options (for commands with no others);
 * positionals are left from optind on. Returns 0, or the usage exit code
 * (after printing the one line). */
int repo_client_options(const char *cmd, int argc, char **argv,
			struct repo_client_opts *o);

/* The published versions (public/versions/index.json), in order, as
 * (name, version) pairs: a JSON array the caller releases. None when the
 * repository has published nothing yet. */
int repo_client_versions(struct repo_client *c, json_t **out, struct ni_err *e);

#endif
