/* kernel_image.c: a kernel and its modules out of the image itself
 * (/boot/vmlinuz-RELEASE and /lib/modules/RELEASE/, or usr/lib/modules on
 * a merged-/usr image), read with libsquashfs. */
#include "netboot/kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/super.h>

#include "common/fsutil.h"

struct img {
	const char *path;
	sqfs_file_t *file;
	sqfs_super_t super;
	sqfs_compressor_t *cmp;
	sqfs_id_table_t *idtbl;
	sqfs_dir_reader_t *dr;
	sqfs_data_reader_t *data;
	struct ni_err *e;
};

static int sqerr(struct img *m, int err, const char *what)
{
	return ni_err_set(m->e, NI_ESQFS, "%s: %s: libsquashfs error %d", m->path, what, err);
}

/* Writes the regular file n of the image to path. */
static int copy_out(struct img *m, const sqfs_tree_node_t *n, const char *path)
{
	sqfs_u64 size = 0, off = 0;
	char buf[65536], *dir = ni_dirname(path);
	int fd = -1, ret = dir ? ni_mkdir_p(dir, 0755, m->e) : ni_err_set(m->e, NI_ENOMEM, "out of memory");

	free(dir);
	sqfs_inode_get_file_size(n->inode, &size);
	if (ret == 0 && (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		ret = ni_err_errno(m->e, errno, "%s", path);
	while (ret == 0 && off < size) {
		sqfs_s32 k = sqfs_data_reader_read(m->data, n->inode, off, buf, sizeof(buf));

		if (k <= 0)
			ret = sqerr(m, k, "reading a kernel file");
		else if (ni_write_all(fd, buf, (size_t)k) != 0)
			ret = ni_err_errno(m->e, errno, "%s", path);
		off += (sqfs_u64)(k > 0 ? k : 0);
	}
	if (fd >= 0 && close(fd) != 0 && ret == 0)
		ret = ni_err_errno(m->e, errno, "%s", path);
	return ret;
}

/* Every regular file below n, to dir/rel/... */
static int copy_tree(struct img *m, const sqfs_tree_node_t *n, const char *dir)
{
	const sqfs_tree_node_t *c;
	int ret = 0;

	for (c = n->children; c != NULL && ret == 0; c = c->next) {
		char *p = ni_path_join(dir, (const char *)c->name);

		if (p == NULL)
			return ni_err_set(m->e, NI_ENOMEM, "out of memory");
		if (S_ISDIR(c->inode->base.mode))
			ret = copy_tree(m, c, p);
		else if (S_ISREG(c->inode->base.mode))
			ret = copy_out(m, c, p);
		free(p);
	}
	return ret;
}

/* The subtree at path (the first of the names that exists), or NULL. */
static sqfs_tree_node_t *subtree(struct img *m, const char *a, const char *b)
{
	sqfs_tree_node_t *t = NULL;

	if (sqfs_dir_reader_get_full_hierarchy(m->dr, m->idtbl, a, 0, &t) == 0)
		return t;
	if (b != NULL && sqfs_dir_reader_get_full_hierarchy(m->dr, m->idtbl, b, 0, &t) == 0)
		return t;
	return NULL;
}

int nb_kernel_from_image(const char *sqfs, const char *release,
			 const char *dir, struct ni_err *e)
{
	struct img m = { .path = sqfs, .e = e };
	sqfs_compressor_config_t cfg;
	sqfs_tree_node_t *k = NULL, *mods = NULL;
	char kpath[300], m1[300], m2[300], *out = NULL;
	int err, ret = 0;

	snprintf(kpath, sizeof(kpath), "boot/vmlinuz-%s", release);
	snprintf(m1, sizeof(m1), "lib/modules/%s", release);
	snprintf(m2, sizeof(m2), "usr/lib/modules/%s", release);
	if ((m.file = sqfs_open_file(sqfs, SQFS_FILE_OPEN_READ_ONLY)) == NULL)
		return ni_err_errno(e, errno, "%s", sqfs);
	if ((err = sqfs_super_read(&m.super, m.file)) != 0) {
		ret = sqerr(&m, err, "superblock");
		goto out;
	}
	sqfs_compressor_config_init(&cfg, m.super.compression_id, m.super.block_size,
				    SQFS_COMP_FLAG_UNCOMPRESS);
	if ((err = sqfs_compressor_create(&cfg, &m.cmp)) != 0) {
		ret = sqerr(&m, err, "compressor");
		goto out;
	}
	m.idtbl = sqfs_id_table_create(0);
	m.dr = sqfs_dir_reader_create(&m.super, m.cmp, m.file, 0);
	m.data = sqfs_data_reader_create(m.file, m.super.block_size, m.cmp, 0);
	if (m.idtbl == NULL || m.dr == NULL || m.data == NULL) {
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
		goto out;
	}
	if ((err = sqfs_id_table_read(m.idtbl, m.file, &m.super, m.cmp)) != 0 ||
	    (err = sqfs_data_reader_load_fragment_table(m.data, &m.super)) != 0) {
		ret = sqerr(&m, err, "tables");
		goto out;
	}
	if ((k = subtree(&m, kpath, NULL)) == NULL || !S_ISREG(k->inode->base.mode)) {
		ret = ni_err_set(e, NI_ENOENT, "%s: no /%s in the image", sqfs, kpath);
		goto out;
	}
	if ((mods = subtree(&m, m1, m2)) == NULL) {
		ret = ni_err_set(e, NI_ENOENT, "%s: no /%s in the image (its modules)", sqfs, m1);
		goto out;
	}
	if ((out = ni_path_join(dir, "vmlinuz")) == NULL) {
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
		goto out;
	}
	ret = copy_out(&m, k, out);
	free(out);
	if (ret == 0 && (out = ni_path_join(dir, m1)) == NULL)
		ret = ni_err_set(e, NI_ENOMEM, "out of memory");
	if (ret == 0)
		ret = copy_tree(&m, mods, out);
	free(out);
out:
	if (k != NULL)
		sqfs_dir_tree_destroy(k);
	if (mods != NULL)
		sqfs_dir_tree_destroy(mods);
	if (m.data)
		sqfs_destroy(m.data);
	if (m.dr)
		sqfs_destroy(m.dr);
	if (m.idtbl)
		sqfs_destroy(m.idtbl);
	if (m.cmp)
		sqfs_destroy(m.cmp);
	sqfs_destroy(m.file);
	return ret;
}
