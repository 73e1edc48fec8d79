/* initrd.c: a version's initramfs rebuilt as an attachment. */
#include "netboot/initrd.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "images/attach.h"
#include "images/keys.h"
#include "images/manifest.h"
#include "images/repo.h"
#include "netboot/bootfiles.h"
#include "netboot/bootmake.h"
#include "netboot/initramfs.h"
#include "netboot/ipxe.h"

/* The modules (lib/modules/X.ko) of a published initramfs, into dir. */
static int extract_modules(const char *initramfs, const char *dir, struct ni_err *e)
{
	struct archive *a = archive_read_new();
	struct archive_entry *en;
	char buf[65536];
	int r, ret = 0, n = 0;

	if (a == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	archive_read_support_filter_all(a);
	archive_read_support_format_cpio(a);
	if (archive_read_open_filename(a, initramfs, 65536) != ARCHIVE_OK)
		ret = ni_err_set(e, NI_EARCHIVE, "%s: %s", initramfs, archive_error_string(a));
	while (ret == 0 && (r = archive_read_next_header(a, &en)) == ARCHIVE_OK) {
		const char *p = archive_entry_pathname(en), *b;
		char *path;
		la_ssize_t k;
		int fd;

		if (strncmp(p, "lib/modules/", 12) != 0 || archive_entry_filetype(en) != AE_IFREG)
			continue;
		b = p + 12;
		if (strchr(b, '/') != NULL || strstr(b, "..") != NULL || strlen(b) < 4 ||
		    strcmp(b + strlen(b) - 3, ".ko") != 0)
			continue;
		if ((path = ni_path_join(dir, b)) == NULL)
			return ni_err_set(e, NI_ENOMEM, "out of memory");
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
			ret = ni_err_errno(e, errno, "%s", path);
		while (ret == 0 && (k = archive_read_data(a, buf, sizeof(buf))) != 0) {
			if (k < 0)
				ret = ni_err_set(e, NI_EARCHIVE, "%s: %s", initramfs, archive_error_string(a));
			else if (ni_write_all(fd, buf, (size_t)k) != 0)
				ret = ni_err_errno(e, errno, "%s", path);
		}
		if (fd >= 0)
			close(fd);
		free(path);
		n++;
	}
	if (ret == 0 && r != ARCHIVE_EOF)
		ret = ni_err_set(e, NI_EARCHIVE, "%s: %s", initramfs, archive_error_string(a));
	if (ret == 0 && n == 0)
		ret = ni_err_set(e, NI_EINVAL, "%s: no kernel modules in it (not a netimg initramfs?)",
				 initramfs);
	archive_read_free(a);
	return ret;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* The manifest's initramfs, verified with the repository's key. */
static int manifest_initramfs(const char *repo_dir, const char *target, char **path,
			      struct ni_err *e)
{
	struct img_repo r;
	char *name = NULL, *version = NULL, *rel = NULL, *mpath = NULL, *buf = NULL;
	char *pub = ni_path_join(repo_dir, IMG_KEY_PUBLIC);
	EVP_PKEY *key = NULL;
	json_t *m = NULL;
	const char *ip;
	size_t len;
	int ret = img_repo_open(&r, repo_dir, 0, e);

	*path = NULL;
	if (ret == 0)
		ret = img_split_version(target, &name, &version, e);
	if (ret == 0 && ((rel = img_manifest_path(name, version)) == NULL ||
			 (mpath = img_repo_path(&r, rel)) == NULL || pub == NULL))
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	if (ret == 0 && access(mpath, F_OK) != 0)
		ret = ni_err_set(e, NI_ENOENT, "%s: not published in %s", target, repo_dir);
	if (ret == 0)
		ret = img_key_load_public(pub, &key, e);
	if (ret == 0)
		ret = ni_read_file(mpath, 16u << 20, &buf, &len, e);
	if (ret == 0)
		ret = img_manifest_open(key, mpath, buf, len, &m, e);
	ip = json_string_value(json_object_get(json_object_get(json_object_get(
		json_object_get(m, "boot"), "files"), "initramfs"), "path"));
	if (ret == 0 && ip == NULL)
		ret = ni_err_set(e, NI_ENOENT, "%s has no boot files (its build record had no [boot] section)",
				 target);
	if (ret == 0 && !nb_valid_boot_path(ip))
		ret = ni_err_set(e, NI_EINVAL, "%s: the manifest's boot files are malformed", target);
	if (ret == 0 && (*path = img_repo_path(&r, ip)) == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	json_decref(m);
	EVP_PKEY_free(key);
	free(buf);
	free(mpath);
	free(rel);
	free(name);
	free(version);
	free(pub);
	img_repo_close(&r);
	return ret;
}

int nb_initrd_rebuild(const char *repo_dir, const char *target, const char *who,
		      struct nb_initrd_result *res, struct ni_err *e)
{
	char tmpl[] = "/tmp/netimg-initrd.XXXXXX", *old = NULL, *mods = NULL, *out = NULL;
	char *init = nb_init_path(), *pub = ni_path_join(repo_dir, IMG_KEY_PUBLIC);
	const char *bb = getenv("NETIMG_BUSYBOX");
	struct nb_initramfs_opts o = { 0 };
	struct img_attach_opts ao = { .repo = repo_dir, .target = target,
				      .kind = NB_INITRD_KIND, .who = who };
	struct img_attach_result ar;
	struct nb_ipxe_opts io = { .repo = repo_dir };
	struct nb_ipxe_result ir;
	json_t *floors = NULL;
	int ret = 0, made = 0;

	memset(res, 0, sizeof(*res));
	if (init == NULL || pub == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	if (ret == 0)
		ret = manifest_initramfs(repo_dir, target, &old, e);
	if (ret == 0 && mkdtemp(tmpl) == NULL)
		ret = ni_err_errno(e, errno, "cannot make a temporary folder");
	else if (ret == 0)
		made = 1;
	if (ret == 0 && ((mods = ni_path_join(tmpl, "modules")) == NULL ||
			 (out = ni_path_join(tmpl, "initramfs")) == NULL))
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	if (ret == 0)
		ret = ni_mkdir_p(mods, 0755, e);
	if (ret == 0)
		ret = extract_modules(old, mods, e);
	if (ret == 0)
		ret = nb_channel_floors(repo_dir, &floors, e);
	o.modules = mods;
	o.init = init;
	o.busybox = bb && *bb ? bb : "/bin/busybox";
	o.pubkey = pub;
	o.floors = floors;
	o.out = out;
	ao.file = out;
	if (ret == 0)
		ret = nb_initramfs_build(&o, e);
	if (ret == 0)
		ret = img_attach(&ao, &ar, e);
	if (ret == 0) {
		snprintf(res->sha256, sizeof(res->sha256), "%s", ar.sha256);
		res->size = ar.size;
	}
	/* The channel scripts name the new blob, when netboot is set up. */
	if (ret == 0) {
		ret = nb_ipxe_setup(&io, &ir, e);
		if (ret == NI_EUSAGE)
			ret = 0;
		else
			res->scripts = ret == 0;
	}
	if (made)
		nftw(tmpl, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	json_decref(floors);
	free(old);
	free(mods);
	free(out);
	free(init);
	free(pub);
	return ret;
}
