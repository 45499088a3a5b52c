/*
 * netmap.h - this worker's connections by netid, for unicast delivery.
 * Open addressing with linear probing and backward-shift deletion; the
 * table doubles when half full, so lookups touch one or two slots.
 */
#ifndef TAO_WORKER_NETMAP_H
#define TAO_WORKER_NETMAP_H

#include <stddef.h>
#include <stdint.h>

struct tao_conn;

struct tao_netmap {
	uint64_t	*nm_keys;	/* 0 = empty (netids start at 1) */
	struct tao_conn	**nm_vals;
	size_t		 nm_cap, nm_count;
};

int		 tao__netmap_put(struct tao_netmap *, uint64_t netid,
		    struct tao_conn *);		/* 0 or -1 (ENOMEM) */
void		 tao__netmap_del(struct tao_netmap *, uint64_t netid);
struct tao_conn	*tao__netmap_get(const struct tao_netmap *, uint64_t netid);
void		 tao__netmap_free(struct tao_netmap *);

#endif
