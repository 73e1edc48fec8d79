/* compwrap.c: wraps a libsquashfs compressor so that a block that does not
 * shrink is stored uncompressed. libsquashfs 1.2's lz4 keeps a 5-byte
 * "compressed" copy of a 4-byte table, which squashfs-tools' unsquashfs
 * then refuses to read; every reader handles an uncompressed block. */
#include <stdlib.h>

#include <sqfs/compressor.h>
#include <sqfs/error.h>

#include "builder/writer_internal.h"

struct wrap {
	sqfs_compressor_t base;
	sqfs_compressor_t *inner;
};

static void get_config(const sqfs_compressor_t *c, sqfs_compressor_config_t *cfg)
{
	const struct wrap *w = (const struct wrap *)c;

	w->inner->get_configuration(w->inner, cfg);
}

static int write_opts(sqfs_compressor_t *c, sqfs_file_t *f)
{
	struct wrap *w = (struct wrap *)c;

	return w->inner->write_options(w->inner, f);
}

static int read_opts(sqfs_compressor_t *c, sqfs_file_t *f)
{
	struct wrap *w = (struct wrap *)c;

	return w->inner->read_options(w->inner, f);
}

static sqfs_s32 do_block(sqfs_compressor_t *c, const sqfs_u8 *in,
			 sqfs_u32 size, sqfs_u8 *out, sqfs_u32 outsize)
{
	struct wrap *w = (struct wrap *)c;
	sqfs_s32 ret = w->inner->do_block(w->inner, in, size, out, outsize);

	return (ret > 0 && (sqfs_u32)ret >= size) ? 0 : ret;
}

static void destroy(sqfs_object_t *o)
{
	struct wrap *w = (struct wrap *)o;

	sqfs_destroy(w->inner);
	free(w);
}

static sqfs_compressor_t *wrap(sqfs_compressor_t *inner);

static sqfs_object_t *copy(const sqfs_object_t *o)
{
	const struct wrap *w = (const struct wrap *)o;
	sqfs_compressor_t *inner = sqfs_copy(w->inner), *out;

	if (inner == NULL)
		return NULL;
	out = wrap(inner);
	if (out == NULL)
		sqfs_destroy(inner);
	return (sqfs_object_t *)out;
}

static sqfs_compressor_t *wrap(sqfs_compressor_t *inner)
{
	struct wrap *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->inner = inner;
	w->base.base.destroy = destroy;
	w->base.base.copy = copy;
	w->base.get_configuration = get_config;
	w->base.write_options = write_opts;
	w->base.read_options = read_opts;
	w->base.do_block = do_block;
	return &w->base;
}

int bld_compressor_create(const sqfs_compressor_config_t *cfg,
			  sqfs_compressor_t **out)
{
	sqfs_compressor_t *inner;
	int ret = sqfs_compressor_create(cfg, &inner);

	if (ret != 0)
		return ret;
	*out = wrap(inner);
	if (*out == NULL) {
		sqfs_destroy(inner);
		return SQFS_ERROR_ALLOC;
	}
	return 0;
}
