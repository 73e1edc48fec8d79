/* cmd_mount.c: `netimg mount --image FILE.sqfs MOUNTPOINT` (a local image)
 * or `netimg mount [repository options] CHANNEL|NAME@VERSION MOUNTPOINT`
 * (a version through the local cache, cli/mount_repo.c): a read-only
 * FUSE mount.
 *
 * Detaching: the command forks first, and the child does everything
 * (resolve the version, open the image or the cache's virtual image, read
 * the tables, mount, serve), so whatever it opens may start threads. The
 * parent waits on a pipe: the child writes one byte once the kernel's
 * first request (INIT) is answered, and the parent exits 0; or it writes
 * its one-line error, which the parent prints. So exit status 0 means
 * the mount works, and every error is still one line on the terminal. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <sqfs/io.h>

#include "cli/cli.h"
#include "cli/mount_repo.h"
#include "common/units.h"
#include "fusefs/fusefs.h"

/* how long the parent waits for the mount to answer */
#define READY_TIMEOUT_MS 60000
/* what the child writes to the parent: the byte fusefs_run writes once
 * the mount serves, or a kind byte and a message */
#define READY 1
#define FAILED 'E'
#define USAGE 'U'

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
	else if (file != NULL)
		sqfs_destroy(file);
}

/* The daemon's threads would each get a malloc arena of their own, which
 * keeps what it once held: two arenas keep the resident size down (40 ->
 * 30 MiB with 16 threads reading a 1 GB image) at no measured cost. */
static void daemon_malloc(void)
{
	mallopt(M_ARENA_MAX, 2);
	/* chunks (up to 1 MiB) kept in memory by a version's image come and
	 * go: mapped of their own and unmapped when dropped, instead of the
	 * arenas keeping the most they ever held (glibc raises its threshold
	 * after the first free otherwise) */
	mallopt(M_MMAP_THRESHOLD, 256 << 10);
}

/* SIGINT, SIGTERM and SIGHUP are taken by fusefs_run's sigwait, which
 * sees only signals blocked in every thread: block them before the
 * cache's image starts threads of its own (a signal delivered to one of
 * those would kill the process and leave a dead mount). */
static void block_stop_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* Opens the image and mounts it: 0, or non-zero with e set (NI_EUSAGE
 * for a usage problem found late, such as a bad --cache-size). */
static int setup(struct mount_args *a, sqfs_file_t **file, struct fusefs **fs,
		 struct ni_err *e)
{
	const char *name = a->image;
	int ret;

	*fs = NULL;
	*file = NULL;
	if (a->use_repo) {
		if ((ret = mount_repo_open(&a->repo, &a->ro, e)) != 0) {
			mount_repo_close(&a->repo);
			return ret;
		}
		*file = a->repo.file;
		name = a->repo.spec;
		if (a->o.fsname == NULL)
			a->o.fsname = a->repo.spec;
	} else if ((*file = sqfs_open_file(a->image, SQFS_FILE_OPEN_READ_ONLY)) == NULL) {
		return ni_err_errno(e, errno, "%s: cannot open", a->image);
	}
	a->o.mountpoint = a->mountpoint;
	a->o.record_path = a->record;
	if ((ret = fusefs_open(fs, *file, name, e)) == 0 &&
	    (ret = fusefs_mount(*fs, &a->o, e)) == 0)
		return 0;
	fusefs_close(*fs);
	*fs = NULL;
	release(a, *file);
	*file = NULL;
	return ret;
}

/* The hot set's prefetch says how it went in one line: on stderr in the
 * foreground, to syslog once detached (stderr is /dev/null then). */
static void hot_log(void *user, const char *line)
{
	if (user != NULL)
		fprintf(stderr, "netimg: %s\n", line);
	else
		syslog(LOG_NOTICE, "%s", line);
}

/* Once the mount is made, in the serving process: a failure only logs. */
static void start_hot(struct mount_args *a, int foreground)
{
	struct ni_err e = { 0 };

	if (!a->use_repo)
		return;
	if (!foreground)
		openlog("netimg-mount", LOG_PID, LOG_DAEMON);
	if (mount_repo_start_hot(&a->repo, hot_log, foreground ? a : NULL, &e) != 0)
		hot_log(foreground ? a : NULL, e.msg);
}

static int fail(const struct ni_err *e)
{
	return e->code == NI_EUSAGE ? cli_usage_error("mount", "%s", e->msg)
				    : cli_fail(e);
}

static int foreground(struct mount_args *a)
{
	struct ni_err e = { 0 };
	sqfs_file_t *file;
	struct fusefs *fs;
	int ret;

	daemon_malloc();
	block_stop_signals();
	if (setup(a, &file, &fs, &e) != 0)
		return fail(&e);
	start_hot(a, 1);
	ret = fusefs_run(fs, -1, &e);
	fusefs_close(fs);
	release(a, file);
	return ret != 0 ? cli_fail(&e) : 0;
}

/* The detached child: its error goes to the parent through fd. */
static int child(struct mount_args *a, int fd)
{
	struct ni_err e = { 0 };
	sqfs_file_t *file;
	struct fusefs *fs;
	char kind;
	int null, ret;

	setsid();
	daemon_malloc();
	block_stop_signals();
	if (setup(a, &file, &fs, &e) != 0) {
		kind = e.code == NI_EUSAGE ? USAGE : FAILED;
		if (write(fd, &kind, 1) != 1 || write(fd, e.msg, strlen(e.msg)) < 0) {
			/* the parent is gone */
		}
		return 1;
	}
	if (chdir("/") != 0) {
		/* every path fusefs keeps is absolute */
	}
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	start_hot(a, 0);
	ret = fusefs_run(fs, fd, &e);   /* writes READY, closes fd */
	fusefs_close(fs);
	release(a, file);
	return ret != 0;
}

/* Reads the child's answer: 0 when ready, else the exit status with the
 * message shown. A child that died before the mount answered may leave
 * a dead mount: it is cleared. */
static int wait_ready(int fd, pid_t pid, const char *mountpoint)
{
	char msg[1100];
	size_t len = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int st, ret;

	for (;;) {
		ret = poll(&pfd, 1, READY_TIMEOUT_MS);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0)
			break;
		n = read(fd, msg + len, sizeof(msg) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len == 0 && msg[0] == READY)
			return 0;
		len += (size_t)n;
		if (len == sizeof(msg) - 1)
			break;
	}
	msg[len] = '\0';
	if (waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGTERM);
		waitpid(pid, &st, 0);
	}
	if (len > 1 && msg[0] == USAGE)
		return cli_usage_error("mount", "%s", msg + 1);
	if (len > 1) {
		fprintf(stderr, "netimg: %s\n", msg + 1);
		return 1;
	}
	fusefs_clear_dead(mountpoint);
	fprintf(stderr, "netimg: %s: the mount did not start\n", mountpoint);
	return 1;
}

static int detach(struct mount_args *a)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0) {
		fprintf(stderr, "netimg: cannot detach: %s\n", strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "netimg: cannot detach: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		exit(child(a, p[1]));
	}
	close(p[1]);
	return wait_ready(p[0], pid, a->mountpoint);
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
	return a.foreground ? foreground(&a) : detach(&a);
}
