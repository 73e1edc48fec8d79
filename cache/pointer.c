/* pointer.c: a client's checks of a channel pointer, and its memory of
 * the highest serial seen (STATE/channels/<key fingerprint>/<channel>.json,
 * updated under STATE/lock). */
#include "cache/pointer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/hash.h"
#include "images/channel.h"
#include "images/keys.h"
#include "images/manifest.h"
#include "images/sign.h"

#define POINTER_MAX (16u << 20)

int cache_is_channel(const char *spec)
{
	return strchr(spec, '@') == NULL;
}

void cache_pointer_free(struct cache_pointer *p)
{
	json_decref(p->payload);
	p->payload = NULL;
}

static int copy(char *dst, size_t n, json_t *v)
{
	const char *s = json_string_value(v);

	if (s == NULL || strlen(s) >= n)
		return -1;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int is_hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static int parse(const char *rel, json_t *j, struct cache_pointer *p,
		 struct ni_err *e)
{
	json_t *serial = json_object_get(j, "serial");
	json_t *exp = json_object_get(j, "expires");
	json_t *t = json_object_get(j, "time");
	char *name = NULL, *version = NULL;
	struct ni_err ignore = { 0 };

	if (!json_is_object(j) ||
	    json_integer_value(json_object_get(j, "format")) != 1 ||
	    copy(p->channel, sizeof(p->channel), json_object_get(j, "channel")) ||
	    copy(p->target, sizeof(p->target), json_object_get(j, "target")) ||
	    copy(p->manifest_sha256, sizeof(p->manifest_sha256),
		 json_object_get(j, "manifest_sha256")) ||
	    !is_hex64(p->manifest_sha256) ||
	    !json_is_integer(serial) || json_integer_value(serial) < 1 ||
	    !json_is_integer(exp) || !json_is_integer(t) ||
	    !json_is_array(json_object_get(j, "history")))
		return ni_err_set(e, NI_EINVAL, "%s: malformed channel pointer", rel);
	if (img_split_version(p->target, &name, &version, &ignore) != 0 ||
	    strlen(name) >= sizeof(p->name) || strlen(version) >= sizeof(p->version)) {
		free(name);
		free(version);
		return ni_err_set(e, NI_EINVAL, "%s: malformed target '%s'", rel, p->target);
	}
	strcpy(p->name, name);
	strcpy(p->version, version);
	free(name);
	free(version);
	p->serial = (uint64_t)json_integer_value(serial);
	p->expires = json_integer_value(exp);
	p->time = json_integer_value(t);
	return 0;
}

static void fmt_time(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&tt, &tm));
}

/* STATE/channels/<fingerprint>/<channel>.json */
static char *state_file(const char *state, EVP_PKEY *key, const char *channel)
{
	uint8_t fpr[IMG_KEY_FPR_LEN];
	char hex[IMG_KEY_FPR_HEX], *path;

	if (img_key_fingerprint(key, fpr) != 0)
		return NULL;
	ni_hex(fpr, sizeof(fpr), hex);
	if (asprintf(&path, "%s/channels/%s/%s.json", state, hex, channel) < 0)
		return NULL;
	return path;
}

static int lock_state(const char *state, int *fd, struct ni_err *e)
{
	char *lock = ni_path_join(state, "lock");
	int ret = 0;

	if (lock == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	if ((ret = ni_mkdir_p(state, 0755, e)) == 0 &&
	    (*fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		ret = ni_err_errno(e, errno, "%s", lock);
	if (ret != 0) {
		char why[sizeof(e->msg)];

		snprintf(why, sizeof(why), "%s", e ? e->msg : "");
		ni_err_set(e, ret, "cannot keep client state (give --state DIR): %s", why);
	} else if (flock(*fd, LOCK_EX) != 0) {
		ret = ni_err_errno(e, errno, "%s", lock);
	}
	free(lock);
	return ret;
}

static int read_seen(const char *file, uint64_t *seen, struct ni_err *e)
{
	char *buf = NULL;
	size_t len;
	json_t *j;
	int ret;

	*seen = 0;
	if (access(file, F_OK) != 0)
		return 0;
	if ((ret = ni_read_file(file, 1u << 20, &buf, &len, e)) != 0)
		return ret;
	j = json_loadb(buf, len, 0, NULL);
	free(buf);
	if (!json_is_integer(json_object_get(j, "serial"))) {
		json_decref(j);
		return ni_err_set(e, NI_EINVAL, "%s: malformed client state", file);
	}
	*seen = (uint64_t)json_integer_value(json_object_get(j, "serial"));
	json_decref(j);
	return 0;
}

static int write_seen(const char *file, const struct cache_pointer *p,
		      struct ni_err *e)
{
	char *dir = ni_dirname(file), *text;
	json_t *j;
	int ret;

	if (dir == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	ret = ni_mkdir_p(dir, 0755, e);
	free(dir);
	if (ret != 0)
		return ret;
	j = json_pack("{s:I, s:s, s:s, s:I, s:I}", "serial", (json_int_t)p->serial,
		      "target", p->target, "manifest_sha256", p->manifest_sha256,
		      "expires", (json_int_t)p->expires, "checked", (json_int_t)time(NULL));
	text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (text == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	ret = ni_write_file_atomic(file, text, strlen(text), 0644, e);
	free(text);
	return ret;
}

/* Replay check against the state, and the state's update, under its lock. */
static int check_serial(const char *rel, EVP_PKEY *key,
			const struct cache_pointer_opts *o,
			struct cache_pointer *p, struct ni_err *e)
{
	char *file;
	int fd = -1, ret;

	if (o->min_serial > p->serial)
		return ni_err_set(e, NI_ESTATE,
				  "%s: replayed pointer: serial %llu is lower than %llu this client requires",
				  rel, (unsigned long long)p->serial,
				  (unsigned long long)o->min_serial);
	if (o->state == NULL)
		return 0;
	if ((file = state_file(o->state, key, p->channel)) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	ret = lock_state(o->state, &fd, e);
	if (ret == 0)
		ret = read_seen(file, &p->seen, e);
	if (ret == 0 && p->serial < p->seen)
		ret = ni_err_set(e, NI_ESTATE,
				 "%s: replayed pointer: serial %llu is lower than %llu seen before (%s)",
				 rel, (unsigned long long)p->serial,
				 (unsigned long long)p->seen, file);
	if (ret == 0 && p->serial > p->seen)
		ret = write_seen(file, p, e);
	if (fd >= 0)
		close(fd);
	free(file);
	return ret;
}

struct sig_check {
	EVP_PKEY *key;
	const char *rel;
};

/* A mirror's copy with a bad signature makes the next mirror be asked. */
static int check_sig(void *user, const uint8_t *buf, size_t len,
		     struct ni_err *e)
{
	struct sig_check *c = user;
	const void *payload;
	size_t plen;

	return img_open_signed(c->key, c->rel, buf, len, &payload, &plen, NULL, e);
}

int cache_pointer_get(struct cache_source *src, EVP_PKEY *key,
		      const char *channel, const struct cache_pointer_opts *o,
		      struct cache_pointer *p, struct ni_err *e)
{
	char rel[128];
	uint8_t *buf = NULL;
	size_t len;
	int ret;

	memset(p, 0, sizeof(*p));
	if (!img_valid_channel(channel))
		return ni_err_set(e, NI_EUSAGE, "'%s' is not a channel name", channel);
	snprintf(rel, sizeof(rel), "channels/%s.json", channel);
	{
		struct sig_check c = { .key = key, .rel = rel };

		ret = cache_source_get_checked(src, rel, POINTER_MAX, check_sig, &c,
					       &buf, &len, e);
	}
	if (ret == NI_ENOENT)
		ret = ni_err_set(e, NI_ENOENT, "%s: no such channel (give a CHANNEL or NAME@VERSION)", rel);
	if (ret == 0)
		ret = cache_pointer_check(key, channel, buf, len, o, p, e);
	free(buf);
	return ret;
}

int cache_pointer_check(EVP_PKEY *key, const char *channel,
			const uint8_t *buf, size_t len,
			const struct cache_pointer_opts *o,
			struct cache_pointer *p, struct ni_err *e)
{
	char rel[128], when[40];
	const void *payload;
	size_t plen;
	int64_t now = o->now ? o->now : (int64_t)time(NULL);
	int ret;

	memset(p, 0, sizeof(*p));
	if (!img_valid_channel(channel))
		return ni_err_set(e, NI_EUSAGE, "'%s' is not a channel name", channel);
	snprintf(rel, sizeof(rel), "channels/%s.json", channel);
	ret = img_open_signed(key, rel, buf, len, &payload, &plen, NULL, e);
	if (ret == 0 && (p->payload = json_loadb(payload, plen, 0, NULL)) == NULL)
		ret = ni_err_set(e, NI_EINVAL, "%s: malformed channel pointer", rel);
	if (ret == 0)
		ret = parse(rel, p->payload, p, e);
	if (ret == 0 && strcmp(p->channel, channel) != 0)
		ret = ni_err_set(e, NI_EINVAL, "%s: the pointer is for channel '%s', not '%s'",
				 rel, p->channel, channel);
	if (ret == 0 && p->expires <= now) {
		fmt_time(p->expires, when, sizeof(when));
		ret = ni_err_set(e, NI_ESTATE,
				 "%s: expired pointer (expired %s; the repository must run netimg refresh)",
				 rel, when);
	}
	if (ret == 0)
		ret = check_serial(rel, key, o, p, e);
	if (ret != 0)
		cache_pointer_free(p);
	return ret;
}
