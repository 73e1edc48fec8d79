/* publish_internal.h: state of one publish, shared by publish.c (chunks,
 * record) and publish_write.c (pack, index, manifest). */
#ifndef IMG_PUBLISH_INTERNAL_H
#define IMG_PUBLISH_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "images/layout.h"
#include "images/publish.h"
#include "images/repo.h"

struct known {
	uint8_t sha[NI_SHA256_LEN];
	uint32_t pack;        /* index into pctx.packs */
	uint64_t off;
};

struct pctx {
	const struct img_publish_opts *o;
	struct img_publish_result *r;
	struct ni_err *e;
	struct img_repo repo;
	struct img_layout lay;
	uint8_t (*sha)[NI_SHA256_LEN];  /* per chunk */
	uint8_t image_sha[NI_SHA256_LEN];
	json_t *record;                 /* the build record, or NULL */
	const char *name, *version;
	struct known *known;            /* sorted by sha */
	size_t n_known, cap_known;
	char **packs;                   /* pack names (hex) */
	size_t n_packs;
	uint32_t *loc_pack;             /* per chunk */
	uint64_t *loc_off;
};

int img_valid_name(const char *s);
int img_load_known(struct pctx *p);
int img_write_pack(struct pctx *p);
int img_write_version(struct pctx *p);
/* publish_delta.c: indexes/NEW.from-OLD for the last few versions of the
 * same name published before (OLD their index's hash); none when a delta
 * would save little. */
int img_write_index_deltas(struct pctx *p, const uint8_t *idx, size_t len,
			   const char *idx_hex);
/* Rewrites public/versions/index.json from the manifests in versions/,
 * leaving out those skip (when not NULL) returns true for (gc writes the
 * list without the versions it is about to remove, before it removes
 * them). */
int img_write_versions_list(const struct img_repo *r,
			    int (*skip)(void *u, const char *name, const char *version),
			    void *u, struct ni_err *e);

#endif
