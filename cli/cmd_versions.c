/* cmd_versions.c: `netimg versions --repo DIR|URL [--key PUB] [NAME]`:
 * every published version, each manifest verified. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/repo_client.h"
#include "common/progress.h"

static int print_version(struct repo_client *c, const char *name,
			 const char *version, struct ni_err *e)
{
	json_t *m, *patches;
	char size[32], when[32];
	time_t t;
	struct tm tm;

	if (repo_client_manifest(c, name, version, NULL, &m, e) != 0)
		return 1;
	ni_fmt_bytes((uint64_t)json_integer_value(json_object_get(json_object_get(m, "image"), "size")),
		     size, sizeof(size));
	t = (time_t)json_integer_value(json_object_get(m, "published"));
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", gmtime_r(&t, &tm));
	patches = json_object_get(m, "patches");
	printf("%s@%s\t%s\tpublished %s UTC\t%zu patches\n", name, version, size,
	       when, json_is_array(patches) ? json_array_size(patches) : 0);
	json_decref(m);
	return 0;
}

static int list(struct repo_client *c, const char *only, struct ni_err *e)
{
	size_t i;
	json_t *j, *v;
	int ret = 0, shown = 0;

	if (repo_client_versions(c, &j, e) != 0)
		return cli_fail(e);
	json_array_foreach(j, i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));
		const char *ver = json_string_value(json_object_get(v, "version"));

		if (n == NULL || ver == NULL || (only && strcmp(n, only) != 0))
			continue;
		if (print_version(c, n, ver, e) != 0) {
			ret = cli_fail(e);
			break;
		}
		shown++;
	}
	json_decref(j);
	if (ret == 0 && shown == 0)
		fprintf(stderr, "no versions%s%s\n", only ? " of " : "", only ? only : "");
	return ret;
}

int cmd_versions(int argc, char **argv)
{
	struct repo_client_opts o;
	struct repo_client c;
	struct ni_err e = { 0 };
	int ret;

	if ((ret = repo_client_options("versions", argc, argv, &o)) != 0)
		return ret;
	if (argc - optind > 1)
		return cli_usage_error("versions", "expected --repo DIR|URL [NAME]");
	if (repo_client_open(&c, &o, &e) != 0)
		return cli_fail(&e);
	ret = list(&c, optind < argc ? argv[optind] : NULL, &e);
	repo_client_close(&c);
	return ret;
}
