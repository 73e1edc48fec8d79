/* initrd.h: `netimg initrd --repo DIR NAME@VERSION`: rebuilds a version's
 * netboot initramfs later (a new repository key, a fixed init, newer
 * serial floors) and adds it as the version's "initrd" attachment; the
 * manifest never changes. The kernel modules are the ones of the
 * initramfs publish made (the manifest lists it), so neither the kernel
 * package nor the image is needed again. The channel scripts then name
 * the attachment's blob (netboot/bootfiles.h). */
#ifndef NB_INITRD_H
#define NB_INITRD_H

#include <stdint.h>

#include "common/err.h"
#include "common/hash.h"

#define NB_INITRD_KIND "initrd"

struct nb_initrd_result {
	char sha256[NI_SHA256_HEX];
	uint64_t size;
	int scripts;          /* 1 when the iPXE scripts were rewritten */
};

int nb_initrd_rebuild(const char *repo_dir, const char *target, const char *who,
		      struct nb_initrd_result *r, struct ni_err *e);

#endif
