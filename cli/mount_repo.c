/* mount_repo.c: resolving and opening the version `netimg mount` serves
 * from a repository through the local cache. */
#include "cli/mount_repo.h"

#include <stdio.h>
#include <string.h>

#include "cache/channels.h"
#include "common/units.h"

/* A channel: the version the cache holds for it (the last sync's, or the
 * agent's), with no request at all; only when it holds none, the
 * channel's verified pointer, online. Moving to a newer version is the
 * job of sync and the agent, and takes effect at the next mount. */
static int resolve(struct mount_repo *m, const char *spec, struct ni_err *e)
{
	struct cache_channel_rec rec;
	int ret;

	if (cache_is_channel(spec)) {
		ret = cache_channel_get(cache_store_dir(m->st), m->c.key, spec, &rec, e);
		if (ret == 0) {
			memset(&m->t, 0, sizeof(m->t));
			snprintf(m->t.name, sizeof(m->t.name), "%s", rec.name);
			snprintf(m->t.version, sizeof(m->t.version), "%s", rec.version);
			snprintf(m->t.ptr.manifest_sha256, sizeof(m->t.ptr.manifest_sha256),
				 "%s", rec.manifest_sha256);
			m->t.manifest_sha256 = m->t.ptr.manifest_sha256;
			m->t.is_channel = 1;
			m->from_cache_record = 1;
			return 0;
		}
		if (ret != NI_ENOENT)
			return ret;
	}
	return repo_client_resolve(&m->c, spec, &m->t, e);
}

int mount_repo_open(struct mount_repo *m, const struct mount_repo_opts *o,
		    struct ni_err *e)
{
	struct cache_vimage_opts vo;
	const char *dir, *size;
	uint64_t quota = 0;
	int ret;

	memset(m, 0, sizeof(*m));
	if ((ret = repo_client_open(&m->c, &o->ro, e)) != 0)
		return ret;
	dir = o->cache ? o->cache : cache_config_get(&m->c.conf, CFG_CACHE);
	size = o->cache_size ? o->cache_size : cache_config_get(&m->c.conf, CFG_CACHE_SIZE);
	if (size != NULL && (ni_parse_size(size, &quota) != 0 || quota == 0))
		return ni_err_set(e, NI_EUSAGE, "--cache-size: '%s' is not a size", size);
	if ((ret = cache_store_open(&m->st, dir ? dir : CACHE_STORE_DIR, quota, e)) != 0 ||
	    (ret = resolve(m, o->spec, e)) != 0)
		return ret;
	snprintf(m->spec, sizeof(m->spec), "%s@%s", m->t.name, m->t.version);
	cache_vimage_opts_init(&vo);
	vo.repo = m->c.repo;
	vo.key = m->c.key;
	vo.name = m->t.name;
	vo.version = m->t.version;
	vo.manifest_sha256 = m->t.manifest_sha256;
	if (o->wait_ms > 0)
		vo.wait_ms = o->wait_ms;
	if ((ret = cache_vimage_open(&m->vi, m->st, &vo, e)) != 0)
		return ret;
	if ((m->file = cache_vimage_file(m->vi)) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	return 0;
}

int mount_repo_start_hot(struct mount_repo *m, cache_hot_log log, void *user,
			 struct ni_err *e)
{
	return cache_vimage_hot_start(m->vi, log, user, e);
}

void mount_repo_close(struct mount_repo *m)
{
	if (m->file != NULL)
		sqfs_destroy(m->file);
	if (m->vi != NULL)
		cache_vimage_close(m->vi);
	cache_store_close(m->st);
	repo_target_free(&m->t);
	repo_client_close(&m->c);
	memset(m, 0, sizeof(*m));
}
