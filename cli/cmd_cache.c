/* cmd_cache.c: `netimg cache status|verify|evict|pin|unpin|read`: the
 * local cache of versions (cache/store), and reading a version's image
 * through it as a mount does (cache/vimage). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <sqfs/super.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache/config.h"
#include "cache/vimage.h"
#include "cli/cli.h"
#include "cli/repo_client.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "common/progress.h"
#include "common/units.h"
#include "images/keys.h"
#include "images/manifest.h"

struct copts {
	const char *dir, *repo, *key, *out;
	uint64_t quota, size, offset, length, memory;
	int json, threads, have_length, prefetch;
	long wait_ms;
	size_t block;
};

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

	if (s != NULL)
		printf("%s\n", s);
	free(s);
}

static int parse(const char *sub, int argc, char **argv, struct copts *o)
{
	static const struct option longopts[] = {
		{ "cache", required_argument, NULL, 'c' },
		{ "cache-size", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "key", required_argument, NULL, 'k' },
		{ "repo", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 'z' },
		{ "output", required_argument, NULL, 'o' },
		{ "offset", required_argument, NULL, 'O' },
		{ "length", required_argument, NULL, 'L' },
		{ "wait", required_argument, NULL, 'w' },
		{ "threads", required_argument, NULL, 't' },
		{ "block", required_argument, NULL, 'b' },
		{ "prefetch", no_argument, NULL, 'P' },
		{ "memory", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t secs;
	uint64_t n;
	int ch;

	memset(o, 0, sizeof(*o));
	o->threads = 1;
	o->wait_ms = -1;
	o->block = 128 << 10;
	optind = 2;   /* after "cache SUB" */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->dir = optarg; break;
		case 'j': o->json = 1; break;
		case 'k': o->key = optarg; break;
		case 'r': o->repo = optarg; break;
		case 'o': o->out = optarg; break;
		case 'P': o->prefetch = 1; break;
		case 'S': case 'z': case 'O': case 'L': case 'b': case 'M':
			if (ni_parse_size(optarg, &n) != 0 || (n == 0 && ch != 'O' && ch != 'L'))
				return cli_usage_error("cache", "%s: '%s' is not a size", sub, optarg);
			if (ch == 'S')
				o->quota = n;
			else if (ch == 'z')
				o->size = n;
			else if (ch == 'M')
				o->memory = n;
			else if (ch == 'O')
				o->offset = n;
			else if (ch == 'L') {
				o->length = n;
				o->have_length = 1;
			} else if (n > (64u << 20)) {
				return cli_usage_error("cache", "--block: at most 64M");
			} else {
				o->block = (size_t)n;
			}
			break;
		case 'w':
			if (ni_parse_duration(optarg, &secs) != 0 || secs > 3600)
				return cli_usage_error("cache", "--wait: '%s' is not a duration", optarg);
			o->wait_ms = (long)secs * 1000;
			break;
		case 't':
			o->threads = atoi(optarg);
			if (o->threads < 1 || o->threads > 64)
				return cli_usage_error("cache", "--threads: 1 to 64");
			break;
		default:
			return cli_usage_error("cache", "%s: bad option", sub);
		}
	}
	return 0;
}

/* ---- status ---- */

static void print_status(json_t *s)
{
	char used[32], quota[32], pinned[32];
	uint64_t u = (uint64_t)json_integer_value(json_object_get(s, "usage"));
	uint64_t q = (uint64_t)json_integer_value(json_object_get(s, "quota"));
	json_t *v;
	size_t i;

	ni_fmt_bytes(u, used, sizeof(used));
	ni_fmt_bytes(q, quota, sizeof(quota));
	ni_fmt_bytes((uint64_t)json_integer_value(json_object_get(s, "pinned_bytes")),
		     pinned, sizeof(pinned));
	printf("cache %s: %s used of a %s quota (%.1f%%), %lld chunks, %s pinned\n",
	       json_string_value(json_object_get(s, "dir")), used, quota,
	       q ? 100.0 * (double)u / (double)q : 0.0,
	       (long long)json_integer_value(json_object_get(s, "chunks")), pinned);
	if (json_array_size(json_object_get(s, "versions")) == 0)
		return;
	printf("%-28s %-6s %-26s %8s %8s %8s %10s\n", "VERSION", "PINNED", "CACHED",
	       "HITS", "MISSES", "HIT RATE", "FETCHED");
	json_array_foreach(json_object_get(s, "versions"), i, v) {
		char spec[160], cached[96] = "metadata missing", a[32], b[32], f[32], rate[16] = "-";
		uint64_t h = (uint64_t)json_integer_value(json_object_get(v, "hits"));
		uint64_t m = (uint64_t)json_integer_value(json_object_get(v, "misses"));
		uint64_t bc = (uint64_t)json_integer_value(json_object_get(v, "bytes_cached"));
		uint64_t bt = (uint64_t)json_integer_value(json_object_get(v, "bytes"));

		snprintf(spec, sizeof(spec), "%s@%s", json_string_value(json_object_get(v, "name")),
			 json_string_value(json_object_get(v, "version")));
		if (json_is_true(json_object_get(v, "metadata"))) {
			ni_fmt_bytes(bc, a, sizeof(a));
			ni_fmt_bytes(bt, b, sizeof(b));
			snprintf(cached, sizeof(cached), "%3d%% (%s of %s)",
				 bt ? (int)(100 * bc / bt) : 100, a, b);
		}
		if (h + m > 0)
			snprintf(rate, sizeof(rate), "%.1f%%", 100.0 * (double)h / (double)(h + m));
		ni_fmt_bytes((uint64_t)json_integer_value(json_object_get(v, "bytes_fetched")), f, sizeof(f));
		printf("%-28s %-6s %-26s %8llu %8llu %8s %10s\n", spec,
		       json_is_true(json_object_get(v, "pinned")) ? "yes" : "no", cached,
		       (unsigned long long)h, (unsigned long long)m, rate, f);
	}
}

static int do_status(struct cache_store *st, const struct copts *o)
{
	struct ni_err e = { 0 };
	json_t *s;

	if (cache_store_status(st, &s, &e) != 0)
		return cli_fail(&e);
	if (o->json)
		print_json(s);
	else
		print_status(s);
	json_decref(s);
	return 0;
}

/* ---- verify, evict ---- */

static void print_report(const char *what, const struct cache_store_report *r, int json)
{
	char a[32], b[32], u[32];

	if (json) {
		json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				      "chunks", (json_int_t)r->chunks, "bytes", (json_int_t)r->bytes,
				      "removed", (json_int_t)r->removed,
				      "removed_bytes", (json_int_t)r->removed_bytes,
				      "usage", (json_int_t)r->usage,
				      "pinned_bytes", (json_int_t)r->pinned_bytes,
				      "bad_versions", (json_int_t)r->bad_versions);

		print_json(j);
		json_decref(j);
		return;
	}
	ni_fmt_bytes(r->bytes, a, sizeof(a));
	ni_fmt_bytes(r->removed_bytes, b, sizeof(b));
	ni_fmt_bytes(r->usage, u, sizeof(u));
	if (strcmp(what, "verify") == 0)
		printf("verified %llu chunks (%s): %llu bad, removed (%s); %llu versions' metadata bad, removed; %s now in use\n",
		       (unsigned long long)r->chunks, a, (unsigned long long)r->removed, b,
		       (unsigned long long)r->bad_versions, u);
	else
		printf("evicted %llu chunks (%s); %s now in use\n",
		       (unsigned long long)r->removed, b, u);
}

static int do_verify(struct cache_store *st, const struct copts *o)
{
	struct cache_store_report r;
	struct ni_err e = { 0 };
	EVP_PKEY *key = NULL;
	int ret;

	if (o->key != NULL && img_key_load_public(o->key, &key, &e) != 0)
		return cli_fail(&e);
	ret = cache_store_verify(st, key, &r, &e);
	EVP_PKEY_free(key);
	if (ret != 0)
		return cli_fail(&e);
	print_report("verify", &r, o->json);
	return 0;
}

static int do_evict(struct cache_store *st, const struct copts *o)
{
	struct cache_store_report r;
	struct ni_err e = { 0 };

	if (cache_store_evict(st, o->size, &r, &e) != 0)
		return cli_fail(&e);
	print_report("evict", &r, o->json);
	return 0;
}

/* ---- pin, unpin ---- */

static int do_pin(struct cache_store *st, const struct copts *o, const char *spec, int pin)
{
	struct ni_err e = { 0 };
	char *name = NULL, *version = NULL;
	int ret;

	ret = img_split_version(spec, &name, &version, &e);
	if (ret == 0)
		ret = pin ? cache_store_pin(st, name, version, 0, &e)
			  : cache_store_unpin(st, name, version, &e);
	free(name);
	free(version);
	if (ret != 0)
		return cli_fail(&e);
	if (!o->json)
		printf("%s %s\n", pin ? "pinned" : "unpinned", spec);
	return 0;
}

/* ---- read ---- */

struct reader {
	sqfs_file_t *f;
	struct cache_vimage *v;
	uint64_t off, len;
	size_t block;
	int fd, nth, id;
	int failed;
	struct ni_err e;
};

static void *read_part(void *arg)
{
	struct reader *r = arg;
	uint8_t *buf = malloc(r->block);
	uint64_t k, nblocks = (r->len + r->block - 1) / r->block;

	if (buf == NULL) {
		r->failed = 1;
		ni_err_set(&r->e, NI_ENOMEM, "out of memory");
		return NULL;
	}
	for (k = (uint64_t)r->id; k < nblocks; k += (uint64_t)r->nth) {
		uint64_t at = r->off + k * r->block;
		size_t n = (size_t)(r->len - k * r->block < r->block ? r->len - k * r->block : r->block);

		if (r->f->read_at(r->f, at, buf, n) != 0) {
			r->failed = 1;
			cache_vimage_last_error(r->v, &r->e);
			break;
		}
		if (r->fd >= 0 && pwrite(r->fd, buf, n, (off_t)(at - r->off)) != (ssize_t)n) {
			r->failed = 1;
			ni_err_errno(&r->e, errno, "writing");
			break;
		}
	}
	free(buf);
	return NULL;
}

static int read_all(struct cache_vimage *v, const struct copts *o, uint64_t off,
		    uint64_t len, int fd, struct ni_err *e)
{
	struct reader r[64];
	pthread_t th[64];
	sqfs_file_t *f = cache_vimage_file(v);
	int i, ret = 0;

	for (i = 0; i < o->threads; i++) {
		r[i] = (struct reader){ .f = f, .v = v, .off = off, .len = len, .block = o->block,
					.fd = fd, .nth = o->threads, .id = i };
		if (pthread_create(&th[i], NULL, read_part, &r[i]) != 0) {
			r[i].failed = 1;
			ni_err_set(&r[i].e, NI_ENOMEM, "cannot start a thread");
			th[i] = 0;
		}
	}
	for (i = 0; i < o->threads; i++) {
		if (th[i] != 0)
			pthread_join(th[i], NULL);
		if (r[i].failed && ret == 0) {
			*e = r[i].e;
			ret = e->code ? e->code : NI_EIO;
		}
	}
	sqfs_destroy(f);
	return ret;
}

static int check_super(struct cache_vimage *v, struct ni_err *e)
{
	sqfs_file_t *f = cache_vimage_file(v);
	sqfs_super_t super;
	int ret = sqfs_super_read(&super, f);

	sqfs_destroy(f);
	if (ret != 0) {
		cache_vimage_last_error(v, e);
		if (e->code == 0)
			ni_err_set(e, NI_ESQFS, "%s@%s: not a squashfs image (libsquashfs error %d)",
				   cache_vimage_version(v)->name, cache_vimage_version(v)->version, ret);
		return e->code;
	}
	return 0;
}

static void print_read(struct cache_vimage *v, uint64_t len, double secs, int json)
{
	struct cache_vimage_stats s;
	char a[32], b[32];

	cache_vimage_stats(v, &s);
	if (json) {
		json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "bytes", (json_int_t)len,
				      "hits", (json_int_t)s.hits, "misses", (json_int_t)s.misses,
				      "readahead", (json_int_t)s.readahead,
				      "bytes_fetched", (json_int_t)s.bytes_fetched,
				      "requests", (json_int_t)s.requests,
				      "store_full", (json_int_t)s.store_full,
				      "mem_peak", (json_int_t)s.mem_peak, "seconds", secs);

		print_json(j);
		json_decref(j);
		return;
	}
	ni_fmt_bytes(len, a, sizeof(a));
	ni_fmt_bytes(s.bytes_fetched, b, sizeof(b));
	printf("read %s@%s: %s in %.2fs; chunk loads: %llu hits, %llu misses; fetched %s in %llu requests\n",
	       cache_vimage_version(v)->name, cache_vimage_version(v)->version, a, secs,
	       (unsigned long long)s.hits, (unsigned long long)s.misses, b,
	       (unsigned long long)s.requests);
}

static int do_read(struct cache_store *st, const struct copts *o, const char *spec)
{
	struct cache_vimage_opts vo;
	struct cache_vimage *v = NULL;
	struct ni_atomic a = { .fd = -1 };
	struct ni_err e = { 0 };
	EVP_PKEY *key = NULL;
	char *name = NULL, *version = NULL, *def = NULL;
	uint64_t size, len;
	double t0 = ni_now();
	int ret;

	if (o->key == NULL && o->repo != NULL && strstr(o->repo, "://") == NULL)
		def = ni_path_join(o->repo, "repo.pub");
	if (o->key == NULL && def == NULL)
		return cli_usage_error("cache", "read: --key PUB is required (or a --repo folder)");
	cache_vimage_opts_init(&vo);
	if (o->wait_ms >= 0)
		vo.wait_ms = o->wait_ms;
	if (o->memory > 0)
		vo.mem_bytes = (size_t)o->memory;
	ret = img_split_version(spec, &name, &version, &e);
	if (ret == 0)
		ret = img_key_load_public(o->key ? o->key : def, &key, &e);
	if (ret == 0) {
		vo.repo = o->repo;
		vo.key = key;
		vo.name = name;
		vo.version = version;
		ret = cache_vimage_open(&v, st, &vo, &e);
	}
	if (ret != 0)
		goto out;
	size = cache_vimage_version(v)->image_size;
	len = o->have_length ? o->length : (o->offset < size ? size - o->offset : 0);
	if (o->offset > size || len > size - o->offset) {
		ret = ni_err_set(&e, NI_EINVAL, "%s: --offset/--length past the image's end (%llu bytes)",
				 spec, (unsigned long long)size);
		goto out;
	}
	if (o->prefetch) {
		/* the background path a mount's hot set and sync use: every
		 * chunk of the range queued, fetched, waited for */
		struct cache_range r = { o->offset, (size_t)len };

		if ((ret = cache_vimage_prefetch(v, len ? &r : NULL, len ? 1 : 0, &e)) != 0 ||
		    (ret = cache_vimage_prefetch_wait(v, -1, &e)) != 0)
			goto out;
	}
	if (o->offset == 0 && (ret = check_super(v, &e)) != 0)
		goto out;
	if (o->out != NULL && (ret = ni_atomic_open(&a, o->out, 0644, &e)) != 0)
		goto out;
	ret = read_all(v, o, o->offset, len, a.fd, &e);
	if (ret == 0 && o->out != NULL && o->offset == 0 && len == size) {
		uint8_t d[NI_SHA256_LEN];

		/* every chunk was checked; the whole image once more */
		if (ni_sha256_file(a.tmp, d) != 0 ||
		    memcmp(d, cache_vimage_version(v)->image_sha, NI_SHA256_LEN) != 0)
			ret = ni_err_set(&e, NI_EHASH, "%s: the image read does not match the manifest", spec);
	}
	if (ret == 0 && o->out != NULL)
		ret = ni_atomic_commit(&a, &e);
	if (ret == 0)
		print_read(v, len, ni_now() - t0, o->json);
out:
	if (a.fd >= 0 && ret != 0)
		ni_atomic_abort(&a);
	cache_vimage_close(v);
	EVP_PKEY_free(key);
	free(def);
	free(name);
	free(version);
	return ret ? cli_fail(&e) : 0;
}

int cmd_cache(int argc, char **argv)
{
	struct cache_store *st = NULL;
	struct cache_config conf;
	struct ni_err e = { 0 };
	struct copts o;
	const char *sub = argc > 1 ? argv[1] : "", *v;
	int ret, need_arg;

	if (strcmp(sub, "status") != 0 && strcmp(sub, "verify") != 0 &&
	    strcmp(sub, "evict") != 0 && strcmp(sub, "pin") != 0 &&
	    strcmp(sub, "unpin") != 0 && strcmp(sub, "read") != 0)
		return cli_usage_error("cache", "expected status, verify, evict, pin, unpin or read");
	if ((ret = parse(sub, argc, argv, &o)) != 0)
		return ret;
	need_arg = strcmp(sub, "pin") == 0 || strcmp(sub, "unpin") == 0 || strcmp(sub, "read") == 0;
	if (optind != argc - need_arg)
		return cli_usage_error("cache", need_arg ? "%s: expected NAME@VERSION"
							 : "%s: unexpected argument", sub);
	/* the client configuration file fills in what the options leave */
	if (cache_config_load(&conf, NULL, &e) != 0)
		return cli_fail(&e);
	if (o.dir == NULL)
		o.dir = cache_config_get(&conf, CFG_CACHE);
	if (o.quota == 0 && (v = cache_config_get(&conf, CFG_CACHE_SIZE)) != NULL &&
	    ni_parse_size(v, &o.quota) != 0) {
		ret = cli_usage_error("cache", "%s: cache-size: '%s' is not a size",
				      conf.path ? conf.path : "config", v);
		cache_config_free(&conf);
		return ret;
	}
	if (cache_store_open(&st, o.dir ? o.dir : CACHE_STORE_DIR, o.quota, &e) != 0) {
		cache_config_free(&conf);
		return cli_fail(&e);
	}
	if (strcmp(sub, "status") == 0)
		ret = do_status(st, &o);
	else if (strcmp(sub, "verify") == 0)
		ret = do_verify(st, &o);
	else if (strcmp(sub, "evict") == 0)
		ret = do_evict(st, &o);
	else if (strcmp(sub, "read") == 0)
		ret = do_read(st, &o, argv[optind]);
	else
		ret = do_pin(st, &o, argv[optind], strcmp(sub, "pin") == 0);
	cache_store_close(st);
	cache_config_free(&conf);
	return ret;
}
