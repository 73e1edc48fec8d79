/* gc_packs.c: which chunks of which packs the kept versions use, and the
 * rewriting of packs mostly dead. Liveness comes from the kept versions'
 * chunk indexes (signed, through the manifest) and location files, each
 * location checked against the pack's .idx: gc stops rather than guess
 * when they disagree. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/grow.h"
#include "images/chunkidx.h"
#include "images/gc_internal.h"

#define META_MAX (256u << 20)

static int is_hex64(const char *s)
{
	return strlen(s) >= 64 && strspn(s, "0123456789abcdef") >= 64;
}

static struct gc_pack *pack_of(struct gc *g, const char *name, int create)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < g->np; i++)
		if (strncmp(g->p[i].name, name, 64) == 0)
			return &g->p[i];
	if (!create || ni_grow(&g->p, &g->capp, g->np, sizeof(*g->p), 16) != 0)
		return NULL;
	memset(&g->p[g->np], 0, sizeof(g->p[0]));
	snprintf(g->p[g->np].name, sizeof(g->p[0].name), "%.64s", name);
	return &g->p[g->np++];
}

static int cmp_chunk(const void *a, const void *b)
{
	const struct gc_chunk *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

static int load_idx(struct gc *g, struct gc_pack *p, const char *path)
{
	json_t *j = json_load_file(path, 0, NULL), *chunks = json_object_get(j, "chunks"), *c;
	size_t i;
	int ret = 0;

	p->n = json_array_size(chunks);
	p->c = calloc(p->n + 1, sizeof(*p->c));
	if (!json_is_array(chunks) || p->c == NULL)
		ret = ni_err_set(g->e, NI_EINVAL, "%s: malformed pack index", path);
	json_array_foreach(chunks, i, c) {
		const char *h = json_string_value(json_array_get(c, 0));

		p->c[i].off = (uint64_t)json_integer_value(json_array_get(c, 1));
		p->c[i].len = (uint64_t)json_integer_value(json_array_get(c, 2));
		if (ret == 0 && (h == NULL || ni_unhex(h, p->c[i].sha, NI_SHA256_LEN) != 0))
			ret = ni_err_set(g->e, NI_EINVAL, "%s: malformed pack index", path);
	}
	if (ret == 0 && p->n > 1)
		qsort(p->c, p->n, sizeof(*p->c), cmp_chunk);
	json_decref(j);
	return ret;
}

int gc_load_packs(struct gc *g)
{
	char *dir = img_repo_path(&g->repo, "packs"), *path;
	struct dirent *de;
	struct stat st;
	struct gc_pack *p;
	DIR *d;
	int ret = 0;

	if (dir == NULL)
		return ni_err_set(g->e, NI_ENOMEM, "out of memory");
	d = opendir(dir);
	while (d != NULL && ret == 0 && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		int idx = n == 68 && strcmp(de->d_name + 64, ".idx") == 0;
		int pack = n == 69 && strcmp(de->d_name + 64, ".pack") == 0;

		if ((!idx && !pack) || !is_hex64(de->d_name))
			continue;
		if ((p = pack_of(g, de->d_name, 1)) == NULL ||
		    (path = ni_path_join(dir, de->d_name)) == NULL) {
			ret = ni_err_set(g->e, NI_ENOMEM, "out of memory");
			break;
		}
		if (stat(path, &st) != 0)
			ret = ni_err_errno(g->e, errno, "%s", path);
		else if (idx) {
			p->has_idx = 1;
			p->idx_size = (uint64_t)st.st_size;
			ret = load_idx(g, p, path);
		} else {
			p->has_pack = 1;
			p->size = (uint64_t)st.st_size;
		}
		free(path);
	}
	if (d != NULL)
		closedir(d);
	free(dir);
	return ret;
}

static struct gc_chunk *chunk_at(struct gc_pack *p, uint64_t off)
{
	struct gc_chunk key = { .off = off };

	return p->n ? bsearch(&key, p->c, p->n, sizeof(key), cmp_chunk) : NULL;
}

static int read_meta(struct gc *g, const char *rel, const char *want_sha,
		     char **buf, size_t *len)
{
	char *path = img_repo_path(&g->repo, rel), hex[NI_SHA256_HEX];
	uint8_t d[NI_SHA256_LEN];
	int ret;

	*buf = NULL;
	if (path == NULL)
		return ni_err_set(g->e, NI_ENOMEM, "out of memory");
	ret = ni_read_file(path, META_MAX, buf, len, g->e);
	if (ret == 0 && want_sha != NULL) {
		ni_sha256_buf(*buf, *len, d);
		ni_hex(d, sizeof(d), hex);
		if (strcmp(hex, want_sha) != 0)
			ret = ni_err_set(g->e, NI_EHASH, "%s: hash mismatch (tampered?)", path);
	}
	if (ret != 0) {
		free(*buf);
		*buf = NULL;
	}
	free(path);
	return ret;
}

/* A kept version's chunk index (checked against the hash its verified
 * manifest names) and location file, decoded. */
static int load_version(struct gc *g, const struct gc_ver *v, struct img_index *ix,
			struct img_locs *l)
{
	char rel[300], what[400], *buf;
	size_t len;
	int ret;

	snprintf(rel, sizeof(rel), "indexes/%s.bin", v->index_sha);
	if ((ret = read_meta(g, rel, v->index_sha, &buf, &len)) != 0)
		return ret;
	snprintf(what, sizeof(what), "%s/%s", g->repo.pub, rel);
	ret = img_index_decode(buf, len, what, ix, g->e);
	free(buf);
	if (ret != 0)
		return ret;
	snprintf(rel, sizeof(rel), "locations/%s/%s.json", v->name, v->version);
	if ((ret = read_meta(g, rel, NULL, &buf, &len)) == 0) {
		snprintf(what, sizeof(what), "%s/%s", g->repo.pub, rel);
		ret = img_locs_decode(buf, len, ix, v->index_sha, what, l, g->e);
		free(buf);
	}
	if (ret != 0)
		img_index_free(ix);
	return ret;
}

/* Marks the chunks one kept version uses, checking every location. */
static int mark_version(struct gc *g, const struct gc_ver *v)
{
	char spec[200];
	struct img_index ix;
	struct img_locs l;
	size_t i;
	int ret;

	snprintf(spec, sizeof(spec), "%s@%s", v->name, v->version);
	if ((ret = load_version(g, v, &ix, &l)) != 0)
		return ret;
	for (i = 0; i < ix.n; i++) {
		const char *pack = l.packs[l.pack[i]];
		struct gc_pack *p = pack_of(g, pack, 0);
		struct gc_chunk *k = p && p->has_pack ? chunk_at(p, l.off[i]) : NULL;

		if (k == NULL || k->len != ix.c[i].len ||
		    memcmp(k->sha, ix.c[i].sha, NI_SHA256_LEN) != 0) {
			ret = ni_err_set(g->e, NI_EINVAL,
					 "%s: chunk %zu is not where its location file says (pack %.16s..., offset %llu); gc stops: run netimg verify",
					 spec, i, pack, (unsigned long long)l.off[i]);
			break;
		}
		if (!k->live)
			p->live += k->len;
		k->live = 1;
	}
	img_index_free(&ix);
	img_locs_free(&l);
	return ret;
}

int gc_mark_live(struct gc *g)
{
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < g->nv; i++)
		if (g->v[i].why[0] != '\0')
			ret = mark_version(g, &g->v[i]);
	return ret;
}

void gc_plan_packs(struct gc *g)
{
	size_t i;

	for (i = 0; i < g->np; i++) {
		struct gc_pack *p = &g->p[i];

		if (!p->has_idx || !p->has_pack || p->live == 0)
			p->fate = GC_REMOVE;
		else if (p->live * 2 < p->size)
			p->fate = GC_REWRITE;
		else
			p->fate = GC_KEEP;
	}
}

/* Copies p's live chunks, each checked again, into a new content-named
 * pack, then writes its .idx. The old pack stays until every location
 * file names the new one. */
static int rewrite_one(struct gc *g, struct gc_pack *p)
{
	char *dir = img_repo_path(&g->repo, "packs"), *tmp = NULL, *path = NULL;
	char rel[120], hex[NI_SHA256_HEX], *text = NULL;
	struct ni_sha256 *h = ni_sha256_new();
	unsigned char *buf = NULL;
	json_t *a = json_array(), *j;
	uint64_t pos = 0;
	int in = -1, out = -1, ret = 0, w;
	size_t i;
	uint8_t d[NI_SHA256_LEN];

	snprintf(rel, sizeof(rel), "packs/%s.pack", p->name);
	path = img_repo_path(&g->repo, rel);
	if (dir == NULL || path == NULL || h == NULL || a == NULL ||
	    asprintf(&tmp, "%s/.new.XXXXXX", dir) < 0) {
		tmp = NULL;
		ret = ni_err_set(g->e, NI_ENOMEM, "out of memory");
		goto out;
	}
	if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0 || (out = mkstemp(tmp)) < 0) {
		ret = ni_err_errno(g->e, errno, "%s", in < 0 ? path : dir);
		goto out;
	}
	ni_cleanup_add(tmp);
	for (i = 0; ret == 0 && i < p->n; i++) {
		struct gc_chunk *c = &p->c[i];

		if (!c->live)
			continue;
		free(buf);
		if ((buf = malloc(c->len ? c->len : 1)) == NULL) {
			ret = ni_err_set(g->e, NI_ENOMEM, "out of memory");
			break;
		}
		if (pread(in, buf, c->len, (off_t)c->off) != (ssize_t)c->len) {
			ret = ni_err_set(g->e, NI_EIO, "%s: truncated at %llu", path,
					 (unsigned long long)c->off);
			break;
		}
		ni_sha256_buf(buf, c->len, d);
		if (memcmp(d, c->sha, sizeof(d)) != 0) {
			ret = ni_err_set(g->e, NI_EHASH, "%s: chunk at %llu: hash mismatch (tampered); gc stops: run netimg verify",
					 path, (unsigned long long)c->off);
			break;
		}
		if ((w = ni_write_all(out, buf, c->len)) != 0) {
			ret = ni_err_errno(g->e, -w, "%s: cannot write", tmp);
			break;
		}
		ni_sha256_update(h, buf, c->len);
		ni_hex(c->sha, NI_SHA256_LEN, hex);
		json_array_append_new(a, json_pack("[sIi]", hex, (json_int_t)pos, (json_int_t)c->len));
		c->new_off = pos;
		pos += c->len;
	}
	if (ret != 0)
		goto out;
	ni_sha256_final(h, d);
	h = NULL;
	ni_hex(d, sizeof(d), p->new_name);
	free(path);
	snprintf(rel, sizeof(rel), "packs/%s.pack", p->new_name);
	path = img_repo_path(&g->repo, rel);
	if (path == NULL)
		ret = ni_err_set(g->e, NI_ENOMEM, "out of memory");
	else if (fchmod(out, 0644) != 0 || fsync(out) != 0 || rename(tmp, path) != 0)
		ret = ni_err_errno(g->e, errno, "%s: cannot write", path);
	if (ret != 0)
		goto out;
	ni_cleanup_remove(tmp);
	free(tmp);
	tmp = NULL;
	ni_fsync_dir(path);
	j = json_pack("{s:i, s:o}", "format", 1, "chunks", json_incref(a));
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	snprintf(rel, sizeof(rel), "packs/%s.idx", p->new_name);
	ret = text ? img_repo_write(&g->repo, rel, text, strlen(text), g->e)
		   : ni_err_set(g->e, NI_ENOMEM, "out of memory");
	p->new_idx_size = text ? strlen(text) : 0;
out:
	if (tmp != NULL) {
		unlink(tmp);
		ni_cleanup_remove(tmp);
	}
	if (h != NULL)
		ni_sha256_free(h);
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	json_decref(a);
	free(text);
	free(buf);
	free(tmp);
	free(path);
	free(dir);
	return ret;
}

int gc_rewrite_packs(struct gc *g)
{
	size_t i, k;
	int ret = 0;

	for (i = 0; ret == 0 && i < g->np; i++) {
		if (g->p[i].fate != GC_REWRITE)
			continue;
		ret = rewrite_one(g, &g->p[i]);
		/* a pack of the same bytes already there (left by an
		 * interrupted gc) is now the one in use: never remove it */
		for (k = 0; ret == 0 && k < g->np; k++)
			if (k != i && strcmp(g->p[k].name, g->p[i].new_name) == 0)
				g->p[k].fate = GC_KEEP;
	}
	return ret;
}

/* Points one kept version's location file at the new packs (atomic
 * rename); it is unsigned, and every chunk is checked by clients anyway. */
static int relocate(struct gc *g, const struct gc_ver *v)
{
	char rel[300], *text = NULL;
	const char **names = NULL;
	struct img_index ix;
	struct img_locs l;
	size_t i;
	int ret, changed = 0;

	if ((ret = load_version(g, v, &ix, &l)) != 0)
		return ret;
	if ((names = calloc(l.n_packs, sizeof(*names))) == NULL) {
		ret = ni_err_set(g->e, NI_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < l.n_packs; i++)
		names[i] = l.packs[i];
	for (i = 0; i < ix.n; i++) {
		struct gc_pack *p = pack_of(g, l.packs[l.pack[i]], 0);
		struct gc_chunk *k;

		if (p == NULL || p->fate != GC_REWRITE)
			continue;
		k = chunk_at(p, l.off[i]);
		l.off[i] = k->new_off;
		changed = 1;
	}
	/* the packs rewritten are named by their new name from here on */
	for (i = 0; changed && i < l.n_packs; i++) {
		struct gc_pack *p = pack_of(g, l.packs[i], 0);

		if (p != NULL && p->fate == GC_REWRITE)
			names[i] = p->new_name;
	}
	if (changed) {
		snprintf(rel, sizeof(rel), "locations/%s/%s.json", v->name, v->version);
		text = img_locs_encode(v->index_sha, &ix, names, l.pack, l.off);
		ret = text ? img_repo_write(&g->repo, rel, text, strlen(text), g->e)
			   : ni_err_set(g->e, NI_ENOMEM, "out of memory");
	}
out:
	free(text);
	free(names);
	img_index_free(&ix);
	img_locs_free(&l);
	return ret;
}

int gc_rewrite_locations(struct gc *g)
{
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < g->nv; i++)
		if (g->v[i].why[0] != '\0')
			ret = relocate(g, &g->v[i]);
	return ret;
}
