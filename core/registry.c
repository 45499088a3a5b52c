/*
 * registry.c - registration of message handlers (before the server runs).
 */
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"

int
tao__registry_add(struct tao_registry *r, int32_t type, tao_decode_fn decode,
    tao_handler_fn handler, void *arg, int blocking)
{
	struct tao_handler h = { type, 1, decode, handler, arg, blocking != 0 },
	    *grown;
	size_t i;

	if (handler == NULL)
		return TAO_EINVAL;
	if (tao__registry_find(r, type) != NULL)
		return TAO_EEXIST;
	r->r_nblocking += h.h_blocking;
	if (type >= 0 && type < TAO_REGISTRY_DIRECT) {
		r->r_direct[type] = h;
		return 0;
	}
	grown = realloc(r->r_sorted, (r->r_nsorted + 1) * sizeof(*grown));
	if (grown == NULL) {
		r->r_nblocking -= h.h_blocking;
		return TAO_ENOMEM;
	}
	r->r_sorted = grown;
	for (i = r->r_nsorted; i > 0 && grown[i - 1].h_type > type; i--)
		grown[i] = grown[i - 1];
	grown[i] = h;
	r->r_nsorted++;
	return 0;
}

void
tao__registry_free(struct tao_registry *r)
{
	free(r->r_sorted);
	r->r_sorted = NULL;
	r->r_nsorted = 0;
}
