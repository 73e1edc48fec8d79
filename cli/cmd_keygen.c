/* cmd_keygen.c: `netimg keygen --repo DIR [--force]`: creates the
 * repository's Ed25519 signing key and the public key clients are given. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "images/keys.h"

static int run(const char *repo, int force)
{
	char fpr[IMG_KEY_FPR_HEX];
	char *key_path, *pub_path;
	struct ni_err e = { 0 };

	if (img_key_generate(repo, force, fpr, &e) != 0)
		return cli_fail(&e);
	key_path = img_key_private_path(repo);
	pub_path = img_key_public_path(repo);
	if (key_path == NULL || pub_path == NULL) {
		free(key_path);
		free(pub_path);
		ni_err_set(&e, NI_ENOMEM, "out of memory");
		return cli_fail(&e);
	}
	printf("key: %s\npublic key: %s\nfingerprint: SHA256:%s\n", key_path,
	       pub_path, fpr);
	free(key_path);
	free(pub_path);
	return 0;
}

int cmd_keygen(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *repo = NULL;
	int c, force = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': repo = optarg; break;
		case 'f': force = 1; break;
		case ':':
			return cli_usage_error("keygen", "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error("keygen", "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("keygen", "unexpected argument '%s'",
				       argv[optind]);
	if (repo == NULL)
		return cli_usage_error("keygen", "missing --repo");
	return run(repo, force);
}
