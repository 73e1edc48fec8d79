/* vimage_sync.c: one version made whole in the cache, then pinned. */
#include "cache/vimage_sync.h"

#include <stdio.h>
#include <string.h>

/* The version of name pinned besides version, if any (the rollback one). */
static void find_kept(struct cache_store *st, const char *name,
		      const char *version, char *out, size_t cap)
{
	json_t *pins = NULL, *p;
	size_t i;

	out[0] = '\0';
	if (cache_store_pins(st, &pins, NULL) != 0)
		return;
	json_array_foreach(pins, i, p) {
		const char *n = json_string_value(json_object_get(p, "name"));
		const char *v = json_string_value(json_object_get(p, "version"));

		if (n && v && strcmp(n, name) == 0 && strcmp(v, version) != 0)
			snprintf(out, cap, "%s@%s", n, v);
	}
	json_decref(pins);
}

/* The hot set's chunks first. Not having one is normal; one that fails
 * its checks is only noted, and a fetch that fails here is the fill's to
 * retry and report. */
static void hot_first(struct cache_vimage *v, struct cache_sync_result *r)
{
	struct ni_err he = { 0 };
	struct img_hot h;
	int ret;

	if (cache_vimage_complete(v))
		return;   /* nothing to fetch: not even the list is asked for */
	ret = cache_hot_get(v, &h, &he);
	if (ret != 0 && ret != NI_EINVAL && ret != NI_EHASH)
		return;   /* none; or the repository is unreachable: the fill says so */
	if (ret != 0) {
		snprintf(r->hot_ignored, sizeof(r->hot_ignored), "%s", he.msg);
		return;
	}
	r->has_hot = 1;
	r->hot_listed = h.n;
	(void)cache_vimage_hot_fill(v, &h, 0, NULL, NULL, &r->hot, &he);
	img_hot_free(&h);
}

int cache_sync(struct cache_store *st, const struct cache_image_req *rq,
	       const struct cache_vimage_opts *o, cache_vimage_progress progress,
	       void *user, struct cache_sync_result *r, struct ni_err *e)
{
	struct cache_vimage_opts vo = *o;
	struct cache_version *ver = NULL;
	struct cache_vimage *v = NULL;
	struct cache_vimage_fill f;
	int ret, lease = -1;

	memset(r, 0, sizeof(*r));
	vo.name = rq->name;
	vo.version = rq->version;
	vo.manifest_sha256 = rq->manifest_sha256;
	if ((ret = cache_vimage_load_version(st, &vo, &ver, &r->meta_fetched, e)) != 0)
		return ret;
	r->image_size = ver->image_size;
	r->total = ver->unique_bytes;
	/* nothing changes before this check passes */
	if ((ret = cache_store_pin_prepare(st, ver, e)) != 0 ||
	    (ret = cache_store_lease(st, rq->name, rq->version, &lease, e)) != 0 ||
	    (r->meta_fetched > 0 && (ret = cache_store_meta_put(st, ver, e)) != 0)) {
		cache_version_free(ver);
		cache_store_unlease(lease);
		return ret;
	}
	if ((ret = cache_vimage_open_version(&v, st, ver, &vo, e)) != 0) {
		cache_store_unlease(lease);
		return ret;
	}
	hot_first(v, r);
	ret = cache_vimage_fill(v, progress, user, &f, e);
	r->cached = f.cached > r->hot.fetched ? f.cached - r->hot.fetched : 0;
	r->fetched = f.fetched + r->hot.fetched;
	r->requests = f.requests + r->hot.requests;
	r->chunks_fetched = f.chunks_fetched + r->hot.chunks_fetched;
	if (ret == 0)
		ret = cache_store_sync(st, e);
	if (ret == 0)
		ret = cache_store_pin(st, rq->name, rq->version, 1, e);
	if (ret == 0)
		find_kept(st, rq->name, rq->version, r->kept, sizeof(r->kept));
	cache_vimage_close(v);
	cache_store_unlease(lease);
	return ret;
}
