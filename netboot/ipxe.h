/* ipxe.h: the iPXE scripts, static files in DIR/public/ derived from the
 * channel pointers and the host inventory:
 *
 *   boot.ipxe                   every machine fetches it first; chains to
 *                               its host's script by MAC (${net0/mac}),
 *                               else to the default channel, else says so
 *                               and retries
 *   ipxe/hosts/MAC.ipxe         one per host: chains to its channel's
 *   ipxe/channels/CHANNEL.ipxe  the kernel, initramfs and command line of
 *                               the version the channel points at
 *
 * Every URL in them is relative, so a mirror serves them as they are;
 * only the repository URLs handed to the initramfs (netimg.repo=) are
 * absolute. The settings (those URLs, the default channel) are kept in
 * DIR/private/netboot.json; `netimg point` and `rollback` rewrite the
 * channel's script after the pointer, host changes the host's script. Each
 * script is written under a temporary name and renamed. */
#ifndef NB_IPXE_H
#define NB_IPXE_H

#include <jansson.h>

#include "common/err.h"
#include "images/repo.h"

#define NB_CONF_FILE "netboot.json"  /* in DIR/private/ */

struct nb_ipxe_opts {
	const char *repo;
	const char *urls;            /* URL[,URL...]; NULL: the saved ones */
	const char *default_channel; /* NULL: keep the saved one; "": none */
};

struct nb_ipxe_result {
	size_t hosts, channels;      /* scripts written */
	char default_channel[65];    /* "" when unknown machines get nothing */
};

/* `netimg ipxe`: saves the settings and writes every script. */
int nb_ipxe_setup(const struct nb_ipxe_opts *o, struct nb_ipxe_result *r,
		  struct ni_err *e);

/* After `point`/`rollback`: rewrites CHANNEL's script when netboot is set
 * up (*written = 1), else does nothing (*written = 0). Takes the lock. */
int nb_ipxe_channel_changed(const char *repo_dir, const char *channel,
			    int *written, struct ni_err *e);

/* With the lock held (r opened with lock = 1): the saved settings (NULL
 * when `netimg ipxe` never ran), and the scripts. */
int nb_conf_load(const struct img_repo *r, json_t **conf, struct ni_err *e);
int nb_write_channel_script(const struct img_repo *r, json_t *conf,
			    const char *channel, struct ni_err *e);
int nb_write_host_script(const struct img_repo *r, json_t *host,
			 struct ni_err *e);
int nb_remove_host_script(const struct img_repo *r, const char *mac,
			  struct ni_err *e);

/* Checks text that goes into a script line (a URL, a command line): no
 * control characters, no '$' (iPXE expands ${...}), no quotes or
 * backslashes. Returns 0 or -1. */
int nb_ipxe_safe(const char *s);

#endif
