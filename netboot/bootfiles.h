/* bootfiles.h: what a version boots with: its kernel, its netboot
 * initramfs (the one publish listed in the signed manifest, or a newer
 * one `netimg initrd` attached later) and its kernel command line.
 * Boot files are content-named static files in DIR/public/boot/. */
#ifndef NB_BOOTFILES_H
#define NB_BOOTFILES_H

#include <jansson.h>

#include "common/err.h"
#include "images/repo.h"

struct nb_bootfiles {
	char *kernel;          /* relative to public/: boot/<sha256>.vmlinuz */
	char *initramfs;       /* boot/<sha256>.initramfs */
	char *cmdline;         /* "" when none */
	char *kernel_release;
};

/* From the verified manifest man (its hash manifest_hex); the initramfs
 * is the newest one attached by `netimg initrd` (blobs/<sha256>) when its
 * signed record verifies and names this manifest. NI_ENOENT when the
 * version has no boot files (no [boot] in its build record). */
int nb_bootfiles_of(const struct img_repo *r, const char *name,
		    const char *version, json_t *man, const char *manifest_hex,
		    struct nb_bootfiles *bf, struct ni_err *e);
void nb_bootfiles_free(struct nb_bootfiles *bf);
/* A boot file's path: boot/ + 64 hex + .vmlinuz or .initramfs, or an
 * attachment's blobs/ + 64 hex. */
int nb_valid_boot_path(const char *p);

#endif
