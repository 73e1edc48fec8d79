/* publish_delta.c: index deltas, `indexes/NEW.from-OLD`, written by a
 * publish for the versions of the same name published last before it
 * (what clients updating to the new version most likely hold). A client
 * that holds OLD's index fetches the delta instead of the whole index. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "images/chunkidx.h"
#include "images/publish_internal.h"

/* Deltas from this many earlier versions at most. */
#define DELTA_FROM 3

struct prev {
	char index[NI_SHA256_HEX];
	long long published;
	char version[72];
};

/* Newest first: published time, then the version in version order. */
static int cmp_prev(const void *a, const void *b)
{
	const struct prev *x = a, *y = b;

	if (x->published != y->published)
		return x->published > y->published ? -1 : 1;
	return strverscmp(y->version, x->version);
}

/* The index hash and publishing time of one manifest of p->name (the
 * publisher's own files: read, not verified; a wrong one only makes a
 * delta nobody can use, and clients check what a delta rebuilds). */
static int read_prev(const char *dir, const char *file, struct prev *out)
{
	char *path = ni_path_join(dir, file), *buf = NULL, *nl;
	const char *ih;
	json_t *m = NULL;
	size_t len;
	int ok = 0;

	if (path != NULL && ni_read_file(path, 16u << 20, &buf, &len, NULL) == 0 &&
	    (nl = memchr(buf, '\n', len)) != NULL &&
	    (m = json_loadb(nl + 1, len - (size_t)(nl + 1 - buf), 0, NULL)) != NULL) {
		ih = json_string_value(json_object_get(json_object_get(m, "index"), "sha256"));
		if (ih != NULL && strlen(ih) == 64 &&
		    strspn(ih, "0123456789abcdef") == 64) {
			memcpy(out->index, ih, NI_SHA256_HEX);
			out->published = (long long)json_integer_value(json_object_get(m, "published"));
			snprintf(out->version, sizeof(out->version), "%.*s",
				 (int)(strlen(file) - 5), file);
			ok = 1;
		}
	}
	json_decref(m);
	free(buf);
	free(path);
	return ok;
}

/* One delta, from the index named old_hex (skipped when it is missing,
 * not format 2, or the delta would save little). */
static int one_delta(struct pctx *p, const uint8_t *idx, size_t len,
		     const char *idx_hex, const char *old_hex)
{
	char rel[220], *path, *old = NULL, hex[NI_SHA256_HEX];
	uint8_t d[NI_SHA256_LEN], *delta = NULL;
	size_t old_len, dlen;
	struct ni_err ignored;
	int ret = 0;

	snprintf(rel, sizeof(rel), "indexes/%s.bin", old_hex);
	if ((path = img_repo_path(&p->repo, rel)) == NULL)
		return ni_err_set(p->e, NI_ENOMEM, "out of memory");
	if (ni_read_file(path, 256u << 20, &old, &old_len, &ignored) == 0) {
		ni_sha256_buf(old, old_len, d);
		ni_hex(d, sizeof(d), hex);
		if (strcmp(hex, old_hex) == 0 &&
		    img_idxdelta_make((const uint8_t *)old, old_len, idx, len, &delta,
				      &dlen, &ignored) == 0 && dlen < len / 2) {
			snprintf(rel, sizeof(rel), "indexes/%s.from-%s", idx_hex, old_hex);
			ret = img_repo_write(&p->repo, rel, delta, dlen, p->e);
		}
	}
	free(delta);
	free(old);
	free(path);
	return ret;
}

int img_write_index_deltas(struct pctx *p, const uint8_t *idx, size_t len,
			   const char *idx_hex)
{
	char rel[200], *dir;
	struct prev *v = NULL, *nv;
	size_t n = 0, i, k;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	snprintf(rel, sizeof(rel), "versions/%s", p->name);
	if ((dir = img_repo_path(&p->repo, rel)) == NULL)
		return ni_err_set(p->e, NI_ENOMEM, "out of memory");
	d = opendir(dir);
	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t fl = strlen(de->d_name);

		if (fl < 6 || de->d_name[0] == '.' || strcmp(de->d_name + fl - 5, ".json") != 0 ||
		    (strncmp(de->d_name, p->version, fl - 5) == 0 && strlen(p->version) == fl - 5))
			continue;
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL) {
			ret = ni_err_set(p->e, NI_ENOMEM, "out of memory");
			break;
		}
		v = nv;
		if (read_prev(dir, de->d_name, &v[n]))
			n++;
	}
	if (d != NULL)
		closedir(d);
	free(dir);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_prev);
	for (i = 0, k = 0; ret == 0 && i < n && k < DELTA_FROM; i++) {
		if (strcmp(v[i].index, idx_hex) == 0)
			continue;     /* the same image under another version */
		ret = one_delta(p, idx, len, idx_hex, v[i].index);
		k++;
	}
	free(v);
	return ret;
}
