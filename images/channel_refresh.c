/* channel_refresh.c: `netimg refresh`: channel pointers re-signed with a
 * new expiry, so that clients keep accepting them while nothing changes.
 * Meant for a timer (docs/operator-guide.md). */
#include "images/channel.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/grow.h"
#include "images/repo.h"

struct rf {
	struct img_repo repo;
	EVP_PKEY *priv, *pub;
	char **names;
	size_t n, cap;
	json_t **cur;               /* per name: the verified payload */
	struct ni_err *e;
};

static int add_name(struct rf *f, const char *name, size_t len)
{
	if (ni_grow(&f->names, &f->cap, f->n, sizeof(*f->names), 16) != 0 ||
	    (f->names[f->n] = strndup(name, len)) == NULL)
		return ni_err_set(f->e, NI_ENOMEM, "out of memory");
	f->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every public/channels/CHANNEL.json (temporary files left out). */
static int list_channels(struct rf *f)
{
	char *dir = img_repo_path(&f->repo, "channels");
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (dir == NULL)
		return ni_err_set(f->e, NI_ENOMEM, "out of memory");
	d = opendir(dir);
	while (d != NULL && ret == 0 && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char stem[80];

		if (len < 6 || len - 5 >= sizeof(stem) ||
		    strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(stem, sizeof(stem), "%.*s", (int)(len - 5), de->d_name);
		if (img_valid_channel(stem))
			ret = add_name(f, stem, len - 5);
	}
	if (d != NULL)
		closedir(d);
	free(dir);
	if (f->n > 1)
		qsort(f->names, f->n, sizeof(*f->names), cmp_str);
	return ret;
}

static int read_all(struct rf *f)
{
	char rel[100];
	size_t i;
	int ret = 0;

	f->cur = calloc(f->n + 1, sizeof(*f->cur));
	if (f->cur == NULL)
		return ni_err_set(f->e, NI_ENOMEM, "out of memory");
	for (i = 0; ret == 0 && i < f->n; i++) {
		snprintf(rel, sizeof(rel), "channels/%s.json", f->names[i]);
		ret = img_repo_read_signed(&f->repo, f->pub, rel, &f->cur[i], NULL, NULL, f->e);
		if (ret == NI_ENOENT)
			ret = ni_err_set(f->e, NI_ENOENT, "%s: no channel '%s' (see netimg point)",
					 f->repo.dir, f->names[i]);
		else if (ret == 0 &&
			 (!json_is_integer(json_object_get(f->cur[i], "serial")) ||
			  !json_is_string(json_object_get(f->cur[i], "target"))))
			ret = ni_err_set(f->e, NI_EINVAL, "%s/%s: signed, but not a channel pointer",
					 f->repo.pub, rel);
	}
	return ret;
}

static int write_one(struct rf *f, size_t i, int64_t exp, struct img_refresh_item *it)
{
	int64_t now = (int64_t)time(NULL);
	json_t *p = f->cur[i];
	char rel[100];

	snprintf(rel, sizeof(rel), "channels/%s.json", f->names[i]);
	if (json_object_set_new(p, "expires", json_integer(now + exp)) != 0 ||
	    json_object_set_new(p, "refreshed", json_integer(now)) != 0)
		return ni_err_set(f->e, NI_ENOMEM, "out of memory");
	snprintf(it->channel, sizeof(it->channel), "%s", f->names[i]);
	snprintf(it->target, sizeof(it->target), "%s",
		 json_string_value(json_object_get(p, "target")));
	it->serial = (uint64_t)json_integer_value(json_object_get(p, "serial"));
	it->expires_at = now + exp;
	return img_repo_write_signed(&f->repo, f->priv, rel, p, NULL, f->e);
}

int img_refresh(const struct img_refresh_opts *o, struct img_refresh_item **items,
		size_t *n, struct ni_err *e)
{
	struct rf f = { .e = e };
	int64_t exp = o->expires > 0 ? o->expires : IMG_CHANNEL_EXPIRES_DEFAULT;
	size_t i;
	int ret;

	*items = NULL;
	*n = 0;
	for (i = 0; i < o->n; i++)
		if (!img_valid_channel(o->channels[i]))
			return ni_err_set(e, NI_EINVAL, "'%s': a channel name is 1-64 of A-Z a-z 0-9 . _ -",
					  o->channels[i]);
	if ((ret = img_repo_open(&f.repo, o->repo, 1, e)) != 0)
		return ret;
	ret = img_repo_keys(&f.repo, &f.priv, &f.pub, e);
	for (i = 0; ret == 0 && i < o->n; i++)
		ret = add_name(&f, o->channels[i], strlen(o->channels[i]));
	if (ret == 0 && o->n == 0)
		ret = list_channels(&f);
	if (ret == 0)
		ret = read_all(&f);
	if (ret == 0 && (*items = calloc(f.n + 1, sizeof(**items))) == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	for (i = 0; ret == 0 && i < f.n; i++)
		if ((ret = write_one(&f, i, exp, &(*items)[i])) == 0)
			(*n)++;
	for (i = 0; i < f.n; i++) {
		if (f.cur != NULL)
			json_decref(f.cur[i]);
		free(f.names[i]);
	}
	free(f.cur);
	free(f.names);
	EVP_PKEY_free(f.priv);
	EVP_PKEY_free(f.pub);
	img_repo_close(&f.repo);
	return ret;
}
