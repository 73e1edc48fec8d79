/* frag.c: packs file tails into fragment blocks in stable groups.
 *
 * The repository cuts an image into chunks along its squashfs layout, so a
 * file that did not change must keep the same bytes in the next version.
 * Data blocks are compressed one by one and never depend on neighbours;
 * fragment blocks would, since a tail that grows shifts every later tail.
 * So tails are packed in groups whose boundaries depend only on path
 * names: a group ends after a file whose path hash is 0 modulo the group
 * factor (or when the block is full). A changed file can only change the
 * fragment blocks of its own group. Identical tails are stored once. */
#include <stdlib.h>
#include <string.h>

#include "builder/writer.h"
#include "common/hash.h"

struct tailkey {
	uint8_t digest[NI_SHA256_LEN];
	uint32_t len, index, off;
	int used;
};

struct bld_frag {
	uint32_t block_size;
	uint32_t group_factor;
	unsigned char *buf;
	size_t used;
	uint32_t next_index;
	struct tailkey *tab;
	size_t tab_cap, tab_used;
	uint64_t dedup;
};

int bld_frag_new(struct bld_frag **out, uint32_t block_size)
{
	struct bld_frag *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NI_ENOMEM;
	f->block_size = block_size;
	/* Tails average a few KiB: groups of about 8 files (with 128 KiB
	 * blocks) keep a change to one file to about one fragment block, for
	 * 0.5% more image than packing blocks full (measured on minbase). */
	f->group_factor = block_size / 16384 ? block_size / 16384 : 1;
	f->buf = malloc(block_size);
	f->tab_cap = 1024;
	f->tab = calloc(f->tab_cap, sizeof(*f->tab));
	if (f->buf == NULL || f->tab == NULL) {
		bld_frag_free(f);
		return NI_ENOMEM;
	}
	*out = f;
	return 0;
}

void bld_frag_free(struct bld_frag *f)
{
	if (f == NULL)
		return;
	free(f->buf);
	free(f->tab);
	free(f);
}

static struct tailkey *slot(struct tailkey *tab, size_t cap,
			    const uint8_t *d, uint32_t len)
{
	uint64_t h;
	size_t i;

	memcpy(&h, d, sizeof(h));
	for (i = h & (cap - 1);; i = (i + 1) & (cap - 1)) {
		if (!tab[i].used)
			return &tab[i];
		if (tab[i].len == len && memcmp(tab[i].digest, d, NI_SHA256_LEN) == 0)
			return &tab[i];
	}
}

static int grow(struct bld_frag *f)
{
	size_t cap = f->tab_cap * 2, i;
	struct tailkey *tab = calloc(cap, sizeof(*tab));

	if (tab == NULL)
		return NI_ENOMEM;
	for (i = 0; i < f->tab_cap; i++)
		if (f->tab[i].used)
			*slot(tab, cap, f->tab[i].digest, f->tab[i].len) = f->tab[i];
	free(f->tab);
	f->tab = tab;
	f->tab_cap = cap;
	return 0;
}

int bld_frag_flush(struct bld_frag *f, bld_frag_submit_fn submit, void *user)
{
	int ret;

	if (f->used == 0)
		return 0;
	ret = submit(user, f->next_index, f->buf, f->used);
	f->used = 0;
	f->next_index++;
	return ret;
}

int bld_frag_add(struct bld_frag *f, struct bld_inode *ino, const void *data,
		 size_t len, uint64_t group, bld_frag_submit_fn submit,
		 void *user)
{
	uint8_t d[NI_SHA256_LEN];
	struct tailkey *k;
	int ret;

	ni_sha256_buf(data, len, d);
	k = slot(f->tab, f->tab_cap, d, (uint32_t)len);
	if (k->used) {
		ino->tail_frag = k->index;
		ino->tail_off = k->off;
		f->dedup++;
		goto boundary;
	}
	if (f->used + len > f->block_size &&
	    (ret = bld_frag_flush(f, submit, user)) != 0)
		return ret;
	memcpy(f->buf + f->used, data, len);
	ino->tail_frag = f->next_index;
	ino->tail_off = (uint32_t)f->used;
	f->used += len;
	memcpy(k->digest, d, sizeof(d));
	k->len = (uint32_t)len;
	k->index = ino->tail_frag;
	k->off = ino->tail_off;
	k->used = 1;
	if (++f->tab_used * 2 > f->tab_cap && (ret = grow(f)) != 0)
		return ret;
boundary:
	/* Boundaries depend on path names only, duplicates or not. */
	if (group % f->group_factor == 0)
		return bld_frag_flush(f, submit, user);
	return 0;
}

uint32_t bld_frag_count(const struct bld_frag *f)
{
	return f->next_index;
}

uint64_t bld_frag_dedup_count(const struct bld_frag *f)
{
	return f->dedup;
}
