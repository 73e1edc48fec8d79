/* catalog.h: the patch catalog: a folder holding patch files and
 * catalog.json, the list of patches with their severity, pinned SHA-256,
 * approval state and supersedence. It decides which patches an image gets
 * (bld_catalog_select) and in which order. */
#ifndef BLD_CATALOG_H
#define BLD_CATALOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"
#include "common/hash.h"

enum bld_severity {
	BLD_SEV_LOW = 0,
	BLD_SEV_MODERATE = 1,
	BLD_SEV_IMPORTANT = 2,
	BLD_SEV_CRITICAL = 3,
};

enum bld_state {
	BLD_PENDING = 0,
	BLD_APPROVED = 1,
	BLD_DECLINED = 2,
};

struct bld_patch {
	char *id;
	char *title;
	enum bld_severity severity;
	char *file;          /* path relative to the catalog folder */
	char *source_name;   /* the original file name given to `patch add` */
	uint8_t sha256[NI_SHA256_LEN];
	enum bld_state state;
	char *by;            /* who approved or declined (NULL if pending) */
	int64_t when;        /* unix time of approval or decline; added time if pending */
	int64_t added;       /* unix time it was added */
	char *reason;        /* decline reason, or NULL */
	char **supersedes;   /* ids */
	size_t n_supersedes;
	uint64_t seq;        /* order of addition: the apply order */
};

struct bld_catalog {
	char *dir;
	struct bld_patch *patches; /* sorted by seq */
	size_t n;
	uint64_t next_seq;
};

/* Why a patch was left out of an image. */
enum bld_skip {
	BLD_SKIP_NONE = 0,
	BLD_SKIP_DECLINED,
	BLD_SKIP_PENDING,
	BLD_SKIP_SUPERSEDED,
	BLD_SKIP_EXCLUDED,
	BLD_SKIP_SEVERITY,
};

struct bld_selection {
	/* In apply order (ascending seq): pointers into the catalog. */
	const struct bld_patch **apply;
	size_t n_apply;
	/* Everything else, with the reason; by_id names the superseder for
	 * BLD_SKIP_SUPERSEDED, else NULL. */
	struct bld_skipped {
		const struct bld_patch *patch;
		enum bld_skip why;
		const char *by_id;
	} *skipped;
	size_t n_skipped;
};

const char *bld_severity_name(enum bld_severity s);
int bld_severity_parse(const char *s, enum bld_severity *out);
const char *bld_state_name(enum bld_state s);
const char *bld_skip_name(enum bld_skip s);

/* Loads DIR/catalog.json (an empty catalog if DIR has none yet but exists).
 * Refuses a malformed file, duplicate ids and supersedence cycles, naming
 * the file and the id. */
int bld_catalog_load(const char *dir, struct bld_catalog *cat,
		     struct ni_err *e);
/* Writes DIR/catalog.json atomically. */
int bld_catalog_save(const struct bld_catalog *cat, struct ni_err *e);
void bld_catalog_free(struct bld_catalog *cat);

struct bld_patch *bld_catalog_find(const struct bld_catalog *cat,
				   const char *id);

/* Copies FILE into the catalog folder, pins its SHA-256 and records it as
 * pending. Refuses an id already present, an unknown superseded id, or a
 * supersedence cycle; the catalog is unchanged on error. */
int bld_catalog_add(struct bld_catalog *cat, const char *file,
		    const char *id, enum bld_severity sev, const char *title,
		    char *const *supersedes, size_t n_supersedes,
		    int64_t now, struct ni_err *e);
int bld_catalog_approve(struct bld_catalog *cat, const char *id,
			const char *by, int64_t now, struct ni_err *e);
int bld_catalog_decline(struct bld_catalog *cat, const char *id,
			const char *by, const char *reason, int64_t now,
			struct ni_err *e);

/* Chooses what goes into an image: approved, at least min_sev, not in
 * exclude, and not superseded by another patch that is itself applied.
 * Then checks each applied patch's file against its pinned SHA-256
 * (NI_EHASH naming the file on mismatch). */
int bld_catalog_select(const struct bld_catalog *cat, enum bld_severity min_sev,
		       char *const *exclude, size_t n_exclude,
		       struct bld_selection *sel, struct ni_err *e);
void bld_selection_free(struct bld_selection *sel);

/* The absolute or catalog-relative path of a patch's stored file
 * (malloc'd). */
char *bld_patch_path(const struct bld_catalog *cat, const struct bld_patch *p);

/* A patch as the JSON object catalog.json stores (every field, sha256 in
 * hex): a new reference, or NULL when out of memory. */
struct json_t;
struct json_t *bld_patch_json(const struct bld_patch *p);

/* Takes an exclusive lock on the catalog folder for a load-change-save
 * cycle, so that concurrent changes are not lost. Returns a descriptor for
 * bld_catalog_unlock, or a negative NI_E* code (NI_ENOENT naming DIR if it
 * does not exist). */
int bld_catalog_lock(const char *dir, struct ni_err *e);
void bld_catalog_unlock(int fd);

#endif
