/*
 * bridge-int.h - the bridge process's state, shared by bridge.c (the
 * process, its loop, the local rings to Redis) and remote.c (Redis to
 * the local ring).  Nothing outside cluster/ includes it.
 */
#ifndef TAO_CLUSTER_BRIDGE_INT_H
#define TAO_CLUSTER_BRIDGE_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/bridge.h"
#include "cluster/link.h"
#include "core/loop.h"
#include "shm/ring.h"
#include "shm/segment.h"

/* Bytes of PUBLISH commands hiredis may hold for one bridge, whatever
 * cluster_queue_max says (a count): with 8 MiB frames a count alone
 * would not bound memory. */
#define TAO_BRIDGE_QUEUE_BYTES	(64u << 20)

/* What this node knows of one remote origin node: its bridge's nonce
 * and the next sequence number expected on each channel. */
struct tao_origin {
	uint64_t	o_nonce;
	uint64_t	o_next[2];	/* [0] broadcast, [1] unicast to us */
	int		o_known;
};

struct tao_bridge {
	struct tao_bridge_params b_p;
	struct tao_evloop	 b_loop;
	struct tao_rlink	 b_pub;		/* PUBLISH */
	struct tao_rlink	 b_sub;		/* SUBSCRIBE */
	struct tao_io		 b_ring_io;	/* our eventfd */
	struct tao_io		 b_sig_io;	/* signalfd */
	struct tao_ring_cursor	*b_cursors;	/* one per islot */
	uint64_t		 b_live_seen[TAO_SHM_MAX_ISLOTS / 64];
	uint64_t		 b_ring_drops;	/* sum of cursor drops seen */
	int			 b_ring_pending;
	int			 b_stop;
	/* outgoing */
	unsigned char		*b_scratch;	/* header + max_frame */
	uint32_t		 b_pending;	/* PUBLISHes without reply */
	size_t			 b_pending_bytes;
	uint64_t		 b_last_reply_ms;	/* or since pending > 0 */
	uint64_t		 b_seq_all;
	uint64_t		 b_seq_node[TAO_SHM_MAX_NODE + 1];
	uint64_t		 b_nonce;
	uint64_t		 b_prev_nonce;	/* our previous bridge's */
	char			 b_chan_all[TAO_BRIDGE_CHANNEL_MAX + 8];
	char			 b_chan_mine[TAO_BRIDGE_CHANNEL_MAX + 16];
	/* incoming */
	int			 b_subscribed;	/* confirmations, 0..2 */
	struct tao_origin	 b_origins[TAO_SHM_MAX_NODE + 1];
	struct tao_ring_wake	 b_wake;	/* unicast destinations */
	int			 b_wake_all;
	int			 b_collision_logged;
	uint64_t		 b_invalid_logged;
	/* link state, for the log and the counters */
	int			 b_was_up;
	int			 b_ever_up;
	uint64_t		 b_down_since_ms;
	uint64_t		 b_dropped_at_down;
};

static inline struct tao_cluster_block *
tao__bridge_block(struct tao_bridge *b)
{
	return &tao__shm_hdr(b->b_p.bp_shm)->h_cluster;
}

/* One writer (the bridge): relaxed load and store, no RMW. */
static inline void
tao__bridge_count(struct tao_bridge *b, enum tao_cluster_stat s, uint64_t n)
{
	_Atomic uint64_t *c = &tao__bridge_block(b)->cb_counter[s];

	atomic_store_explicit(c, atomic_load_explicit(c,
	    memory_order_relaxed) + n, memory_order_relaxed);
}

static inline uint64_t
tao__bridge_counter(struct tao_bridge *b, enum tao_cluster_stat s)
{
	return atomic_load_explicit(&tao__bridge_block(b)->cb_counter[s],
	    memory_order_relaxed);
}

/* bridge.c: re-evaluate the link state after a change of either link. */
void	tao__bridge_state(struct tao_bridge *);

/* remote.c */
/* The subscriber link started connecting: queue SUBSCRIBE. */
void	tao__remote_subscribe(struct tao_rlink *);
/* Wake the local consumers of what was injected since the last call. */
void	tao__remote_wake(struct tao_bridge *);

#endif
