/* bootfiles.c: a version's boot files, from its manifest. */
#include "netboot/bootfiles.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "images/keys.h"
#include "images/sign.h"
#include "netboot/initrd.h"

int nb_valid_boot_path(const char *p)
{
	const char *dot;

	if (p != NULL && strncmp(p, "blobs/", 6) == 0)
		return strlen(p + 6) == 64 && strspn(p + 6, "0123456789abcdef") == 64;
	if (p == NULL || strncmp(p, "boot/", 5) != 0)
		return 0;
	p += 5;
	dot = strchr(p, '.');
	return dot == p + 64 && strspn(p, "0123456789abcdef") == 64 &&
	       (strcmp(dot, ".vmlinuz") == 0 || strcmp(dot, ".initramfs") == 0);
}

void nb_bootfiles_free(struct nb_bootfiles *bf)
{
	free(bf->kernel);
	free(bf->initramfs);
	free(bf->cmdline);
	free(bf->kernel_release);
	memset(bf, 0, sizeof(*bf));
}

static const char *file_path(json_t *files, const char *what)
{
	return json_string_value(json_object_get(json_object_get(files, what), "path"));
}

/* A newer initramfs attached with `netimg initrd`: its blob, when the
 * signed record verifies and names this very manifest; else NULL. */
static char *attached_initramfs(const struct img_repo *r, const char *name,
				const char *version, const char *manifest_hex,
				struct ni_err *e)
{
	char rel[300], *path, *buf = NULL, *pub_path = ni_path_join(r->dir, IMG_KEY_PUBLIC);
	char *res = NULL;
	const void *payload;
	size_t len, plen;
	EVP_PKEY *pub = NULL;
	json_t *j = NULL;
	const char *sha;

	snprintf(rel, sizeof(rel), "attachments/%s/%s/%s.json", name, version, NB_INITRD_KIND);
	path = img_repo_path(r, rel);
	if (path != NULL && pub_path != NULL && access(path, F_OK) == 0 &&
	    img_key_load_public(pub_path, &pub, e) == 0 &&
	    ni_read_file(path, 1u << 20, &buf, &len, e) == 0 &&
	    img_open_signed(pub, path, buf, len, &payload, &plen, NULL, e) == 0 &&
	    (j = json_loadb(payload, plen, 0, NULL)) != NULL &&
	    strcmp(json_string_value(json_object_get(j, "manifest_sha256")) ?: "", manifest_hex) == 0 &&
	    strcmp(json_string_value(json_object_get(j, "kind")) ?: "", NB_INITRD_KIND) == 0 &&
	    (sha = json_string_value(json_object_get(j, "sha256"))) != NULL &&
	    strlen(sha) == 64 && strspn(sha, "0123456789abcdef") == 64 &&
	    asprintf(&res, "blobs/%s", sha) < 0)
		res = NULL;
	json_decref(j);
	EVP_PKEY_free(pub);
	free(buf);
	free(path);
	free(pub_path);
	return res;
}

int nb_bootfiles_of(const struct img_repo *r, const char *name,
		    const char *version, json_t *man, const char *manifest_hex,
		    struct nb_bootfiles *bf, struct ni_err *e)
{
	json_t *boot = json_object_get(man, "boot");
	json_t *files = json_object_get(boot, "files");
	const char *k = file_path(files, "kernel"), *i = file_path(files, "initramfs");
	const char *cmd = json_string_value(json_object_get(boot, "cmdline"));
	const char *rel = json_string_value(json_object_get(boot, "kernel_release"));

	memset(bf, 0, sizeof(*bf));
	if (!json_is_object(boot) || files == NULL)
		return NI_ENOENT;
	if (!nb_valid_boot_path(k) || !nb_valid_boot_path(i) || rel == NULL)
		return ni_err_set(e, NI_EINVAL, "%s@%s: the manifest's boot files are malformed",
				  name, version);
	bf->kernel = strdup(k);
	bf->initramfs = attached_initramfs(r, name, version, manifest_hex, e);
	if (bf->initramfs == NULL)
		bf->initramfs = strdup(i);
	bf->cmdline = strdup(cmd ? cmd : "");
	bf->kernel_release = strdup(rel);
	if (!bf->kernel || !bf->initramfs || !bf->cmdline || !bf->kernel_release) {
		nb_bootfiles_free(bf);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	return 0;
}
