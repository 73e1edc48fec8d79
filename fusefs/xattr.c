/* xattr.c: an inode's extended attributes through the context's copy of
 * libsquashfs's xattr reader (keys come back with their prefix, "user.",
 * "trusted." or "security.", values out of line resolved). */
#include "fusefs/image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sqfs/error.h>
#include <sqfs/inode.h>
#include <sqfs/xattr.h>
#include <sqfs/xattr_reader.h>

/* Calls fn for each key and value; stops when it returns non-zero. */
static int each(struct ffs_image *im, struct ffs_ctx *c,
		const sqfs_inode_generic_t *in,
		int (*fn)(void *arg, const char *key, const sqfs_xattr_value_t *v),
		void *arg)
{
	sqfs_xattr_reader_t *xr;
	sqfs_xattr_entry_t *key;
	sqfs_xattr_value_t *val;
	sqfs_xattr_id_t desc;
	sqfs_u32 idx, i;
	int err, stop = 0;

	if (sqfs_inode_get_xattr_index(in, &idx) != 0 || idx == 0xFFFFFFFF)
		return 0;
	if ((xr = ffs_ctx_xattr(im, c, &err)) == NULL)
		return err;
	if ((err = sqfs_xattr_reader_get_desc(xr, idx, &desc)) != 0 ||
	    (err = sqfs_xattr_reader_seek_kv(xr, &desc)) != 0)
		return ffs_sqerr(im, c, err);
	for (i = 0; i < desc.count && !stop; i++) {
		if ((err = sqfs_xattr_reader_read_key(xr, &key)) != 0)
			return ffs_sqerr(im, c, err);
		err = sqfs_xattr_reader_read_value(xr, key, &val);
		if (err != 0) {
			free(key);
			return ffs_sqerr(im, c, err);
		}
		stop = fn(arg, (const char *)key->key, val);
		free(key);
		free(val);
	}
	return stop < 0 ? stop : 0;
}

struct list_arg {
	char *buf;
	size_t size, len;
};

static int list_one(void *arg, const char *key, const sqfs_xattr_value_t *v)
{
	struct list_arg *a = arg;
	size_t n = strlen(key) + 1;

	(void)v;
	if (a->size != 0 && a->len + n <= a->size)
		memcpy(a->buf + a->len, key, n);
	a->len += n;
	return 0;
}

int ffs_xattr_list(struct ffs_image *im, struct ffs_ctx *c,
		   const sqfs_inode_generic_t *in, char *buf, size_t size,
		   size_t *len)
{
	struct list_arg a = { buf, size, 0 };
	int ret = each(im, c, in, list_one, &a);

	if (ret != 0)
		return ret;
	*len = a.len;
	return size != 0 && a.len > size ? -ERANGE : 0;
}

struct get_arg {
	const char *name;
	char *buf;
	size_t size, len;
	int found;
};

static int get_one(void *arg, const char *key, const sqfs_xattr_value_t *v)
{
	struct get_arg *a = arg;

	if (strcmp(key, a->name) != 0)
		return 0;
	a->found = 1;
	a->len = v->size;
	if (a->size != 0 && v->size <= a->size)
		memcpy(a->buf, v->value, v->size);
	return 1;
}

int ffs_xattr_get(struct ffs_image *im, struct ffs_ctx *c,
		  const sqfs_inode_generic_t *in, const char *name,
		  char *buf, size_t size, size_t *len)
{
	struct get_arg a = { name, buf, size, 0, 0 };
	int ret = each(im, c, in, get_one, &a);

	if (ret != 0)
		return ret;
	if (!a.found)
		return -ENODATA;
	*len = a.len;
	return size != 0 && a.len > size ? -ERANGE : 0;
}
