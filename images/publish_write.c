/* publish_write.c: the files a publish writes: the pack of new chunks and
 * its index, the version's chunk index, its location file, its signed
 * manifest and the list of versions. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/grow.h"
#include "images/attach.h"
#include "images/chunkidx.h"
#include "images/keys.h"
#include "images/publish_internal.h"
#include "images/sign.h"

static int cmp_known(const void *a, const void *b)
{
	return memcmp(((const struct known *)a)->sha, ((const struct known *)b)->sha,
		      NI_SHA256_LEN);
}

static int add_known(struct pctx *p, const uint8_t *sha, uint32_t pack,
		     uint64_t off)
{
	if (ni_grow(&p->known, &p->cap_known, p->n_known, sizeof(*p->known), 1024))
		return NI_ENOMEM;
	memcpy(p->known[p->n_known].sha, sha, NI_SHA256_LEN);
	p->known[p->n_known].pack = pack;
	p->known[p->n_known].off = off;
	p->n_known++;
	return 0;
}

static int load_pack_idx(struct pctx *p, const char *dir, const char *fname)
{
	char *path = ni_path_join(dir, fname);
	json_t *j, *chunks, *c;
	json_error_t je;
	uint8_t sha[NI_SHA256_LEN];
	size_t i;
	char **packs;
	int ret = 0;

	j = path ? json_load_file(path, 0, &je) : NULL;
	chunks = json_object_get(j, "chunks");
	packs = realloc(p->packs, (p->n_packs + 1) * sizeof(*packs));
	if (packs != NULL)
		p->packs = packs;
	if (!json_is_array(chunks) || packs == NULL) {
		ret = ni_err_set(p->e, NI_EINVAL, "%s: malformed pack index", path);
		goto out;
	}
	p->packs[p->n_packs] = strndup(fname, strlen(fname) - 4);
	json_array_foreach(chunks, i, c) {
		const char *h = json_string_value(json_array_get(c, 0));

		if (h == NULL || ni_unhex(h, sha, NI_SHA256_LEN) != 0) {
			ret = ni_err_set(p->e, NI_EINVAL, "%s: malformed pack index", path);
			break;
		}
		if ((ret = add_known(p, sha, (uint32_t)p->n_packs,
				     (uint64_t)json_integer_value(json_array_get(c, 1)))))
			break;
	}
	p->n_packs++;
out:
	json_decref(j);
	free(path);
	return ret;
}

int img_load_known(struct pctx *p)
{
	char *dir = img_repo_path(&p->repo, "packs");
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (dir == NULL)
		return ni_err_set(p->e, NI_ENOMEM, "out of memory");
	d = opendir(dir);
	while (d != NULL && ret == 0 && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n == 68 && strcmp(de->d_name + 64, ".idx") == 0)
			ret = load_pack_idx(p, dir, de->d_name);
	}
	if (d != NULL)
		closedir(d);
	free(dir);
	if (p->n_known > 1)
		qsort(p->known, p->n_known, sizeof(*p->known), cmp_known);
	return ret;
}

static struct known *find_known(struct pctx *p, const uint8_t *sha)
{
	struct known key;

	memcpy(key.sha, sha, NI_SHA256_LEN);
	return p->n_known ? bsearch(&key, p->known, p->n_known, sizeof(key), cmp_known)
			  : NULL;
}

struct newpack {
	int fd, img_fd;
	char *tmp;
	struct ni_sha256 *h;
	uint64_t len;
	json_t *idx;
	struct known *fresh;
	size_t n_fresh;
	unsigned char *buf;
};

static int append_chunk(struct pctx *p, struct newpack *np, size_t i)
{
	const struct img_chunk *c = &p->lay.c[i];
	unsigned char *b = c->len > IMG_CHUNK_MAX ? malloc(c->len) : np->buf;
	char hex[NI_SHA256_HEX];
	int ret = 0;

	if (b == NULL || pread(np->img_fd, b, c->len, (off_t)c->off) != (ssize_t)c->len)
		ret = ni_err_set(p->e, NI_EIO, "%s: cannot read", p->o->image);
	else if (ni_write_all(np->fd, b, c->len) != 0)
		ret = ni_err_errno(p->e, errno, "%s: cannot write a pack", p->repo.dir);
	if (ret == 0) {
		ni_sha256_update(np->h, b, c->len);
		ni_hex(p->sha[i], NI_SHA256_LEN, hex);
		json_array_append_new(np->idx, json_pack("[sIi]", hex, (json_int_t)np->len,
							  (json_int_t)c->len));
		memcpy(np->fresh[np->n_fresh].sha, p->sha[i], NI_SHA256_LEN);
		np->fresh[np->n_fresh++].off = np->len;
		p->loc_pack[i] = UINT32_MAX;    /* the new pack, numbered below */
		p->loc_off[i] = np->len;
		np->len += c->len;
	}
	if (b != np->buf)
		free(b);
	return ret;
}

static int place_chunk(struct pctx *p, struct newpack *np, size_t i)
{
	struct known *k = find_known(p, p->sha[i]);
	size_t j;

	if (k != NULL) {
		p->loc_pack[i] = k->pack;
		p->loc_off[i] = k->off;
		return 0;
	}
	for (j = 0; j < np->n_fresh; j++)
		if (memcmp(np->fresh[j].sha, p->sha[i], NI_SHA256_LEN) == 0) {
			p->loc_pack[i] = UINT32_MAX;
			p->loc_off[i] = np->fresh[j].off;
			return 0;
		}
	return append_chunk(p, np, i);
}

static int seal_pack(struct pctx *p, struct newpack *np)
{
	uint8_t d[NI_SHA256_LEN];
	char hex[NI_SHA256_HEX], name[128], *path, *idx;
	json_t *j;
	size_t i;
	int ret;

	ni_sha256_final(np->h, d);
	np->h = NULL;
	ni_hex(d, sizeof(d), hex);
	snprintf(name, sizeof(name), "packs/%s.pack", hex);
	path = img_repo_path(&p->repo, name);
	if (path == NULL)
		return ni_err_set(p->e, NI_ENOMEM, "out of memory");
	if (fsync(np->fd) != 0 || fchmod(np->fd, 0644) != 0 || rename(np->tmp, path) != 0)
		ret = ni_err_errno(p->e, errno, "%s: cannot write", path);
	else
		ret = 0;
	free(path);
	if (ret != 0)
		return ret;
	free(np->tmp);
	np->tmp = NULL;
	j = json_pack("{s:i, s:o}", "format", 1, "chunks", json_incref(np->idx));
	idx = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	snprintf(name, sizeof(name), "packs/%s.idx", hex);
	ret = idx ? img_repo_write(&p->repo, name, idx, strlen(idx), p->e)
		  : ni_err_set(p->e, NI_ENOMEM, "out of memory");
	free(idx);
	p->packs = realloc(p->packs, (p->n_packs + 1) * sizeof(*p->packs));
	if (ret == 0 && (p->packs == NULL || !(p->packs[p->n_packs] = strdup(hex))))
		return ni_err_set(p->e, NI_ENOMEM, "out of memory");
	for (i = 0; ret == 0 && i < p->lay.n; i++)
		if (p->loc_pack[i] == UINT32_MAX)
			p->loc_pack[i] = (uint32_t)p->n_packs;
	p->n_packs++;
	return ret;
}

static int open_newpack(struct pctx *p, struct newpack *np)
{
	char *dir = img_repo_path(&p->repo, "packs");

	np->img_fd = open(p->o->image, O_RDONLY | O_CLOEXEC);
	np->h = ni_sha256_new();
	np->idx = json_array();
	np->buf = malloc(IMG_CHUNK_MAX);
	np->fresh = calloc(p->lay.n + 1, sizeof(*np->fresh));
	p->loc_pack = calloc(p->lay.n + 1, sizeof(*p->loc_pack));
	p->loc_off = calloc(p->lay.n + 1, sizeof(*p->loc_off));
	if (dir == NULL || np->img_fd < 0 || !np->h || !np->idx || !np->buf ||
	    !np->fresh || !p->loc_pack || !p->loc_off ||
	    ni_mkdir_p(dir, 0755, p->e) != 0 ||
	    asprintf(&np->tmp, "%s/.new.XXXXXX", dir) < 0) {
		free(dir);
		return ni_err_set(p->e, NI_EIO, "%s: cannot start a pack", p->repo.dir);
	}
	free(dir);
	np->fd = mkstemp(np->tmp);
	return np->fd < 0 ? ni_err_errno(p->e, errno, "%s", np->tmp) : 0;
}

int img_write_pack(struct pctx *p)
{
	struct newpack np = { .fd = -1, .img_fd = -1 };
	size_t i;
	int ret = open_newpack(p, &np);

	for (i = 0; ret == 0 && i < p->lay.n; i++)
		ret = place_chunk(p, &np, i);
	p->r->new_bytes = np.len;
	p->r->new_chunks = np.n_fresh;
	if (ret == 0 && np.len > 0)
		ret = seal_pack(p, &np);
	if (np.fd >= 0)
		close(np.fd);
	if (np.img_fd >= 0)
		close(np.img_fd);
	if (np.tmp != NULL)
		unlink(np.tmp);
	free(np.tmp);
	if (np.h != NULL)
		ni_sha256_free(np.h);
	json_decref(np.idx);
	free(np.fresh);
	free(np.buf);
	return ret;
}

static char *dump_free(json_t *j, size_t flags)
{
	char *s = json_dumps(j, flags);

	json_decref(j);
	return s;
}

/* The version's chunk index (format 2), from the layout and the hashes. */
static int make_index(struct pctx *p, struct img_index *ix)
{
	size_t i;

	memset(ix, 0, sizeof(*ix));
	if ((ix->c = calloc(p->lay.n + 1, sizeof(*ix->c))) == NULL)
		return ni_err_set(p->e, NI_ENOMEM, "out of memory");
	ix->n = p->lay.n;
	ix->image_size = p->lay.size;
	memcpy(ix->image_sha, p->image_sha, NI_SHA256_LEN);
	for (i = 0; i < p->lay.n; i++) {
		ix->c[i].off = p->lay.c[i].off;
		ix->c[i].len = p->lay.c[i].len;
		memcpy(ix->c[i].sha, p->sha[i], NI_SHA256_LEN);
	}
	return 0;
}

static json_t *manifest_json(struct pctx *p, const char *index_hex)
{
	static const char *const from_record[] = {
		"base", "patches", "skipped", "boot", "maintainer_scripts", "builder", NULL,
	};
	char hex[NI_SHA256_HEX];
	json_t *m;
	size_t i;

	ni_hex(p->image_sha, NI_SHA256_LEN, hex);
	m = json_pack("{s:i, s:s, s:s, s:I, s:{s:I, s:s}, s:{s:s, s:I}}",
		      "format", 1, "name", p->name, "version", p->version,
		      "published", (json_int_t)time(NULL),
		      "image", "size", (json_int_t)p->lay.size, "sha256", hex,
		      "index", "sha256", index_hex, "chunks", (json_int_t)p->lay.n);
	for (i = 0; m != NULL && p->record != NULL && from_record[i] != NULL; i++) {
		json_t *v = json_object_get(p->record, from_record[i]);

		if (v != NULL)
			json_object_set(m, from_record[i], v);
	}
	if (m != NULL && p->o->boot_files != NULL) {
		json_t *b = json_deep_copy(json_object_get(m, "boot"));

		if (!json_is_object(b)) {
			json_decref(b);
			b = json_object();
		}
		json_object_update(b, p->o->boot_files);
		json_object_set_new(m, "boot", b);
	}
	return m;
}

static int sign_manifest(struct pctx *p, const char *text)
{
	char *key = ni_path_join(p->repo.priv, "repo.key"), *out = NULL, rel[200];
	EVP_PKEY *pk = NULL;
	size_t len;
	int ret;

	if (key == NULL)
		return ni_err_set(p->e, NI_ENOMEM, "out of memory");
	if (access(key, F_OK) != 0)
		ret = ni_err_set(p->e, NI_ENOENT, "%s: no signing key (run netimg keygen --repo %s)",
				 p->repo.dir, p->repo.dir);
	else if ((ret = img_key_load_private(key, &pk, p->e)) == 0 &&
		 (ret = img_sign(pk, text, strlen(text), &out, &len, p->e)) == 0) {
		snprintf(rel, sizeof(rel), "versions/%s/%s.json", p->name, p->version);
		ret = img_repo_write(&p->repo, rel, out, len, p->e);
		if (ret == 0)
			ni_sha256_buf(out, len, p->r->manifest_sha);
	}
	EVP_PKEY_free(pk);
	free(out);
	free(key);
	return ret;
}

int img_write_version(struct pctx *p)
{
	char idx_hex[NI_SHA256_HEX], rel[200], *text;
	struct img_index ix;
	uint8_t *idx = NULL, d[NI_SHA256_LEN];
	size_t idx_len;
	int ret;

	if ((ret = make_index(p, &ix)) != 0)
		return ret;
	if ((ret = img_index_encode(&ix, &idx, &idx_len, p->e)) != 0) {
		img_index_free(&ix);
		return ret;
	}
	ni_sha256_buf(idx, idx_len, d);
	ni_hex(d, sizeof(d), idx_hex);
	snprintf(rel, sizeof(rel), "indexes/%s.bin", idx_hex);
	ret = img_repo_write(&p->repo, rel, idx, idx_len, p->e);
	/* deltas from the index of the versions clients are likely to hold */
	if (ret == 0)
		ret = img_write_index_deltas(p, idx, idx_len, idx_hex);
	free(idx);
	if (ret != 0) {
		img_index_free(&ix);
		return ret;
	}
	text = img_locs_encode(idx_hex, &ix, (const char *const *)p->packs,
			       p->loc_pack, p->loc_off);
	img_index_free(&ix);
	snprintf(rel, sizeof(rel), "locations/%s/%s.json", p->name, p->version);
	ret = text ? img_repo_write(&p->repo, rel, text, strlen(text), p->e)
		   : ni_err_set(p->e, NI_ENOMEM, "out of memory");
	free(text);
	if (ret != 0)
		return ret;
	/* the version's (empty) list of attachments: clients read "none"
	 * from it, never from a 404 that a down mirror could hide */
	if ((ret = img_attach_write_list(&p->repo, p->name, p->version, p->e)) != 0)
		return ret;
	text = dump_free(manifest_json(p, idx_hex), JSON_INDENT(2) | JSON_SORT_KEYS);
	ret = text ? sign_manifest(p, text) : ni_err_set(p->e, NI_ENOMEM, "out of memory");
	free(text);
	return ret;
}

struct ver {
	char *name, *version, sha[NI_SHA256_HEX];
};

static int cmp_ver(const void *a, const void *b)
{
	const struct ver *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strverscmp(x->version, y->version);
}

struct scan {
	const struct img_repo *r;
	int (*skip)(void *u, const char *name, const char *version);
	void *u;
	struct ni_err *e;
};

static int scan_name(struct scan *sc, const char *vdir, const char *name,
		     struct ver **v, size_t *n)
{
	char *dir = ni_path_join(vdir, name);
	struct dirent *de;
	DIR *d = dir ? opendir(dir) : NULL;
	int ret = 0;

	while (d != NULL && ret == 0 && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char *path, *buf, *ver;
		size_t blen;
		uint8_t sha[NI_SHA256_LEN];
		struct ver *nv;

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0 || de->d_name[0] == '.')
			continue;
		if ((ver = strndup(de->d_name, len - 5)) == NULL) {
			ret = NI_ENOMEM;
			break;
		}
		if (sc->skip != NULL && sc->skip(sc->u, name, ver)) {
			free(ver);
			continue;
		}
		path = ni_path_join(dir, de->d_name);
		if (path == NULL || ni_read_file(path, 16u << 20, &buf, &blen, sc->e) != 0) {
			free(ver);
			free(path);
			ret = NI_EIO;
			break;
		}
		ni_sha256_buf(buf, blen, sha);
		free(buf);
		free(path);
		if ((nv = realloc(*v, (*n + 1) * sizeof(**v))) == NULL) {
			free(ver);
			ret = NI_ENOMEM;
			break;
		}
		*v = nv;
		nv[*n].name = strdup(name);
		nv[*n].version = ver;
		ni_hex(sha, sizeof(sha), nv[*n].sha);
		(*n)++;
	}
	if (d != NULL)
		closedir(d);
	free(dir);
	return ret;
}

/* public/versions/index.json: every published version and its manifest's
 * hash. Derived (rewritten by each publish), unsigned: clients verify each
 * manifest they read. It lets `netimg versions` work over plain HTTP. */
int img_write_versions_list(const struct img_repo *r,
			    int (*skip)(void *u, const char *name, const char *version),
			    void *u, struct ni_err *e)
{
	struct scan sc = { .r = r, .skip = skip, .u = u, .e = e };
	char *vdir = img_repo_path(r, "versions"), *text;
	struct ver *v = NULL;
	struct dirent *de;
	json_t *a = json_array();
	size_t n = 0, i;
	DIR *d = vdir ? opendir(vdir) : NULL;
	int ret = 0;

	while (d != NULL && ret == 0 && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && strcmp(de->d_name, "index.json") != 0)
			ret = scan_name(&sc, vdir, de->d_name, &v, &n);
	if (d != NULL)
		closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_ver);
	for (i = 0; i < n; i++) {
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name", v[i].name,
						   "version", v[i].version,
						   "manifest_sha256", v[i].sha));
		free(v[i].name);
		free(v[i].version);
	}
	free(v);
	free(vdir);
	text = dump_free(json_pack("{s:i, s:o}", "format", 1, "versions", a),
			 JSON_INDENT(2));
	if (ret == 0)
		ret = text ? img_repo_write(r, "versions/index.json", text,
					    strlen(text), e)
			   : ni_err_set(e, NI_ENOMEM, "out of memory");
	else
		ret = ni_err_set(e, ret, "%s: cannot list the versions", r->dir);
	free(text);
	return ret;
}
