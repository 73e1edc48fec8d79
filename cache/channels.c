/* channels.c: the cache's record of the version it holds per channel. */
#include "cache/channels.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/hash.h"
#include "images/channel.h"
#include "images/keys.h"

static char *rec_path(const char *dir, EVP_PKEY *key, const char *channel)
{
	uint8_t fpr[IMG_KEY_FPR_LEN];
	char hex[IMG_KEY_FPR_HEX], *path;

	if (img_key_fingerprint(key, fpr) != 0)
		return NULL;
	ni_hex(fpr, sizeof(fpr), hex);
	if (asprintf(&path, "%s/channels/%s/%s.json", dir, hex, channel) < 0)
		return NULL;
	return path;
}

int cache_channel_put(const char *cache_dir, EVP_PKEY *key,
		      const struct cache_pointer *p, struct ni_err *e)
{
	char *path = rec_path(cache_dir, key, p->channel), *dir = NULL, *text = NULL;
	json_t *j;
	int ret;

	if (path == NULL || (dir = ni_dirname(path)) == NULL) {
		free(path);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "format", 1,
		      "channel", p->channel, "target", p->target, "name", p->name,
		      "version", p->version, "manifest_sha256", p->manifest_sha256,
		      "serial", (json_int_t)p->serial, "expires", (json_int_t)p->expires,
		      "synced", (json_int_t)time(NULL));
	text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (text == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	else if ((ret = ni_mkdir_p(dir, 0755, e)) == 0)
		ret = ni_write_file_atomic(path, text, strlen(text), 0644, e);
	free(text);
	free(dir);
	free(path);
	return ret;
}

static int copy(char *dst, size_t n, json_t *v)
{
	const char *s = json_string_value(v);

	if (s == NULL || strlen(s) >= n)
		return -1;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

int cache_channel_get(const char *cache_dir, EVP_PKEY *key,
		      const char *channel, struct cache_channel_rec *r,
		      struct ni_err *e)
{
	char *path, *buf = NULL;
	size_t len;
	json_t *j;
	int ret;

	memset(r, 0, sizeof(*r));
	if (!img_valid_channel(channel))
		return ni_err_set(e, NI_EUSAGE, "'%s' is not a channel name", channel);
	if ((path = rec_path(cache_dir, key, channel)) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	if (access(path, F_OK) != 0) {
		free(path);
		return NI_ENOENT;
	}
	ret = ni_read_file(path, 1u << 20, &buf, &len, e);
	j = ret == 0 ? json_loadb(buf, len, 0, NULL) : NULL;
	if (ret == 0 &&
	    (copy(r->name, sizeof(r->name), json_object_get(j, "name")) ||
	     copy(r->version, sizeof(r->version), json_object_get(j, "version")) ||
	     copy(r->manifest_sha256, sizeof(r->manifest_sha256),
		  json_object_get(j, "manifest_sha256")) ||
	     strlen(r->manifest_sha256) != 64))
		ret = ni_err_set(e, NI_EINVAL, "%s: malformed (remove it and run netimg sync)", path);
	if (ret == 0) {
		r->serial = (uint64_t)json_integer_value(json_object_get(j, "serial"));
		r->synced = json_integer_value(json_object_get(j, "synced"));
	}
	json_decref(j);
	free(buf);
	free(path);
	return ret;
}
