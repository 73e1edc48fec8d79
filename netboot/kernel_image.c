/* kernel_image.c: a kernel and its modules out of the image itself
 * (/boot/vmlinuz-RELEASE and /lib/modules/RELEASE/), read with
 * libsquashfs. */
#include "netboot/kernel.h"

int nb_kernel_from_image(const char *sqfs, const char *release,
			 const char *dir, struct ni_err *e)
{
	(void)dir;
	return ni_err_set(e, NI_EINVAL,
			  "%s: [boot] kernel = image is not netbooted yet: name a linux-image .deb (kernel %s)",
			  sqfs, release);
}
