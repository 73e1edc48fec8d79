/* initramfs.c: writing the netboot initramfs. */
#include "netboot/initramfs.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "netboot/kmod.h"

#define CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
/* Written once per version, downloaded by iPXE and unpacked by the kernel
 * at every boot: 16% smaller than zstd's default level 3 for 0.6 s more
 * at publish (level 19: 23% smaller for 5.5 s). */
#define INITRAMFS_ZSTD_LEVEL "12"

/* NICs first (the common server ones; what a kernel lacks is skipped),
 * then what mounting the image needs. */
static const char *const wanted_modules[] = {
	"virtio_pci", "virtio_net", "e1000", "e1000e", "igb", "ixgbe", "tg3",
	"bnx2", "r8169", "vmxnet3", "squashfs", "loop", "overlay",
};

static const char udhcpc_script[] =
	"#!/bin/busybox sh\n"
	"# udhcpc's hook: configure the interface it got a lease for.\n"
	"bb=/bin/busybox\n"
	"case \"$1\" in\n"
	"deconfig) $bb ip addr flush dev \"$interface\"; $bb ip link set \"$interface\" up ;;\n"
	"bound|renew)\n"
	"\t$bb ip addr flush dev \"$interface\"\n"
	"\t$bb ip addr add \"$ip/${mask:-24}\" dev \"$interface\"\n"
	"\tfor r in $router; do $bb ip route add default via \"$r\" dev \"$interface\"; break; done\n"
	"\t: >/etc/resolv.conf\n"
	"\tfor d in $dns; do echo \"nameserver $d\" >>/etc/resolv.conf; done\n"
	"\techo \"netimg: $interface: $ip/${mask:-24} via ${router:-none}\"\n"
	"\t;;\n"
	"esac\n"
	"exit 0\n";

struct cpio {
	struct archive *a;
	const char *out;
	struct ni_err *e;
	json_t *done;        /* paths already written */
	long ino;            /* distinct inode numbers: no false hard links */
};

static int arerr(struct cpio *c)
{
	return ni_err_set(c->e, NI_EARCHIVE, "%s: %s", c->out, archive_error_string(c->a));
}

static int entry(struct cpio *c, const char *path, mode_t type, mode_t perm,
		 const void *data, size_t len, const char *link, dev_t rdev)
{
	struct archive_entry *en;
	int ret = 0;

	while (*path == '/')
		path++;
	if (json_object_get(c->done, path) != NULL)
		return 0;
	json_object_set_new(c->done, path, json_true());
	if ((en = archive_entry_new()) == NULL)
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	archive_entry_set_pathname(en, path);
	archive_entry_set_ino(en, ++c->ino);
	archive_entry_set_filetype(en, type);
	archive_entry_set_perm(en, perm);
	archive_entry_set_uid(en, 0);
	archive_entry_set_gid(en, 0);
	archive_entry_set_mtime(en, 0, 0);
	archive_entry_set_nlink(en, type == AE_IFDIR ? 2 : 1);
	archive_entry_set_size(en, type == AE_IFREG ? (la_int64_t)len : 0);
	if (link != NULL)
		archive_entry_set_symlink(en, link);
	if (type == AE_IFCHR)
		archive_entry_set_rdev(en, rdev);
	if (archive_write_header(c->a, en) != ARCHIVE_OK ||
	    (len > 0 && archive_write_data(c->a, data, len) != (la_ssize_t)len))
		ret = arerr(c);
	archive_entry_free(en);
	return ret;
}

static int dir(struct cpio *c, const char *path)
{
	return entry(c, path, AE_IFDIR, 0755, NULL, 0, NULL, 0);
}

/* path's parent folders, then path itself with the bytes of src. */
static int file_from(struct cpio *c, const char *path, const char *src, mode_t perm)
{
	char *buf = NULL, *p, *s;
	size_t len;
	int ret;

	while (*path == '/')
		path++;
	p = strdup(path);
	ret = p ? 0 : ni_err_set(c->e, NI_ENOMEM, "out of memory");
	for (s = p ? strchr(p + 1, '/') : NULL; ret == 0 && s; s = strchr(s + 1, '/')) {
		*s = '\0';
		ret = dir(c, p);
		*s = '/';
	}
	free(p);
	if (ret == 0)
		ret = ni_read_file(src, 512u << 20, &buf, &len, c->e);
	if (ret == 0)
		ret = entry(c, path, AE_IFREG, perm, buf, len, NULL, 0);
	free(buf);
	return ret;
}

/* The shared libraries ldd says bin needs, each at the path it names
 * (none for the static netimg-init and busybox-static: ldd exits 1). */
static int libraries(struct cpio *c, const char *bin)
{
	int fd[2], st, ret = 0;
	char line[1024];
	FILE *f;
	pid_t pid;

	if (pipe(fd) != 0)
		return ni_err_errno(c->e, errno, "pipe");
	if ((pid = fork()) == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(fd[1], 1);
		if (null >= 0)
			dup2(null, 2);
		close(fd[0]);
		close(fd[1]);
		execlp("ldd", "ldd", bin, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	f = fdopen(fd[0], "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *p = strstr(line, "=> "), path[1024];

		p = p ? p + 3 : line + strspn(line, " \t");
		if (*p != '/' || sscanf(p, "%1023s", path) != 1)
			continue;
		if (ret == 0)
			ret = file_from(c, path, path, 0755);
	}
	if (f != NULL)
		fclose(f);
	waitpid(pid, &st, 0);
	if (ret == 0 && (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 1)))
		ret = ni_err_set(c->e, NI_EIO, "ldd %s failed (is libc-bin installed?)", bin);
	return ret;
}

static int modules(struct cpio *c, const char *tree)
{
	struct nb_kmods m;
	char *list = NULL, *src, dst[512];
	size_t len = 0, i;
	FILE *f;
	int ret = nb_kmods_resolve(tree, wanted_modules,
				   sizeof(wanted_modules) / sizeof(wanted_modules[0]), &m, c->e);

	if (ret != 0)
		return ret;
	f = open_memstream(&list, &len);
	for (i = 0; i < m.n && ret == 0; i++) {
		const char *b = strrchr(m.path[i], '/');

		b = b ? b + 1 : m.path[i];
		snprintf(dst, sizeof(dst), "lib/modules/%s", b);
		src = ni_path_join(tree, m.path[i]);
		ret = src ? file_from(c, dst, src, 0644) : ni_err_set(c->e, NI_ENOMEM, "out of memory");
		free(src);
		if (f != NULL)
			fprintf(f, "%s\n", b);
	}
	if (f != NULL)
		fclose(f);
	if (ret == 0)
		ret = list ? entry(c, "etc/netimg/modules", AE_IFREG, 0644, list, len, NULL, 0)
			   : ni_err_set(c->e, NI_ENOMEM, "out of memory");
	free(list);
	nb_kmods_free(&m);
	return ret;
}

static int contents(struct cpio *c, const struct nb_initramfs_opts *o)
{
	static const char *const dirs[] = {
		"bin", "dev", "etc", "etc/netimg", "lib", "lib/modules", "mnt", "newroot",
		"proc", "run", "sys", "tmp",
	};
	char *floors = json_dumps(o->floors, JSON_SORT_KEYS | JSON_COMPACT);
	size_t i;
	int ret = floors ? 0 : ni_err_set(c->e, NI_ENOMEM, "out of memory");

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && ret == 0; i++)
		ret = dir(c, dirs[i]);
	if (ret == 0)   /* the kernel opens it for init's stdin/out/err */
		ret = entry(c, "dev/console", AE_IFCHR, 0600, NULL, 0, NULL, makedev(5, 1));
	if (ret == 0)
		ret = file_from(c, "init", o->init, 0755);
	if (ret == 0)
		ret = libraries(c, o->init);
	if (ret == 0)
		ret = file_from(c, "bin/busybox", o->busybox, 0755);
	if (ret == 0)
		ret = libraries(c, o->busybox);
	if (ret == 0)
		ret = entry(c, "bin/sh", AE_IFLNK, 0777, NULL, 0, "busybox", 0);
	if (ret == 0)
		ret = entry(c, "etc/netimg/udhcpc.script", AE_IFREG, 0755, udhcpc_script,
			    strlen(udhcpc_script), NULL, 0);
	if (ret == 0)
		ret = file_from(c, "etc/netimg/repo.pub", o->pubkey, 0644);
	if (ret == 0)
		ret = entry(c, "etc/netimg/floors.json", AE_IFREG, 0644, floors, strlen(floors), NULL, 0);
	if (ret == 0 && access(CA_BUNDLE, R_OK) == 0)
		ret = file_from(c, CA_BUNDLE + 1, CA_BUNDLE, 0644);
	if (ret == 0)
		ret = modules(c, o->modules);
	free(floors);
	return ret;
}

int nb_initramfs_build(const struct nb_initramfs_opts *o, struct ni_err *e)
{
	struct ni_atomic at = { .fd = -1 };
	struct cpio c = { .out = o->out, .e = e };
	int ret;

	if (access(o->init, X_OK) != 0)
		return ni_err_errno(e, errno, "%s: the initramfs's init (netimg-init)", o->init);
	if (access(o->busybox, X_OK) != 0)
		return ni_err_errno(e, errno, "%s: busybox (package busybox-static)", o->busybox);
	if ((ret = ni_atomic_open(&at, o->out, 0644, e)) != 0)
		return ret;
	c.done = json_object();
	c.a = archive_write_new();
	if (c.a == NULL || c.done == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	else if (archive_write_set_format_cpio_newc(c.a) != ARCHIVE_OK ||
		 archive_write_add_filter_zstd(c.a) != ARCHIVE_OK ||
		 archive_write_set_filter_option(c.a, "zstd", "compression-level",
						 INITRAMFS_ZSTD_LEVEL) != ARCHIVE_OK ||
		 archive_write_set_bytes_in_last_block(c.a, 1) != ARCHIVE_OK ||
		 archive_write_open_fd(c.a, at.fd) != ARCHIVE_OK)
		ret = arerr(&c);
	if (ret == 0)
		ret = contents(&c, o);
	if (ret == 0 && archive_write_close(c.a) != ARCHIVE_OK)
		ret = arerr(&c);
	if (c.a != NULL)
		archive_write_free(c.a);
	json_decref(c.done);
	if (ret == 0)
		ret = ni_atomic_commit(&at, e);
	else
		ni_atomic_abort(&at);
	return ret;
}

char *nb_init_path(void)
{
	const char *env = getenv("NETIMG_INIT");
	char self[4096], *d, *p;
	ssize_t n;

	if (env != NULL && *env)
		return strdup(env);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		d = ni_dirname(self);
		p = d ? ni_path_join(d, "netimg-init") : NULL;
		free(d);
		if (p != NULL && access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return strdup("/usr/lib/netimg/netimg-init");
}
