/* grow.h: the one helper for the doubling arrays every module keeps
 * (dentries, chunks, paths, ...). */
#ifndef NI_GROW_H
#define NI_GROW_H

#include <stddef.h>

/* Makes room for element n in the array *arrp (a pointer to the array
 * pointer) of *cap elements of size bytes: doubles it, or allocates first
 * elements the first time. Returns 0, or NI_ENOMEM with *arrp unchanged. */
int ni_grow(void *arrp, size_t *cap, size_t n, size_t size, size_t first);

#endif
