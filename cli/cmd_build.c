/* cmd_build.c: `netimg build RECIPE [-o OUT.sqfs] [--json] [--quiet]`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/build.h"
#include "cli/cli.h"
#include "common/progress.h"

static void on_progress(void *user, uint64_t bytes, uint64_t total,
			uint64_t files)
{
	struct ni_progress *p = user;

	p->total = total;
	ni_progress_update(p, bytes, files);
}

static void summary(const struct bld_result *res, double secs)
{
	char hex[NI_SHA256_HEX], size[32];

	ni_hex(res->image_sha, NI_SHA256_LEN, hex);
	ni_fmt_bytes(res->image_size, size, sizeof(size));
	printf("built %s: %s, %llu files, %zu patches applied, %zu skipped, "
	       "sha256 %s, %.1fs\n", res->image, size,
	       (unsigned long long)res->files, res->n_patches, res->n_skipped,
	       hex, secs);
}

int cmd_build(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'J' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "jobs", required_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct bld_options o = { 0 };
	struct bld_result res;
	struct ni_progress prog;
	struct ni_err e = { 0 };
	int c, json = 0, quiet = 0;
	double t0 = ni_now();

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:qj:", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o.output = optarg; break;
		case 'J': json = 1; break;
		case 'q': quiet = 1; break;
		case 'j': o.workers = (unsigned)atoi(optarg); break;
		default: return cli_usage_error("build", "bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("build", "expected one RECIPE");
	o.recipe = argv[optind];
	ni_progress_init(&prog, quiet || json ? NULL : stderr, "building", 0);
	o.progress.fn = on_progress;
	o.progress.user = &prog;
	if (bld_build(&o, &res, &e) != 0) {
		ni_progress_end(&prog);
		return cli_fail(&e);
	}
	ni_progress_end(&prog);
	if (json)
		printf("%s\n", res.record_json);
	else if (!quiet)
		summary(&res, ni_now() - t0);
	bld_result_free(&res);
	return 0;
}
