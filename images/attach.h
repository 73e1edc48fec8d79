/* attach.h: attachments: what is added to a version after it was
 * published (its netboot initramfs, a hot-set list), since a manifest
 * never changes. An attachment is a content-named file,
 * public/blobs/<sha256>, plus a small signed record,
 * public/attachments/NAME/VERSION/KIND.json, naming the version's
 * manifest hash and the blob's hash and size. A client verifies the
 * record with the repository key, checks that it names the manifest it
 * verified, then checks the blob's size and hash (cache/attach.h).
 * public/attachments/NAME/VERSION.json lists a version's kinds (unsigned,
 * derived; written empty by publish). Formats in docs/formats.md. */
#ifndef IMG_ATTACH_H
#define IMG_ATTACH_H

#include <stdint.h>

#include "common/err.h"
#include "common/hash.h"
#include "images/repo.h"

/* The largest attachment (clients hold one in memory to verify it). */
#define IMG_ATTACH_MAX (1024ull << 20)
#define IMG_ATTACH_KIND_MAX 32

/* KIND: 1-32 of a-z 0-9 -, not starting with '-'. */
int img_valid_kind(const char *s);

struct img_attach_opts {
	const char *repo;
	const char *target;        /* NAME@VERSION, published */
	const char *kind;
	const char *file;          /* the content: a regular file */
	const char *who;           /* default: img_default_who() */
};

struct img_attach_result {
	char sha256[NI_SHA256_HEX];          /* the blob */
	uint64_t size;
	char manifest_sha256[NI_SHA256_HEX];
	char replaced[NI_SHA256_HEX];        /* the blob it replaced, or "" */
};

/* Under the publishers' lock: copies file to public/blobs/<sha256>
 * (0644, temporary name, fsync, rename), then writes the signed record
 * (atomic rename; an earlier record of the same kind is replaced, the
 * manifest is never touched), then the version's list of attachments. */
int img_attach(const struct img_attach_opts *o, struct img_attach_result *r,
	       struct ni_err *e);

/* Rewrites public/attachments/NAME/VERSION.json from the records in
 * attachments/NAME/VERSION/ (an empty list when there is none: publish
 * writes that, so that every version has a list and a client never has to
 * read a 404 as "none"). The caller holds the lock. */
int img_attach_write_list(const struct img_repo *r, const char *name,
			  const char *version, struct ni_err *e);

#endif
