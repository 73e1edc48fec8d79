/* pointer.h: a client reading a channel pointer (public/channels/C.json)
 * and deciding whether to trust it: the signature (the key the client
 * holds), the channel named inside (a pointer of another channel served
 * under this name is refused), the expiry, and replay: the serial must be
 * no lower than the highest this client has seen for this repository key
 * and channel (kept in a state folder), nor than a floor the caller gives
 * (the serial an initramfs was built with). The highest serial is
 * recorded once the pointer is accepted. */
#ifndef CACHE_POINTER_H
#define CACHE_POINTER_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>

#include "cache/source.h"
#include "common/err.h"

#define CACHE_STATE_DEFAULT "/var/lib/netimg"

struct cache_pointer_opts {
	const char *state;      /* state folder; NULL: keep no state */
	uint64_t min_serial;    /* refuse serials below this (0: none) */
	int64_t now;            /* the time to judge expiry by (0: now) */
};

struct cache_pointer {
	char channel[65];
	char target[160];       /* NAME@VERSION */
	char name[80], version[80];
	char manifest_sha256[65];
	uint64_t serial;
	int64_t time, expires;
	uint64_t seen;          /* the highest serial seen before this one */
	json_t *payload;        /* the whole verified pointer (history...) */
};

/* Fetches, verifies and checks the pointer of channel. Errors:
 * NI_ENOENT no such channel; NI_EINVAL unsigned, tampered, signed by
 * another key, malformed, or another channel's pointer; NI_ESTATE
 * expired, or a replay (serial lower than seen or than min_serial). */
int cache_pointer_get(struct cache_source *src, EVP_PKEY *key,
		      const char *channel, const struct cache_pointer_opts *o,
		      struct cache_pointer *p, struct ni_err *e);
/* The same checks on a pointer's bytes the caller fetched itself (the
 * agent's conditional requests); buf is not kept. */
int cache_pointer_check(EVP_PKEY *key, const char *channel,
			const uint8_t *buf, size_t len,
			const struct cache_pointer_opts *o,
			struct cache_pointer *p, struct ni_err *e);
void cache_pointer_free(struct cache_pointer *p);

/* True when spec names a channel rather than NAME@VERSION. */
int cache_is_channel(const char *spec);

#endif
