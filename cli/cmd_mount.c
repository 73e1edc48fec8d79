/* cmd_mount.c: `netimg mount --image FILE.sqfs MOUNTPOINT [--foreground]
 * [--allow-other] [--record FILE]`: a read-only FUSE mount of an image.
 *
 * Everything that can fail is checked before the process detaches: the
 * image and its tables are read, the kernel mount is made, and the
 * parent waits until the child has answered the kernel's first request
 * (INIT). So a zero exit status means the mount works. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqfs/io.h>

#include "cli/cli.h"
#include "cli/mount_repo.h"
#include "common/units.h"
#include "fusefs/fusefs.h"

/* how long the parent waits for the mount to answer */
#define READY_TIMEOUT_MS 60000

struct mount_args {
	const char *image, *mountpoint, *record;
	struct fusefs_opts o;
	int foreground;
	struct mount_repo_opts ro;   /* without --image: the repository's */
	struct mount_repo repo;
	int use_repo;
};

/* The image's file: a local one, or the cache's virtual image. */
static void release(struct mount_args *a, sqfs_file_t *file)
{
	if (a->use_repo)
		mount_repo_close(&a->repo);
	else
		sqfs_destroy(file);
}

static int serve(struct fusefs *fs, int ready_fd, int quiet)
{
	struct ni_err e = { 0 };
	int ret = fusefs_run(fs, ready_fd, &e);

	fusefs_close(fs);
	if (ret != 0 && !quiet)
		return cli_fail(&e);
	return ret != 0;
}

/* The child serves; the parent exits 0 once the child says INIT was
 * answered, 1 when the child died first. _exit: the parent's copy of the
 * mount's state belongs to the child now. */
static int detach(struct fusefs *fs, sqfs_file_t *file, struct mount_args *a)
{
	int p[2], fd, st;
	struct pollfd pfd;
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) != 0) {
		fprintf(stderr, "netimg: cannot detach: %s\n", strerror(errno));
		fusefs_close(fs);
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "netimg: cannot detach: %s\n", strerror(errno));
		fusefs_close(fs);
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		setsid();
		if (chdir("/") != 0) {
			/* the mount's paths are absolute already */
		}
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		st = serve(fs, p[1], 1);
		release(a, file);
		exit(st);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	while (poll(&pfd, 1, READY_TIMEOUT_MS) < 0 && errno == EINTR)
		;
	if (read(p[0], &c, 1) == 1)
		_exit(0);
	fprintf(stderr, "netimg: %s: the mount did not start\n", a->mountpoint);
	if (waitpid(pid, &st, WNOHANG) == 0)
		kill(pid, SIGTERM);
	_exit(1);
}

static int run(struct mount_args *a)
{
	struct ni_err e = { 0 };
	sqfs_file_t *file;
	struct fusefs *fs;
	int ret;

	if (a->use_repo) {
		if (mount_repo_open(&a->repo, &a->ro, &e) != 0) {
			mount_repo_close(&a->repo);
			return e.code == NI_EUSAGE ? cli_usage_error("mount", "%s", e.msg)
						   : cli_fail(&e);
		}
		file = a->repo.file;
		a->image = a->repo.spec;
		if (a->o.fsname == NULL)
			a->o.fsname = a->repo.spec;
	} else if ((file = sqfs_open_file(a->image, SQFS_FILE_OPEN_READ_ONLY)) == NULL) {
		fprintf(stderr, "netimg: %s: cannot open: %s\n", a->image,
			strerror(errno));
		return 1;
	}
	if (fusefs_open(&fs, file, a->image, &e) != 0) {
		release(a, file);
		return cli_fail(&e);
	}
	a->o.mountpoint = a->mountpoint;
	a->o.record_path = a->record;
	if (fusefs_mount(fs, &a->o, &e) != 0) {
		fusefs_close(fs);
		release(a, file);
		return cli_fail(&e);
	}
	if (!a->foreground)
		return detach(fs, file, a);   /* never returns */
	ret = serve(fs, -1, 0);
	release(a, file);
	return ret;
}

int cmd_mount(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "allow-other", no_argument, NULL, 'a' },
		{ "record", required_argument, NULL, 'E' },
		{ "record-interval", required_argument, NULL, 'R' },
		{ "threads", required_argument, NULL, 't' },
		{ "debug", no_argument, NULL, 'd' },
		REPO_CLIENT_LONGOPTS,
		{ "cache", required_argument, NULL, 'C' },
		{ "cache-size", required_argument, NULL, 'S' },
		{ "wait", required_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	struct mount_args a;
	char *end;
	long n;
	int c;

	memset(&a, 0, sizeof(a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (repo_client_opt(&a.ro.ro, c, optarg)) {
			a.use_repo = 1;
			continue;
		}
		switch (c) {
		case 'i': a.image = optarg; break;
		case 'C': a.ro.cache = optarg; break;
		case 'S': a.ro.cache_size = optarg; break;
		case 'W': {
			int64_t w;

			if (ni_parse_duration(optarg, &w) != 0 || w < 1 || w > 3600)
				return cli_usage_error("mount", "--wait: '%s' is not a duration from 1s to 1h",
						       optarg);
			a.ro.wait_ms = (long)w * 1000;
			break;
		}
		case 'f': a.foreground = 1; break;
		case 'a': a.o.allow_other = 1; break;
		case 'E': a.record = optarg; break;
		case 'd': a.o.debug = 1; a.foreground = 1; break;
		case 'R':
			n = strtol(optarg, &end, 10);
			if (*end != '\0' || n < 1 || n > 86400)
				return cli_usage_error("mount", "--record-interval: "
						       "'%s' is not a number of seconds "
						       "from 1 to 86400", optarg);
			a.o.record_interval = (unsigned)n;
			break;
		case 't':
			n = strtol(optarg, &end, 10);
			if (*end != '\0' || n < 1 || n > 256)
				return cli_usage_error("mount", "--threads: '%s' "
						       "is not a number from 1 to 256",
						       optarg);
			a.o.max_threads = (unsigned)n;
			break;
		case ':':
			return cli_usage_error("mount", "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error("mount", "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (a.image != NULL) {
		if (a.use_repo || a.ro.cache || a.ro.cache_size || a.ro.wait_ms)
			return cli_usage_error("mount", "--image mounts a local file: no repository or cache options");
		if (optind != argc - 1)
			return cli_usage_error("mount", "expected one MOUNTPOINT");
	} else {
		/* the repository may come from the client configuration */
		a.use_repo = 1;
		if (optind != argc - 2)
			return cli_usage_error("mount", "expected CHANNEL or NAME@VERSION, and MOUNTPOINT (or --image FILE MOUNTPOINT)");
		a.ro.spec = argv[optind++];
	}
	a.mountpoint = argv[optind];
	return run(&a);
}
