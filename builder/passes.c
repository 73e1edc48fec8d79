/* passes.c: the build's two passes over the layers. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/build_internal.h"
#include "builder/dpkg_internal.h"
#include "builder/overlay.h"
#include "builder/writer.h"
#include "common/grow.h"

#include <archive_entry.h>

#define IOBUF (1u << 18)

struct item {
	struct bld_inode *ino;
	uint64_t group;
	uint64_t pos;       /* where it goes: see cmp_items */
	size_t seq;         /* tree order: the tie-break, so qsort is stable */
};

struct collect {
	struct bld_ctx *c;
	struct item *items;
	size_t n, cap;
	uint64_t total;
};

static int apply_layer(struct bld_ctx *c, size_t i)
{
	struct bld_layer *l = &c->layers[i];
	struct bld_overlay ov = { 0 };
	struct bld_dpkg_pre *pre = NULL;
	struct bld_input *in;
	char **conf = NULL;
	size_t n_conf = 0;
	int ret, deb;

	if ((ret = bld_input_verify_gzip(l->path, c->e)) != 0 ||
	    (ret = bld_input_open(&in, l->path, c->e)) != 0)
		return ret;
	l->kind = in->kind;
	deb = in->kind == BLD_IN_DEB && i > 0;
	ov.tree = &c->tree;
	ov.layer = (int)i;
	ov.flags = (i == 0 ? BLD_LAYER_BASE : 0) | (deb ? BLD_LAYER_DEB : 0);
	ov.clamp = c->recipe.epoch;
	ov.e = c->e;
	ret = deb ? bld_dpkg_prepare(&c->tree, in, &pre, c->e) : 0;
	if (ret == 0 && deb)
		ret = bld_dpkg_conffiles(in, &conf, &n_conf) ? NI_ENOMEM : 0;
	ov.md5_paths = conf;
	ov.n_md5_paths = n_conf;
	ov.spool_fd = c->spool_fd;
	ov.spool_size = &c->spool_size;
	if (ret == 0)
		ret = bld_overlay_apply(&ov, in);
	if (ret == 0 && deb)
		ret = bld_dpkg_apply(&c->tree, in, pre, ov.paths, ov.n_paths,
				     (int)i, c->recipe.epoch < 0 ? 0 : c->recipe.epoch,
				     &l->pkg, c->e);
	l->entries = ov.entries;
	bld_dpkg_strv_free(conf, n_conf);
	bld_dpkg_pre_free(pre);
	bld_overlay_free(&ov);
	bld_input_close(in);
	return ret;
}

static int add_release(struct bld_ctx *c)
{
	struct bld_recipe *r = &c->recipe;
	struct bld_dentry *etc, *rel;
	struct bld_inode *ino;
	char *text = NULL, *ids = strdup(""), *n;
	size_t i;

	for (i = 0; ids != NULL && i < c->sel.n_apply; i++) {
		if (asprintf(&n, "%s%s%s", ids, i ? " " : "", c->sel.apply[i]->id) < 0)
			n = NULL;
		free(ids);
		ids = n;
	}
	if (ids == NULL || asprintf(&text, "NAME=%s\nVERSION=%s\nPATCHES=\"%s\"\n",
				    r->name, r->version, ids) < 0)
		text = NULL;
	free(ids);
	etc = bld_tree_resolve(&c->tree, "etc", 1);
	if (etc == NULL) {
		struct bld_inode *d = bld_inode_new(S_IFDIR | 0755);

		etc = d ? bld_dir_put(&c->tree, c->tree.root, "etc", d, -1) : NULL;
	}
	ino = bld_inode_new(S_IFREG | 0644);
	if (text == NULL || etc == NULL || !bld_is_dir(etc) || ino == NULL) {
		free(text);
		free(ino);
		return ni_err_set(c->e, NI_ENOMEM, "cannot add /etc/netimg-release");
	}
	ino->mtime = r->epoch < 0 ? 0 : r->epoch;
	bld_inode_set_mem(ino, (unsigned char *)text, strlen(text));
	if ((rel = bld_dir_put(&c->tree, etc, "netimg-release", ino, -1)) == NULL)
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	/* With the new files at the end even when the base has one (an image
	 * as the base): it changes with every version, and an image rebuilt
	 * from itself comes out the same. */
	rel->base_pos = UINT64_MAX;
	return 0;
}

/* [boot] kernel = image needs the kernel inside the image. */
static int find_kernel(struct bld_ctx *c)
{
	struct bld_recipe *r = &c->recipe;
	struct bld_dentry *boot;
	size_t i;

	if (!r->has_boot || strcmp(r->boot_kernel, "image") != 0)
		return 0;
	boot = bld_tree_resolve(&c->tree, "boot", 1);
	for (i = 0; boot != NULL && bld_is_dir(boot) && i < boot->n_kids; i++) {
		const char *n = boot->kids[i]->name;

		/* The newest kernel, in version order (6.1.0-13 > 6.1.0-9). */
		if (strncmp(n, "vmlinuz-", 8) == 0 && n[8] != '\0' &&
		    (c->kernel_release == NULL ||
		     strverscmp(n + 8, c->kernel_release) > 0)) {
			free(c->kernel_release);
			c->kernel_release = strdup(n + 8);
		}
	}
	if (c->kernel_release == NULL)
		return ni_err_set(c->e, NI_EINVAL,
				  "%s: [boot] kernel = image, but the image has no /boot/vmlinuz-*",
				  r->path);
	return 0;
}

int bld_pass_layers(struct bld_ctx *c)
{
	size_t i;
	int ret;

	if (bld_tree_init(&c->tree, c->recipe.epoch < 0 ? 0 : c->recipe.epoch))
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	for (i = 0; i < c->n_layers; i++)
		if ((ret = apply_layer(c, i)) != 0)
			return ret;
	if ((ret = find_kernel(c)) != 0)
		return ret;
	return add_release(c);
}

static uint64_t path_hash(const struct bld_dentry *d)
{
	char path[4096];
	uint64_t h = 1469598103934665603ULL;
	const char *p;

	bld_dentry_path(d, path, sizeof(path));
	for (p = path; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h ^ (h >> 29);
}

static int collect_cb(struct bld_dentry *d, void *user)
{
	struct collect *k = user;
	uint32_t t = d->ino->mode & S_IFMT;

	if (t == S_IFDIR)
		k->c->n_dirs++;
	else if (t == S_IFLNK)
		k->c->n_links++;
	else if (t != S_IFREG)
		k->c->n_other++;
	if (t != S_IFREG || d->ino->mark)
		return 0;
	d->ino->mark = 1;
	k->c->n_files++;
	if (ni_grow(&k->items, &k->cap, k->n, sizeof(*k->items), 1024) != 0)
		return NI_ENOMEM;
	k->items[k->n].ino = d->ino;
	k->items[k->n].group = path_hash(d);
	/* A base file streams from the base, in its order; any other file
	 * (a patch's, or one the builder rewrote: dpkg's status, a patched
	 * package's info files) takes the place the base had at its path, so
	 * neither the group it leaves nor the one at the end changes. New
	 * paths and /etc/netimg-release (see add_release) go last. */
	k->items[k->n].pos = d->ino->src.layer == 0 ? d->ino->src.ordinal
		: d->base_pos;
	k->items[k->n].seq = k->n;
	k->n++;
	k->total += d->ino->size;
	return 0;
}

/* Layer order, then entry order; builder-made files (layer -1) last. */
static int cmp_items(const void *a, const void *b)
{
	const struct item *ia = a, *ib = b;
	const struct bld_inode *x = ia->ino, *y = ib->ino;
	unsigned lx = (unsigned)x->src.layer, ly = (unsigned)y->src.layer;

	/* The base's order first: a patched file keeps its old place, so its
	 * neighbours keep their fragment groups. Then new paths: patches in
	 * order, builder-made files last. */
	if (ia->pos != ib->pos)
		return ia->pos < ib->pos ? -1 : 1;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	if (x->src.ordinal != y->src.ordinal)
		return x->src.ordinal < y->src.ordinal ? -1 : 1;
	return ia->seq < ib->seq ? -1 : ia->seq > ib->seq;
}

struct stream {
	struct bld_ctx *c;
	struct bld_writer *w;
	unsigned char *buf;
	uint64_t done, total, files;
	struct bld_input *base;  /* opened on the first base file */
	uint64_t base_next;      /* its next entry's number */
};

static void report(struct stream *s, const struct bld_inode *ino)
{
	const struct bld_progress_cb *p = &s->c->opts->progress;

	s->done += ino->size;
	s->files++;
	if (p->fn != NULL)
		p->fn(p->user, s->done, s->total, s->files);
}

static int write_entry(struct stream *s, struct bld_input *in,
		       const struct item *it, const char *name)
{
	struct bld_inode *ino = it->ino;
	size_t got;
	int ret;

	if ((ret = bld_writer_begin_file(s->w, ino, it->group)) != 0)
		return ret;
	for (;;) {
		if ((ret = bld_input_read(in, s->buf, IOBUF, &got)) != 0)
			return ret;
		if (got == 0)
			break;
		ret = bld_writer_append(s->w, s->buf, got);
		if (ret == NI_EINVAL)
			return ni_err_set(s->c->e, NI_EARCHIVE,
					  "%s: entry '%s': longer than its header says",
					  in->path, name);
		if (ret != 0)
			return ret;
	}
	ret = bld_writer_end_file(s->w);
	if (ret == NI_EARCHIVE)
		return ni_err_set(s->c->e, NI_EARCHIVE,
				  "%s: entry '%s': truncated", in->path, name);
	report(s, ino);
	return ret;
}

/* Advances the base to entry ordinal and writes it. */
static int write_base(struct stream *s, const struct item *it)
{
	struct archive_entry *ent;
	int r;

	if (s->base == NULL &&
	    (r = bld_input_open(&s->base, s->c->layers[0].path, s->c->e)) != 0)
		return r;
	while ((r = bld_input_next(s->base, &ent)) == 1) {
		if (s->base_next++ == it->ino->src.ordinal)
			return write_entry(s, s->base, it, archive_entry_pathname(ent));
	}
	return r < 0 ? r : ni_err_set(s->c->e, NI_EARCHIVE,
				      "%s: changed while building (entries missing)",
				      s->c->layers[0].path);
}

static int write_mem(struct stream *s, const struct item *it)
{
	struct bld_inode *ino = it->ino;
	int ret;

	if ((ret = bld_writer_begin_file(s->w, ino, it->group)) != 0 ||
	    (ret = bld_writer_append(s->w, ino->src.mem, ino->src.mem_len)) != 0 ||
	    (ret = bld_writer_end_file(s->w)) != 0)
		return ret;
	report(s, ino);
	return 0;
}

/* A patch's file, from the spool the first pass filled. */
static int write_spooled(struct stream *s, const struct item *it)
{
	struct bld_inode *ino = it->ino;
	uint64_t off = ino->src.spool_off, left = ino->size;
	int ret;

	if ((ret = bld_writer_begin_file(s->w, ino, it->group)) != 0)
		return ret;
	while (left > 0) {
		size_t n = left < IOBUF ? (size_t)left : IOBUF;
		ssize_t got = pread(s->c->spool_fd, s->buf, n, (off_t)off);

		if (got <= 0)
			return ni_err_errno(s->c->e, got < 0 ? errno : EIO,
					    "%s: reading the spool", s->c->image);
		if ((ret = bld_writer_append(s->w, s->buf, (size_t)got)) != 0)
			return ret;
		off += (uint64_t)got;
		left -= (uint64_t)got;
	}
	if ((ret = bld_writer_end_file(s->w)) != 0)
		return ret;
	report(s, ino);
	return 0;
}

static int stream_all(struct stream *s, struct item *items, size_t n)
{
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < n; i++) {
		const struct bld_content *src = &items[i].ino->src;

		if (src->layer == 0)
			ret = write_base(s, &items[i]);
		else if (src->spooled)
			ret = write_spooled(s, &items[i]);
		else if (src->layer < 0)
			ret = write_mem(s, &items[i]);
		else
			ret = ni_err_set(s->c->e, NI_EINVAL, "internal: file without data");
	}
	if (s->base != NULL)
		bld_input_close(s->base);
	s->base = NULL;
	return ret;
}

static int open_writer(struct bld_ctx *c, struct bld_writer **w)
{
	struct bld_writer_opts o = {
		.comp_id = c->recipe.comp_id,
		.block_size = c->recipe.block_size,
		.mod_time = c->recipe.epoch < 0 ? 0 : (uint32_t)c->recipe.epoch,
		.workers = c->opts->workers,
	};

	return bld_writer_open(w, c->tmp, c->image, &o, c->e);
}

int bld_pass_data(struct bld_ctx *c, struct bld_result *res)
{
	struct collect k = { .c = c };
	struct stream s = { .c = c };
	struct bld_writer_stats st;
	int ret;

	if (bld_tree_walk(c->tree.root, 0, collect_cb, &k) != 0) {
		free(k.items);
		return ni_err_set(c->e, NI_ENOMEM, "out of memory");
	}
	qsort(k.items, k.n, sizeof(*k.items), cmp_items);
	s.total = k.total;
	s.buf = malloc(IOBUF);
	ret = s.buf ? open_writer(c, &s.w) : ni_err_set(c->e, NI_ENOMEM, "out of memory");
	if (ret == 0)
		ret = stream_all(&s, k.items, k.n);
	if (ret == 0)
		ret = bld_writer_finish(s.w, &c->tree);
	if (s.w != NULL) {
		bld_writer_stats(s.w, &st);
		res->files = st.files;
		res->bytes = st.bytes_in;
		bld_writer_close(s.w);
	}
	free(s.buf);
	free(k.items);
	return ret;
}
