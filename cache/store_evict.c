/* store_evict.c: scanning the cache: LRU eviction down to a size, verify
 * (every chunk re-hashed) and status. */
#include "cache/store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/grow.h"

#define STALE_TMP_S 600      /* a temporary file this old lost its writer */

struct entry {
	uint8_t sha[NI_SHA256_LEN];
	uint64_t size;
	struct timespec mtime;
	ino_t ino;
};

struct scan {
	struct entry *v;
	size_t n, cap;
	uint64_t bytes;
};

static int is_hex(const char *s, size_t n)
{
	return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* Every chunk file: name, size, mtime. */
static int scan_chunks(struct cache_store *s, struct scan *sc, struct ni_err *e)
{
	int k;

	for (k = 0; k < 256; k++) {
		char sub[3];
		struct dirent *de;
		int fd;
		DIR *d;

		snprintf(sub, sizeof(sub), "%02x", k);
		fd = openat(s->chunks_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if ((d = fdopendir(fd)) == NULL) {
			close(fd);
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			struct stat st;
			struct entry *en;

			if (!is_hex(de->d_name, 64) || strncmp(de->d_name, sub, 2) != 0 ||
			    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			if (ni_grow(&sc->v, &sc->cap, sc->n, sizeof(*sc->v), 1024) != 0) {
				closedir(d);
				return ni_err_set(e, NI_ENOMEM, "out of memory");
			}
			en = &sc->v[sc->n++];
			ni_unhex(de->d_name, en->sha, NI_SHA256_LEN);
			en->size = (uint64_t)st.st_size;
			en->mtime = st.st_mtim;
			en->ino = st.st_ino;
			sc->bytes += en->size;
		}
		closedir(d);
	}
	return 0;
}

/* Removes files named *.tmp.* (or anything in tmp/) older than
 * STALE_TMP_S from the folder at path: a killed writer's leftovers. */
static void sweep_tmp(const char *path, int any)
{
	DIR *d = opendir(path);
	struct dirent *de;
	time_t now = time(NULL);

	while (d != NULL && (de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.' || (!any && strstr(de->d_name, ".tmp.") == NULL))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && now - st.st_mtime > STALE_TMP_S)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d != NULL)
		closedir(d);
}

static uint64_t file_size(struct cache_store *s, const char *rel)
{
	struct stat st;

	return fstatat(s->dir_fd, rel, &st, 0) == 0 ? (uint64_t)st.st_size : 0;
}

/* Bytes of every cached version's metadata (and stale temporaries
 * swept on the way). */
static uint64_t meta_bytes(struct cache_store *s, json_t *list)
{
	uint64_t n = file_size(s, "state.json") + file_size(s, "lock");
	json_t *it;
	size_t i;

	json_array_foreach(list, i, it) {
		const char *name = json_string_value(json_array_get(it, 0));
		const char *ver = json_string_value(json_array_get(it, 1));
		char *p;

		n += store_meta_bytes(s, name, ver);
		if (asprintf(&p, "%s/versions/%s/%s", s->dir, name, ver) >= 0) {
			sweep_tmp(p, 0);
			free(p);
		}
	}
	return n;
}

/* The chunks eviction must keep: pinned versions' and leased ones'. */
static int protected_set(struct cache_store *s, json_t *list, struct store_set *set,
			 uint64_t *pinned, struct ni_err *e)
{
	json_t *st = store_state_load(s), *it;
	size_t i;
	int ret = 0;

	json_array_foreach(list, i, it) {
		const char *name = json_string_value(json_array_get(it, 0));
		const char *ver = json_string_value(json_array_get(it, 1));
		json_t *r = store_state_version(st, name, ver, 0);
		struct cache_version *v = NULL;

		if (json_integer_value(json_object_get(r, "pinned")) <= 0 &&
		    !store_meta_leased(s, name, ver))
			continue;
		if (store_meta_load(s, name, ver, &v, NULL) != 0)
			continue;
		ret = store_set_add_version(set, v);
		cache_version_free(v);
		if (ret != 0) {
			ret = ni_err_set(e, NI_ENOMEM, "out of memory");
			break;
		}
	}
	json_decref(st);
	store_set_seal(set);
	*pinned = set->bytes;
	return ret;
}

static int cmp_age(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return memcmp(x->sha, y->sha, NI_SHA256_LEN);
}

static int cmp_used(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_array_get(*(json_t *const *)a, 2));
	json_int_t y = json_integer_value(json_array_get(*(json_t *const *)b, 2));

	return x < y ? -1 : x > y;
}

/* Still over target with every unpinned chunk gone: the metadata of
 * unpinned, unleased versions goes too, least recently used first. */
static uint64_t drop_unpinned_meta(struct cache_store *s, json_t *list,
				   uint64_t total, uint64_t target)
{
	json_t *st = store_state_load(s), *it, **cand;
	size_t i, n = 0;

	cand = calloc(json_array_size(list) + 1, sizeof(*cand));
	json_array_foreach(list, i, it) {
		const char *name = json_string_value(json_array_get(it, 0));
		const char *ver = json_string_value(json_array_get(it, 1));
		json_t *r = store_state_version(st, name, ver, 0);

		if (cand == NULL || json_integer_value(json_object_get(r, "pinned")) > 0 ||
		    store_meta_leased(s, name, ver))
			continue;
		json_array_append_new(it, json_integer(json_integer_value(json_object_get(r, "last_used"))));
		cand[n++] = it;
	}
	if (n > 1)
		qsort(cand, n, sizeof(*cand), cmp_used);
	for (i = 0; i < n && total > target; i++) {
		const char *name = json_string_value(json_array_get(cand[i], 0));
		const char *ver = json_string_value(json_array_get(cand[i], 1));
		uint64_t b = store_meta_bytes(s, name, ver);

		store_meta_remove(s, name, ver);
		total = total > b ? total - b : 0;
	}
	free(cand);
	json_decref(st);
	return total;
}

int store_evict_locked(struct cache_store *s, uint64_t target,
		       struct cache_store_report *r, struct ni_err *e)
{
	struct store_set keep = { 0 };
	struct scan sc = { 0 };
	struct entry **cand = NULL;
	json_t *list = store_meta_list(s);
	uint64_t total, pinned = 0;
	size_t i, nc = 0;
	char *tmp = ni_path_join(s->dir, "tmp");
	int ret;

	if (tmp != NULL)
		sweep_tmp(tmp, 1);
	free(tmp);
	sweep_tmp(s->dir, 0);
	ret = scan_chunks(s, &sc, e);
	if (ret == 0)
		ret = protected_set(s, list, &keep, &pinned, e);
	total = sc.bytes + meta_bytes(s, list);
	if (r != NULL) {
		r->chunks = sc.n;
		r->bytes = sc.bytes;
	}
	if (ret == 0 && total > target && (cand = calloc(sc.n + 1, sizeof(*cand))) == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	if (ret == 0 && total > target) {
		for (i = 0; i < sc.n; i++)
			if (!store_set_has(&keep, sc.v[i].sha))
				cand[nc++] = &sc.v[i];
		qsort(cand, nc, sizeof(*cand), cmp_age);
		for (i = 0; i < nc && total > target; i++) {
			char rel[80];
			struct stat st;

			store_chunk_rel(cand[i]->sha, rel, sizeof(rel));
			/* the scan's file still: a chunk is never replaced, only dropped */
			if (fstatat(s->chunks_fd, rel, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
			    st.st_ino != cand[i]->ino || unlinkat(s->chunks_fd, rel, 0) != 0)
				continue;
			total -= cand[i]->size;
			if (r != NULL) {
				r->removed++;
				r->removed_bytes += cand[i]->size;
			}
		}
	}
	if (ret == 0 && total > target)
		total = drop_unpinned_meta(s, list, total, target);
	if (ret == 0)
		store_usage_write(s, total);
	if (r != NULL) {
		r->usage = total;
		r->pinned_bytes = pinned;
	}
	free(cand);
	free(sc.v);
	store_set_free(&keep);
	json_decref(list);
	return ret;
}

int cache_store_evict(struct cache_store *s, uint64_t target,
		      struct cache_store_report *r, struct ni_err *e)
{
	int ret;

	memset(r, 0, sizeof(*r));
	if ((ret = store_lock(s, e)) != 0)
		return ret;
	ret = store_evict_locked(s, target ? target : s->quota, r, e);
	store_unlock(s);
	return ret;
}

/* Re-hashes one chunk file; drops it when its content is not its name. */
static int verify_one(struct cache_store *s, const struct entry *en, uint8_t **buf,
		      size_t *cap, struct cache_store_report *r)
{
	char rel[80];
	uint8_t d[NI_SHA256_LEN];
	struct stat st;
	int fd, bad = 1;

	store_chunk_rel(en->sha, rel, sizeof(rel));
	fd = openat(s->chunks_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;   /* evicted meanwhile */
	if (fstat(fd, &st) != 0) {
		close(fd);
		return 0;
	}
	if (st.st_size <= (off_t)CACHE_CHUNK_MAX) {
		size_t len = (size_t)st.st_size;

		if (len > *cap) {
			uint8_t *nb = realloc(*buf, len);

			if (nb == NULL) {
				close(fd);
				return NI_ENOMEM;
			}
			*buf = nb;
			*cap = len;
		}
		if (pread(fd, *buf, len, 0) == (ssize_t)len) {
			ni_sha256_buf(*buf, len, d);
			bad = memcmp(d, en->sha, NI_SHA256_LEN) != 0;
		}
	}
	close(fd);
	r->chunks++;
	r->bytes += (uint64_t)st.st_size;
	if (bad) {
		store_drop_chunk(s, rel, &st);
		r->removed++;
		r->removed_bytes += (uint64_t)st.st_size;
	}
	return 0;
}

int cache_store_verify(struct cache_store *s, EVP_PKEY *key,
		       struct cache_store_report *r, struct ni_err *e)
{
	struct scan sc = { 0 };
	struct cache_store_report after;
	uint8_t *buf = NULL;
	size_t cap = 0, i;
	json_t *list, *it;
	int ret;

	memset(r, 0, sizeof(*r));
	/* no lock while hashing: readers and writers go on meanwhile */
	if ((ret = scan_chunks(s, &sc, e)) != 0)
		return ret;
	for (i = 0; i < sc.n && ret == 0; i++)
		if (verify_one(s, &sc.v[i], &buf, &cap, r) != 0)
			ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	free(buf);
	free(sc.v);
	list = store_meta_list(s);
	json_array_foreach(list, i, it) {
		const char *name = json_string_value(json_array_get(it, 0));
		const char *ver = json_string_value(json_array_get(it, 1));
		struct cache_version_raw raw;
		struct cache_version *v = NULL;

		if (ret != 0)
			break;
		if (cache_store_meta_get(s, name, ver, &raw, NULL) == 0 &&
		    cache_version_load(&raw, key, name, ver, NULL, s->dir, &v, NULL) == 0) {
			cache_version_free(v);
			continue;
		}
		store_meta_remove(s, name, ver);
		r->bad_versions++;
	}
	json_decref(list);
	if (ret == 0 && (ret = store_lock(s, e)) == 0) {
		memset(&after, 0, sizeof(after));
		ret = store_evict_locked(s, UINT64_MAX, &after, e);
		store_unlock(s);
		r->usage = after.usage;
		r->pinned_bytes = after.pinned_bytes;
	}
	return ret;
}

/* One cached version's line of the status. */
static json_t *version_status(struct cache_store *s, json_t *st, const char *name,
			      const char *ver)
{
	json_t *rec = store_state_version(st, name, ver, 0), *o;
	struct cache_version *v = NULL;
	struct store_set set = { 0 };
	uint64_t have = 0, have_n = 0;
	size_t i;

	o = json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I}", "name", name, "version", ver,
		      "pinned", json_integer_value(json_object_get(rec, "pinned")) > 0,
		      "hits", json_integer_value(json_object_get(rec, "hits")),
		      "misses", json_integer_value(json_object_get(rec, "misses")),
		      "bytes_fetched", json_integer_value(json_object_get(rec, "bytes_fetched")),
		      "bytes_read", json_integer_value(json_object_get(rec, "bytes_read")),
		      "last_used", json_integer_value(json_object_get(rec, "last_used")));
	if (store_meta_load(s, name, ver, &v, NULL) != 0) {
		json_object_set_new(o, "metadata", json_false());
		return o;
	}
	if (store_set_add_version(&set, v) == 0) {
		store_set_seal(&set);
		for (i = 0; i < set.n; i++)
			if (cache_store_has(s, set.v[i].sha, set.v[i].len)) {
				have += set.v[i].len;
				have_n++;
			}
	}
	json_object_set_new(o, "metadata", json_true());
	json_object_set_new(o, "image_size", json_integer((json_int_t)v->image_size));
	json_object_set_new(o, "chunks", json_integer((json_int_t)set.n));
	json_object_set_new(o, "chunks_cached", json_integer((json_int_t)have_n));
	json_object_set_new(o, "bytes", json_integer((json_int_t)set.bytes));
	json_object_set_new(o, "bytes_cached", json_integer((json_int_t)have));
	store_set_free(&set);
	cache_version_free(v);
	return o;
}

int cache_store_status(struct cache_store *s, json_t **out, struct ni_err *e)
{
	struct cache_store_report r = { 0 };
	json_t *st, *list, *vs, *it, *rec;
	const char *k;
	size_t i;
	int ret;

	*out = NULL;
	if ((ret = store_lock(s, e)) != 0)
		return ret;
	ret = store_evict_locked(s, UINT64_MAX, &r, e);   /* counts, removes nothing */
	st = store_state_load(s);
	store_unlock(s);
	if (ret != 0) {
		json_decref(st);
		return ret;
	}
	list = store_meta_list(s);
	vs = json_array();
	json_array_foreach(list, i, it)
		json_array_append_new(vs, version_status(s, st, json_string_value(json_array_get(it, 0)),
							 json_string_value(json_array_get(it, 1))));
	/* pinned, but its metadata is gone (dropped by verify, say) */
	json_object_foreach(json_object_get(st, "versions"), k, rec) {
		const char *n = json_string_value(json_object_get(rec, "name"));
		const char *v = json_string_value(json_object_get(rec, "version"));
		json_t *c;
		size_t j;
		int listed = 0;

		json_array_foreach(list, j, c)
			if (n && v && strcmp(json_string_value(json_array_get(c, 0)), n) == 0 &&
			    strcmp(json_string_value(json_array_get(c, 1)), v) == 0)
				listed = 1;
		if (!listed && n && v && json_integer_value(json_object_get(rec, "pinned")) > 0)
			json_array_append_new(vs, version_status(s, st, n, v));
	}
	*out = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "dir", s->dir,
			 "quota", (json_int_t)s->quota, "usage", (json_int_t)r.usage,
			 "chunks", (json_int_t)r.chunks, "chunk_bytes", (json_int_t)r.bytes,
			 "pinned_bytes", (json_int_t)r.pinned_bytes, "versions", vs);
	json_decref(list);
	json_decref(st);
	return *out ? 0 : ni_err_set(e, NI_ENOMEM, "out of memory");
}
