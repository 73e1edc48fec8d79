/* err.h: the project's error codes and the error context that modules fill
 * in for the CLI to print. Modules never print; they return a negative
 * NI_E* code and, where a file or entry is involved, describe it in a
 * struct ni_err so the CLI can say one clear line. */
#ifndef NI_ERR_H
#define NI_ERR_H

#include <stddef.h>

enum ni_errcode {
	NI_OK = 0,
	NI_ENOMEM = -1,      /* out of memory */
	NI_EIO = -2,         /* read or write failed */
	NI_EINVAL = -3,      /* malformed input (recipe, catalog, archive) */
	NI_ENOENT = -4,      /* a file or entry that must exist does not */
	NI_EEXIST = -5,      /* already exists */
	NI_EHASH = -6,       /* a pinned SHA-256 does not match */
	NI_EUNSAFE = -7,     /* an archive entry escapes the root or abuses a link */
	NI_EARCHIVE = -8,    /* an archive is truncated or corrupt */
	NI_ENOSPC = -9,      /* disk full */
	NI_ECYCLE = -10,     /* a cycle (supersedence, links) */
	NI_EDUP = -11,       /* a duplicate id */
	NI_ESQFS = -12,      /* libsquashfs reported an error */
	NI_EUSAGE = -13,     /* bad command line */
	NI_EPERM = -14,      /* permission denied */
	NI_ESTATE = -15,     /* the operation is not allowed in this state */
};

/* Where a module explains what went wrong. msg is one line, already naming
 * the file (and entry or line) involved. */
struct ni_err {
	int code;
	char msg[1024];
};

const char *ni_strerror(int code);

/* Sets e->code and formats e->msg; returns code so callers can write
 * `return ni_err_set(e, NI_EINVAL, "...")`. e may be NULL. */
int ni_err_set(struct ni_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like ni_err_set but appends ": strerror(errnum)". */
int ni_err_errno(struct ni_err *e, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Maps an errno value to the closest NI_E* code. */
int ni_err_from_errno(int errnum);

#endif
