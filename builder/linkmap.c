/* linkmap.c: an open-addressing hash of (device, inode) -> first path. */
#include "builder/linkmap.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct bld_linkslot {
	uint64_t a, b;
	char *path;         /* NULL: empty slot */
};

static size_t slot_of(const struct bld_linkslot *s, size_t cap, uint64_t a,
		      uint64_t b)
{
	uint64_t h = (a * 0x9E3779B97F4A7C15ULL) ^ (b * 0xC2B2AE3D27D4EB4FULL);
	size_t i;

	for (i = (size_t)(h ^ (h >> 31)) & (cap - 1);; i = (i + 1) & (cap - 1))
		if (s[i].path == NULL || (s[i].a == a && s[i].b == b))
			return i;
}

static int grow(struct bld_linkmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64, i;
	struct bld_linkslot *s = calloc(cap, sizeof(*s));

	if (s == NULL)
		return NI_ENOMEM;
	for (i = 0; i < m->cap; i++)
		if (m->slots[i].path != NULL)
			s[slot_of(s, cap, m->slots[i].a, m->slots[i].b)] = m->slots[i];
	free(m->slots);
	m->slots = s;
	m->cap = cap;
	return 0;
}

const char *bld_linkmap_seen(struct bld_linkmap *m, uint64_t a, uint64_t b,
			     const char *path, int *err)
{
	size_t i;

	*err = 0;
	if ((m->used + 1) * 2 > m->cap && (*err = grow(m)) != 0)
		return NULL;
	i = slot_of(m->slots, m->cap, a, b);
	if (m->slots[i].path != NULL)
		return m->slots[i].path;
	if ((m->slots[i].path = strdup(path)) == NULL) {
		*err = NI_ENOMEM;
		return NULL;
	}
	m->slots[i].a = a;
	m->slots[i].b = b;
	m->used++;
	return NULL;
}

void bld_linkmap_free(struct bld_linkmap *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		free(m->slots[i].path);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}
