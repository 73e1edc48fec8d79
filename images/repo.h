/* repo.h: a repository folder: the published tree DIR/public/ (all that
 * any web server, mirror or proxy carries) and the private part beside it
 * (signing key, the publishers' lock), never served. */
#ifndef IMG_REPO_H
#define IMG_REPO_H

#include "common/err.h"

struct img_repo {
	char *dir;
	char *pub;        /* DIR/public */
	char *priv;       /* DIR/private */
	int lock_fd;
};

/* Makes DIR (if needed), DIR/public/ (0755) with repo.json and
 * DIR/private/ (0700). Refuses a folder that already is a repository. */
int img_repo_init(const char *dir, struct ni_err *e);
/* Opens an existing repository; lock = 1 takes the publishers' lock
 * (waits for another publisher to finish). */
int img_repo_open(struct img_repo *r, const char *dir, int lock,
		  struct ni_err *e);
void img_repo_close(struct img_repo *r);
/* Returns malloc'd DIR/public/REL. */
char *img_repo_path(const struct img_repo *r, const char *rel);
/* Writes DIR/public/REL atomically, world-readable, creating folders. */
int img_repo_write(const struct img_repo *r, const char *rel, const void *buf,
		   size_t len, struct ni_err *e);

#endif
