/* pxeconf.h: the dnsmasq configuration `netimg pxe-config` prints: proxy
 * DHCP beside a network's existing DHCP server (which keeps handing out
 * addresses) and TFTP, so that PXE firmware chainloads Debian's iPXE
 * (package ipxe: undionly.kpxe for BIOS, snponly.efi for UEFI) and iPXE
 * then fetches the repository's boot.ipxe over HTTP. */
#ifndef NB_PXECONF_H
#define NB_PXECONF_H

#include "common/err.h"

#define NB_IPXE_DIR "/usr/lib/ipxe"   /* where Debian's ipxe puts them */

struct nb_pxe_opts {
	const char *url;        /* the repository's base URL (first of a list) */
	const char *interface;  /* NULL: every interface */
	const char *subnet;     /* the network's address; NULL: the interface's */
	const char *tftp_root;  /* NULL: NB_IPXE_DIR */
};

/* *out: the configuration text (malloc'd). The subnet is the one given,
 * else the IPv4 network of the interface. */
int nb_pxe_config(const struct nb_pxe_opts *o, char **out, struct ni_err *e);

#endif
