/* hosts.h: the inventory of netbooting machines (which channel each MAC
 * boots). Its source, DIR/private/hosts.json, is never served; what iPXE
 * needs of it is published as scripts (netboot/ipxe.h). Changes are made
 * under the publishers' lock and written atomically. */
#ifndef NB_HOSTS_H
#define NB_HOSTS_H

#include <jansson.h>

#include "common/err.h"

#define NB_HOSTS_FILE "hosts.json"   /* in DIR/private/ */
#define NB_MAC_LEN 18                /* "aa:bb:cc:dd:ee:ff" and a NUL */

/* Normalises a MAC address (aa:bb:cc:dd:ee:ff or with '-', any case) to
 * lower-case colon form. Returns 0, or -1 when s is not a MAC address. */
int nb_mac_parse(const char *s, char out[NB_MAC_LEN]);
/* The MAC as iPXE's ${net0/mac:hexhyp} spells it: aa-bb-cc-dd-ee-ff. */
void nb_mac_hyphens(const char mac[NB_MAC_LEN], char out[NB_MAC_LEN]);
/* A host name: 1-64 of A-Z a-z 0-9 . _ -, not starting with a dot. */
int nb_valid_host_name(const char *s);

/* The inventory, {"format": 1, "hosts": [{"mac", "name", "channel"}...]}
 * sorted by MAC. Loads DIR/private/hosts.json (none yet: empty); *out is
 * a new reference. */
int nb_hosts_load(const char *repo_dir, json_t **out, struct ni_err *e);
int nb_hosts_save(const char *repo_dir, json_t *inv, struct ni_err *e);

enum nb_host_op { NB_HOST_ADD, NB_HOST_REMOVE, NB_HOST_MOVE };

/* Adds (mac, name, channel), removes the host whose MAC or name is
 * mac_or_name, or moves it to channel; under the repository's lock, and
 * rewrites its published script when `netimg ipxe` has set netboot up.
 * Errors: NI_EINVAL bad MAC, name or channel; NI_EEXIST a MAC or name
 * already in the inventory; NI_ENOENT no such host. *mac_out (may be
 * NULL) receives the host's MAC. */
int nb_host_change(const char *repo_dir, enum nb_host_op op,
		   const char *mac_or_name, const char *name,
		   const char *channel, char mac_out[NB_MAC_LEN],
		   struct ni_err *e);

#endif
