/* grow.c: doubling arrays. */
#include "common/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

int ni_grow(void *arrp, size_t *cap, size_t n, size_t size, size_t first)
{
	size_t want = *cap ? *cap * 2 : first;
	void *old, *p;

	if (n < *cap)
		return 0;
	if (want <= n)
		want = n + 1;
	if (want > SIZE_MAX / size)
		return NI_ENOMEM;
	memcpy(&old, arrp, sizeof(old));
	p = realloc(old, want * size);
	if (p == NULL)
		return NI_ENOMEM;
	memcpy(arrp, &p, sizeof(p));
	*cap = want;
	return 0;
}
