/* channel.c: writing channel pointers (point, rollback). */
#include "images/channel.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/hash.h"
#include "images/keys.h"
#include "images/manifest.h"
#include "images/repo.h"
#include "images/sign.h"

const char *img_default_who(void)
{
	struct passwd *pw;
	const char *u = getenv("SUDO_USER");

	if (u == NULL || *u == '\0')
		u = getenv("USER");
	if ((u == NULL || *u == '\0') && (pw = getpwuid(geteuid())) != NULL)
		u = pw->pw_name;
	return u && *u ? u : "unknown";
}

int img_valid_channel(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 && s[0] != '.' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") == n;
}

struct pt {
	const struct img_point_opts *o;
	struct ni_err *e;
	struct img_repo repo;
	EVP_PKEY *priv, *pub;
	json_t *cur;               /* the current pointer's payload, or NULL */
	char rel[160];
};

/* The manifest's hash, which also proves the version is published. */
static int manifest_hash(struct pt *p, const char *target, char hex[NI_SHA256_HEX])
{
	char *name = NULL, *version = NULL, *rel, *path = NULL, *buf = NULL;
	uint8_t d[NI_SHA256_LEN];
	size_t len;
	int ret = img_split_version(target, &name, &version, p->e);

	if (ret == 0) {
		rel = img_manifest_path(name, version);
		path = rel ? img_repo_path(&p->repo, rel) : NULL;
		free(rel);
		if (path == NULL)
			ret = ni_err_set(p->e, NI_ENOMEM, "out of memory");
		else if (access(path, F_OK) != 0)
			ret = ni_err_set(p->e, NI_ENOENT, "%s: not published in %s",
					 target, p->repo.dir);
		else if ((ret = ni_read_file(path, 16u << 20, &buf, &len, p->e)) == 0) {
			ni_sha256_buf(buf, len, d);
			ni_hex(d, sizeof(d), hex);
		}
	}
	free(buf);
	free(path);
	free(name);
	free(version);
	return ret;
}

/* The version to go back to: the newest in the history that is not the
 * current one. */
static const char *previous(json_t *cur)
{
	const char *now = json_string_value(json_object_get(cur, "target"));
	json_t *h;
	size_t i;

	json_array_foreach(json_object_get(cur, "history"), i, h) {
		const char *t = json_string_value(json_object_get(h, "target"));

		if (t != NULL && now != NULL && strcmp(t, now) != 0)
			return t;
	}
	return NULL;
}

static json_t *history(json_t *cur)
{
	json_t *h = json_array(), *old;
	size_t i;

	if (cur == NULL)
		return h;
	json_array_append_new(h, json_pack("{s:O, s:O, s:O, s:O, s:O}",
		"serial", json_object_get(cur, "serial"),
		"target", json_object_get(cur, "target"),
		"manifest_sha256", json_object_get(cur, "manifest_sha256"),
		"time", json_object_get(cur, "time"),
		"who", json_object_get(cur, "who")));
	json_array_foreach(json_object_get(cur, "history"), i, old)
		if (json_array_size(h) < IMG_CHANNEL_HISTORY_MAX)
			json_array_append(h, old);
	return h;
}

static int write_pointer(struct pt *p, const char *target,
			 struct img_point_result *r)
{
	char hex[NI_SHA256_HEX];
	const char *who = p->o->who ? p->o->who : img_default_who();
	int64_t now = (int64_t)time(NULL);
	int64_t exp = p->o->expires > 0 ? p->o->expires : IMG_CHANNEL_EXPIRES_DEFAULT;
	uint64_t serial = p->cur ? (uint64_t)json_integer_value(json_object_get(p->cur, "serial")) + 1 : 1;
	json_t *j;
	int ret;

	if ((ret = manifest_hash(p, target, hex)) != 0)
		return ret;
	j = json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:o}",
		      "format", 1, "channel", p->o->channel, "target", target,
		      "manifest_sha256", hex, "serial", (json_int_t)serial,
		      "time", (json_int_t)now, "who", who ? who : "unknown",
		      "expires", (json_int_t)(now + exp), "history", history(p->cur));
	if (j == NULL)
		return ni_err_set(p->e, NI_ENOMEM, "out of memory");
	ret = img_repo_write_signed(&p->repo, p->priv, p->rel, j, NULL, p->e);
	json_decref(j);
	snprintf(r->target, sizeof(r->target), "%s", target);
	r->serial = serial;
	r->expires_at = now + exp;
	return ret;
}

int img_point(const struct img_point_opts *o, int rollback,
	      struct img_point_result *r, struct ni_err *e)
{
	struct pt p = { .o = o, .e = e };
	const char *target = o->target;
	int ret;

	memset(r, 0, sizeof(*r));
	if (!img_valid_channel(o->channel))
		return ni_err_set(e, NI_EINVAL, "'%s': a channel name is 1-64 of A-Z a-z 0-9 . _ -",
				  o->channel);
	snprintf(p.rel, sizeof(p.rel), "channels/%s.json", o->channel);
	if ((ret = img_repo_open(&p.repo, o->repo, 1, e)) != 0)
		return ret;
	if ((ret = img_repo_keys(&p.repo, &p.priv, &p.pub, e)) == 0) {
		ret = img_repo_read_signed(&p.repo, p.pub, p.rel, &p.cur, NULL, NULL, e);
		if (ret == NI_ENOENT)
			ret = 0;
	}
	if (ret == 0 && rollback && target == NULL) {
		if (p.cur == NULL || (target = previous(p.cur)) == NULL)
			ret = ni_err_set(e, NI_ESTATE, "%s: no earlier version to roll back to",
					 o->channel);
	}
	if (ret == 0)
		ret = write_pointer(&p, target, r);
	json_decref(p.cur);
	EVP_PKEY_free(p.priv);
	EVP_PKEY_free(p.pub);
	img_repo_close(&p.repo);
	return ret;
}
