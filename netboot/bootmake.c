/* bootmake.c: the boot files of a version, made at publish time. */
#include "netboot/bootmake.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "images/channel.h"
#include "images/keys.h"
#include "images/repo.h"
#include "images/sign.h"
#include "netboot/initramfs.h"
#include "netboot/kernel.h"

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

int nb_channel_floors(const char *repo_dir, json_t **out, struct ni_err *e)
{
	struct img_repo r;
	char *dir = NULL, *pub_path = ni_path_join(repo_dir, IMG_KEY_PUBLIC);
	EVP_PKEY *pub = NULL;
	struct dirent *de;
	DIR *d;
	int ret;

	*out = json_object();
	if (pub_path == NULL || *out == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	ret = img_repo_open(&r, repo_dir, 0, e);
	if (ret == 0)
		ret = img_key_load_public(pub_path, &pub, e);
	if (ret == 0 && (dir = img_repo_path(&r, "channels")) == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	d = ret == 0 ? opendir(dir) : NULL;
	while (d != NULL && ret == 0 && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name), len, plen;
		char c[80], *path, *buf = NULL;
		const void *payload;
		json_t *j;

		if (n <= 5 || n - 5 >= sizeof(c) || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(c, sizeof(c), "%.*s", (int)(n - 5), de->d_name);
		if (!img_valid_channel(c) || (path = ni_path_join(dir, de->d_name)) == NULL)
			continue;
		ret = ni_read_file(path, 16u << 20, &buf, &len, e);
		if (ret == 0)
			ret = img_open_signed(pub, path, buf, len, &payload, &plen, NULL, e);
		if (ret == 0 && (j = json_loadb(payload, plen, 0, NULL)) != NULL) {
			json_object_set(*out, c, json_object_get(j, "serial"));
			json_decref(j);
		}
		free(buf);
		free(path);
	}
	if (d != NULL)
		closedir(d);
	free(dir);
	free(pub_path);
	EVP_PKEY_free(pub);
	img_repo_close(&r);
	return ret;
}

/* Copies file into public/boot/<sha256>SUFFIX; *out {"path", "sha256", "size"}. */
static int put(const char *repo_dir, const char *file, const char *suffix,
	       json_t **out, struct ni_err *e)
{
	struct img_repo r;
	char *buf = NULL, hex[NI_SHA256_HEX], rel[128];
	uint8_t d[NI_SHA256_LEN];
	size_t len;
	int ret = img_repo_open(&r, repo_dir, 0, e);

	if (ret == 0)
		ret = ni_read_file(file, 1u << 30, &buf, &len, e);
	if (ret == 0) {
		ni_sha256_buf(buf, len, d);
		ni_hex(d, sizeof(d), hex);
		snprintf(rel, sizeof(rel), "boot/%s%s", hex, suffix);
		ret = img_repo_write(&r, rel, buf, len, e);
	}
	if (ret == 0 && (*out = json_pack("{s:s, s:s, s:I}", "path", rel, "sha256", hex,
					  "size", (json_int_t)len)) == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	free(buf);
	img_repo_close(&r);
	return ret;
}

int nb_initramfs_publish(const char *repo_dir, const char *modules,
			 json_t **file, struct ni_err *e)
{
	char tmpl[] = "/tmp/netimg-initramfs.XXXXXX", *out = NULL;
	char *init = nb_init_path(), *pub = ni_path_join(repo_dir, IMG_KEY_PUBLIC);
	const char *bb = getenv("NETIMG_BUSYBOX");
	struct nb_initramfs_opts o = { .modules = modules };
	json_t *floors = NULL;
	int ret = 0;

	if (mkdtemp(tmpl) == NULL)
		ret = ni_err_errno(e, errno, "cannot make a temporary folder");
	else if ((out = ni_path_join(tmpl, "initramfs")) == NULL || init == NULL || pub == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	if (ret == 0)
		ret = nb_channel_floors(repo_dir, &floors, e);
	o.init = init;
	o.busybox = bb && *bb ? bb : "/bin/busybox";
	o.pubkey = pub;
	o.floors = floors;
	o.out = out;
	if (ret == 0)
		ret = nb_initramfs_build(&o, e);
	if (ret == 0)
		ret = put(repo_dir, out, ".initramfs", file, e);
	if (out != NULL)
		unlink(out);
	rmdir(tmpl);
	json_decref(floors);
	free(out);
	free(init);
	free(pub);
	return ret;
}

static char *kernel_path(const char *k, const char *recipe_path)
{
	char *p;

	if (k[0] == '/' || access(k, F_OK) == 0 || recipe_path == NULL)
		return strdup(k);
	p = ni_path_relative_to(recipe_path, k);
	return p;
}

int nb_boot_make(const char *repo_dir, const char *image, json_t *boot,
		 const char *recipe_path, json_t **out, struct ni_err *e)
{
	const char *k = json_string_value(json_object_get(boot, "kernel"));
	const char *rel = json_string_value(json_object_get(boot, "kernel_release"));
	char tmpl[] = "/tmp/netimg-kernel.XXXXXX", release[256] = "", *deb = NULL;
	char *vmlinuz = NULL, *modules = NULL;
	json_t *kf = NULL, *inf = NULL;
	int ret = 0;

	*out = NULL;
	if (k == NULL)
		return ni_err_set(e, NI_EINVAL, "%s: the build record's [boot] names no kernel", image);
	if (mkdtemp(tmpl) == NULL)
		return ni_err_errno(e, errno, "cannot make a temporary folder");
	if (strcmp(k, "image") == 0) {
		if (rel == NULL)
			ret = ni_err_set(e, NI_EINVAL, "%s: the build record names no kernel release", image);
		else {
			snprintf(release, sizeof(release), "%s", rel);
			ret = nb_kernel_from_image(image, release, tmpl, e);
		}
	} else if ((deb = kernel_path(k, recipe_path)) == NULL) {
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	} else {
		ret = nb_kernel_from_deb(deb, tmpl, release, sizeof(release), e);
	}
	if (ret == 0 && (asprintf(&vmlinuz, "%s/vmlinuz", tmpl) < 0 ||
			 asprintf(&modules, "%s/lib/modules/%s", tmpl, release) < 0))
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	if (ret == 0 && access(modules, F_OK) != 0)
		ret = ni_err_set(e, NI_ENOENT, "%s: no modules for kernel %s (lib/modules/%s)",
				 deb ? deb : image, release, release);
	if (ret == 0)
		ret = put(repo_dir, vmlinuz, ".vmlinuz", &kf, e);
	if (ret == 0)
		ret = nb_initramfs_publish(repo_dir, modules, &inf, e);
	if (ret == 0 && (*out = json_pack("{s:s, s:{s:o, s:o}}", "kernel_release", release,
					  "files", "kernel", kf, "initramfs", inf)) == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	if (ret != 0) {
		json_decref(kf);
		json_decref(inf);
	}
	rm_tree(tmpl);
	free(deb);
	free(vmlinuz);
	free(modules);
	return ret;
}
