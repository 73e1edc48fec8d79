/* gc_internal.h: state of one gc, shared by gc.c (driver, removals),
 * gc_scan.c (versions, channels: what is kept) and gc_packs.c (chunk
 * liveness, pack rewriting). */
#ifndef IMG_GC_INTERNAL_H
#define IMG_GC_INTERNAL_H

#include <openssl/evp.h>
#include <stdint.h>

#include "common/hash.h"
#include "images/gc.h"
#include "images/repo.h"

struct gc_ver {
	char *name, *version;
	char index_sha[NI_SHA256_HEX];
	char boot[2][80];            /* its netboot files under boot/, "" if none */
	int64_t published;
	char why[160];               /* why it is kept; "" when removed */
};

struct gc_chunk {
	uint64_t off, len, new_off;
	uint8_t sha[NI_SHA256_LEN];
	int live;
};

enum gc_fate { GC_KEEP, GC_REMOVE, GC_REWRITE };

struct gc_pack {
	char name[NI_SHA256_HEX];
	int has_idx, has_pack;
	uint64_t size, idx_size, live;
	struct gc_chunk *c;          /* sorted by offset */
	size_t n;
	enum gc_fate fate;
	char new_name[NI_SHA256_HEX];
	uint64_t new_idx_size;
};

struct gc {
	const struct img_gc_opts *o;
	struct img_gc_result *r;
	struct ni_err *e;
	struct img_repo repo;
	EVP_PKEY *pub;
	int keep;                    /* history entries */
	struct gc_ver *v;
	size_t nv, capv;
	struct gc_pack *p;
	size_t np, capp;
	char **blobs;                /* live blob names, sorted */
	size_t nb, capb;
};

/* gc_scan.c */
int gc_scan_versions(struct gc *g);
int gc_scan_channels(struct gc *g);
int gc_scan_blobs(struct gc *g);
int gc_is_removed(void *g, const char *name, const char *version);

/* gc_packs.c */
int gc_load_packs(struct gc *g);
int gc_mark_live(struct gc *g);
void gc_plan_packs(struct gc *g);
int gc_rewrite_packs(struct gc *g);
int gc_rewrite_locations(struct gc *g);

/* gc.c */
int gc_item(struct gc *g, enum img_gc_what what, uint64_t bytes,
	    const char *name, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Removes public/REL (a file), adding its size to *bytes; a missing file
 * is fine. */
int gc_unlink(struct gc *g, const char *rel, uint64_t *bytes);

#endif
