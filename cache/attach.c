/* attach.c: verified reading of attachments (attach.h). Order: record
 * signature -> the manifest hash it names -> its name, version and kind
 * -> the blob's size and SHA-256. */
#include "cache/attach.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "images/manifest.h"
#include "images/sign.h"

#define RECORD_MAX (1u << 20)
#define MANIFEST_MAX (16u << 20)

int cache_manifest_sha256(struct cache_source *src, EVP_PKEY *key,
			  const char *name, const char *version, const char *want,
			  char hex[NI_SHA256_HEX], struct ni_err *e)
{
	char *rel = img_manifest_path(name, version);
	uint8_t *buf = NULL, d[NI_SHA256_LEN];
	json_t *m = NULL;
	size_t len;
	int ret;

	if (rel == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	ret = cache_source_get(src, rel, MANIFEST_MAX, &buf, &len, e);
	if (ret == NI_ENOENT)
		ret = ni_err_set(e, NI_ENOENT, "%s@%s: no such version", name, version);
	if (ret == 0) {
		ni_sha256_buf(buf, len, d);
		ni_hex(d, sizeof(d), hex);
		if (want != NULL && strcmp(hex, want) != 0)
			ret = ni_err_set(e, NI_EHASH,
					 "%s@%s: the manifest is not the one the channel pointer names",
					 name, version);
	}
	if (ret == 0)
		ret = img_manifest_open(key, rel, buf, len, &m, e);
	json_decref(m);
	free(buf);
	free(rel);
	return ret;
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The record's payload, checked against what was asked for. */
static int check_record(const struct cache_attach_req *rq, const char *rel,
			json_t *p, struct cache_attachment *a, struct ni_err *e)
{
	const char *ms = str(p, "manifest_sha256"), *sha = str(p, "sha256");
	json_t *size = json_object_get(p, "size");

	if (ms == NULL || sha == NULL || strlen(sha) != 64 ||
	    strspn(sha, "0123456789abcdef") != 64 || !json_is_integer(size) ||
	    json_integer_value(size) < 0 || str(p, "kind") == NULL ||
	    str(p, "name") == NULL || str(p, "version") == NULL)
		return ni_err_set(e, NI_EINVAL, "%s: signed, but not an attachment record", rel);
	if (strcmp(ms, rq->manifest_sha256) != 0)
		return ni_err_set(e, NI_EHASH,
				  "%s: made for another manifest (it names %.16s..., %s@%s's is %.16s...; copied from another version?)",
				  rel, ms, rq->name, rq->version, rq->manifest_sha256);
	if (strcmp(str(p, "name"), rq->name) != 0 || strcmp(str(p, "version"), rq->version) != 0 ||
	    strcmp(str(p, "kind"), rq->kind) != 0)
		return ni_err_set(e, NI_EINVAL, "%s: the record is %s@%s's '%s' attachment, not %s@%s's '%s'",
				  rel, str(p, "name"), str(p, "version"), str(p, "kind"),
				  rq->name, rq->version, rq->kind);
	if ((uint64_t)json_integer_value(size) > IMG_ATTACH_MAX)
		return ni_err_set(e, NI_EINVAL, "%s: the attachment is larger than %llu MiB",
				  rel, IMG_ATTACH_MAX >> 20);
	snprintf(a->kind, sizeof(a->kind), "%s", rq->kind);
	snprintf(a->sha256, sizeof(a->sha256), "%s", sha);
	snprintf(a->who, sizeof(a->who), "%s", str(p, "who") ? str(p, "who") : "-");
	a->size = (uint64_t)json_integer_value(size);
	a->time = (int64_t)json_integer_value(json_object_get(p, "time"));
	return 0;
}

struct rec_check {
	EVP_PKEY *key;
	const struct cache_attach_req *rq;
	const char *rel;
	struct cache_attachment *a;
};

/* What a record's bytes must pass; a mirror whose record does not is
 * passed over for the next. */
static int check_bytes(void *user, const uint8_t *buf, size_t len, struct ni_err *e)
{
	struct rec_check *c = user;
	const void *payload;
	size_t plen;
	json_t *p;
	int ret = img_open_signed(c->key, c->rel, buf, len, &payload, &plen, NULL, e);

	if (ret != 0)
		return ret;
	p = json_loadb(payload, plen, 0, NULL);
	if (!json_is_object(p))
		ret = ni_err_set(e, NI_EINVAL, "%s: signed, but not an attachment record", c->rel);
	else
		ret = check_record(c->rq, c->rel, p, c->a, e);
	json_decref(p);
	return ret;
}

static int get_record(struct cache_source *src, EVP_PKEY *key,
		      const struct cache_attach_req *rq, struct cache_attachment *a,
		      struct ni_err *e)
{
	char rel[300];
	struct rec_check c = { .key = key, .rq = rq, .rel = rel, .a = a };
	uint8_t *buf = NULL;
	size_t len;
	int ret;

	snprintf(rel, sizeof(rel), "attachments/%s/%s/%s.json", rq->name, rq->version, rq->kind);
	ret = cache_source_get_checked(src, rel, RECORD_MAX, check_bytes, &c, &buf, &len, e);
	if (ret == NI_ENOENT)
		ret = ni_err_set(e, NI_ENOENT, "%s@%s: no '%s' attachment", rq->name,
				 rq->version, rq->kind);
	free(buf);
	return ret;
}

static int get_blob(struct cache_source *src, const struct cache_attach_req *rq,
		    struct cache_attachment *a, struct ni_err *e)
{
	uint8_t sha[NI_SHA256_LEN];
	char rel[100];
	size_t len;
	int ret;

	snprintf(rel, sizeof(rel), "blobs/%s", a->sha256);
	if (ni_unhex(a->sha256, sha, sizeof(sha)) != 0)
		return ni_err_set(e, NI_EINVAL, "%s: bad name", rel);
	ret = cache_source_get_sha256(src, rel, (size_t)a->size, sha, &a->data, &len, e);
	if (ret == NI_ENOENT)
		return ni_err_set(e, NI_ENOENT, "%s: missing (%s@%s's '%s' attachment)", rel,
				  rq->name, rq->version, rq->kind);
	if (ret == 0 && len != a->size)    /* the hash matched: the record lies */
		ret = ni_err_set(e, NI_EINVAL, "%s: %zu bytes, the record says %llu", rel, len,
				 (unsigned long long)a->size);
	return ret;
}

int cache_attach_get(struct cache_source *src, EVP_PKEY *key,
		     const struct cache_attach_req *rq, struct cache_attachment *a,
		     struct ni_err *e)
{
	int ret;

	memset(a, 0, sizeof(*a));
	if (!img_valid_kind(rq->kind))
		return ni_err_set(e, NI_EINVAL, "'%s': an attachment kind is 1-32 of a-z 0-9 -",
				  rq->kind);
	if (rq->manifest_sha256 == NULL)
		return ni_err_set(e, NI_EINVAL, "%s@%s: no verified manifest hash to check '%s' against",
				  rq->name, rq->version, rq->kind);
	if ((ret = get_record(src, key, rq, a, e)) == 0 &&
	    (ret = get_blob(src, rq, a, e)) == 0 && rq->out != NULL) {
		ret = ni_write_file_atomic(rq->out, a->data, (size_t)a->size, 0644, e);
		free(a->data);
		a->data = NULL;
	}
	if (ret != 0)
		cache_attach_free(a);
	return ret;
}

void cache_attach_free(struct cache_attachment *a)
{
	free(a->data);
	a->data = NULL;
}

int cache_attach_list(struct cache_source *src, const char *name,
		      const char *version, json_t **kinds, struct ni_err *e)
{
	char rel[300];
	uint8_t *buf = NULL;
	size_t len, i;
	json_t *j, *v, *list;
	int ret;

	*kinds = json_array();
	snprintf(rel, sizeof(rel), "attachments/%s/%s.json", name, version);
	ret = cache_source_get(src, rel, RECORD_MAX, &buf, &len, e);
	if (ret == NI_ENOENT)
		return 0;
	if (ret != 0)
		goto fail;
	j = json_loadb((const char *)buf, len, 0, NULL);
	free(buf);
	list = json_object_get(j, "attachments");
	if (!json_is_array(list))
		ret = ni_err_set(e, NI_EINVAL, "%s: malformed", rel);
	json_array_foreach(list, i, v) {
		const char *k = str(v, "kind");

		if (k == NULL || !img_valid_kind(k)) {
			ret = ni_err_set(e, NI_EINVAL, "%s: malformed", rel);
			break;
		}
		json_array_append_new(*kinds, json_string(k));
	}
	json_decref(j);
	if (ret == 0)
		return 0;
fail:
	json_decref(*kinds);
	*kinds = NULL;
	return ret;
}
