/* store_state.c: state.json (quota, pins, per-version counters) and the
 * pin rules with their quota check. */
#include "cache/store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "common/grow.h"
#include "common/progress.h"

#define STATE_MAX (64u << 20)

json_t *store_state_load(struct cache_store *s)
{
	char *path = ni_path_join(s->dir, "state.json"), *buf = NULL;
	json_t *st = NULL;
	size_t len;

	if (path != NULL && ni_read_file(path, STATE_MAX, &buf, &len, NULL) == 0)
		st = json_loadb(buf, len, 0, NULL);
	free(buf);
	free(path);
	/* unreadable state (edited by hand): start again; chunks are checked
	 * on every read and versions' metadata on every open anyway */
	if (!json_is_object(st) || json_integer_value(json_object_get(st, "format")) != 1) {
		json_decref(st);
		st = json_pack("{s:i, s:i, s:{}}", "format", 1, "next_pin", 1, "versions");
	}
	if (!json_is_object(json_object_get(st, "versions")))
		json_object_set_new(st, "versions", json_object());
	return st;
}

int store_state_save(struct cache_store *s, json_t *st, struct ni_err *e)
{
	char *path = ni_path_join(s->dir, "state.json");
	char *text = json_dumps(st, JSON_INDENT(2) | JSON_SORT_KEYS);
	int ret;

	if (path == NULL || text == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	else
		ret = ni_write_file_atomic(path, text, strlen(text), 0644, e);
	free(path);
	free(text);
	return ret;
}

json_t *store_state_version(json_t *st, const char *name, const char *version,
			    int create)
{
	json_t *vs = json_object_get(st, "versions"), *r;
	char key[300];

	snprintf(key, sizeof(key), "%s@%s", name, version);
	r = json_object_get(vs, key);
	if (r == NULL && create) {
		r = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i}", "name", name,
			      "version", version, "pinned", 0, "hits", 0, "misses", 0,
			      "bytes_fetched", 0, "bytes_read", 0, "last_used", 0);
		json_object_set_new(vs, key, r);
	}
	return r;
}

/* ---- sets of chunks ---- */

int store_set_add_version(struct store_set *set, const struct cache_version *v)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		if (ni_grow(&set->v, &set->cap, set->n, sizeof(*set->v), 1024) != 0)
			return NI_ENOMEM;
		memcpy(set->v[set->n].sha, v->c[i].sha, NI_SHA256_LEN);
		set->v[set->n++].len = v->c[i].len;
	}
	return 0;
}

static int cmp_item(const void *a, const void *b)
{
	return memcmp(a, b, NI_SHA256_LEN);
}

void store_set_seal(struct store_set *set)
{
	size_t i, k = 0;

	if (set->n > 1)
		qsort(set->v, set->n, sizeof(*set->v), cmp_item);
	set->bytes = 0;
	for (i = 0; i < set->n; i++) {
		if (k > 0 && memcmp(set->v[k - 1].sha, set->v[i].sha, NI_SHA256_LEN) == 0)
			continue;
		set->v[k++] = set->v[i];
		set->bytes += set->v[i].len;
	}
	set->n = k;
}

int store_set_has(const struct store_set *set, const uint8_t *sha)
{
	return set->n > 0 && bsearch(sha, set->v, set->n, sizeof(*set->v), cmp_item) != NULL;
}

void store_set_free(struct store_set *set)
{
	free(set->v);
	memset(set, 0, sizeof(*set));
}

/* ---- pins ---- */

/* The versions pinned after pinning name@version (keep: sync's rule), as
 * an array of their state records' keys. */
static json_t *future_pins(json_t *st, const char *name, const char *version,
			   int keep)
{
	json_t *vs = json_object_get(st, "versions"), *r, *out = json_array();
	const char *k, *prev = NULL;
	json_int_t prev_seq = 0;
	char self[300];

	snprintf(self, sizeof(self), "%s@%s", name, version);
	json_object_foreach(vs, k, r) {
		json_int_t seq = json_integer_value(json_object_get(r, "pinned"));
		const char *n = json_string_value(json_object_get(r, "name"));

		if (seq <= 0 || strcmp(k, self) == 0)
			continue;
		if (keep && n != NULL && strcmp(n, name) == 0) {
			if (seq > prev_seq) {
				prev_seq = seq;
				prev = k;
			}
			continue;
		}
		json_array_append_new(out, json_string(k));
	}
	if (prev != NULL)
		json_array_append_new(out, json_string(prev));
	json_array_append_new(out, json_string(self));
	return out;
}

/* The bytes the versions in keys would pin (distinct chunks plus their
 * metadata); extra stands for its own name@version when not stored. */
static int pinned_bytes(struct cache_store *s, json_t *st, json_t *keys,
			const struct cache_version *extra, uint64_t *out,
			struct ni_err *e)
{
	struct store_set set = { 0 };
	uint64_t meta = 0;
	json_t *k;
	size_t i;
	int ret = 0;

	json_array_foreach(keys, i, k) {
		json_t *r = json_object_get(json_object_get(st, "versions"), json_string_value(k));
		const char *n = json_string_value(json_object_get(r, "name"));
		const char *ver = json_string_value(json_object_get(r, "version"));
		struct cache_version *v = NULL;

		if (extra != NULL && r == NULL) {
			/* not in the state yet: it is extra */
			ret = store_set_add_version(&set, extra);
			meta += extra->raw.manifest_len + extra->raw.index_len +
				extra->raw.locations_len;
			continue;
		}
		if (extra != NULL && n != NULL && ver != NULL &&
		    strcmp(n, extra->name) == 0 && strcmp(ver, extra->version) == 0) {
			ret = store_set_add_version(&set, extra);
			meta += extra->raw.manifest_len + extra->raw.index_len +
				extra->raw.locations_len;
		} else if (n != NULL && ver != NULL && store_meta_load(s, n, ver, &v, NULL) == 0) {
			ret = store_set_add_version(&set, v);
			meta += store_meta_bytes(s, n, ver);
			cache_version_free(v);
		}
		/* a pinned version whose metadata is gone pins nothing */
		if (ret != 0)
			break;
	}
	if (ret != 0) {
		store_set_free(&set);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	store_set_seal(&set);
	*out = set.bytes + meta;
	store_set_free(&set);
	return 0;
}

static int check_fits(struct cache_store *s, json_t *st, json_t *keys,
		      const struct cache_version *extra, const char *name,
		      const char *version, struct ni_err *e)
{
	char need[32], quota[32];
	uint64_t b = 0;
	int ret = pinned_bytes(s, st, keys, extra, &b, e);

	if (ret != 0 || b <= s->quota)
		return ret;
	ni_fmt_bytes(b, need, sizeof(need));
	ni_fmt_bytes(s->quota, quota, sizeof(quota));
	return ni_err_set(e, NI_ENOSPC,
			  "%s: pinning %s@%s needs %s of pinned data, over the cache's quota of %s (unpin a version or raise --cache-size)",
			  s->dir, name, version, need, quota);
}

/* Unpins the versions of name that keys leaves out. */
static void unpin_others(json_t *st, const char *name, json_t *keys)
{
	json_t *vs = json_object_get(st, "versions"), *r, *k;
	const char *key;
	size_t i;

	json_object_foreach(vs, key, r) {
		const char *n = json_string_value(json_object_get(r, "name"));
		int kept = 0;

		if (n == NULL || strcmp(n, name) != 0 ||
		    json_integer_value(json_object_get(r, "pinned")) <= 0)
			continue;
		json_array_foreach(keys, i, k)
			if (strcmp(json_string_value(k), key) == 0)
				kept = 1;
		if (!kept)
			json_object_set_new(r, "pinned", json_integer(0));
	}
}

int cache_store_pin(struct cache_store *s, const char *name,
		    const char *version, int keep, struct ni_err *e)
{
	struct cache_version *v = NULL;
	json_t *st, *keys, *r;
	json_int_t seq;
	int ret;

	if ((ret = store_lock(s, e)) != 0)
		return ret;
	ret = store_meta_load(s, name, version, &v, e);
	if (ret == NI_ENOENT)
		ret = ni_err_set(e, NI_ENOENT, "%s: %s@%s is not in the cache (netimg sync it first)",
				 s->dir, name, version);
	cache_version_free(v);
	if (ret != 0) {
		store_unlock(s);
		return ret;
	}
	st = store_state_load(s);
	keys = future_pins(st, name, version, keep);
	ret = check_fits(s, st, keys, NULL, name, version, e);
	if (ret == 0) {
		if (keep)
			unpin_others(st, name, keys);
		r = store_state_version(st, name, version, 1);
		seq = json_integer_value(json_object_get(st, "next_pin"));
		if (seq < 1)
			seq = 1;
		/* pin alone keeps an existing pin's place; sync makes it the newest */
		if (keep || json_integer_value(json_object_get(r, "pinned")) <= 0) {
			json_object_set_new(r, "pinned", json_integer(seq));
			json_object_set_new(st, "next_pin", json_integer(seq + 1));
		}
		ret = store_state_save(s, st, e);
	}
	json_decref(keys);
	json_decref(st);
	store_unlock(s);
	return ret;
}

int cache_store_pin_prepare(struct cache_store *s, const struct cache_version *v,
			    struct ni_err *e)
{
	json_t *st, *keys;
	int ret;

	if ((ret = store_lock(s, e)) != 0)
		return ret;
	st = store_state_load(s);
	keys = future_pins(st, v->name, v->version, 1);
	ret = check_fits(s, st, keys, v, v->name, v->version, e);
	if (ret == 0) {
		json_t *before = json_deep_copy(st);

		unpin_others(st, v->name, keys);
		if (!json_equal(before, st))
			ret = store_state_save(s, st, e);
		json_decref(before);
	}
	json_decref(keys);
	json_decref(st);
	store_unlock(s);
	return ret;
}

int cache_store_unpin(struct cache_store *s, const char *name,
		      const char *version, struct ni_err *e)
{
	json_t *st, *r;
	int ret;

	if ((ret = store_lock(s, e)) != 0)
		return ret;
	st = store_state_load(s);
	r = store_state_version(st, name, version, 0);
	if (r == NULL || json_integer_value(json_object_get(r, "pinned")) <= 0) {
		ret = ni_err_set(e, NI_ENOENT, "%s: %s@%s is not pinned", s->dir, name, version);
	} else {
		json_object_set_new(r, "pinned", json_integer(0));
		ret = store_state_save(s, st, e);
	}
	json_decref(st);
	store_unlock(s);
	return ret;
}

static int cmp_pin(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "pin"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "pin"));

	return x < y ? -1 : x > y;
}

int cache_store_pins(struct cache_store *s, json_t **out, struct ni_err *e)
{
	json_t *st = store_state_load(s), *r, **v, *a = json_array();
	const char *k;
	size_t n = 0, i;

	v = calloc(json_object_size(json_object_get(st, "versions")) + 1, sizeof(*v));
	if (v == NULL || a == NULL) {
		free(v);
		json_decref(a);
		json_decref(st);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	json_object_foreach(json_object_get(st, "versions"), k, r) {
		json_int_t seq = json_integer_value(json_object_get(r, "pinned"));

		if (seq > 0)
			v[n++] = json_pack("{s:O, s:O, s:I}", "name", json_object_get(r, "name"),
					   "version", json_object_get(r, "version"), "pin", seq);
	}
	qsort(v, n, sizeof(*v), cmp_pin);
	for (i = 0; i < n; i++)
		json_array_append_new(a, v[i]);
	free(v);
	json_decref(st);
	*out = a;
	return 0;
}

static void add_int(json_t *r, const char *k, uint64_t d)
{
	json_object_set_new(r, k, json_integer(json_integer_value(json_object_get(r, k)) +
					       (json_int_t)d));
}

int cache_store_add_counts(struct cache_store *s, const char *name,
			   const char *version,
			   const struct cache_store_counts *c, struct ni_err *e)
{
	json_t *st, *r;
	int ret;

	if ((ret = store_lock(s, e)) != 0)
		return ret;
	st = store_state_load(s);
	r = store_state_version(st, name, version, 1);
	add_int(r, "hits", c->hits);
	add_int(r, "misses", c->misses);
	add_int(r, "bytes_fetched", c->bytes_fetched);
	add_int(r, "bytes_read", c->bytes_read);
	json_object_set_new(r, "last_used", json_integer((json_int_t)time(NULL)));
	ret = store_state_save(s, st, e);
	json_decref(st);
	store_unlock(s);
	return ret;
}
