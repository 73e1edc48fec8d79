/* repo.c: creating and opening repository folders. */
#include "images/repo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"

#define REPO_JSON "{\n  \"format\": 1,\n  \"kind\": \"netimg-repository\"\n}\n"

int img_repo_init(const char *dir, struct ni_err *e)
{
	char *pub = ni_path_join(dir, "public"), *priv = ni_path_join(dir, "private");
	char *rj = pub ? ni_path_join(pub, "repo.json") : NULL;
	struct stat st;
	int ret;

	if (pub == NULL || priv == NULL || rj == NULL) {
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
		goto out;
	}
	if (stat(rj, &st) == 0) {
		ret = ni_err_set(e, NI_EEXIST, "%s: already a repository", dir);
		goto out;
	}
	if ((ret = ni_mkdir_p(pub, 0755, e)) != 0 ||
	    (ret = ni_mkdir_p(priv, 0700, e)) != 0)
		goto out;
	if (chmod(priv, 0700) != 0) {
		ret = ni_err_errno(e, errno, "%s", priv);
		goto out;
	}
	ret = ni_write_file_atomic(rj, REPO_JSON, strlen(REPO_JSON), 0644, e);
out:
	free(pub);
	free(priv);
	free(rj);
	return ret;
}

int img_repo_open(struct img_repo *r, const char *dir, int lock,
		  struct ni_err *e)
{
	char *rj, *lk;
	struct stat st;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	r->lock_fd = -1;
	r->dir = strdup(dir);
	r->pub = ni_path_join(dir, "public");
	r->priv = ni_path_join(dir, "private");
	rj = r->pub ? ni_path_join(r->pub, "repo.json") : NULL;
	if (!r->dir || !r->pub || !r->priv || !rj) {
		free(rj);
		img_repo_close(r);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	if (stat(rj, &st) != 0)
		ret = ni_err_set(e, NI_ENOENT,
				 "%s: not a repository (no public/repo.json; see netimg init)",
				 dir);
	free(rj);
	if (ret == 0 && lock) {
		lk = ni_path_join(r->priv, "lock");
		r->lock_fd = lk ? open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
		if (r->lock_fd < 0 || flock(r->lock_fd, LOCK_EX) != 0)
			ret = ni_err_errno(e, errno, "%s: cannot take the lock",
					   lk ? lk : dir);
		free(lk);
	}
	if (ret != 0)
		img_repo_close(r);
	return ret;
}

void img_repo_close(struct img_repo *r)
{
	if (r->lock_fd >= 0)
		close(r->lock_fd);   /* releases the flock */
	free(r->dir);
	free(r->pub);
	free(r->priv);
	memset(r, 0, sizeof(*r));
	r->lock_fd = -1;
}

char *img_repo_path(const struct img_repo *r, const char *rel)
{
	return ni_path_join(r->pub, rel);
}

int img_repo_write(const struct img_repo *r, const char *rel, const void *buf,
		   size_t len, struct ni_err *e)
{
	char *path = img_repo_path(r, rel), *dir;
	int ret;

	if (path == NULL || (dir = ni_dirname(path)) == NULL) {
		free(path);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	ret = ni_mkdir_p(dir, 0755, e);
	if (ret == 0)
		ret = ni_write_file_atomic(path, buf, len, 0644, e);
	free(dir);
	free(path);
	return ret;
}
