/* sys.c: the initramfs's mounts, kernel modules and reboot. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "netboot/init/init.h"

void say(const char *fmt, ...)
{
	va_list ap;

	fputs("netimg: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static int mnt(const char *src, const char *dst, const char *type,
	       unsigned long flags, const char *data)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, flags, data) != 0 && errno != EBUSY) {
		say("cannot mount %s on %s: %s", type, dst, strerror(errno));
		return -1;
	}
	return 0;
}

int sys_mounts(void)
{
	return mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) |
	       mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) |
	       mnt("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") |
	       /* the image lives here, in RAM: most of it may be needed */
	       mnt("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=90%");
}

/* Loads each module named in INIT_ETC/modules (file names under
 * /lib/modules, dependencies listed before their users). A module the
 * kernel already has is fine; one that fails is said and skipped: the
 * step that needs it says what failed. */
void sys_modules(void)
{
	FILE *f = fopen(INIT_ETC "/modules", "r");
	char line[512], path[600];
	int fd;

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0')
			continue;
		snprintf(path, sizeof(path), "/lib/modules/%s", line);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			say("module %s: %s", line, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
			say("module %s: %s", line, strerror(errno));
		close(fd);
	}
	fclose(f);
}

void sys_reboot(int delay_s)
{
	say("rebooting in %d s", delay_s);
	sleep((unsigned)delay_s);
	sync();
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

uint64_t sys_mem_available(void)
{
	struct statvfs sv;
	uint64_t run = UINT64_MAX;
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	unsigned long long kb = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	if (f != NULL)
		fclose(f);
	if (statvfs("/run", &sv) == 0)
		run = (uint64_t)sv.f_bavail * sv.f_frsize;
	return (uint64_t)kb * 1024 < run ? (uint64_t)kb * 1024 : run;
}

const char *sys_release(void)
{
	static struct utsname u;

	if (u.release[0] == '\0')
		uname(&u);
	return u.release;
}
