/* bootfiles.c: a version's boot files, from its manifest. */
#include "netboot/bootfiles.h"

#include <stdlib.h>
#include <string.h>

int nb_valid_boot_path(const char *p)
{
	const char *dot;

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

int nb_bootfiles_of(const struct img_repo *r, const char *name,
		    const char *version, json_t *man, const char *manifest_hex,
		    struct nb_bootfiles *bf, struct ni_err *e)
{
	json_t *boot = json_object_get(man, "boot");
	json_t *files = json_object_get(boot, "files");
	const char *k = file_path(files, "kernel"), *i = file_path(files, "initramfs");
	const char *cmd = json_string_value(json_object_get(boot, "cmdline"));
	const char *rel = json_string_value(json_object_get(boot, "kernel_release"));

	(void)r;
	(void)manifest_hex;
	memset(bf, 0, sizeof(*bf));
	if (!json_is_object(boot) || files == NULL)
		return NI_ENOENT;
	if (!nb_valid_boot_path(k) || !nb_valid_boot_path(i) || rel == NULL)
		return ni_err_set(e, NI_EINVAL, "%s@%s: the manifest's boot files are malformed",
				  name, version);
	bf->kernel = strdup(k);
	bf->initramfs = strdup(i);
	bf->cmdline = strdup(cmd ? cmd : "");
	bf->kernel_release = strdup(rel);
	if (!bf->kernel || !bf->initramfs || !bf->cmdline || !bf->kernel_release) {
		nb_bootfiles_free(bf);
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	return 0;
}
