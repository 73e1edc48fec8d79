/* err.c: error code text and the error context helpers. */
#include "common/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const texts[] = {
	[0] = "success",
	[1] = "out of memory",
	[2] = "input/output error",
	[3] = "invalid input",
	[4] = "not found",
	[5] = "already exists",
	[6] = "hash mismatch",
	[7] = "unsafe path",
	[8] = "corrupt or truncated archive",
	[9] = "no space left on device",
	[10] = "cycle detected",
	[11] = "duplicate id",
	[12] = "squashfs error",
	[13] = "usage error",
	[14] = "permission denied",
	[15] = "not allowed in this state",
};

const char *ni_strerror(int code)
{
	size_t i = (size_t)(code < 0 ? -code : code);

	if (i >= sizeof(texts) / sizeof(texts[0]) || texts[i] == NULL)
		return "unknown error";
	return texts[i];
}

int ni_err_from_errno(int errnum)
{
	switch (errnum) {
	case ENOMEM: return NI_ENOMEM;
	case ENOENT: case ENOTDIR: return NI_ENOENT;
	case EEXIST: return NI_EEXIST;
	case ENOSPC: case EDQUOT: case EFBIG: return NI_ENOSPC;
	case EACCES: case EPERM: return NI_EPERM;
	default: return NI_EIO;
	}
}

static void set_v(struct ni_err *e, int code, const char *fmt, va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int ni_err_set(struct ni_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	va_start(ap, fmt);
	set_v(e, code, fmt, ap);
	va_end(ap);
	return code;
}

int ni_err_errno(struct ni_err *e, int errnum, const char *fmt, ...)
{
	int code = ni_err_from_errno(errnum);
	size_t n;
	va_list ap;

	if (e == NULL)
		return code;
	va_start(ap, fmt);
	set_v(e, code, fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(errnum));
	return code;
}
