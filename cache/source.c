/* source.c: a repository read from a folder or from mirrors. */
#include "cache/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/fetch.h"
#include "common/fsutil.h"
#include "common/hash.h"

#define MIRRORS_MAX 16

struct cache_source {
	char *dir;                 /* local: DIR */
	char *pub;                 /* local: DIR/public */
	struct cache_fetcher *f;   /* remote */
	/* remote: each mirror alone, made when a file one mirror served
	 * fails its check and the others must be asked (checked gets) */
	char *mirror[MIRRORS_MAX];
	struct cache_fetcher *one[MIRRORS_MAX];
	size_t n_mirrors;
};

static int is_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

static int open_remote(struct cache_source *s, const char *spec,
		       struct ni_err *e)
{
	char *copy = strdup(spec), *tok, *save = NULL;
	const char *m[16];
	size_t n = 0;
	int ret;

	if (copy == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok && n < MIRRORS_MAX;
	     tok = strtok_r(NULL, ",", &save))
		m[n++] = tok;
	ret = cache_fetcher_new(&s->f, m, n, NULL, e);
	for (s->n_mirrors = 0; ret == 0 && s->n_mirrors < n; s->n_mirrors++)
		if ((s->mirror[s->n_mirrors] = strdup(m[s->n_mirrors])) == NULL)
			ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	free(copy);
	return ret;
}

int cache_source_open(struct cache_source **out, const char *spec,
		      struct ni_err *e)
{
	struct cache_source *s = calloc(1, sizeof(*s));
	int ret;

	if (s == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	if (is_url(spec)) {
		ret = open_remote(s, spec, e);
	} else {
		s->dir = strdup(spec);
		s->pub = ni_path_join(spec, "public");
		ret = (s->dir && s->pub) ? 0 : ni_err_set(e, NI_ENOMEM, "out of memory");
		if (ret == 0 && access(s->pub, R_OK | X_OK) != 0)
			ret = ni_err_set(e, NI_ENOENT,
					 "%s: not a repository (no public/ folder)", spec);
	}
	if (ret != 0) {
		cache_source_close(s);
		return ret;
	}
	*out = s;
	return 0;
}

void cache_source_close(struct cache_source *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n_mirrors; i++) {
		free(s->mirror[i]);
		cache_fetcher_free(s->one[i]);
	}
	if (s->f != NULL)
		cache_fetcher_free(s->f);
	free(s->dir);
	free(s->pub);
	free(s);
}

int cache_source_is_local(const struct cache_source *s)
{
	return s->f == NULL;
}

const char *cache_source_dir(const struct cache_source *s)
{
	return s->dir;
}

int cache_source_get(struct cache_source *s, const char *rel, size_t max,
		     uint8_t **out, size_t *len, struct ni_err *e)
{
	char *path;
	int ret;

	if (s->f != NULL)
		return cache_fetch_mem(s->f, rel, max, out, len, NULL, e);
	if ((path = ni_path_join(s->pub, rel)) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	ret = ni_read_file(path, max, (char **)out, len, e);
	free(path);
	return ret;
}

int cache_source_get_sha256(struct cache_source *s, const char *rel,
			    size_t max, const uint8_t *sha, uint8_t **out,
			    size_t *len, struct ni_err *e)
{
	uint8_t d[NI_SHA256_LEN];
	int ret;

	if (s->f != NULL)
		return cache_fetch_mem_sha256(s->f, rel, max, sha, out, len, NULL, e);
	if ((ret = cache_source_get(s, rel, max, out, len, e)) != 0)
		return ret;
	ni_sha256_buf(*out, *len, d);
	if (memcmp(d, sha, NI_SHA256_LEN) != 0) {
		free(*out);
		*out = NULL;
		return ni_err_set(e, NI_EHASH, "%s/%s: hash mismatch (tampered)", s->pub, rel);
	}
	return 0;
}

/* Read a folder's file in blocks of this size and hand them over. */
#define LOCAL_BLOCK (1u << 20)

static int local_range(int fd, const char *path, const struct cache_range *r,
		       size_t idx, const struct cache_range_stream *st,
		       uint8_t *buf, struct ni_err *e)
{
	char msg[512] = "";
	uint64_t done = 0;
	int ret;

	while (done < r->len) {
		size_t want = r->len - done < LOCAL_BLOCK ?
			      (size_t)(r->len - done) : LOCAL_BLOCK;
		ssize_t got = pread(fd, buf, want, (off_t)(r->off + done));

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return ni_err_errno(e, errno, "%s", path);
		if (got == 0)
			return ni_err_set(e, NI_EIO, "%s: truncated (bytes "
					  "%llu-%llu missing)", path,
					  (unsigned long long)(r->off + done),
					  (unsigned long long)(r->off + r->len - 1));
		if ((ret = st->data(st->user, idx, done, buf, (size_t)got, msg,
				    sizeof(msg))) != 0)
			return ni_err_set(e, ret, "%s", msg[0] ? msg :
					  ni_strerror(ret));
		done += (uint64_t)got;
	}
	if ((ret = st->done(st->user, idx, msg, sizeof(msg))) != 0)
		return ni_err_set(e, ret < 0 ? ret : NI_EINVAL, "%s",
				  msg[0] ? msg : ni_strerror(ret));
	return 0;
}

static int local_ranges(struct cache_source *s, const char *rel,
			const struct cache_range *r, size_t n,
			const struct cache_range_stream *st, struct ni_err *e)
{
	char *path = ni_path_join(s->pub, rel);
	uint8_t *buf = malloc(LOCAL_BLOCK);
	size_t i;
	int fd = -1, ret = 0;

	if (path == NULL || buf == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	if (ret == 0 && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		ret = ni_err_errno(e, errno, "%s", path);
	for (i = 0; ret == 0 && i < n; i++)
		ret = local_range(fd, path, &r[i], i, st, buf, e);
	if (fd >= 0)
		close(fd);
	free(buf);
	free(path);
	return ret;
}

int cache_source_ranges(struct cache_source *s, const char *rel,
			const struct cache_range *r, size_t n,
			const struct cache_range_stream *st, struct ni_err *e)
{
	if (s->f != NULL)
		return cache_fetch_ranges_stream(s->f, rel, r, n, st, e);
	return local_ranges(s, rel, r, n, st, e);
}

/* One mirror alone (made on first use). */
static struct cache_fetcher *one_mirror(struct cache_source *s, size_t i,
					struct ni_err *e)
{
	const char *m = s->mirror[i];

	if (s->one[i] == NULL && cache_fetcher_new(&s->one[i], &m, 1, NULL, e) != 0)
		return NULL;
	return s->one[i];
}

int cache_source_get_checked(struct cache_source *s, const char *rel,
			     size_t max, cache_source_check check, void *user,
			     uint8_t **out, size_t *len, struct ni_err *e)
{
	struct cache_fetch_info info = { 0 };
	struct ni_err first = { 0 }, other = { 0 };
	struct cache_fetcher *f;
	size_t i;
	int ret, bad;

	*out = NULL;
	if (s->f == NULL) {
		if ((ret = cache_source_get(s, rel, max, out, len, e)) == 0 &&
		    (ret = check(user, *out, *len, e)) != 0) {
			free(*out);
			*out = NULL;
		}
		return ret;
	}
	/* The usual way first: mirrors in order, down ones skipped. */
	if ((ret = cache_fetch_mem(s->f, rel, max, out, len, &info, e)) != 0)
		return ret;
	if ((ret = check(user, *out, *len, &first)) == 0)
		return 0;
	free(*out);
	*out = NULL;
	/* What that mirror served failed its check: ask the others, each
	 * alone; the first error (the tampered file) is the one reported
	 * when none serves a file that passes. */
	for (i = 0; i < s->n_mirrors; i++) {
		if (i == info.mirror || (f = one_mirror(s, i, &other)) == NULL)
			continue;
		if (cache_fetch_mem(f, rel, max, out, len, NULL, &other) != 0)
			continue;
		bad = check(user, *out, *len, &other);
		if (bad == 0)
			return 0;
		free(*out);
		*out = NULL;
	}
	*e = first;
	return ret;
}

unsigned long cache_source_requests(const struct cache_source *s)
{
	return s->f != NULL ? cache_fetcher_requests(s->f, (size_t)-1) : 0;
}
