/* initramfs.h: the netboot initramfs: a cpio (newc) archive, compressed
 * with zstd, written with libarchive. It holds the project's init
 * (netimg-init, linked statically; one linked dynamically gets the shared
 * libraries ldd names), busybox (udhcpc),
 * the kernel modules for NICs, squashfs, loop and overlay with their
 * dependencies, the repository's public key, the channels' serials as a
 * floor against replayed pointers, and the CA certificates for https. */
#ifndef NB_INITRAMFS_H
#define NB_INITRAMFS_H

#include <jansson.h>

#include "common/err.h"

struct nb_initramfs_opts {
	const char *modules;     /* lib/modules/RELEASE/ of the kernel */
	const char *init;        /* the netimg-init binary */
	const char *busybox;     /* busybox (Debian's busybox-static) */
	const char *pubkey;      /* the repository's repo.pub */
	json_t *floors;          /* {"CHANNEL": serial, ...} */
	const char *out;         /* written atomically */
};

int nb_initramfs_build(const struct nb_initramfs_opts *o, struct ni_err *e);

/* Where netimg finds its init: $NETIMG_INIT, else netimg-init beside the
 * running binary, else /usr/lib/netimg/netimg-init. malloc'd. */
char *nb_init_path(void);

#endif
