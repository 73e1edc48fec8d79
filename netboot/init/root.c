/* root.c: the image in RAM becomes the root: loop device, squashfs
 * read-only, tmpfs overlay on top, /run moved in (as dracut does, so that
 * /run/netimg/ survives into the system), switch_root, /sbin/init. */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "netboot/init/init.h"

#define NEWROOT "/newroot"
#define LOWER "/run/netimg/lower"
#define RW "/run/netimg/rw"

static int loop_attach(const char *image, char *dev, size_t n)
{
	struct loop_info64 info;
	int ctl, fd, lfd, nr, t;

	if ((ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC)) < 0) {
		say("/dev/loop-control: %s (is the loop module in the initramfs?)", strerror(errno));
		return -1;
	}
	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (nr < 0) {
		say("no free loop device: %s", strerror(errno));
		return -1;
	}
	snprintf(dev, n, "/dev/loop%d", nr);
	for (t = 0; (lfd = open(dev, O_RDWR | O_CLOEXEC)) < 0 && errno == ENOENT && t < 50; t++)
		usleep(20000);   /* devtmpfs makes the node */
	if (lfd < 0 || (fd = open(image, O_RDONLY | O_CLOEXEC)) < 0) {
		say("%s: %s", lfd < 0 ? dev : image, strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	if (ioctl(lfd, LOOP_SET_FD, fd) != 0) {
		say("%s: cannot attach %s: %s", dev, image, strerror(errno));
		close(fd);
		close(lfd);
		return -1;
	}
	memset(&info, 0, sizeof(info));
	info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
	ioctl(lfd, LOOP_SET_STATUS64, &info);
	close(fd);
	/* lfd stays open: with autoclear, the device lives while in use. */
	return 0;
}

static int write_booted(const struct booted *b)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s?, s:s?}",
			      "channel", b->channel, "version", b->target,
			      "manifest_sha256", b->manifest_sha256,
			      "pointer_serial", (json_int_t)b->serial,
			      "time", (json_int_t)time(NULL), "kernel", sys_release(),
			      "fallback_from", b->fallback_from, "fallback_reason", b->why);
	int ret = j ? json_dump_file(j, "/run/netimg/booted.json.tmp", JSON_INDENT(2) | JSON_SORT_KEYS) : -1;

	json_decref(j);
	if (ret == 0)
		ret = rename("/run/netimg/booted.json.tmp", "/run/netimg/booted.json");
	if (ret != 0)
		say("cannot write /run/netimg/booted.json");
	return ret;
}

int root_switch(const char *image, const struct booted *b)
{
	char dev[32], opts[256];

	if (loop_attach(image, dev, sizeof(dev)) != 0)
		return -1;
	mkdir(LOWER, 0755);
	mkdir(RW, 0755);
	mkdir(NEWROOT, 0755);
	if (mount(dev, LOWER, "squashfs", MS_RDONLY, NULL) != 0) {
		say("cannot mount the image (squashfs) from %s: %s", dev, strerror(errno));
		return -1;
	}
	if (mount("tmpfs", RW, "tmpfs", 0, "mode=0755") != 0 ||
	    mkdir(RW "/upper", 0755) != 0 || mkdir(RW "/work", 0755) != 0) {
		say("cannot make the writable layer: %s", strerror(errno));
		return -1;
	}
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", LOWER, RW, RW);
	if (mount("overlay", NEWROOT, "overlay", 0, opts) != 0) {
		say("cannot mount the overlay: %s (is the overlay module in the initramfs?)", strerror(errno));
		return -1;
	}
	snprintf(opts, sizeof(opts), NEWROOT "%s", b->init);
	if (access(opts, X_OK) != 0) {
		say("%s has no %s", b->target, b->init);
		return -1;
	}
	if (write_booted(b) != 0)
		return -1;
	mkdir(NEWROOT "/run", 0755);
	mkdir(NEWROOT "/proc", 0555);
	mkdir(NEWROOT "/sys", 0555);
	mkdir(NEWROOT "/dev", 0755);
	if (mount("/run", NEWROOT "/run", NULL, MS_MOVE, NULL) != 0 ||
	    mount("/proc", NEWROOT "/proc", NULL, MS_MOVE, NULL) != 0 ||
	    mount("/sys", NEWROOT "/sys", NULL, MS_MOVE, NULL) != 0 ||
	    mount("/dev", NEWROOT "/dev", NULL, MS_MOVE, NULL) != 0) {
		say("cannot move /run, /proc, /sys, /dev into the new root: %s", strerror(errno));
		return -1;
	}
	/* switch_root: the initramfs stays in RAM (it is small); the new
	 * root is moved over / and becomes the process's root. */
	if (chdir(NEWROOT) != 0 || mount(".", "/", NULL, MS_MOVE, NULL) != 0 ||
	    chroot(".") != 0 || chdir("/") != 0) {
		say("switch_root failed: %s", strerror(errno));
		return -1;
	}
	say("starting %s's %s", b->target, b->init);
	execl(b->init, b->init, (char *)NULL);
	say("cannot run %s: %s", b->init, strerror(errno));
	return -1;
}
