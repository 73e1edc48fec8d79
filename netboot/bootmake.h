/* bootmake.h: the boot files of a version, made when it is published
 * (before its manifest is signed, which lists them): the kernel and the
 * netboot initramfs built for it, as content-named files in
 * DIR/public/boot/. `netimg publish` (cli/) calls this and hands the
 * result to img_publish, so images/ never depends on netboot/. */
#ifndef NB_BOOTMAKE_H
#define NB_BOOTMAKE_H

#include <jansson.h>

#include "common/err.h"

/* boot is the build record's "boot" ({"kernel": "image" | PATH.deb,
 * "cmdline", "kernel_release"}); image the squashfs; a relative kernel
 * path is taken from the current folder, else from the recipe's folder
 * (recipe_path). *out: {"kernel_release": R, "files": {"kernel":
 * {"path", "sha256", "size"}, "initramfs": {...}}} for the manifest. */
int nb_boot_make(const char *repo_dir, const char *image, json_t *boot,
		 const char *recipe_path, json_t **out, struct ni_err *e);

/* Builds an initramfs for kernel release with the repository's key and
 * current channel serials into public/boot/; *file is {"path", "sha256",
 * "size"}. modules is lib/modules/RELEASE/ of that kernel. */
int nb_initramfs_publish(const char *repo_dir, const char *modules,
			 json_t **file, struct ni_err *e);

/* {"CHANNEL": serial} of every channel's verified pointer. */
int nb_channel_floors(const char *repo_dir, json_t **out, struct ni_err *e);

#endif
