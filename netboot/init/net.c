/* net.c: the network, through busybox's udhcpc (Debian's busybox-static). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netboot/init/init.h"

#define LINK_WAIT_S 15     /* for the NIC's driver to register it */
#define DHCP_TRIES 3

/* The first interface that is not the loopback (sorted by name). */
static int first_iface(char *out, size_t n)
{
	struct dirent **names;
	int k, i, found = 0;

	k = scandir("/sys/class/net", &names, NULL, alphasort);
	for (i = 0; i < k; i++) {
		if (!found && names[i]->d_name[0] != '.' && strcmp(names[i]->d_name, "lo") != 0) {
			snprintf(out, n, "%.63s", names[i]->d_name);
			found = 1;
		}
		free(names[i]);
	}
	if (k >= 0)
		free(names);
	return found ? 0 : -1;
}

static int run(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int net_up(void)
{
	char ifname[64];
	char *lo[] = { "/bin/busybox", "ip", "link", "set", "lo", "up", NULL };
	char *dhcp[] = { "/bin/busybox", "udhcpc", "-i", ifname, "-s", INIT_ETC "/udhcpc.script",
			 "-n", "-q", "-f", "-t", "4", "-T", "2", NULL };
	int i, t;

	for (t = 0; first_iface(ifname, sizeof(ifname)) != 0; t++) {
		if (t >= LINK_WAIT_S * 10) {
			say("no network interface appeared in %d s (is its driver in the initramfs?)",
			    LINK_WAIT_S);
			return -1;
		}
		usleep(100000);
	}
	run(lo);
	for (i = 1; i <= DHCP_TRIES; i++) {
		if (run(dhcp) == 0)
			return 0;
		say("%s: no DHCP answer (try %d of %d)", ifname, i, DHCP_TRIES);
	}
	say("%s: no DHCP lease after %d tries", ifname, DHCP_TRIES);
	return -1;
}
