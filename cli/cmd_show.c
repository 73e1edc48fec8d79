/* cmd_show.c: `netimg show --repo DIR|URL [--key PUB] NAME@VERSION`: what
 * went into a version (base, patches, severities, approvals), from its
 * verified manifest. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/repo_client.h"
#include "images/manifest.h"

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

static void when(json_t *o, const char *k, char *buf, size_t len)
{
	time_t t = (time_t)json_integer_value(json_object_get(o, k));
	struct tm tm;

	strftime(buf, len, "%Y-%m-%d %H:%M UTC", gmtime_r(&t, &tm));
}

static void show(json_t *m)
{
	json_t *img = json_object_get(m, "image"), *base = json_object_get(m, "base");
	json_t *p, *boot = json_object_get(m, "boot");
	char t[40];
	size_t i;

	when(m, "published", t, sizeof(t));
	printf("%s@%s\npublished: %s\nimage: %lld bytes, sha256 %s\nchunks: %lld (index %s)\n",
	       str(m, "name"), str(m, "version"), t,
	       (long long)json_integer_value(json_object_get(img, "size")), str(img, "sha256"),
	       (long long)json_integer_value(json_object_get(json_object_get(m, "index"), "chunks")),
	       str(json_object_get(m, "index"), "sha256"));
	printf("base: %s (%s, sha256 %s)\n", str(base, "source"), str(base, "kind"),
	       str(base, "sha256"));
	printf("patches:%s\n", json_array_size(json_object_get(m, "patches")) ? "" : " none");
	json_array_foreach(json_object_get(m, "patches"), i, p) {
		when(p, "approved_at", t, sizeof(t));
		printf("  %-16s %-9s %s  approved by %s, %s  sha256 %.16s\n", str(p, "id"),
		       str(p, "severity"), str(p, "title"), str(p, "approved_by"), t,
		       str(p, "sha256"));
	}
	json_array_foreach(json_object_get(m, "skipped"), i, p)
		printf("  skipped %-8s %s%s%s\n", str(p, "id"), str(p, "reason"),
		       json_object_get(p, "superseded_by") ? " by " : "",
		       json_object_get(p, "superseded_by") ? str(p, "superseded_by") : "");
	if (json_is_object(boot))
		printf("boot: kernel %s, cmdline \"%s\"\n", str(boot, "kernel"), str(boot, "cmdline"));
}

int cmd_show(int argc, char **argv)
{
	static const struct option longopts[] = {
		REPO_CLIENT_LONGOPTS,
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo_client_opts o = { 0 };
	struct repo_target t;
	struct repo_client c;
	struct ni_err e = { 0 };
	json_t *m = NULL;
	int ch, json = 0, ret = 0;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (repo_client_opt(&o, ch, optarg))
			continue;
		if (ch != 'J')
			return cli_usage_error("show", "bad option");
		json = 1;
	}
	if (optind != argc - 1)
		return cli_usage_error("show", "expected --repo DIR|URL and NAME@VERSION or CHANNEL");
	if (repo_client_open(&c, &o, &e) != 0)
		return cli_fail(&e);
	if (repo_client_resolve(&c, argv[optind], &t, &e) != 0 ||
	    repo_client_manifest(&c, t.name, t.version, t.manifest_sha256, &m, &e) != 0)
		ret = cli_fail(&e);
	else if (json)
		json_dumpf(m, stdout, JSON_INDENT(2) | JSON_SORT_KEYS), putchar('\n');
	else
		show(m);
	json_decref(m);
	repo_target_free(&t);
	repo_client_close(&c);
	return ret;
}
