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
 *  stats_off +-------------------------------------------------------------+
 *            | struct tao_stats_block [nislots], 256 B each                |
 *            |  line 0  counters, gauge, limit units held  (its worker)    |
 *            |  line 1  pid, listener slot, generation, state  (master)    |
 *  table_off +-------------------------------------------------------------+
 *            | partition [nislots], table_part_size B each:                |
 *            |  struct tao_table_part   free list, high-water mark (worker)|
 *            |  struct tao_shm_row [max_connections], 128 B, seqlocked     |
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
#define TAO_SHM_VERSION		4	/* 2: live bitmap, netid layout,
					 * 40-byte ring records; 3: iplimit;
					 * 4: histograms */
#define TAO_SHM_LINE		128	/* false-sharing stride */
#define TAO_SHM_PAGE		4096	/* section alignment */
#define TAO_SHM_MAX_ISLOTS	1024
#define TAO_SHM_MAX_CONNECTIONS	(1u << 24)
#define TAO_SHM_RING_DEFAULT	(4u << 20)
#define TAO_SHM_RING_MIN	4096u
#define TAO_SHM_RING_MAX	(1u << 30)

struct tao_shm_params {
	unsigned	nislots;	/* 1..TAO_SHM_MAX_ISLOTS */
	unsigned	max_connections; /* global limit and rows per islot */
	size_t		ring_size;	/* bytes per islot ring, power of two;
					 * 0 means TAO_SHM_RING_DEFAULT */
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
};

/*
 * Netid layout.  A netid names its connection's birth place, so unicast
 * finds the connection without searching:
 *
 *   63                    islot_bits + row_bits            row_bits     0
 *   +-------------------------+------------------------+----------------+
 *   | sequence (h_netid)      | islot at birth         | table row      |
 *   +-------------------------+------------------------+----------------+
 *
 * islot_bits holds nislots - 1, row_bits holds max_connections (the value
 * max_connections itself means "no row": the table was full).  Both are
 * fixed when the segment is created.  The sequence comes from the global
 * counter, so a netid is never given out twice (across respawns and
 * reloads too) until the sequence field wraps: after 2^(64 - islot_bits -
 * row_bits) connections, 2^46 with the defaults and at least 2^30 at the
 * largest geometry.  A connection handed over in a reload keeps its netid
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
	int			 sh_owns_mapping;	/* destroy unmaps */
};

#endif
