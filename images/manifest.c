/* manifest.c: verified reading of manifests. */
#include "images/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "images/publish_internal.h"
#include "images/sign.h"

char *img_manifest_path(const char *name, const char *version)
{
	char *p;

	if (asprintf(&p, "versions/%s/%s.json", name, version) < 0)
		return NULL;
	return p;
}

int img_split_version(const char *spec, char **name, char **version,
		      struct ni_err *e)
{
	const char *at = strchr(spec, '@');

	*name = *version = NULL;
	if (at == NULL || at == spec || at[1] == '\0')
		return ni_err_set(e, NI_EINVAL, "'%s': expected NAME@VERSION", spec);
	*name = strndup(spec, (size_t)(at - spec));
	*version = strdup(at + 1);
	if (*name == NULL || *version == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	if (!img_valid_name(*name) || !img_valid_name(*version))
		return ni_err_set(e, NI_EINVAL, "'%s': not a valid NAME@VERSION", spec);
	return 0;
}

int img_manifest_open(EVP_PKEY *pub, const char *what, const void *buf,
		      size_t len, json_t **out, struct ni_err *e)
{
	const void *payload;
	size_t plen;
	json_error_t je;
	int ret;

	ret = img_open_signed(pub, what, buf, len, &payload, &plen, NULL, e);
	if (ret != 0)
		return ret;
	*out = json_loadb(payload, plen, 0, &je);
	if (*out == NULL || !json_is_object(*out) ||
	    !json_is_string(json_object_get(*out, "name")) ||
	    !json_is_string(json_object_get(*out, "version"))) {
		json_decref(*out);
		*out = NULL;
		return ni_err_set(e, NI_EINVAL, "%s: signed, but not a manifest", what);
	}
	return 0;
}

int img_manifest_open_as(EVP_PKEY *pub, const char *what, const void *buf,
			 size_t len, const char *name, const char *version,
			 json_t **out, struct ni_err *e)
{
	const char *n, *v;
	int ret = img_manifest_open(pub, what, buf, len, out, e);

	if (ret != 0)
		return ret;
	n = json_string_value(json_object_get(*out, "name"));
	v = json_string_value(json_object_get(*out, "version"));
	if (strcmp(n, name) != 0 || strcmp(v, version) != 0) {
		ret = ni_err_set(e, NI_EINVAL,
				 "%s: signed, but it is the manifest of %s@%s, not %s@%s (a mirror serves the wrong file)",
				 what, n, v, name, version);
		json_decref(*out);
		*out = NULL;
	}
	return ret;
}
