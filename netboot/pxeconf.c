/* pxeconf.c: a dnsmasq proxy-DHCP and TFTP configuration for PXE -> iPXE. */
#include "netboot/pxeconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netboot/ipxe.h"

/* The IPv4 network address of interface ifname. */
static int iface_subnet(const char *ifname, char out[INET_ADDRSTRLEN],
			struct ni_err *e)
{
	struct ifaddrs *ifa, *i;
	int found = 0;

	if (getifaddrs(&ifa) != 0)
		return ni_err_errno(e, errno, "cannot list the network interfaces");
	for (i = ifa; i != NULL && !found; i = i->ifa_next) {
		struct in_addr net;

		if (i->ifa_addr == NULL || i->ifa_netmask == NULL ||
		    i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, ifname) != 0)
			continue;
		net.s_addr = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr &
			     ((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr;
		found = inet_ntop(AF_INET, &net, out, INET_ADDRSTRLEN) != NULL;
	}
	freeifaddrs(ifa);
	return found ? 0 : ni_err_set(e, NI_ENOENT,
				      "interface %s: no IPv4 address (give --subnet)", ifname);
}

int nb_pxe_config(const struct nb_pxe_opts *o, char **out, struct ni_err *e)
{
	char net[INET_ADDRSTRLEN], boot[1024];
	const char *root = o->tftp_root ? o->tftp_root : NB_IPXE_DIR;
	struct in_addr a;
	size_t n = strlen(o->url);
	int ret;

	*out = NULL;
	if ((strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0) ||
	    strchr(o->url, ' ') || strchr(o->url, ',') || nb_ipxe_safe(o->url) != 0)
		return ni_err_set(e, NI_EINVAL, "--url '%s': expected the repository's http:// URL",
				  o->url);
	if (o->interface != NULL && (strlen(o->interface) >= 16 || nb_ipxe_safe(o->interface) ||
				     strpbrk(o->interface, " ,/") != NULL))
		return ni_err_set(e, NI_EINVAL, "--interface '%s': not an interface name",
				  o->interface);
	if (o->subnet != NULL) {
		if (inet_pton(AF_INET, o->subnet, &a) != 1)
			return ni_err_set(e, NI_EINVAL, "--subnet '%s': expected an IPv4 network address",
					  o->subnet);
		snprintf(net, sizeof(net), "%s", o->subnet);
	} else if (o->interface != NULL) {
		if ((ret = iface_subnet(o->interface, net, e)) != 0)
			return ret;
	} else {
		return ni_err_set(e, NI_EUSAGE, "give --interface IF or --subnet NET: proxy DHCP needs the network's address");
	}
	snprintf(boot, sizeof(boot), "%s%sboot.ipxe", o->url, n && o->url[n - 1] == '/' ? "" : "/");
	if (asprintf(out,
		"# dnsmasq configuration written by netimg pxe-config.\n"
		"# Proxy DHCP beside the network's own DHCP server, which keeps handing\n"
		"# out addresses; dnsmasq only adds the boot information. PXE firmware\n"
		"# gets Debian's iPXE over TFTP (package ipxe), iPXE gets boot.ipxe over\n"
		"# HTTP. Install as /etc/dnsmasq.d/netimg.conf (packages dnsmasq, ipxe).\n"
		"\n"
		"# No DNS service: this dnsmasq does boot only.\n"
		"port=0\n"
		"%s%s%s"
		"dhcp-range=%s,proxy\n"
		"log-dhcp\n"
		"\n"
		"# TFTP for the firmware's first step.\n"
		"enable-tftp\n"
		"tftp-root=%s\n"
		"\n"
		"# iPXE says who it is with DHCP option 175.\n"
		"dhcp-match=set:ipxe,175\n"
		"\n"
		"# PXE firmware (not yet iPXE): chainload Debian's iPXE.\n"
		"pxe-service=tag:!ipxe,x86PC,\"netimg: loading iPXE\",undionly.kpxe\n"
		"pxe-service=tag:!ipxe,BC_EFI,\"netimg: loading iPXE\",snponly.efi\n"
		"pxe-service=tag:!ipxe,X86-64_EFI,\"netimg: loading iPXE\",snponly.efi\n"
		"\n"
		"# iPXE: the repository's boot.ipxe, which chains by MAC to each\n"
		"# machine's script.\n"
		"pxe-service=tag:ipxe,x86PC,\"netimg\",%s\n"
		"pxe-service=tag:ipxe,BC_EFI,\"netimg\",%s\n"
		"pxe-service=tag:ipxe,X86-64_EFI,\"netimg\",%s\n"
		"dhcp-boot=tag:ipxe,%s\n",
		o->interface ? "interface=" : "", o->interface ? o->interface : "",
		o->interface ? "\nbind-interfaces\n" : "",
		net, root, boot, boot, boot, boot) < 0) {
		*out = NULL;
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	}
	return 0;
}
