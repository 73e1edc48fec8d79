/* mount.c: the FUSE session: mount options, the kernel mount, the
 * multithreaded loop, signals and the unmount. libfuse's own messages are
 * caught and turned into the one-line error of the call that failed. */
#include "fusefs/fusefs_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fuse_log.h>

#include "fusefs/bcache.h"

#define DEFAULT_THREADS 16

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_last[512];
static int log_debug;           /* --debug: libfuse speaks on stderr */

/* libfuse's messages: the last error is kept for our own message. */
static void catch_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char *nl;

	if (log_debug) {
		va_list cp;

		va_copy(cp, ap);
		vfprintf(stderr, fmt, cp);
		va_end(cp);
	}
	if (level > FUSE_LOG_ERR)
		return;
	pthread_mutex_lock(&log_mu);
	vsnprintf(log_last, sizeof(log_last), fmt, ap);
	while ((nl = strrchr(log_last, '\n')) != NULL && nl[1] == '\0')
		*nl = '\0';
	for (nl = log_last; (nl = strchr(nl, '\n')) != NULL;)
		*nl = ' ';
	pthread_mutex_unlock(&log_mu);
}

static void last_log(char *buf, size_t size)
{
	pthread_mutex_lock(&log_mu);
	snprintf(buf, size, "%s", log_last[0] ? log_last : "libfuse failed");
	log_last[0] = '\0';
	pthread_mutex_unlock(&log_mu);
}

int fusefs_open(struct fusefs **out, sqfs_file_t *file, const char *name,
		struct ni_err *e)
{
	struct fusefs *fs = calloc(1, sizeof(*fs));
	int ret;

	*out = NULL;
	if (fs == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	fs->ready_fd = -1;
	if (getenv("NETIMG_TEST_READ_DELAY_MS") != NULL)
		fs->read_delay_ms = atol(getenv("NETIMG_TEST_READ_DELAY_MS"));
	if ((ret = ffs_image_open(&fs->im, file, name, e)) != 0) {
		free(fs);
		return ret;
	}
	*out = fs;
	return 0;
}

/* fuse_opt splits on commas and unescapes backslashes. */
static int add_escaped(char *dst, size_t size, size_t *len, const char *s)
{
	for (; *s; s++) {
		if (*len + 3 > size)
			return -1;
		if (*s == ',' || *s == '\\')
			dst[(*len)++] = '\\';
		dst[(*len)++] = *s;
	}
	dst[*len] = '\0';
	return 0;
}

static int build_opts(char *opts, size_t size, const struct fusefs_opts *o,
		      const char *fsname)
{
	size_t len;

	len = (size_t)snprintf(opts, size, "ro,default_permissions,"
			       "subtype=netimg,%sfsname=",
			       o->allow_other ? "allow_other," : "");
	if (len >= size)
		return -1;
	return add_escaped(opts, size, &len, fsname);
}

int fusefs_clear_dead(const char *mountpoint)
{
	struct stat st;
	pid_t pid;
	int status;

	if (stat(mountpoint, &st) == 0 || errno != ENOTCONN)
		return 0;
	if (umount2(mountpoint, MNT_DETACH) == 0)
		return 0;
	if (errno != EPERM)
		return -errno;
	/* not root: the setuid helper may unmount the user's own mount */
	pid = fork();
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", "-q", "--",
		       mountpoint, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -EPERM;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

static int check_mountpoint(const char *path, char **abs, struct ni_err *e)
{
	struct stat st;

	fusefs_clear_dead(path);
	if (stat(path, &st) != 0)
		return ni_err_errno(e, errno, "%s: cannot mount there", path);
	if (!S_ISDIR(st.st_mode))
		return ni_err_set(e, NI_EINVAL, "%s: cannot mount there: "
				  "not a folder", path);
	if ((*abs = realpath(path, NULL)) == NULL)
		return ni_err_errno(e, errno, "%s: cannot mount there", path);
	return 0;
}

int fusefs_mount(struct fusefs *fs, const struct fusefs_opts *o,
		 struct ni_err *e)
{
	char opts[4096], msg[512];
	char *argv[5];
	struct fuse_args args;
	int argc = 0, ret;

	if (fs->se != NULL)
		return ni_err_set(e, NI_ESTATE, "already mounted");
	if ((ret = check_mountpoint(o->mountpoint, &fs->mountpoint, e)) != 0)
		return ret;
	if (build_opts(opts, sizeof(opts), o,
		       o->fsname ? o->fsname : fs->im->name) != 0)
		return ni_err_set(e, NI_EINVAL, "%s: name too long", fs->im->name);
	if (o->record_path != NULL &&
	    ((ret = ffs_record_new(&fs->rec, o->record_path, o->record_interval,
				   e)) != 0 ||
	     (ret = ffs_record_check(fs->rec, e)) != 0))
		return ret;
	fs->max_threads = o->max_threads ? o->max_threads : DEFAULT_THREADS;
	argv[argc++] = "netimg";
	argv[argc++] = "-o";
	argv[argc++] = opts;
	if (o->debug)
		argv[argc++] = "-d";
	argv[argc] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	log_debug = o->debug;
	fuse_set_log_func(catch_log);
	fs->se = fuse_session_new(&args, &ffs_ll_ops, sizeof(ffs_ll_ops), fs);
	fuse_opt_free_args(&args);
	if (fs->se == NULL) {
		last_log(msg, sizeof(msg));
		return ni_err_set(e, NI_EINVAL, "%s: cannot mount: %s",
				  o->mountpoint, msg);
	}
	if (fuse_session_mount(fs->se, fs->mountpoint) != 0) {
		last_log(msg, sizeof(msg));
		fuse_session_destroy(fs->se);
		fs->se = NULL;
		return ni_err_set(e, NI_EIO, "%s: cannot mount: %s",
				  o->mountpoint, msg);
	}
	fs->mounted = 1;
	return 0;
}

int fusefs_run(struct fusefs *fs, int ready_fd, struct ni_err *e)
{
	struct ni_err re = { 0 };
	sigset_t stop_signals, old;
	char msg[512];
	int ret, rret = 0;

	if (fs->se == NULL)
		return ni_err_set(e, NI_ESTATE, "not mounted");
	fs->ready_fd = ready_fd;
	/* blocked before any thread starts: only the loop's sigwait takes
	 * them */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop_signals, &old);
	if (fs->rec != NULL && (ret = ffs_record_start(fs->rec, e)) != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return ret;
	}
	ret = ffs_loop_run(fs->se, fs->max_threads, &stop_signals);
	fuse_session_unmount(fs->se);
	fs->mounted = 0;
	if (fs->rec != NULL)
		rret = ffs_record_finish(fs->rec, &re);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret < 0) {
		last_log(msg, sizeof(msg));
		return ni_err_set(e, NI_EIO, "%s: %s", fs->mountpoint, msg);
	}
	if (rret != 0) {
		if (e != NULL)
			*e = re;
		return rret;
	}
	return 0;
}

void fusefs_get_stats(struct fusefs *fs, struct fusefs_stats *st)
{
	struct ffs_image *im = fs->im;

	memset(st, 0, sizeof(*st));
	st->reads = __atomic_load_n(&im->n_reads, __ATOMIC_RELAXED);
	st->read_bytes = __atomic_load_n(&im->n_read_bytes, __ATOMIC_RELAXED);
	st->read_errors = __atomic_load_n(&im->n_read_errors, __ATOMIC_RELAXED);
	st->meta_errors = __atomic_load_n(&im->n_meta_errors, __ATOMIC_RELAXED);
	ffs_bcache_counts(im->bc, &st->cache_hits, &st->cache_misses);
}

void fusefs_close(struct fusefs *fs)
{
	if (fs == NULL)
		return;
	if (fs->se != NULL) {
		if (fs->mounted)
			fuse_session_unmount(fs->se);
		fuse_session_destroy(fs->se);
	}
	ffs_record_free(fs->rec);
	ffs_image_close(fs->im);
	free(fs->mountpoint);
	free(fs);
}
