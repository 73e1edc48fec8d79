/* attach.c: writing attachments (attach.h): the blob first, then the
 * signed record that names it, then the list; a reader never finds a
 * record whose blob is not there yet. */
#include "images/attach.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "images/channel.h"
#include "images/manifest.h"

int img_valid_kind(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= IMG_ATTACH_KIND_MAX && s[0] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

struct blob {
	int in, out;
	char *tmp;
	uint64_t size;
	uint8_t sha[NI_SHA256_LEN];
};

static int copy_in(struct blob *b, const char *file, struct ni_err *e)
{
	unsigned char *buf = malloc(1u << 20);
	struct ni_sha256 *h = ni_sha256_new();
	int ret = 0, w;
	ssize_t n;

	if (buf == NULL || h == NULL) {
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
		goto out;
	}
	while ((n = read(b->in, buf, 1u << 20)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = ni_err_errno(e, errno, "%s", file);
			goto out;
		}
		b->size += (uint64_t)n;
		if (b->size > IMG_ATTACH_MAX) {
			ret = ni_err_set(e, NI_EINVAL, "%s: larger than %llu MiB, too large to attach",
					 file, IMG_ATTACH_MAX >> 20);
			goto out;
		}
		ni_sha256_update(h, buf, (size_t)n);
		if ((w = ni_write_all(b->out, buf, (size_t)n)) != 0) {
			ret = ni_err_errno(e, -w, "%s: cannot write", b->tmp);
			goto out;
		}
	}
	ni_sha256_final(h, b->sha);
	h = NULL;
out:
	if (h != NULL)
		ni_sha256_free(h);
	free(buf);
	return ret;
}

/* public/blobs/<sha256>: written under a temporary name, renamed by its
 * hash once complete. */
static int write_blob(const struct img_repo *r, const char *file,
		      struct img_attach_result *res, struct ni_err *e)
{
	struct blob b = { .in = -1, .out = -1 };
	char *dir = img_repo_path(r, "blobs"), *path = NULL;
	struct stat st;
	int ret = 0;

	if (dir == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	b.in = open(file, O_RDONLY | O_CLOEXEC);
	if (b.in < 0 || fstat(b.in, &st) != 0)
		ret = ni_err_errno(e, errno, "%s", file);
	else if (!S_ISREG(st.st_mode))
		ret = ni_err_set(e, NI_EINVAL, "%s: not a regular file", file);
	else if ((ret = ni_mkdir_p(dir, 0755, e)) == 0 &&
		 asprintf(&b.tmp, "%s/.new.XXXXXX", dir) < 0)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	if (ret == 0 && (b.out = mkstemp(b.tmp)) < 0) {
		ret = ni_err_errno(e, errno, "%s: cannot create a blob", dir);
		free(b.tmp);
		b.tmp = NULL;
	}
	if (ret == 0) {
		ni_cleanup_add(b.tmp);
		ret = copy_in(&b, file, e);
	}
	if (ret == 0) {
		ni_hex(b.sha, sizeof(b.sha), res->sha256);
		res->size = b.size;
		path = ni_path_join(dir, res->sha256);
		if (path == NULL)
			ret = ni_err_set(e, NI_ENOMEM, "out of memory");
		else if (fchmod(b.out, 0644) != 0 || fsync(b.out) != 0 ||
			 rename(b.tmp, path) != 0)
			ret = ni_err_errno(e, errno, "%s: cannot write", path);
		else
			ni_fsync_dir(path);
	}
	if (b.tmp != NULL) {
		if (ret != 0)
			unlink(b.tmp);
		ni_cleanup_remove(b.tmp);
	}
	if (b.in >= 0)
		close(b.in);
	if (b.out >= 0)
		close(b.out);
	free(b.tmp);
	free(path);
	free(dir);
	return ret;
}

/* One entry of the list from the record attachments/NAME/VERSION/FNAME
 * (written by this repository, so read without verifying: the list is a
 * hint, and clients verify every record they fetch). */
static int list_add(json_t *a, const char *dir, const char *fname)
{
	char kind[IMG_ATTACH_KIND_MAX + 1], *path, *buf = NULL, *nl;
	size_t len, n = strlen(fname);
	json_t *j;

	if (n < 6 || n - 5 > IMG_ATTACH_KIND_MAX || strcmp(fname + n - 5, ".json") != 0)
		return 0;
	snprintf(kind, sizeof(kind), "%.*s", (int)(n - 5), fname);
	if (!img_valid_kind(kind))
		return 0;
	if ((path = ni_path_join(dir, fname)) == NULL)
		return NI_ENOMEM;
	if (ni_read_file(path, 1u << 20, &buf, &len, NULL) != 0) {
		free(path);
		return 0;      /* replaced or removed meanwhile: not listed */
	}
	nl = strchr(buf, '\n');
	j = nl ? json_loads(nl + 1, 0, NULL) : NULL;
	if (json_is_string(json_object_get(j, "sha256")))
		json_array_append_new(a, json_pack("{s:s, s:O, s:O}", "kind", kind,
						   "sha256", json_object_get(j, "sha256"),
						   "size", json_object_get(j, "size")));
	json_decref(j);
	free(buf);
	free(path);
	return 0;
}

static int cmp_kind(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "kind")),
		      json_string_value(json_object_get(*(json_t *const *)b, "kind")));
}

int img_attach_write_list(const struct img_repo *r, const char *name,
			  const char *version, struct ni_err *e)
{
	char rel[300], *dir, *text;
	json_t *a = json_array(), **v = NULL, *sorted = json_array(), *list;
	struct dirent *de;
	size_t i, n;
	DIR *d;
	int ret = 0;

	snprintf(rel, sizeof(rel), "attachments/%s/%s", name, version);
	dir = img_repo_path(r, rel);
	d = dir ? opendir(dir) : NULL;
	while (d != NULL && ret == 0 && (de = readdir(d)) != NULL)
		ret = list_add(a, dir, de->d_name);
	if (d != NULL)
		closedir(d);
	free(dir);
	n = json_array_size(a);
	if (ret == 0 && n > 0 && (v = calloc(n, sizeof(*v))) == NULL)
		ret = NI_ENOMEM;
	for (i = 0; ret == 0 && i < n; i++)
		v[i] = json_array_get(a, i);
	if (v != NULL && n > 1)
		qsort(v, n, sizeof(*v), cmp_kind);
	for (i = 0; v != NULL && i < n; i++)
		json_array_append(sorted, v[i]);
	free(v);
	json_decref(a);
	snprintf(rel, sizeof(rel), "attachments/%s/%s.json", name, version);
	if (ret != 0) {
		json_decref(sorted);
		return ni_err_set(e, ret, "%s: cannot list the attachments", r->dir);
	}
	list = json_pack("{s:i, s:s, s:s, s:o}", "format", 1, "name", name,
			 "version", version, "attachments", sorted);
	text = list ? json_dumps(list, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(list);
	ret = text ? img_repo_write(r, rel, text, strlen(text), e)
		   : ni_err_set(e, NI_ENOMEM, "out of memory");
	free(text);
	return ret;
}

struct at {
	const struct img_attach_opts *o;
	struct img_attach_result *r;
	struct ni_err *e;
	struct img_repo repo;
	EVP_PKEY *priv, *pub;
	char *name, *version;
	char rel[300];
};

/* The version must be published, its manifest signed by this repository:
 * the record names the hash of its exact bytes. */
static int manifest_of(struct at *a)
{
	char *rel = img_manifest_path(a->name, a->version), *raw = NULL;
	uint8_t d[NI_SHA256_LEN];
	json_t *m = NULL;
	size_t len;
	int ret;

	if (rel == NULL)
		return ni_err_set(a->e, NI_ENOMEM, "out of memory");
	ret = img_repo_read_signed(&a->repo, a->pub, rel, &m, &raw, &len, a->e);
	if (ret == NI_ENOENT)
		ret = ni_err_set(a->e, NI_ENOENT, "%s: not published in %s",
				 a->o->target, a->repo.dir);
	if (ret == 0) {
		ni_sha256_buf(raw, len, d);
		ni_hex(d, sizeof(d), a->r->manifest_sha256);
	}
	json_decref(m);
	free(raw);
	free(rel);
	return ret;
}

static void previous(struct at *a)
{
	json_t *old = NULL;
	struct ni_err ignore;

	if (img_repo_read_signed(&a->repo, a->pub, a->rel, &old, NULL, NULL, &ignore) == 0)
		snprintf(a->r->replaced, sizeof(a->r->replaced), "%s",
			 json_string_value(json_object_get(old, "sha256")) ?
			 json_string_value(json_object_get(old, "sha256")) : "");
	json_decref(old);
}

static int write_record(struct at *a)
{
	json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}",
			      "format", 1, "name", a->name, "version", a->version,
			      "manifest_sha256", a->r->manifest_sha256, "kind", a->o->kind,
			      "sha256", a->r->sha256, "size", (json_int_t)a->r->size,
			      "time", (json_int_t)time(NULL),
			      "who", a->o->who ? a->o->who : img_default_who());
	int ret;

	if (j == NULL)
		return ni_err_set(a->e, NI_ENOMEM, "out of memory");
	ret = img_repo_write_signed(&a->repo, a->priv, a->rel, j, NULL, a->e);
	json_decref(j);
	return ret;
}

int img_attach(const struct img_attach_opts *o, struct img_attach_result *r,
	       struct ni_err *e)
{
	struct at a = { .o = o, .r = r, .e = e };
	int ret;

	memset(r, 0, sizeof(*r));
	if (!img_valid_kind(o->kind))
		return ni_err_set(e, NI_EINVAL, "'%s': an attachment kind is 1-32 of a-z 0-9 - (initrd, hot)",
				  o->kind);
	if ((ret = img_split_version(o->target, &a.name, &a.version, e)) != 0)
		goto out;
	snprintf(a.rel, sizeof(a.rel), "attachments/%s/%s/%s.json", a.name, a.version, o->kind);
	if ((ret = img_repo_open(&a.repo, o->repo, 1, e)) != 0)
		goto out;
	if ((ret = img_repo_keys(&a.repo, &a.priv, &a.pub, e)) == 0 &&
	    (ret = manifest_of(&a)) == 0) {
		previous(&a);
		if ((ret = write_blob(&a.repo, o->file, r, e)) == 0 &&
		    (ret = write_record(&a)) == 0)
			ret = img_attach_write_list(&a.repo, a.name, a.version, e);
	}
	EVP_PKEY_free(a.priv);
	EVP_PKEY_free(a.pub);
	img_repo_close(&a.repo);
out:
	free(a.name);
	free(a.version);
	return ret;
}
