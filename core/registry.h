/*
 * registry.h - message type -> (decode, handler) and the connection
 * life-cycle callbacks.  Filled before the server runs, read-only in the
 * workers (a forked worker has its own copy).  Each tao_client has one
 * too, for its handlers only (its callbacks are the client's own).
 *
 * Types 0..TAO_REGISTRY_DIRECT-1 are looked up in a direct array (the
 * common case: small type numbers); others in a sorted array by binary
 * search.  Either way a lookup costs no allocation and no hashing.
 */
#ifndef TAO_CORE_REGISTRY_H
#define TAO_CORE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "tao.h"

#define TAO_REGISTRY_DIRECT	64

/*
 * One handler.  The server's and the client's handlers take different
 * first arguments (struct tao_conn *, struct tao_client *): a registry
 * holds one kind or the other, filled through tao__registry_add or
 * tao__registry_add_client, and its user calls the member it filled.
 */
struct tao_handler {
	int32_t		 h_type;
	int		 h_used;
	tao_decode_fn	 h_decode;
	union {
		tao_handler_fn		 h_handler;	/* server side */
		tao_client_handler_fn	 h_client;	/* client side */
	};
	void		*h_arg;
	int		 h_blocking;	/* runs on the worker's pool */
	unsigned	 h_seq;		/* registration order, from 0 (the
					 * histogram series of shm/hist.h) */
};

struct tao_registry {
	struct tao_handler	 r_direct[TAO_REGISTRY_DIRECT];
	struct tao_handler	*r_sorted;	/* other types, by h_type */
	size_t			 r_nsorted;
	tao_handler_fn		 r_on_message;
	void			*r_on_message_arg;
	tao_connect_fn		 r_on_connect;
	void			*r_on_connect_arg;
	tao_close_fn		 r_on_close;
	void			*r_on_close_arg;
	tao_error_fn		 r_on_error;
	void			*r_on_error_arg;
	tao_worker_fn		 r_on_worker_start;
	void			*r_on_worker_start_arg;
	tao_deliver_fn		 r_on_deliver;
	void			*r_on_deliver_arg;
	int			 r_nblocking;	/* handlers with h_blocking */
	unsigned		 r_nhandlers;	/* registered, every kind */
};

/* 0, TAO_EINVAL for a NULL handler, TAO_EEXIST for a second registration
 * of a type, TAO_ENOMEM.  blocking: the handler may block (worker/pool.h
 * runs it). */
int	tao__registry_add(struct tao_registry *, int32_t type, tao_decode_fn,
	    tao_handler_fn, void *arg, int blocking);
int	tao__registry_add_client(struct tao_registry *, int32_t type,
	    tao_decode_fn, tao_client_handler_fn, void *arg);
void	tao__registry_free(struct tao_registry *);

static inline const struct tao_handler *
tao__registry_find(const struct tao_registry *r, int32_t type)
{
	size_t lo = 0, hi = r->r_nsorted;

	if (type >= 0 && type < TAO_REGISTRY_DIRECT)
		return r->r_direct[type].h_used ? &r->r_direct[type] : NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->r_sorted[mid].h_type == type)
			return &r->r_sorted[mid];
		if (r->r_sorted[mid].h_type < type)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

#endif
