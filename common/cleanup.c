/* cleanup.c: removes registered temporary files on a fatal signal. The
 * handler only calls unlink(2) and raise(3), both async-signal-safe. */
#include "common/cleanup.h"

#include <limits.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 8

static char paths[SLOTS][PATH_MAX];
static volatile sig_atomic_t used[SLOTS];

void ni_cleanup_add(const char *path)
{
	int i;

	if (strlen(path) >= PATH_MAX)
		return;
	for (i = 0; i < SLOTS; i++) {
		if (!used[i]) {
			strcpy(paths[i], path);
			used[i] = 1;
			return;
		}
	}
}

void ni_cleanup_remove(const char *path)
{
	int i;

	for (i = 0; i < SLOTS; i++)
		if (used[i] && strcmp(paths[i], path) == 0)
			used[i] = 0;
}

static void on_signal(int sig)
{
	int i;

	for (i = 0; i < SLOTS; i++)
		if (used[i])
			unlink(paths[i]);
	signal(sig, SIG_DFL);
	raise(sig);
}

void ni_cleanup_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}
