/* config.c: the client configuration file, read with inih. */
#include "cache/config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
	const char *section, *name;
} keys[CFG_N] = {
	[CFG_REPO] = { "client", "repo" },
	[CFG_KEY] = { "client", "key" },
	[CFG_STATE] = { "client", "state" },
	[CFG_CACHE] = { "client", "cache" },
	[CFG_CACHE_SIZE] = { "client", "cache-size" },
	[CFG_CHANNEL] = { "client", "channel" },
	[CFG_AGENT_INTERVAL] = { "agent", "interval" },
	[CFG_AGENT_JITTER] = { "agent", "jitter" },
	[CFG_AGENT_BANDWIDTH] = { "agent", "bandwidth" },
};

struct parse {
	struct cache_config *c;
	struct ni_err *e;
	FILE *f;
	int line, at_start, failed;
};

/* what: a format with two %s (the section, then the key). */
static int fail(struct parse *p, const char *what, const char *a, const char *b)
{
	char msg[256];

	if (!p->failed) {
		snprintf(msg, sizeof(msg), what, a, b);
		ni_err_set(p->e, NI_EINVAL, "%s:%d: %s", p->c->path, p->line, msg);
	}
	p->failed = 1;
	return 0;
}

/* An empty unknown section never reaches the handler: caught here. */
static void check_section(struct parse *p, const char *s)
{
	char name[64];

	s += strspn(s, " \t");
	if (*s != '[' || sscanf(s + 1, "%63[^]\r\n]", name) != 1)
		return;
	if (strcmp(name, "client") != 0 && strcmp(name, "agent") != 0)
		fail(p, "unknown section [%s]%s", name, "");
}

static char *reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	char *s = fgets(str, num, p->f);

	if (s != NULL && p->at_start) {
		p->line++;
		check_section(p, s);
	}
	if (s != NULL)
		p->at_start = strchr(s, '\n') != NULL;
	return s;
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse *p = user;
	int k;

	if (p->failed)
		return 0;
	for (k = 0; k < CFG_N; k++) {
		if (strcmp(section, keys[k].section) != 0 || strcmp(name, keys[k].name) != 0)
			continue;
		if (*value == '\0')
			return fail(p, "[%s] %s: empty value", section, name);
		free(p->c->v[k]);
		if ((p->c->v[k] = strdup(value)) == NULL) {
			ni_err_set(p->e, NI_ENOMEM, "out of memory");
			p->failed = 1;
			return 0;
		}
		return 1;
	}
	return fail(p, "[%s] unknown key '%s'", section, name);
}

int cache_config_load(struct cache_config *c, const char *path,
		      struct ni_err *e)
{
	struct parse p = { .c = c, .e = e, .at_start = 1 };
	int ret;

	memset(c, 0, sizeof(*c));
	if (path == NULL && (path = getenv("NETIMG_CONFIG")) != NULL && *path == '\0')
		path = NULL;
	if (path == NULL) {
		if (access(CACHE_CONFIG_DEFAULT, F_OK) != 0)
			return 0;
		path = CACHE_CONFIG_DEFAULT;
	}
	if ((c->path = strdup(path)) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	if ((p.f = fopen(path, "r")) == NULL) {
		ret = ni_err_errno(e, errno, "%s", path);
		cache_config_free(c);
		return ret;
	}
	ini_stop_on_first_error = true;
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_initial_alloc = 512;
	ini_max_line = 65536;
	ini_allow_multiline = false;
	ret = ini_parse_stream(reader, &p, handler, &p);
	fclose(p.f);
	if (p.failed)
		ret = e ? e->code : NI_EINVAL;
	else if (ret > 0)
		ret = ni_err_set(e, NI_EINVAL, "%s:%d: syntax error", path, ret);
	else if (ret < 0)
		ret = ni_err_set(e, NI_EIO, "%s: cannot read", path);
	if (ret != 0)
		cache_config_free(c);
	return ret;
}

void cache_config_free(struct cache_config *c)
{
	int k;

	for (k = 0; k < CFG_N; k++)
		free(c->v[k]);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

const char *cache_config_get(const struct cache_config *c,
			     enum cache_config_key k)
{
	return c->v[k];
}
