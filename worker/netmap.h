/*
 * netmap.h - this worker's connections by netid, for unicast delivery.
 * Open addressing with linear probing and backward-shift deletion.  A
 * slot holds only the connection pointer (8 bytes; the key is the
 * connection's c_netid, read through it), and the table doubles when
 * three quarters full, so it costs 10.7-21 bytes per connection (13 at
 * 10 000) instead of the 32-64 of a key/value pair at half load; a
 * lookup (unicast only, never per event) may touch a few more slots.
 * A connection must stay allocated, its c_netid unchanged, while it is
 * in the map.
 */
#ifndef TAO_WORKER_NETMAP_H
#define TAO_WORKER_NETMAP_H

#include <stddef.h>
#include <stdint.h>

struct tao_conn;

struct tao_netmap {
	struct tao_conn	**nm_vals;		/* NULL = empty */
	size_t		 nm_cap, nm_count;
};

int		 tao__netmap_put(struct tao_netmap *, uint64_t netid,
		    struct tao_conn *);		/* 0 or -1 (ENOMEM) */
void		 tao__netmap_del(struct tao_netmap *, uint64_t netid);
struct tao_conn	*tao__netmap_get(const struct tao_netmap *, uint64_t netid);
void		 tao__netmap_free(struct tao_netmap *);

#endif
