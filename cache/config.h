/* config.h: the client configuration file (/etc/netimg/client.conf by
 * default, $NETIMG_CONFIG or --config to change it): the options every
 * command that reads a repository shares, so that a laptop or server is
 * set up once. INI:
 *
 *   [client]
 *   repo = https://a.example/netimg,https://b.example/netimg
 *   key = /etc/netimg/repo.pub
 *   state = /var/lib/netimg
 *   cache = /var/cache/netimg
 *   cache-size = 20G
 *   channel = stable
 *
 *   [agent]
 *   interval = 300
 *   jitter = 60
 *   bandwidth = 10M
 *
 * Command-line options win over the file. Unknown sections and keys are
 * refused, naming FILE:LINE. */
#ifndef CACHE_CONFIG_H
#define CACHE_CONFIG_H

#include "common/err.h"

#define CACHE_CONFIG_DEFAULT "/etc/netimg/client.conf"

enum cache_config_key {
	CFG_REPO, CFG_KEY, CFG_STATE, CFG_CACHE, CFG_CACHE_SIZE, CFG_CHANNEL,
	CFG_AGENT_INTERVAL, CFG_AGENT_JITTER, CFG_AGENT_BANDWIDTH,
	CFG_N
};

struct cache_config {
	char *path;           /* the file read, or NULL when none was */
	char *v[CFG_N];       /* each value, or NULL when not set */
};

/* Reads path; when path is NULL, $NETIMG_CONFIG, else the default file if
 * it exists (a missing default file is no error; a named one is). */
int cache_config_load(struct cache_config *c, const char *path,
		      struct ni_err *e);
void cache_config_free(struct cache_config *c);
/* The value of k, or NULL. */
const char *cache_config_get(const struct cache_config *c,
			     enum cache_config_key k);

#endif
