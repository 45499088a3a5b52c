/*
 * segment-t.h - the layout of the shared-memory segment and the
 * process-local handle that points into it.
 *
 * The master maps one MAP_SHARED|MAP_ANONYMOUS region before the first fork;
 * every worker inherits it at the same address.  The shared header holds
 * offsets, never pointers, so the region could also be a memfd mapped
 * elsewhere (tao__shm_attach).
 *
 * Ownership is per worker INSTANCE ("islot", 0..nislots-1), not per
 * listener slot: during a reload an old and a new worker for the same
 * listener slot run side by side, each with its own islot.  The master gives
 * an islot to every worker it forks and takes it back (tao__shm_islot_reclaim)
 * after that worker has exited and been swept.
 *
 *   offset 0 +-------------------------------------------------------------+
 *            | struct tao_shm_hdr                                          |
 *            |  line 0  magic, version, sizes, section offsets  (master,   |
 *            |          written once at create, read-only afterwards)      |
 *            |  line 1  netid counter    (fetch_add by every worker)       |
 *            |  line 2  connection count (CAS by every worker; the master  |
 *            |          subtracts a dead islot's share in reclaim)         |
 *            |  line 3  live-islot bitmap: bit i set while islot i has a   |
 *            |          worker (master only: set in assign, cleared in     |
 *            |          reclaim; consumers read it with acquire loads)     |
 *            |  line 4  node id (create), bridge islot (master)            |
 *            |  line 5  cluster link state and counters (the bridge)       |
 *  stats_off +-------------------------------------------------------------+
 *            | struct tao_stats_block [nislots], 256 B each                |
 *            |  line 0  counters, gauge, limit units held  (its worker)    |
 *            |  line 1  pid, listener slot, generation, state  (master)    |
 *  table_off +-------------------------------------------------------------+
 *            | partition [nislots], table_part_size B each:                |
 *            |  struct tao_table_part   free list, high-water mark (worker)|
 *            |  struct tao_shm_row [max_connections], 64 B, seqlocked      |
 *            |                          (written by the islot's worker)    |
 * ringctl_off+-------------------------------------------------------------+
 *            | struct tao_ring_ctl [nislots], 256 B each                   |
 *            |  line 0  claim, head, head_seq (the islot as producer);     |
 *            |          gen (master, in reclaim)                           |
 *            |  line 1  sleeping flag (the islot as consumer sets it,      |
 *            |          producers clear it when they decide to wake it)    |
 * iplimit_off+-------------------------------------------------------------+
 *            | per-address connection counts and their owners, under a     |
 *            | robust mutex (shm/iplimit-t.h)                              |
 *  hist_off  +-------------------------------------------------------------+
 *            | struct tao_hist_block [nislots]  latency histograms (its    |
 *            |                          worker; shm/hist-t.h)              |
 * ringdata_off+------------------------------------------------------------+
 *            | ring data [nislots][ring_size]   records, producer only     |
 * total_size +-------------------------------------------------------------+
 *
 * "Worker" above means the one process that holds the islot; while an islot
 * is free (its worker dead, not yet reused) the master is that single
 * writer, in tao__shm_islot_reclaim.  Sections start on page boundaries,
 * per-islot blocks on 128-byte boundaries (the adjacent-line prefetcher
 * pulls lines in pairs), so no two writers share a cache line.
 */
#ifndef TAO_SHM_SEGMENT_T_H
#define TAO_SHM_SEGMENT_T_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define TAO_SHM_MAGIC		UINT64_C(0x0a4d48532d4f4154)	/* "TAO-SHM\n" */
#define TAO_SHM_VERSION		6	/* 2: live bitmap, netid layout,
					 * 40-byte ring records; 3: iplimit;
					 * 4: histograms; 5: node id in
					 * netids, cluster lines; 6: 64-byte
					 * table rows (packed words, binary
					 * peer, no pid/generation/lslot) */
#define TAO_SHM_LINE		128	/* false-sharing stride */
#define TAO_SHM_PAGE		4096	/* section alignment */
#define TAO_SHM_MAX_ISLOTS	1024
#define TAO_SHM_MAX_CONNECTIONS	(1u << 24)
#define TAO_SHM_RING_DEFAULT	(4u << 20)
#define TAO_SHM_RING_MIN	4096u
#define TAO_SHM_RING_MAX	(1u << 30)
#define TAO_SHM_NODE_BITS	10	/* cluster node id in netids */
#define TAO_SHM_MAX_NODE	((1u << TAO_SHM_NODE_BITS) - 1)

struct tao_shm_params {
	unsigned	nislots;	/* 1..TAO_SHM_MAX_ISLOTS */
	unsigned	max_connections; /* global limit and rows per islot */
	size_t		ring_size;	/* bytes per islot ring, power of two;
					 * 0 means TAO_SHM_RING_DEFAULT */
};

/*
 * The cluster link (cluster/bridge.c), lines 4 and 5 of the header.
 * Counters are written by the bridge process only (relaxed stores) and
 * live in the header, not in the bridge's islot, so they survive a
 * bridge respawn and never go backwards.
 */
enum tao_cluster_stat {
	TAO_CL_PUBLISHED,	/* PUBLISH replies received from Redis */
	TAO_CL_RECEIVED,	/* remote messages put into the local ring */
	TAO_CL_DROPPED_OUT,	/* local messages not (surely) handed to
				 * Redis: link down, queue full, too big,
				 * reply lost with the connection */
	TAO_CL_DROPPED_IN,	/* remote messages not delivered: invalid,
				 * unknown netid, too big for the ring */
	TAO_CL_INVALID,		/* of those: bytes that are not our format */
	TAO_CL_LOST,		/* gaps in remote origins' sequences: what
				 * this node's connections really missed */
	TAO_CL_RECONNECTS,	/* links to Redis restored after a loss */
	TAO_CL_QUEUED,		/* gauge: PUBLISHes awaiting a reply */
	TAO_CL__COUNT
};

enum tao_cluster_state {
	TAO_CLUSTER_OFF = 0,	/* no cluster directive, or no bridge */
	TAO_CLUSTER_CONNECTING,	/* never connected since the bridge began */
	TAO_CLUSTER_UP,		/* both connections up and subscribed */
	TAO_CLUSTER_DOWN	/* lost; retrying with back-off */
};

struct tao_cluster_block {
	_Atomic uint32_t	cb_state;	/* enum tao_cluster_state */
	_Atomic int32_t		cb_pid;
	_Atomic uint64_t	cb_nonce;	/* the running bridge's */
	_Atomic uint64_t	cb_counter[TAO_CL__COUNT];
};

struct tao_shm_hdr {
	/* line 0: immutable after create */
	uint64_t		h_magic;
	uint32_t		h_version;
	uint32_t		h_hdr_size;	/* sizeof(struct tao_shm_hdr) */
	uint64_t		h_total_size;
	uint32_t		h_nislots;
	uint32_t		h_max_connections;
	uint64_t		h_ring_size;
	uint64_t		h_stats_off;
	uint64_t		h_table_off;
	uint64_t		h_table_part_size;
	uint64_t		h_ringctl_off;
	uint64_t		h_ringdata_off;
	uint64_t		h_hist_off;
	uint32_t		h_stats_stride;
	uint32_t		h_row_size;
	uint32_t		h_ringctl_stride;
	uint32_t		h_hist_stride;
	uint64_t		h_iplimit_off;	/* shm/iplimit-t.h */

	/* line 1: never reused; starts at 1 */
	_Alignas(TAO_SHM_LINE) _Atomic uint64_t h_netid;

	/* line 2: connections held across all islots */
	_Alignas(TAO_SHM_LINE) _Atomic uint64_t h_conns;
	char			h_pad2[TAO_SHM_LINE - sizeof(uint64_t)];

	/* line 3: islots that have a worker (or had one not yet reclaimed) */
	_Alignas(TAO_SHM_LINE) _Atomic uint64_t h_live[TAO_SHM_MAX_ISLOTS / 64];

	/* line 4: the node (immutable after create) and the islot of the
	 * running cluster bridge + 1, 0: none (master: set before it forks
	 * the bridge, cleared when it reaps it; workers read it to route a
	 * unicast to another node) */
	_Alignas(TAO_SHM_LINE) uint32_t h_node_id;
	_Atomic uint32_t	h_bridge_islot;

	/* line 5: the cluster link's state and counters (the bridge) */
	_Alignas(TAO_SHM_LINE) struct tao_cluster_block h_cluster;
};

/*
 * Netid layout.  A netid names its connection's birth place, so unicast
 * finds the connection without searching:
 *
 *   63      54                     islot_bits + row_bits   row_bits    0
 *   +---------+------------------+-----------------------+-------------+
 *   | node id | sequence         | islot at birth        | table row   |
 *   +---------+------------------+-----------------------+-------------+
 *
 * The node id (TAO_SHM_NODE_BITS, config node_id, 0 without a cluster)
 * lets a unicast find the node that holds the connection without any
 * lookup (cluster/bridge.c); it is fixed for the segment's life, so a
 * netid never changes while its connection lives.
 *
 * islot_bits holds nislots - 1, row_bits holds max_connections (the value
 * max_connections itself means "no row": the table was full).  Both are
 * fixed when the segment is created.  The sequence comes from the global
 * counter, so a netid is never given out twice (across respawns and
 * reloads too) until the sequence field wraps: after 2^(64 - islot_bits -
 * row_bits - TAO_SHM_NODE_BITS) connections, 2^36 with the defaults.  A connection handed over in a reload keeps its netid
 * but lives in another islot and row: lookups fall back to a scan then.
 */

/*
 * Process-local handle.  The geometry is copied out of the header once, when
 * the segment is created or attached and validated, and never re-read from
 * shared memory: a worker that scribbles over the header cannot redirect
 * other processes outside the mapping.
 */
struct tao_shm {
	unsigned char		*sh_base;
	size_t			 sh_size;
	unsigned		 sh_nislots;
	unsigned		 sh_max_connections;
	size_t			 sh_ring_size;
	size_t			 sh_stats_off;
	size_t			 sh_table_off;
	size_t			 sh_table_part_size;
	size_t			 sh_ringctl_off;
	size_t			 sh_ringdata_off;
	size_t			 sh_iplimit_off;
	size_t			 sh_hist_off;
	unsigned		 sh_row_bits;		/* netid layout */
	unsigned		 sh_islot_bits;
	unsigned		 sh_node_id;
	int			 sh_owns_mapping;	/* destroy unmaps */
};

#endif
