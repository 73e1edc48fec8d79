/* channel.h: channel pointers: which version a group of endpoints runs.
 * A pointer is one small signed file, public/channels/CHANNEL.json:
 * channel, NAME@VERSION, the manifest's hash, a serial that only grows,
 * time, who, an expiry, and the history of earlier pointers. Rollout and
 * rollback are the same act: a new pointer with a higher serial. */
#ifndef IMG_CHANNEL_H
#define IMG_CHANNEL_H

#include <jansson.h>
#include <stdint.h>

#include "common/err.h"

#define IMG_CHANNEL_EXPIRES_DEFAULT (7 * 24 * 3600)
#define IMG_CHANNEL_HISTORY_MAX 100

struct img_point_opts {
	const char *repo;
	const char *channel;
	const char *target;        /* NAME@VERSION; NULL: rollback */
	const char *who;           /* default: $USER */
	int64_t expires;           /* seconds from now; 0: the default */
};

struct img_point_result {
	char target[160];
	uint64_t serial;
	int64_t expires_at;
};

/* point (target set) or rollback (target NULL: the version before the
 * current one in the history, or opts->target when given as --to). */
int img_point(const struct img_point_opts *o, int rollback,
	      struct img_point_result *r, struct ni_err *e);
int img_valid_channel(const char *s);
/* Who acts, for records: $SUDO_USER, $USER, else the effective user. */
const char *img_default_who(void);

/* refresh: re-signs pointers with a new expiry, changing nothing else
 * (target, manifest hash, serial, time, who, history stay; a "refreshed"
 * time is set). The serial is kept on purpose: clients refuse only lower
 * serials, so the same serial with a later expiry is accepted, and a
 * refresh never outranks a pointer written since. */
struct img_refresh_opts {
	const char *repo;
	char *const *channels;     /* NULL (n 0): every channel */
	size_t n;
	int64_t expires;           /* seconds from now; 0: the default */
};

struct img_refresh_item {
	char channel[72];
	char target[160];
	uint64_t serial;
	int64_t expires_at;
};

/* Under the publishers' lock: reads and verifies every pointer first,
 * then writes each (one atomic rename per channel). *items (malloc'd,
 * *n of them) says what was refreshed, in name order. */
int img_refresh(const struct img_refresh_opts *o, struct img_refresh_item **items,
		size_t *n, struct ni_err *e);

#endif
