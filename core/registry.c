/*
 * registry.c - registration of message handlers (before the server runs).
 */
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"

static int
registry_insert(struct tao_registry *r, struct tao_handler h)
{
	struct tao_handler *grown;
	int32_t type = h.h_type;
	size_t i;

	if (tao__registry_find(r, type) != NULL)
		return TAO_EEXIST;
	h.h_seq = r->r_nhandlers;
	if (type >= 0 && type < TAO_REGISTRY_DIRECT) {
		r->r_direct[type] = h;
		r->r_nblocking += h.h_blocking;
		r->r_nhandlers++;
		return 0;
	}
	grown = realloc(r->r_sorted, (r->r_nsorted + 1) * sizeof(*grown));
	if (grown == NULL)
		return TAO_ENOMEM;
	r->r_sorted = grown;
	for (i = r->r_nsorted; i > 0 && grown[i - 1].h_type > type; i--)
		grown[i] = grown[i - 1];
	grown[i] = h;
	r->r_nsorted++;
	r->r_nblocking += h.h_blocking;
	r->r_nhandlers++;
	return 0;
}

int
tao__registry_add(struct tao_registry *r, int32_t type, tao_decode_fn decode,
    tao_handler_fn handler, void *arg, int blocking)
{
	struct tao_handler h = { .h_type = type, .h_used = 1,
	    .h_decode = decode, .h_handler = handler, .h_arg = arg,
	    .h_blocking = blocking != 0 };

	if (handler == NULL)
		return TAO_EINVAL;
	return registry_insert(r, h);
}

int
tao__registry_add_client(struct tao_registry *r, int32_t type,
    tao_decode_fn decode, tao_client_handler_fn handler, void *arg)
{
	struct tao_handler h = { .h_type = type, .h_used = 1,
	    .h_decode = decode, .h_client = handler, .h_arg = arg };

	if (handler == NULL)
		return TAO_EINVAL;
	return registry_insert(r, h);
}

void
tao__registry_free(struct tao_registry *r)
{
	free(r->r_sorted);
	r->r_sorted = NULL;
	r->r_nsorted = 0;
}
