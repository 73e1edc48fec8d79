/* cmd_gc.c: `netimg gc --repo DIR [--keep N] [--dry-run]`: removes the
 * versions no channel needs and the storage only they used, and says
 * what it removed and how many bytes that freed. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/cli.h"
#include "common/progress.h"
#include "images/gc.h"

static const char *verb(enum img_gc_what w, int dry)
{
	switch (w) {
	case IMG_GC_KEPT: return "keep";
	case IMG_GC_REPACK: return dry ? "would repack" : "repacked";
	default: return dry ? "would remove" : "removed";
	}
}

static const char *noun(enum img_gc_what w)
{
	switch (w) {
	case IMG_GC_VERSION: return "version ";
	case IMG_GC_PACK: case IMG_GC_REPACK: return "pack ";
	case IMG_GC_INDEX: return "index ";
	case IMG_GC_BLOB: return "blob ";
	case IMG_GC_BOOT: return "boot file ";
	default: return "";
	}
}

static void report(const struct img_gc_result *r, int dry)
{
	char size[32], when[40];
	struct tm tm;
	time_t t = (time_t)r->newest_pointer;
	size_t i;

	if (r->newest_pointer > 0) {
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
		printf("newest pointer write: %s; versions published since are kept (not rolled out yet)\n",
		       when);
	} else {
		printf("no channel yet: every version is kept (not rolled out yet)\n");
	}
	for (i = 0; i < r->n; i++) {
		const struct img_gc_item *it = &r->items[i];

		if (it->what == IMG_GC_KEPT) {
			printf("keep %s (%s)\n", it->name, it->detail);
			continue;
		}
		ni_fmt_bytes(it->bytes, size, sizeof(size));
		printf("%s %s%s (%s): %s\n", verb(it->what, dry), noun(it->what), it->name,
		       it->detail, size);
	}
	ni_fmt_bytes(r->freed, size, sizeof(size));
	printf("gc%s: %zu version%s kept, %zu removed; %zu pack%s removed, %zu rewritten; "
	       "%zu blob%s removed; %s %s (%llu bytes)\n",
	       dry ? " --dry-run" : "", r->versions_kept, r->versions_kept == 1 ? "" : "s",
	       r->versions_removed, r->packs_removed, r->packs_removed == 1 ? "" : "s",
	       r->packs_rewritten, r->blobs_removed, r->blobs_removed == 1 ? "" : "s",
	       size, dry ? "would be freed; nothing was changed" : "freed",
	       (unsigned long long)r->freed);
}

int cmd_gc(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "keep", required_argument, NULL, 'k' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct img_gc_opts o = { .keep = -1 };
	struct img_gc_result r;
	struct ni_err e = { 0 };
	char *end;
	long n;
	int ch, ret = 0;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': o.repo = optarg; break;
		case 'k':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || n < 0 || n > 100)
				return cli_usage_error("gc", "--keep %s: expected 0 to 100 history entries",
						       optarg);
			o.keep = (int)n;
			break;
		case 'n': o.dry_run = 1; break;
		default: return cli_usage_error("gc", "bad option");
		}
	}
	if (o.repo == NULL || optind != argc)
		return cli_usage_error("gc", "expected --repo DIR");
	if (img_gc(&o, &r, &e) != 0)
		ret = cli_fail(&e);
	else
		report(&r, o.dry_run);
	img_gc_result_free(&r);
	return ret;
}
