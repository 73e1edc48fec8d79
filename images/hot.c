/* hot.c: the hot-set list: parsing, and its files' places in an image
 * (hot.h), read with libsquashfs: paths by sqfs_dir_reader_find_by_path,
 * data blocks from the inode, fragment blocks from the fragment table. */
#include "images/hot.h"

#include <stdlib.h>
#include <string.h>

#include <sqfs/block.h>
#include <sqfs/compressor.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/inode.h>
#include <sqfs/super.h>

#include "common/grow.h"

/* ---- the list ---- */

/* "" when the path is clean, else what is wrong with it. */
static const char *bad_path(const char *p, size_t len)
{
	size_t i, start;

	if (len == 0)
		return "an empty line";
	if (p[0] != '/')
		return "not an absolute path";
	if (len > IMG_HOT_PATH_MAX)
		return "a path longer than 4096 bytes";
	if (len == 1)
		return "'/' is not a file";
	for (i = 1, start = 1; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		if (i == start)
			return i == len ? "a path ending in '/'" : "an empty path component ('//')";
		if ((i - start == 1 && p[start] == '.') ||
		    (i - start == 2 && p[start] == '.' && p[start + 1] == '.'))
			return "a '.' or '..' component";
		start = i + 1;
	}
	return "";
}

static int cmp_str(const void *a, const void *b, void *arg)
{
	char **path = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(path[x], path[y]);

	return c ? c : (x < y ? -1 : x > y);
}

/* A path given twice: names the second line. */
static int check_dups(const char *what, const struct img_hot *h, struct ni_err *e)
{
	size_t *o = malloc((h->n + 1) * sizeof(*o)), i;
	int ret = 0;

	if (o == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	for (i = 0; i < h->n; i++)
		o[i] = i;
	qsort_r(o, h->n, sizeof(*o), cmp_str, h->path);
	for (i = 1; i < h->n && ret == 0; i++)
		if (strcmp(h->path[o[i - 1]], h->path[o[i]]) == 0)
			ret = ni_err_set(e, NI_EINVAL, "%s:%zu: '%s' is already on line %zu",
					 what, o[i] + 1, h->path[o[i]], o[i - 1] + 1);
	free(o);
	return ret;
}

int img_hot_parse(const char *what, const uint8_t *buf, size_t len,
		  struct img_hot *h, struct ni_err *e)
{
	const char *p = (const char *)buf, *end = p + len, *nl, *why;
	size_t line = 0;
	int ret = 0;

	memset(h, 0, sizeof(*h));
	if (len == 0)
		return ni_err_set(e, NI_EINVAL, "%s: empty (no path)", what);
	if (len > IMG_HOT_MAX)
		return ni_err_set(e, NI_EINVAL, "%s: larger than %u MiB", what, IMG_HOT_MAX >> 20);
	while (ret == 0 && p < end) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL) {
			ret = ni_err_set(e, NI_EINVAL, "%s:%zu: a NUL byte (not a list of paths)", what, line);
			break;
		}
		why = bad_path(p, (size_t)(nl - p));
		if (*why != '\0') {
			ret = ni_err_set(e, NI_EINVAL, "%s:%zu: %s (expected one absolute path inside the image per line)",
					 what, line, why);
			break;
		}
		if (nl == end) {
			ret = ni_err_set(e, NI_EINVAL, "%s:%zu: the last line has no newline", what, line);
			break;
		}
		if (ni_grow(&h->path, &h->cap, h->n, sizeof(*h->path), 64) != 0 ||
		    (h->path[h->n] = strndup(p, (size_t)(nl - p))) == NULL) {
			ret = ni_err_set(e, NI_ENOMEM, "out of memory");
			break;
		}
		h->n++;
		p = nl + 1;
	}
	if (ret == 0)
		ret = check_dups(what, h, e);
	if (ret != 0)
		img_hot_free(h);
	return ret;
}

void img_hot_free(struct img_hot *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		free(h->path[i]);
	free(h->path);
	memset(h, 0, sizeof(*h));
}

/* ---- places in the image ---- */

static int sq_fail(struct ni_err *e, const char *what, int err, const char *doing)
{
	return ni_err_set(e, err == SQFS_ERROR_ALLOC ? NI_ENOMEM : NI_ESQFS,
			  "%s: %s (squashfs error %d)", what, doing, err);
}

int img_hot_meta(sqfs_file_t *file, const char *what,
		 struct img_hot_extent x[2], size_t *n, struct ni_err *e)
{
	sqfs_super_t s;
	uint64_t head = sizeof(sqfs_super_t);
	int err;

	*n = 0;
	if ((err = sqfs_super_read(&s, file)) != 0)
		return sq_fail(e, what, err, "not a squashfs image");
	if (s.flags & SQFS_FLAG_COMPRESSOR_OPTIONS)
		head += 2 + 64;   /* a meta data block header and the options */
	x[(*n)++] = (struct img_hot_extent){ 0, head };
	if (s.bytes_used > s.inode_table_start && s.inode_table_start >= head)
		x[(*n)++] = (struct img_hot_extent){ s.inode_table_start,
						     s.bytes_used - s.inode_table_start };
	return 0;
}

struct rctx {
	sqfs_super_t s;
	sqfs_compressor_t *cmp;
	sqfs_dir_reader_t *dr;
	sqfs_frag_table_t *ft;
};

static int open_image(struct rctx *c, sqfs_file_t *file, const char *what,
		      struct ni_err *e)
{
	sqfs_compressor_config_t cfg;
	int err;

	if ((err = sqfs_super_read(&c->s, file)) != 0)
		return sq_fail(e, what, err, "not a squashfs image");
	sqfs_compressor_config_init(&cfg, c->s.compression_id, c->s.block_size,
				    SQFS_COMP_FLAG_UNCOMPRESS);
	if ((err = sqfs_compressor_create(&cfg, &c->cmp)) != 0)
		return sq_fail(e, what, err, "unsupported compressor");
	if ((c->s.flags & SQFS_FLAG_COMPRESSOR_OPTIONS) &&
	    (err = c->cmp->read_options(c->cmp, file)) != 0)
		return sq_fail(e, what, err, "corrupt compressor options");
	if ((c->ft = sqfs_frag_table_create(0)) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	if (!(c->s.flags & SQFS_FLAG_NO_FRAGMENTS) && c->s.fragment_entry_count > 0 &&
	    (err = sqfs_frag_table_read(c->ft, file, &c->s, c->cmp)) != 0)
		return sq_fail(e, what, err, "reading the fragment table");
	if ((c->dr = sqfs_dir_reader_create(&c->s, c->cmp, file, 0)) == NULL)
		return ni_err_set(e, NI_ENOMEM, "out of memory");
	return 0;
}

/* A regular file's extents: its data blocks, its fragment block. */
static int file_extents(struct rctx *c, const sqfs_inode_generic_t *ino,
			struct img_hot_extent x[2], size_t *n)
{
	sqfs_u64 size = 0, start = 0, data = 0;
	sqfs_u32 idx = 0xFFFFFFFF, off = 0;
	sqfs_fragment_t fr;
	size_t i, count = sqfs_inode_get_file_block_count(ino);

	*n = 0;
	sqfs_inode_get_file_size(ino, &size);
	sqfs_inode_get_file_block_start(ino, &start);
	for (i = 0; i < count; i++)
		data += SQFS_ON_DISK_BLOCK_SIZE(ino->extra[i]);
	if (data > 0)
		x[(*n)++] = (struct img_hot_extent){ start, data };
	sqfs_inode_get_frag_location(ino, &idx, &off);
	if (idx == 0xFFFFFFFF || size % c->s.block_size == 0 ||
	    count * (uint64_t)c->s.block_size >= size || idx >= c->s.fragment_entry_count)
		return 0;
	if (sqfs_frag_table_lookup(c->ft, idx, &fr) != 0)
		return -1;
	if (SQFS_ON_DISK_BLOCK_SIZE(fr.size) > 0)
		x[(*n)++] = (struct img_hot_extent){ fr.start_offset,
						     SQFS_ON_DISK_BLOCK_SIZE(fr.size) };
	return 0;
}

int img_hot_resolve(sqfs_file_t *file, const char *what, const char *list_name,
		    const struct img_hot *h, int flags, img_hot_cb cb, void *user,
		    struct ni_err *e)
{
	struct rctx c;
	struct img_hot_extent x[2];
	sqfs_inode_generic_t *ino;
	size_t i, n;
	int ret, err, t;

	memset(&c, 0, sizeof(c));
	ret = open_image(&c, file, what, e);
	for (i = 0; ret == 0 && i < h->n; i++) {
		ino = NULL;
		err = sqfs_dir_reader_find_by_path(c.dr, NULL, h->path[i], &ino);
		if (err == SQFS_ERROR_NO_ENTRY || err == SQFS_ERROR_NOT_DIR) {
			if (flags & IMG_HOT_STRICT)
				ret = ni_err_set(e, NI_ENOENT, "%s:%zu: '%s': no such file in %s",
						 list_name, i + 1, h->path[i], what);
			continue;
		}
		if (err != 0) {
			ret = sq_fail(e, what, err, "reading the folders");
			break;
		}
		t = ino->base.type;
		if (t != SQFS_INODE_FILE && t != SQFS_INODE_EXT_FILE) {
			if (flags & IMG_HOT_STRICT)
				ret = ni_err_set(e, NI_EINVAL, "%s:%zu: '%s': not a regular file in %s",
						 list_name, i + 1, h->path[i], what);
		} else if (file_extents(&c, ino, x, &n) != 0) {
			ret = ni_err_set(e, NI_ESQFS, "%s: '%s': fragment out of range", what,
					 h->path[i]);
		} else if (cb != NULL) {
			ret = cb(user, i, x, n);
		}
		sqfs_free(ino);
	}
	if (c.dr != NULL)
		sqfs_destroy(c.dr);
	if (c.ft != NULL)
		sqfs_destroy(c.ft);
	if (c.cmp != NULL)
		sqfs_destroy(c.cmp);
	return ret;
}
