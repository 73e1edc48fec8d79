/* test_fusefs.c: the filesystem's reading layer (fusefs/image.h) over a
 * sqfs_file_t whose reads fail: every lookup, inode, listing, xattr and
 * file read either answers right or fails (-EIO), never with wrong bytes,
 * even when the failing read scribbled over the caller's buffer first (as
 * a half-done read may); and once the reads work again, so does
 * everything (nothing of a failed read was kept). The image is made by
 * mksquashfs from a folder of 2,000 entries (the tables span many meta
 * data blocks) and a 700 KB file. */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqfs/dir.h>
#include <sqfs/error.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>

#include "fusefs/image.h"
#include "tests/unit/unit.h"

#define NFILES 2000
#define BIG 700000

struct flaky {
	sqfs_file_t base;
	sqfs_file_t *real;
	uint64_t from;               /* reads at or after this may fail */
	unsigned every;              /* fail one read in `every` (0: none) */
	unsigned long calls, failed;
};

static int flaky_read(sqfs_file_t *f, sqfs_u64 off, void *buf, size_t size)
{
	struct flaky *fl = (struct flaky *)f;

	if (fl->every != 0 && off + size > fl->from &&
	    __atomic_add_fetch(&fl->calls, 1, __ATOMIC_RELAXED) % fl->every == 0) {
		memset(buf, 0x5a, size);   /* a read that wrote, then failed */
		__atomic_add_fetch(&fl->failed, 1, __ATOMIC_RELAXED);
		return SQFS_ERROR_IO;
	}
	return fl->real->read_at(fl->real, off, buf, size);
}

static sqfs_u64 flaky_size(const sqfs_file_t *f)
{
	const struct flaky *fl = (const struct flaky *)f;

	return fl->real->get_size(fl->real);
}

static char *make_image_in(char *dir)
{
	char *img, *cmd, name[64];
	FILE *f;
	int i;

	if (asprintf(&cmd, "mkdir -p %s/src/d", dir) < 0 || system(cmd) != 0)
		exit(1);
	free(cmd);
	free(unit_write(dir, "src/d/.x", ""));
	for (i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "src/d/entry-%05d", i);
		free(unit_write(dir, name, i % 7 ? "" : "seventh\n"));
	}
	if (asprintf(&img, "%s/src/big", dir) < 0)
		exit(1);
	f = fopen(img, "w");
	srand(7);
	for (i = 0; f != NULL && i < BIG; i++)
		fputc('a' + rand() % 20, f);
	if (f == NULL || fclose(f) != 0)
		exit(1);
	free(img);
	if (asprintf(&img, "%s/t.sqfs", dir) < 0 ||
	    asprintf(&cmd, "mksquashfs %s/src %s -comp zstd -b 65536 "
		     "-noappend -quiet >/dev/null", dir, img) < 0)
		exit(1);
	i = system(cmd);
	free(cmd);
	if (i != 0) {
		free(img);
		return NULL;
	}
	return img;
}

/* The image is made once, for both tests; the second removes it. */
static char *img_dir, *img_path;

static char *make_image(char **dir)
{
	if (img_dir == NULL) {
		img_dir = unit_tmpdir();
		img_path = make_image_in(img_dir);
	}
	*dir = img_dir;
	return img_path;
}

static void drop_image(void)
{
	free(img_path);
	unit_rmtree(img_dir);
	img_path = img_dir = NULL;
}

/* What the clean image answers, to compare the faulty answers with. */
struct truth {
	uint64_t ref[NFILES];
	uint32_t ino[NFILES];
	char *big;
};

static int lookup_one(struct ffs_image *im, struct ffs_ctx *c,
		      const sqfs_inode_generic_t *dir, int i, uint64_t *ref,
		      uint32_t *ino)
{
	sqfs_inode_generic_t *in = NULL;
	struct stat st;
	char name[32];
	int ret;

	snprintf(name, sizeof(name), "entry-%05d", i);
	ret = ffs_dir_lookup(im, c, dir, name, ref);
	if (ret == 0)
		ret = ffs_inode_read(im, c, *ref, &in);
	if (ret == 0)
		ret = ffs_inode_stat(im, in, &st);
	if (ret == 0)
		*ino = (uint32_t)st.st_ino;
	free(in);
	return ret;
}

static int get_dir(struct ffs_image *im, struct ffs_ctx *c, const char *name,
		   sqfs_inode_generic_t **out)
{
	sqfs_inode_generic_t *root = NULL;
	uint64_t ref;
	int ret = ffs_inode_read(im, c, im->super.root_inode_ref, &root);

	if (ret == 0)
		ret = ffs_dir_lookup(im, c, root, name, &ref);
	if (ret == 0)
		ret = ffs_inode_read(im, c, ref, out);
	free(root);
	return ret;
}

static int read_big(struct ffs_image *im, struct ffs_ctx *c, char *buf,
		    uint64_t off, size_t len)
{
	sqfs_inode_generic_t *big = NULL;
	struct ffs_file *f = NULL;
	ssize_t n;
	int ret = get_dir(im, c, "big", &big);

	if (ret == 0)
		ret = ffs_file_open(im, big, &f);
	else
		free(big);
	if (ret != 0)
		return ret;
	n = ffs_file_read(im, c, f, off, len, buf);
	ffs_file_close(f);
	return n < 0 ? (int)n : (n == (ssize_t)len ? 0 : -EINVAL);
}

static int t_faults_never_lie(void)
{
	char *dir, *img = make_image(&dir);
	struct ni_err e = { 0 };
	struct flaky fl;
	struct ffs_image *im = NULL;
	struct ffs_ctx *c;
	sqfs_inode_generic_t *d = NULL;
	struct truth *t = calloc(1, sizeof(*t));
	char *buf = malloc(BIG);
	int fails = 0, i, ret, errors = 0, lies = 0;

	UCHECK(img != NULL);
	if (img == NULL)
		goto out;
	memset(&fl, 0, sizeof(fl));
	fl.real = sqfs_open_file(img, SQFS_FILE_OPEN_READ_ONLY);
	UCHECK(fl.real != NULL);
	if (fl.real == NULL)
		goto out;
	fl.base.read_at = flaky_read;
	fl.base.get_size = flaky_size;
	ret = ffs_image_open(&im, &fl.base, "t.sqfs", &e);
	UCHECK(ret == 0);
	if (ret != 0) {
		printf("#   %s\n", e.msg);
		goto out;
	}
	/* the truth, from clean reads */
	c = ffs_ctx_get(im);
	UCHECK(get_dir(im, c, "d", &d) == 0);
	for (i = 0; d != NULL && i < NFILES; i++)
		UCHECK(lookup_one(im, c, d, i, &t->ref[i], &t->ino[i]) == 0);
	t->big = malloc(BIG);
	UCHECK(read_big(im, c, t->big, 0, BIG) == 0);
	ffs_ctx_put(im, c);

	/* one read in three of the tables and data fails, scribbling */
	fl.from = 96;
	fl.every = 3;
	for (i = 0; d != NULL && i < NFILES; i++) {
		uint64_t ref = 0;
		uint32_t ino = 0;

		c = ffs_ctx_get(im);
		ret = lookup_one(im, c, d, i, &ref, &ino);
		/* a failed read must retire the context's readers */
		if (ret == -EIO && !c->bad)
			lies++;
		ffs_ctx_put(im, c);
		if (ret != 0)
			errors += ret == -EIO;
		else if (ref != t->ref[i] || ino != t->ino[i])
			lies++;
	}
	UCHECK(errors > 0);
	UCHECK(lies == 0);
	for (i = 0, errors = 0; i < 60; i++) {
		uint64_t off = (uint64_t)(i * 11113) % (BIG - 70000);

		c = ffs_ctx_get(im);
		ret = read_big(im, c, buf, off, 70000);
		ffs_ctx_put(im, c);
		if (ret != 0)
			errors += ret == -EIO;
		else if (memcmp(buf, t->big + off, 70000) != 0)
			lies++;
	}
	UCHECK(errors > 0);
	UCHECK(lies == 0);

	/* the reads work again: so does everything */
	fl.every = 0;
	c = ffs_ctx_get(im);
	for (i = 0; d != NULL && i < NFILES; i++) {
		uint64_t ref = 0;
		uint32_t ino = 0;

		UCHECK(lookup_one(im, c, d, i, &ref, &ino) == 0 &&
		       ref == t->ref[i] && ino == t->ino[i]);
	}
	UCHECK(read_big(im, c, buf, 0, BIG) == 0 && memcmp(buf, t->big, BIG) == 0);
	ffs_ctx_put(im, c);
	UCHECK(fl.failed > 0);
out:
	free(d);
	ffs_image_close(im);
	if (fl.real != NULL)
		sqfs_destroy(fl.real);
	if (t != NULL)
		free(t->big);
	free(t);
	free(buf);
	(void)dir;
	return fails;
}

/* Names around the index's entries are found, names between them are
 * not, and a listing yields every name once, in order. */
static int t_lookup_and_list(void)
{
	char *dir, *img = make_image(&dir);
	struct ni_err e = { 0 };
	struct ffs_image *im = NULL;
	sqfs_file_t *file = NULL;
	sqfs_inode_generic_t *d = NULL;
	sqfs_dir_entry_t *ent;
	struct ffs_dirpos p;
	struct ffs_ctx *c = NULL;
	char name[32], prev[300] = "";
	uint64_t ref;
	int fails = 0, i, n = 0, ordered = 1;

	UCHECK(img != NULL);
	if (img == NULL || (file = sqfs_open_file(img, SQFS_FILE_OPEN_READ_ONLY)) == NULL)
		goto out;
	if (ffs_image_open(&im, file, "t.sqfs", &e) != 0) {
		printf("#   %s\n", e.msg);
		fails++;
		goto out;
	}
	c = ffs_ctx_get(im);
	UCHECK(get_dir(im, c, "d", &d) == 0);
	if (d == NULL)
		goto out;
	UCHECK(d->base.type == SQFS_INODE_EXT_DIR);
	for (i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "entry-%05d", i);
		UCHECK(ffs_dir_lookup(im, c, d, name, &ref) == 0);
		snprintf(name, sizeof(name), "entry-%05d-", i);
		UCHECK(ffs_dir_lookup(im, c, d, name, &ref) == -ENOENT);
	}
	UCHECK(ffs_dir_lookup(im, c, d, "", &ref) == -ENOENT);
	UCHECK(ffs_dir_lookup(im, c, d, ".x", &ref) == 0);
	UCHECK(ffs_dir_lookup(im, c, d, "zzz", &ref) == -ENOENT);
	UCHECK(ffs_dir_lookup(im, c, d, "a", &ref) == -ENOENT);
	UCHECK(ffs_dir_open(im, d, &p) == 0);
	while (ffs_dir_next(im, c, &p, &ent, &ref, NULL) == 0) {
		if (strcmp(prev, (char *)ent->name) >= 0)
			ordered = 0;
		snprintf(prev, sizeof(prev), "%s", (char *)ent->name);
		free(ent);
		n++;
	}
	UCHECK(n == NFILES + 1);
	UCHECK(ordered);
out:
	free(d);
	ffs_ctx_put(im, c);
	ffs_image_close(im);
	if (file != NULL)
		sqfs_destroy(file);
	(void)dir;
	drop_image();
	return fails;
}

const struct unit_test unit_fusefs_tests[] = {
	{ "fusefs: failing reads give errors, never wrong bytes", t_faults_never_lie },
	{ "fusefs: lookup through the folder index, listing", t_lookup_and_list },
	{ NULL, NULL },
};
