/* ll.c: the FUSE low-level operations. Every request borrows a reading
 * context for its length and answers exactly once, with data or an errno
 * (EIO when the image could not be read): no request waits on another.
 *
 * The image never changes under a mount, so the kernel is told to keep
 * everything: entries (negative ones too), attributes, symlink targets,
 * file pages (keep_cache) and directory listings (cache_readdir). */
#include "fusefs/fusefs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sqfs/dir.h>
#include <sqfs/inode.h>

/* seconds: the image is immutable */
#define FOREVER 1e9

static struct fusefs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* A reply buffer of at least n bytes in the context. */
static char *outbuf(struct ffs_ctx *c, size_t n)
{
	if (c->outcap < n) {
		char *p = realloc(c->out, n);

		if (p == NULL)
			return NULL;
		c->out = p;
		c->outcap = n;
	}
	return c->out;
}

/* Reads the inode of ino with c; replies the error itself on failure. */
static sqfs_inode_generic_t *get_inode(fuse_req_t req, struct ffs_ctx *c,
				       fuse_ino_t ino)
{
	struct ffs_image *im = fs_of(req)->im;
	sqfs_inode_generic_t *in = NULL;
	int ret;

	if (c == NULL) {
		fuse_reply_err(req, ENOMEM);
		return NULL;
	}
	ret = ffs_inode_read(im, c, ffs_ref(im, ino), &in);
	if (ret != 0) {
		fuse_reply_err(req, -ret);
		return NULL;
	}
	return in;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fusefs *fs = userdata;
	char one = 1;

	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	/* attributes never change: nothing to invalidate */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* read requests of up to 256 KiB (max_pages follows max_write):
	 * the kernel's readahead asks for no more, and each thread's reply
	 * buffer and libfuse's receive buffer are of that size */
	conn->max_write = 256u << 10;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	if (fs->ready_fd >= 0) {
		if (write(fs->ready_fd, &one, 1) != 1) {
			/* the parent is gone; serve anyway */
		}
		close(fs->ready_fd);
		fs->ready_fd = -1;
	}
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fusefs *fs = fs_of(req);
	struct ffs_ctx *c = ffs_ctx_get(fs->im);
	sqfs_inode_generic_t *dir, *in = NULL;
	struct fuse_entry_param e;
	uint64_t ref;
	int ret;

	if ((dir = get_inode(req, c, parent)) == NULL)
		goto out;
	memset(&e, 0, sizeof(e));
	e.attr_timeout = e.entry_timeout = FOREVER;
	ret = S_ISDIR(dir->base.mode) ?
		ffs_dir_lookup(fs->im, c, dir, name, &ref) : -ENOTDIR;
	if (ret == -ENOENT) {
		fuse_reply_entry(req, &e);   /* ino 0: a cached "no such" */
		goto out;
	}
	if (ret == 0 && (ret = ffs_inode_read(fs->im, c, ref, &in)) == 0)
		ret = ffs_inode_stat(fs->im, in, &e.attr);
	if (ret != 0) {
		fuse_reply_err(req, -ret);
		goto out;
	}
	e.ino = ffs_nodeid(fs->im, ref);
	if (fs->rec != NULL)
		ffs_record_name(fs->rec, e.ino, parent, name);
	fuse_reply_entry(req, &e);
out:
	free(in);
	free(dir);
	ffs_ctx_put(fs->im, c);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fusefs *fs = fs_of(req);
	struct ffs_ctx *c = ffs_ctx_get(fs->im);
	sqfs_inode_generic_t *in = get_inode(req, c, ino);
	struct stat st;
	int ret;

	if (in != NULL) {
		ret = ffs_inode_stat(fs->im, in, &st);
		if (ret == 0)
			fuse_reply_attr(req, &st, FOREVER);
		else
			fuse_reply_err(req, -ret);
	}
	free(in);
	ffs_ctx_put(fs->im, c);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fusefs *fs = fs_of(req);
	struct ffs_ctx *c = ffs_ctx_get(fs->im);
	sqfs_inode_generic_t *in = get_inode(req, c, ino);

	if (in != NULL) {
		if (S_ISLNK(in->base.mode))
			/* the inode reader ends the target with a NUL */
			fuse_reply_readlink(req, (const char *)in->extra);
		else
			fuse_reply_err(req, EINVAL);
	}
	free(in);
	ffs_ctx_put(fs->im, c);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fusefs *fs = fs_of(req);
	struct ffs_ctx *c = ffs_ctx_get(fs->im);
	sqfs_inode_generic_t *in;
	struct ffs_file *f;
	int ret;

	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		ffs_ctx_put(fs->im, c);
		return;
	}
	in = get_inode(req, c, ino);
	ffs_ctx_put(fs->im, c);
	if (in == NULL)
		return;
	if ((ret = ffs_file_open(fs->im, in, &f)) != 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	fi->fh = (uintptr_t)f;
	fi->keep_cache = 1;
	fi->noflush = 1;
	if (fs->rec != NULL)
		ffs_record_open(fs->rec, ino);
	if (fuse_reply_open(req, fi) != 0)
		ffs_file_close(f);   /* the open was interrupted */
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fusefs *fs = fs_of(req);
	struct ffs_file *f = (struct ffs_file *)(uintptr_t)fi->fh;
	struct ffs_ctx *c = ffs_ctx_get(fs->im);
	char *buf = c != NULL ? outbuf(c, size) : NULL;
	ssize_t n;

	if (fs->read_delay_ms > 0) {
		struct timespec d = { fs->read_delay_ms / 1000,
				      (fs->read_delay_ms % 1000) * 1000000L };

		nanosleep(&d, NULL);
	}
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
	} else {
		n = ffs_file_read(fs->im, c, f, (uint64_t)off, size, buf);
		if (n < 0)
			fuse_reply_err(req, (int)-n);
		else
			fuse_reply_buf(req, buf, (size_t)n);
	}
	ffs_ctx_put(fs->im, c);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	ffs_file_close((struct ffs_file *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* An open folder: where the listing stands, so each reply continues the
 * last one without reading the listing again from its start. */
struct dirh {
	pthread_mutex_t mu;
	sqfs_inode_generic_t *inode;
	struct ffs_dirpos pos;
	uint64_t next;               /* 0 ".", 1 "..", 2... the listing */
	sqfs_dir_entry_t *pend;      /* read from pos, not yet sent */
	uint64_t pend_ref;
	uint32_t pend_inum;
};

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fusefs *fs = fs_of(req);
	struct ffs_ctx *c = ffs_ctx_get(fs->im);
	sqfs_inode_generic_t *in = get_inode(req, c, ino);
	struct dirh *d;

	ffs_ctx_put(fs->im, c);
	if (in == NULL)
		return;
	if (!S_ISDIR(in->base.mode)) {
		free(in);
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		free(in);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&d->mu, NULL);
	d->inode = in;
	ffs_dir_open(fs->im, in, &d->pos);
	fi->fh = (uintptr_t)d;
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	if (fuse_reply_open(req, fi) != 0) {
		pthread_mutex_destroy(&d->mu);
		free(d->inode);
		free(d);
	}
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;

	free(d->pend);
	free(d->inode);
	pthread_mutex_destroy(&d->mu);
	free(d);
	fuse_reply_err(req, 0);
}

static mode_t dirent_mode(unsigned type)
{
	static const mode_t m[] = { 0, S_IFDIR, S_IFREG, S_IFLNK, S_IFBLK,
				    S_IFCHR, S_IFIFO, S_IFSOCK };

	if (type >= 8)
		type -= 7;                /* an extended type */
	return type < 8 ? m[type] : 0;
}

/* Moves d so that its next entry is number idx. */
static int seek_dir(struct fusefs *fs, struct ffs_ctx *c, struct dirh *d,
		    uint64_t idx)
{
	int ret;

	if (idx < d->next) {
		free(d->pend);
		d->pend = NULL;
		ffs_dir_open(fs->im, d->inode, &d->pos);
		d->next = 0;
	}
	while (d->next < idx) {
		if (d->next >= 2 && d->pend == NULL) {
			ret = ffs_dir_next(fs->im, c, &d->pos, &d->pend,
					   &d->pend_ref, &d->pend_inum);
			if (ret != 0)
				return ret > 0 ? 0 : ret;
		}
		free(d->pend);
		d->pend = NULL;
		d->next++;
	}
	return 0;
}

static uint32_t parent_inum(const sqfs_inode_generic_t *dir)
{
	return dir->base.type == SQFS_INODE_EXT_DIR ?
		dir->data.dir_ext.parent_inode : dir->data.dir.parent_inode;
}

static void list(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi, int plus)
{
	struct fusefs *fs = fs_of(req);
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
	struct ffs_ctx *c = ffs_ctx_get(fs->im);
	char *buf = c != NULL ? outbuf(c, size) : NULL;
	size_t used = 0, sz;
	struct fuse_entry_param e;
	sqfs_inode_generic_t *in;
	const char *name;
	int ret = 0;

	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		ffs_ctx_put(fs->im, c);
		return;
	}
	pthread_mutex_lock(&d->mu);
	if (off < 0 || (ret = seek_dir(fs, c, d, (uint64_t)off)) != 0)
		goto done;
	for (;;) {
		memset(&e, 0, sizeof(e));
		if (d->next < 2) {
			name = d->next == 0 ? "." : "..";
			e.attr.st_ino = d->next == 0 ?
				d->inode->base.inode_number : parent_inum(d->inode);
			e.attr.st_mode = S_IFDIR;
		} else {
			if (d->pend == NULL) {
				ret = ffs_dir_next(fs->im, c, &d->pos, &d->pend,
						   &d->pend_ref, &d->pend_inum);
				if (ret != 0)
					break;
			}
			name = (const char *)d->pend->name;
			e.attr.st_ino = d->pend_inum;
			e.attr.st_mode = dirent_mode(d->pend->type);
			if (plus) {
				in = NULL;
				ret = ffs_inode_read(fs->im, c, d->pend_ref, &in);
				if (ret == 0)
					ret = ffs_inode_stat(fs->im, in, &e.attr);
				free(in);
				if (ret != 0)
					break;
				e.ino = ffs_nodeid(fs->im, d->pend_ref);
				e.attr_timeout = e.entry_timeout = FOREVER;
			}
		}
		if (plus)
			sz = fuse_add_direntry_plus(req, buf + used, size - used,
						    name, &e, (off_t)d->next + 1);
		else
			sz = fuse_add_direntry(req, buf + used, size - used,
					       name, &e.attr, (off_t)d->next + 1);
		if (sz > size - used)
			break;                /* full: the entry stays pending */
		used += sz;
		if (plus && fs->rec != NULL && e.ino != 0)
			ffs_record_name(fs->rec, e.ino, ino, name);
		d->next++;
		free(d->pend);
		d->pend = NULL;
	}
done:
	pthread_mutex_unlock(&d->mu);
	/* an error after some entries: send those, the next call fails */
	if (ret < 0 && used == 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_buf(req, buf, used);
	ffs_ctx_put(fs->im, c);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	list(req, ino, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	list(req, ino, size, off, fi, 1);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	const sqfs_super_t *s = &fs_of(req)->im->super;
	struct statvfs sv;

	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = sv.f_frsize = s->block_size;
	sv.f_blocks = (s->bytes_used + s->block_size - 1) / s->block_size;
	sv.f_files = s->inode_count;
	sv.f_namemax = 256;
	sv.f_flag = ST_RDONLY;
	fuse_reply_statfs(req, &sv);
}

static void xattr_reply(fuse_req_t req, int ret, const char *buf, size_t size,
			size_t len)
{
	if (ret != 0)
		fuse_reply_err(req, -ret);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, buf, len);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct fusefs *fs = fs_of(req);
	struct ffs_ctx *c = ffs_ctx_get(fs->im);
	sqfs_inode_generic_t *in = get_inode(req, c, ino);
	char *buf;
	size_t len = 0;
	int ret;

	if (in != NULL) {
		buf = outbuf(c, size ? size : 1);
		ret = buf == NULL ? -ENOMEM :
			ffs_xattr_get(fs->im, c, in, name, buf, size, &len);
		xattr_reply(req, ret, buf, size, len);
	}
	free(in);
	ffs_ctx_put(fs->im, c);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fusefs *fs = fs_of(req);
	struct ffs_ctx *c = ffs_ctx_get(fs->im);
	sqfs_inode_generic_t *in = get_inode(req, c, ino);
	char *buf;
	size_t len = 0;
	int ret;

	if (in != NULL) {
		buf = outbuf(c, size ? size : 1);
		ret = buf == NULL ? -ENOMEM :
			ffs_xattr_list(fs->im, c, in, buf, size, &len);
		xattr_reply(req, ret, buf, size, len);
	}
	free(in);
	ffs_ctx_put(fs->im, c);
}

const struct fuse_lowlevel_ops ffs_ll_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.statfs = op_statfs,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
};
