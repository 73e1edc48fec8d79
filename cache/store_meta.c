/* store_meta.c: cached versions' metadata, DIR/versions/NAME/VERSION/:
 * manifest (the signed file, exact bytes), index (binary), locations.json,
 * and lease (flocked by a sync in progress). */
#include "cache/store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/fsutil.h"

#define META_MAX (256u << 20)

static const char *const files[3] = { "manifest", "index", "locations.json" };

static int valid(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-~") == n;
}

static char *vdir(struct cache_store *s, const char *name, const char *version)
{
	char *p;

	if (!valid(name) || !valid(version) ||
	    asprintf(&p, "%s/versions/%s/%s", s->dir, name, version) < 0)
		return NULL;
	return p;
}

int cache_store_meta_get(struct cache_store *s, const char *name,
			 const char *version, struct cache_version_raw *raw,
			 struct ni_err *e)
{
	char *d = vdir(s, name, version);
	uint8_t **buf[3] = { &raw->manifest, &raw->index, &raw->locations };
	size_t *len[3] = { &raw->manifest_len, &raw->index_len, &raw->locations_len };
	int i, ret = 0;

	memset(raw, 0, sizeof(*raw));
	if (d == NULL)
		return ni_err_set(e, NI_EINVAL, "'%s@%s': not a valid NAME@VERSION", name, version);
	for (i = 0; i < 3 && ret == 0; i++) {
		char *p = ni_path_join(d, files[i]);

		if (p == NULL)
			ret = ni_err_set(e, NI_ENOMEM, "out of memory");
		else if (access(p, F_OK) != 0 && errno == ENOENT)
			ret = NI_ENOENT;
		else
			ret = ni_read_file(p, META_MAX, (char **)buf[i], len[i], e);
		free(p);
	}
	free(d);
	if (ret != 0)
		cache_version_raw_free(raw);
	return ret;
}

int cache_store_meta_put(struct cache_store *s, const struct cache_version *v,
			 struct ni_err *e)
{
	char *d = vdir(s, v->name, v->version);
	const uint8_t *buf[3] = { v->raw.manifest, v->raw.index, v->raw.locations };
	size_t len[3] = { v->raw.manifest_len, v->raw.index_len, v->raw.locations_len };
	int i, ret;

	if (d == NULL)
		return ni_err_set(e, NI_EINVAL, "'%s@%s': not a valid NAME@VERSION",
				  v->name, v->version);
	ret = ni_mkdir_p(d, 0755, e);
	/* the manifest last: a folder with a manifest is complete */
	for (i = 2; i >= 0 && ret == 0; i--) {
		char *p = ni_path_join(d, files[i]);

		ret = p ? ni_write_file_atomic(p, buf[i], len[i], 0644, e)
			: ni_err_set(e, NI_ENOMEM, "out of memory");
		free(p);
	}
	free(d);
	return ret;
}

int cache_store_lease(struct cache_store *s, const char *name,
		      const char *version, int *lease, struct ni_err *e)
{
	char *d = vdir(s, name, version), *p = NULL;
	int fd, ret;

	*lease = -1;
	if (d == NULL)
		return ni_err_set(e, NI_EINVAL, "'%s@%s': not a valid NAME@VERSION", name, version);
	if ((ret = ni_mkdir_p(d, 0755, e)) != 0 || (p = ni_path_join(d, "lease")) == NULL) {
		free(d);
		return ret ? ret : ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_SH) != 0) {
		ret = ni_err_errno(e, errno, "%s", p);
		if (fd >= 0)
			close(fd);
	} else {
		*lease = fd;
	}
	free(p);
	free(d);
	return ret;
}

void cache_store_unlease(int lease)
{
	if (lease >= 0)
		close(lease);
}

int store_meta_leased(struct cache_store *s, const char *name,
		      const char *version)
{
	char *d = vdir(s, name, version), *p = d ? ni_path_join(d, "lease") : NULL;
	int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1, held = 0;

	if (fd >= 0) {
		held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
		close(fd);
	}
	free(p);
	free(d);
	return held;
}

int store_meta_load(struct cache_store *s, const char *name,
		    const char *version, struct cache_version **v,
		    struct ni_err *e)
{
	struct cache_version_raw raw;
	int ret = cache_store_meta_get(s, name, version, &raw, e);

	*v = NULL;
	if (ret != 0)
		return ret;
	return cache_version_load(&raw, NULL, name, version, NULL, s->dir, v, e);
}

uint64_t store_meta_bytes(struct cache_store *s, const char *name,
			  const char *version)
{
	char *d = vdir(s, name, version);
	uint64_t n = 0;
	int i;

	for (i = 0; d != NULL && i < 3; i++) {
		char *p = ni_path_join(d, files[i]);
		struct stat st;

		if (p != NULL && stat(p, &st) == 0)
			n += (uint64_t)st.st_size;
		free(p);
	}
	free(d);
	return n;
}

void store_meta_remove(struct cache_store *s, const char *name,
		       const char *version)
{
	char *d = vdir(s, name, version);
	int i;

	if (d == NULL)
		return;
	/* the manifest first: without it the folder is not a cached version */
	for (i = 0; i < 3; i++) {
		char *p = ni_path_join(d, files[i]);

		if (p != NULL)
			unlink(p);
		free(p);
	}
	free(d);
}

json_t *store_meta_list(struct cache_store *s)
{
	json_t *out = json_array();
	char *top = ni_path_join(s->dir, "versions");
	DIR *dn = top ? opendir(top) : NULL;
	struct dirent *a, *b;

	while (dn != NULL && (a = readdir(dn)) != NULL) {
		char *sub;
		DIR *dv;

		if (a->d_name[0] == '.' || !valid(a->d_name) ||
		    (sub = ni_path_join(top, a->d_name)) == NULL)
			continue;
		dv = opendir(sub);
		while (dv != NULL && (b = readdir(dv)) != NULL) {
			char *m;

			if (b->d_name[0] == '.' || !valid(b->d_name))
				continue;
			if (asprintf(&m, "%s/%s/manifest", sub, b->d_name) < 0)
				continue;
			if (access(m, F_OK) == 0)
				json_array_append_new(out, json_pack("[ss]", a->d_name, b->d_name));
			free(m);
		}
		if (dv != NULL)
			closedir(dv);
		free(sub);
	}
	if (dn != NULL)
		closedir(dn);
	free(top);
	return out;
}
