/* cmd_serve.c: `netimg serve --repo DIR [--listen HOST:PORT]`: serves
 * DIR/public/ over HTTP until SIGINT or SIGTERM, one access-log line per
 * request on stderr. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "images/serve.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

/* The server's threads call this, several at once. */
static void log_line(void *user, const char *line)
{
	pthread_mutex_lock(&log_mu);
	fputs(line, stderr);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_mu);
}

/* A server holds a socket and a file per busy connection: take the hard
 * descriptor limit rather than the usual soft 1024. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 65536)
		rl.rlim_cur = 65536;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* Prints the address the way a URL wants it: the listen address with the
 * port actually bound. */
static void banner(const char *repo, const char *listen, int port)
{
	const char *colon = strrchr(listen, ':');
	int hostlen = (int)(colon - listen);

	printf("serving %s/public on http://%.*s:%d/\n", repo, hostlen, listen,
	       port);
	fflush(stdout);
}

static int run(const char *repo, const char *listen)
{
	static char errbuf[8192];
	struct img_server *s;
	struct ni_err e = { 0 };
	sigset_t mask;
	int sig = 0;

	setvbuf(stderr, errbuf, _IOLBF, sizeof(errbuf));
	raise_nofile();
	/* blocked before the server's threads start, so they inherit it and
	 * the signals wait for sigwait below */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	if (img_serve_start(&s, repo, listen, log_line, NULL, &e) != 0) {
		if (e.code == NI_EUSAGE)
			return cli_usage_error("serve", "%s", e.msg);
		return cli_fail(&e);
	}
	/* a test hook: exercise the path walk of kernels without openat2 */
	if (getenv("NETIMG_SERVE_NO_OPENAT2") != NULL)
		img_serve_set_walk_only(s, 1);
	banner(repo, listen, img_serve_port(s));
	while (sig != SIGINT && sig != SIGTERM)
		if (sigwait(&mask, &sig) != 0)
			break;
	img_serve_stop(s);
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repo", required_argument, NULL, 'r' },
		{ "listen", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *repo = NULL, *listen = "127.0.0.1:8080";
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': repo = optarg; break;
		case 'l': listen = optarg; break;
		case ':':
			return cli_usage_error("serve", "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error("serve", "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("serve", "unexpected argument '%s'",
				       argv[optind]);
	if (repo == NULL)
		return cli_usage_error("serve", "missing --repo");
	return run(repo, listen);
}
