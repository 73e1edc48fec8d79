/* mount_repo.h: what `netimg mount` mounts when it is given a repository
 * rather than an image file: the version (a channel resolved local-first
 * from the cache's record, else online through its verified pointer), as
 * the cache's virtual image (cache/vimage.h), whose reads come from the
 * local chunk store or are fetched and verified on demand. */
#ifndef CLI_MOUNT_REPO_H
#define CLI_MOUNT_REPO_H

#include <sqfs/io.h>

#include "cache/hot.h"
#include "cache/store.h"
#include "cache/vimage.h"
#include "cli/repo_client.h"

struct mount_repo {
	struct repo_client c;
	struct repo_target t;
	struct cache_store *st;
	struct cache_vimage *vi;
	sqfs_file_t *file;        /* a reference of vi's */
	char spec[200];           /* NAME@VERSION */
	int from_cache_record;    /* the channel was resolved offline */
};

struct mount_repo_opts {
	struct repo_client_opts ro;
	const char *cache, *cache_size;
	long wait_ms;             /* 0: the default (10 s) */
	const char *spec;         /* CHANNEL or NAME@VERSION */
};

/* 0, or an error (usage problems as NI_EUSAGE) with e set. */
int mount_repo_open(struct mount_repo *m, const struct mount_repo_opts *o,
		    struct ni_err *e);
/* Starts the background prefetch of the version's hot set (cache/hot.h)
 * once the mount is up, in the process that serves it: nothing when the
 * cache holds the version whole. Its outcome is one line to log. */
int mount_repo_start_hot(struct mount_repo *m, cache_hot_log log, void *user,
			 struct ni_err *e);
void mount_repo_close(struct mount_repo *m);

#endif
