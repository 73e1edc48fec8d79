/* publish.c: adds an image to a repository as a new version. The order of
 * writes keeps readers safe: the pack, the chunk index and the location
 * file first, the signed manifest (which makes the version exist) last. */
#include "images/publish.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "images/keys.h"
#include "images/layout.h"
#include "images/publish_internal.h"
#include "images/repo.h"
#include "images/sign.h"

static int hash_chunks(struct pctx *p)
{
	struct ni_sha256 *whole = ni_sha256_new();
	unsigned char *buf = malloc(IMG_CHUNK_MAX);
	int fd = open(p->o->image, O_RDONLY | O_CLOEXEC), ret = 0;
	size_t i;

	p->sha = calloc(p->lay.n ? p->lay.n : 1, sizeof(*p->sha));
	if (whole == NULL || buf == NULL || p->sha == NULL || fd < 0) {
		ret = fd < 0 ? ni_err_errno(p->e, errno, "%s", p->o->image)
			     : ni_err_set(p->e, NI_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < p->lay.n && ret == 0; i++) {
		const struct img_chunk *c = &p->lay.c[i];
		unsigned char *b = c->len > IMG_CHUNK_MAX ? malloc(c->len) : buf;

		if (b == NULL || pread(fd, b, c->len, (off_t)c->off) != (ssize_t)c->len)
			ret = ni_err_set(p->e, NI_EIO, "%s: cannot read", p->o->image);
		else {
			ni_sha256_buf(b, c->len, p->sha[i]);
			ni_sha256_update(whole, b, c->len);
		}
		if (b != buf)
			free(b);
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	if (whole != NULL && ret == 0)
		ni_sha256_final(whole, p->image_sha);
	else if (whole != NULL)
		ni_sha256_free(whole);
	return ret;
}

static int load_record(struct pctx *p)
{
	const char *img = p->o->image;
	size_t n = strlen(img);
	char *rec;
	json_error_t je;

	if (n > 5 && strcmp(img + n - 5, ".sqfs") == 0)
		n -= 5;
	if (asprintf(&rec, "%.*s.json", (int)n, img) < 0)
		return ni_err_set(p->e, NI_ENOMEM, "out of memory");
	if (access(rec, R_OK) == 0) {
		p->record = json_load_file(rec, 0, &je);
		if (p->record == NULL) {
			ni_err_set(p->e, NI_EINVAL, "%s:%d: %s", rec, je.line, je.text);
			free(rec);
			return NI_EINVAL;
		}
	}
	free(rec);
	p->name = p->o->name ? p->o->name
		: p->record ? json_string_value(json_object_get(p->record, "name")) : NULL;
	p->version = p->o->version ? p->o->version
		: p->record ? json_string_value(json_object_get(p->record, "version")) : NULL;
	if (p->name == NULL || p->version == NULL)
		return ni_err_set(p->e, NI_EINVAL,
				  "%s: no build record beside it; give --name and --version",
				  img);
	if (!img_valid_name(p->name) || !img_valid_name(p->version))
		return ni_err_set(p->e, NI_EINVAL, "%s@%s: a name or version may hold only A-Z a-z 0-9 . _ + - ~",
				  p->name, p->version);
	return 0;
}

int img_valid_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 && s[0] != '.' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._+-~") == n;
}

/* A version already published: the same image is fine (nothing to do),
 * another one is refused; versions are immutable. */
static int check_existing(struct pctx *p, int *already)
{
	char rel[200], *path, *buf, *nl, hex[NI_SHA256_HEX];
	const char *have;
	json_t *j;
	size_t len;
	int ret;

	*already = 0;
	snprintf(rel, sizeof(rel), "versions/%s/%s.json", p->name, p->version);
	if ((path = img_repo_path(&p->repo, rel)) == NULL)
		return ni_err_set(p->e, NI_ENOMEM, "out of memory");
	if (access(path, F_OK) != 0) {
		free(path);
		return 0;
	}
	ret = ni_read_file(path, 16u << 20, &buf, &len, p->e);
	free(path);
	if (ret != 0)
		return ret;
	nl = strchr(buf, '\n');
	j = nl ? json_loads(nl + 1, 0, NULL) : NULL;
	have = json_string_value(json_object_get(json_object_get(j, "image"), "sha256"));
	ni_hex(p->image_sha, NI_SHA256_LEN, hex);
	if (have != NULL && strcmp(have, hex) == 0)
		*already = 1;
	else
		ret = ni_err_set(p->e, NI_EEXIST,
				 "%s@%s is already published with other content; versions never change",
				 p->name, p->version);
	json_decref(j);
	free(buf);
	return ret;
}

/* Fails fast, before any work, when the repository cannot sign. */
static int have_key(struct pctx *p)
{
	char *key = ni_path_join(p->repo.priv, "repo.key");
	int ret = 0;

	if (key == NULL)
		return ni_err_set(p->e, NI_ENOMEM, "out of memory");
	if (access(key, F_OK) != 0)
		ret = ni_err_set(p->e, NI_ENOENT,
				 "%s: no signing key (run netimg keygen --repo %s)",
				 p->repo.dir, p->repo.dir);
	free(key);
	return ret;
}

int img_publish(const struct img_publish_opts *o, struct img_publish_result *r,
		struct ni_err *e)
{
	struct pctx p = { .o = o, .r = r, .e = e };
	size_t i;
	int ret;

	memset(r, 0, sizeof(*r));
	if ((ret = img_repo_open(&p.repo, o->repo, 1, e)) != 0)
		return ret;
	if ((ret = have_key(&p)) == 0 && (ret = load_record(&p)) == 0 &&
	    (ret = img_layout_read(o->image, &p.lay, e)) == 0 &&
	    (ret = hash_chunks(&p)) == 0 &&
	    (ret = check_existing(&p, &r->already)) == 0 && !r->already &&
	    (ret = img_load_known(&p)) == 0 &&
	    (ret = img_write_pack(&p)) == 0 &&
	    (ret = img_write_version(&p)) == 0)
		ret = img_write_versions_list(&p.repo, NULL, NULL, e);
	r->name = strdup(p.name ? p.name : "");
	r->version = strdup(p.version ? p.version : "");
	r->image_size = p.lay.size;
	r->chunks = p.lay.n;
	for (i = 0; i < p.n_packs; i++)
		free(p.packs[i]);
	free(p.packs);
	free(p.known);
	free(p.sha);
	free(p.loc_pack);
	free(p.loc_off);
	img_layout_free(&p.lay);
	json_decref(p.record);
	img_repo_close(&p.repo);
	return ret;
}

void img_publish_result_free(struct img_publish_result *r)
{
	free(r->name);
	free(r->version);
	memset(r, 0, sizeof(*r));
}
