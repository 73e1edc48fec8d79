/* repo_sign.c: reading and writing the repository's signed files (channel
 * pointers, attachment records) with its own key pair. */
#include "images/repo.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/hash.h"
#include "images/keys.h"
#include "images/sign.h"

#define SIGNED_MAX (16u << 20)

int img_repo_keys(const struct img_repo *r, EVP_PKEY **priv, EVP_PKEY **pub,
		  struct ni_err *e)
{
	char *kpriv = img_key_private_path(r->dir);
	char *kpub = img_key_public_path(r->dir);
	int ret;

	*priv = NULL;
	if (pub != NULL)
		*pub = NULL;
	if (kpriv == NULL || kpub == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	else if (access(kpriv, F_OK) != 0)
		ret = ni_err_set(e, NI_ENOENT, "%s: no signing key (run netimg keygen --repo %s)",
				 r->dir, r->dir);
	else if ((ret = img_key_load_private(kpriv, priv, e)) == 0 && pub != NULL)
		ret = img_key_load_public(kpub, pub, e);
	if (ret != 0) {
		EVP_PKEY_free(*priv);
		*priv = NULL;
	}
	free(kpriv);
	free(kpub);
	return ret;
}

int img_repo_read_signed(const struct img_repo *r, EVP_PKEY *pub,
			 const char *rel, json_t **out, char **raw,
			 size_t *raw_len, struct ni_err *e)
{
	char *path = img_repo_path(r, rel), *buf = NULL;
	const void *payload;
	size_t len, plen;
	int ret;

	*out = NULL;
	if (raw != NULL)
		*raw = NULL;
	if (path == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	if (access(path, F_OK) != 0) {
		ret = ni_err_set(e, NI_ENOENT, "%s: no such file", path);
		free(path);
		return ret;
	}
	ret = ni_read_file(path, SIGNED_MAX, &buf, &len, e);
	if (ret == 0)
		ret = img_open_signed(pub, path, buf, len, &payload, &plen, NULL, e);
	if (ret == 0 && ((*out = json_loadb(payload, plen, 0, NULL)) == NULL ||
			 !json_is_object(*out))) {
		json_decref(*out);
		*out = NULL;
		ret = ni_err_set(e, NI_EINVAL, "%s: signed, but malformed", path);
	}
	if (ret == 0 && raw != NULL) {
		*raw = buf;
		*raw_len = len;
		buf = NULL;
	}
	free(buf);
	free(path);
	return ret;
}

int img_repo_write_signed(const struct img_repo *r, EVP_PKEY *priv,
			  const char *rel, json_t *j, unsigned char *sha,
			  struct ni_err *e)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS), *out = NULL;
	size_t len;
	int ret;

	if (text == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	ret = img_sign(priv, text, strlen(text), &out, &len, e);
	free(text);
	if (ret == 0)
		ret = img_repo_write(r, rel, out, len, e);
	if (ret == 0 && sha != NULL)
		ni_sha256_buf(out, len, sha);
	free(out);
	return ret;
}
