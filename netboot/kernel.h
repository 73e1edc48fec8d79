/* kernel.h: a kernel and its modules, from a Debian linux-image .deb or
 * from an image's own /boot and /lib/modules, unpacked into a folder for
 * the initramfs builder: DIR/vmlinuz and DIR/lib/modules/RELEASE/. */
#ifndef NB_KERNEL_H
#define NB_KERNEL_H

#include <stddef.h>

#include "common/err.h"

/* Unpacks boot/vmlinuz-R and lib/modules/R/ of deb into dir (which
 * exists) and writes R into release. */
int nb_kernel_from_deb(const char *deb, const char *dir, char *release,
		       size_t rn, struct ni_err *e);
/* The same from a squashfs image holding /boot/vmlinuz-RELEASE and
 * /lib/modules/RELEASE/ (release as its build record names it). */
int nb_kernel_from_image(const char *sqfs, const char *release,
			 const char *dir, struct ni_err *e);

#endif
