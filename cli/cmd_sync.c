/* cmd_sync.c: `netimg sync --repo URL[,URL...] --key PUB
 * CHANNEL|NAME@VERSION [--cache DIR] [--cache-size BYTES] [--json]
 * [--quiet] [--verbose]`: makes a version fully available offline in the local cache
 * and pins it. A channel is resolved through its verified pointer (expiry
 * and replay checked against the state folder); the pointer's manifest
 * hash is then required of the manifest. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cache/channels.h"
#include "cache/vimage_sync.h"
#include "cli/cli.h"
#include "cli/repo_client.h"
#include "common/progress.h"
#include "common/units.h"

static void on_progress(void *user, uint64_t done, uint64_t total,
			uint64_t chunks)
{
	struct ni_progress *p = user;

	p->total = total;
	ni_progress_update(p, done, chunks);
}

/* --verbose: each chunk fetched, in the order it arrived. */
static void on_chunk(void *user, uint64_t img_off, uint64_t len)
{
	(void)user;
	fprintf(stderr, "fetched image bytes %llu +%llu\n", (unsigned long long)img_off,
		(unsigned long long)len);
}

static json_t *hot_json(const struct cache_sync_result *r)
{
	if (!r->has_hot)
		return json_null();
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
			 "listed", (json_int_t)r->hot_listed, "files", (json_int_t)r->hot.files,
			 "chunks", (json_int_t)r->hot.chunks, "bytes", (json_int_t)r->hot.bytes,
			 "fetched", (json_int_t)r->hot.fetched,
			 "requests", (json_int_t)r->hot.requests);
}

static void print_result(const char *spec, const struct cache_sync_result *r,
			 double secs, int json)
{
	char img[32], got[32], meta[32], had[32];

	if (json) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s?, s:f, s:o, s:s?}",
				      "version", spec, "image_size", (json_int_t)r->image_size,
				      "total", (json_int_t)r->total, "cached", (json_int_t)r->cached,
				      "fetched", (json_int_t)r->fetched,
				      "metadata_fetched", (json_int_t)r->meta_fetched,
				      "requests", (json_int_t)r->requests,
				      "chunks_fetched", (json_int_t)r->chunks_fetched,
				      "pinned", 1, "kept", r->kept[0] ? r->kept : NULL,
				      "seconds", secs, "hot", hot_json(r),
				      "hot_ignored", r->hot_ignored[0] ? r->hot_ignored : NULL);
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

		if (s != NULL)
			printf("%s\n", s);
		free(s);
		json_decref(j);
		return;
	}
	ni_fmt_bytes(r->image_size, img, sizeof(img));
	ni_fmt_bytes(r->fetched, got, sizeof(got));
	ni_fmt_bytes(r->meta_fetched, meta, sizeof(meta));
	ni_fmt_bytes(r->cached, had, sizeof(had));
	printf("synced %s (%s): fetched %s in %llu requests (+ %s metadata), %s already cached; pinned%s%s%s, %.1fs\n",
	       spec, img, got, (unsigned long long)r->requests, meta, had,
	       r->kept[0] ? ", " : "", r->kept, r->kept[0] ? " kept for rollback" : "", secs);
	if (r->has_hot) {
		ni_fmt_bytes(r->hot.bytes, got, sizeof(got));
		printf("hot set first: %zu of %zu files, %zu chunks (%s)\n", r->hot.files,
		       r->hot_listed, r->hot.chunks, got);
	}
}

int cmd_sync(int argc, char **argv)
{
	static const struct option longopts[] = {
		REPO_CLIENT_LONGOPTS,
		{ "cache", required_argument, NULL, 'c' },
		{ "cache-size", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo_client_opts ro = { 0 };
	const char *dir = NULL, *size = NULL;
	uint64_t quota = 0;
	int ch, json = 0, quiet = 0, verbose = 0, ret = 0;
	struct repo_target t = { 0 };
	struct cache_image_req rq = { 0 };
	struct cache_vimage_opts o;
	struct cache_sync_result r;
	struct cache_store *st = NULL;
	struct repo_client c = { 0 };
	struct ni_progress p;
	struct ni_err e = { 0 };
	double t0 = ni_now();

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "q", longopts, NULL)) != -1) {
		if (repo_client_opt(&ro, ch, optarg))
			continue;
		switch (ch) {
		case 'c': dir = optarg; break;
		case 's': size = optarg; break;
		case 'j': json = 1; break;
		case 'q': quiet = 1; break;
		case 'v': verbose = 1; break;
		default: return cli_usage_error("sync", "bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("sync", "expected CHANNEL or NAME@VERSION");
	if (repo_client_open(&c, &ro, &e) != 0)
		return cli_fail(&e);
	/* the options win over the client configuration file */
	if (dir == NULL)
		dir = cache_config_get(&c.conf, CFG_CACHE);
	if (size == NULL)
		size = cache_config_get(&c.conf, CFG_CACHE_SIZE);
	if (size != NULL && (ni_parse_size(size, &quota) != 0 || quota == 0)) {
		repo_client_close(&c);
		return cli_usage_error("sync", "--cache-size: '%s' is not a size", size);
	}
	if (repo_client_resolve(&c, argv[optind], &t, &e) != 0 ||
	    cache_store_open(&st, dir ? dir : CACHE_STORE_DIR, quota, &e) != 0) {
		ret = cli_fail(&e);
		goto out;
	}
	cache_vimage_opts_init(&o);
	o.repo = c.repo;
	o.key = c.key;
	if (verbose)
		o.trace = on_chunk;
	rq.name = t.name;
	rq.version = t.version;
	rq.manifest_sha256 = t.manifest_sha256;
	ni_progress_init(&p, quiet || json || verbose ? NULL : stderr, "sync", 0);
	ret = cache_sync(st, &rq, &o, on_progress, &p, &r, &e);
	ni_progress_end(&p);
	/* a hot set that failed its checks is not used, and only said */
	if (r.hot_ignored[0] != '\0')
		fprintf(stderr, "netimg: %s@%s: hot set ignored: %s\n", t.name, t.version,
			r.hot_ignored);
	/* the version a later `mount CHANNEL` takes, offline */
	if (ret == 0 && t.is_channel)
		ret = cache_channel_put(cache_store_dir(st), c.key, &t.ptr, &e);
	if (ret != 0)
		ret = cli_fail(&e);
	else if (!quiet) {
		char spec[200];

		snprintf(spec, sizeof(spec), "%s@%s", t.name, t.version);
		if (t.is_channel && !json)
			printf("channel %s: serial %llu, %s\n", t.ptr.channel,
			       (unsigned long long)t.ptr.serial, spec);
		print_result(spec, &r, ni_now() - t0, json);
	}
out:
	cache_store_close(st);
	repo_target_free(&t);
	repo_client_close(&c);
	return ret;
}
