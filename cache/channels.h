/* channels.h: which version the cache holds for each channel: written by
 * `netimg sync CHANNEL` (and the agent) once the version is fully cached
 * and pinned, read by `netimg mount CHANNEL`, which mounts that version
 * without touching the network (local-first). One small file per
 * repository key and channel, CACHE/channels/<key fingerprint>/<CHANNEL>.json:
 * {"channel", "target", "name", "version", "manifest_sha256", "serial",
 *  "expires", "synced"}, replaced atomically. The manifest hash is what
 * the mount requires of the cached manifest (whose signature it checks
 * again), so a hand-edited record can only name a version the repository
 * signed. */
#ifndef CACHE_CHANNELS_H
#define CACHE_CHANNELS_H

#include <openssl/evp.h>
#include <stdint.h>

#include "cache/pointer.h"
#include "common/err.h"

struct cache_channel_rec {
	char name[80], version[80];
	char manifest_sha256[65];
	uint64_t serial;
	int64_t synced;
};

int cache_channel_put(const char *cache_dir, EVP_PKEY *key,
		      const struct cache_pointer *p, struct ni_err *e);
/* NI_ENOENT when the cache holds no version for the channel. */
int cache_channel_get(const char *cache_dir, EVP_PKEY *key,
		      const char *channel, struct cache_channel_rec *r,
		      struct ni_err *e);

#endif
