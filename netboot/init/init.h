/* init.h: the netboot initramfs's init (PID 1), a program of its own like
 * cli/: it prints to the console and decides what happens next. Steps:
 * mounts and modules (sys.c), network (net.c), the kernel command line,
 * the channel's verified pointer and the image fetched into RAM with the
 * same verified code as `netimg fetch` (main.c), then squashfs + tmpfs
 * overlay and switch_root (root.c). Files it reads from the initramfs:
 *
 *   /etc/netimg/repo.pub      the repository key (never one from a server)
 *   /etc/netimg/floors.json   {"CHANNEL": serial, ...} at build time
 *   /etc/netimg/modules       modules to load, in order (deps first)
 *   /etc/netimg/udhcpc.script busybox udhcpc's configuration script
 *   /bin/busybox              udhcpc
 */
#ifndef NB_INIT_H
#define NB_INIT_H

#include <stdint.h>

#define INIT_ETC "/etc/netimg"

/* Console output: one line each, prefixed "netimg: ". */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sys.c */
int sys_mounts(void);
void sys_modules(void);
/* Reboots after delay_s seconds (never returns). */
void sys_reboot(int delay_s) __attribute__((noreturn));
/* Bytes the image may take in RAM: the less of MemAvailable and the
 * free space of /run's tmpfs. */
uint64_t sys_mem_available(void);
/* uname -r */
const char *sys_release(void);

/* net.c: brings up the first network interface with DHCP (bounded). */
int net_up(void);

/* root.c: mounts image (a squashfs file under /run) read-only with a tmpfs
 * overlay at /newroot, writes booted.json, moves /run, switch_roots and
 * runs the image's init (returns only on failure, after saying why). */
struct booted {
	const char *channel, *target, *manifest_sha256, *fallback_from, *why;
	const char *init;      /* the image's init: init= of the command line, or /sbin/init */
	uint64_t serial;
};
int root_switch(const char *image, const struct booted *b);

#endif
