/*
 * segment.h - create and check the shared-memory segment; the global netid
 * counter, the global connection limit and islot reclaim.
 *
 * The layout and who writes what is drawn in shm/segment-t.h.  Nothing in
 * shm/ logs, exits or knows about sockets: errors come back as -1 with
 * errno set.
 */
#ifndef TAO_SHM_SEGMENT_H
#define TAO_SHM_SEGMENT_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/segment-t.h"
#include "shm/stats-t.h"
#include "shm/table-t.h"
#include "shm/ring-t.h"
#include "shm/hist-t.h"

/*
 * Size of the segment these parameters describe, or 0 with errno EINVAL when
 * they are out of range (nislots 1..TAO_SHM_MAX_ISLOTS, max_connections
 * 1..TAO_SHM_MAX_CONNECTIONS, ring_size a power of two within
 * TAO_SHM_RING_MIN..TAO_SHM_RING_MAX) or the total would overflow.
 */
size_t		 tao__shm_size(const struct tao_shm_params *);

/*
 * Map a fresh segment (MAP_SHARED|MAP_ANONYMOUS) and lay it out: every
 * islot free, netid counter at 1, no connection held.  Call in the master
 * before the first fork.  NULL with errno (EINVAL, ENOMEM) on failure.
 * The returned handle is process-local memory; forked children inherit it.
 */
struct tao_shm	*tao__shm_create(const struct tao_shm_params *);

/*
 * Check that [base, base + size) holds a segment of this layout version
 * whose header is self-consistent and fits in size.  0, or -1 with errno
 * EINVAL (not a segment, bad geometry) or EPROTO (other layout version).
 */
int		 tao__shm_attach_check(const void *base, size_t size);

/* Wrap an already mapped, checked segment (e.g. a memfd passed across exec)
 * in a new handle.  The mapping stays the caller's. NULL with errno. */
struct tao_shm	*tao__shm_attach(void *base, size_t size);

/*
 * Unmap (if tao__shm_create mapped it) and free the handle.  For tests and
 * tools only: daemons never unmap the segment in an exit path, because the
 * kernel's robust-futex and owner-died handling and any reader still
 * running need the mapping until the process is gone.
 */
void		 tao__shm_destroy(struct tao_shm *);

/* The raw sequence behind netids: 1, 2, 3, ... across all processes,
 * never reused. */
uint64_t	 tao__shm_next_netid(struct tao_shm *);

/*
 * A netid for a connection born in islot at table row (layout in
 * shm/segment-t.h); row above max_connections means "no row".  Never 0.
 */
uint64_t	 tao__shm_netid_make(struct tao_shm *, unsigned islot,
		    unsigned row);
/*
 * A binary upgrade: the previous master's connections keep their netids,
 * all below `bound`; make every netid this segment gives out from now on
 * larger than bound, whatever the two layouts (a new segment's sequence
 * starts above bound >> its low bits).  Call before the first fork.
 */
void		 tao__shm_netid_seed(struct tao_shm *, uint64_t bound);
/* The smallest value above every netid given out so far, plus `margin`
 * more sequence numbers (what a next master's seed should be). */
uint64_t	 tao__shm_netid_bound(struct tao_shm *, uint64_t margin);
/* Where netid was born: 0 with *islot and *row set, or -1 when it cannot
 * be one of this segment's netids or was born without a row.  Only
 * arithmetic: the caller checks the row (tao__table_read). */
int		 tao__shm_netid_home(const struct tao_shm *, uint64_t netid,
		    unsigned *islot, unsigned *row);

/* The cluster node a netid was born on (its top bits, segment-t.h). */
static inline unsigned
tao__shm_netid_node(uint64_t netid)
{
	return (unsigned)(netid >> (64 - TAO_SHM_NODE_BITS));
}

/* This segment's node id. */
static inline unsigned
tao__shm_node_id(const struct tao_shm *shm)
{
	return shm->sh_node_id;
}

/* Master, right after create, before the first fork: this node's id
 * (0..TAO_SHM_MAX_NODE, 0 after create), the top bits of every netid
 * made from now on.  0, or -1 with errno EINVAL. */
int		 tao__shm_set_node_id(struct tao_shm *, unsigned node_id);

/* The islot of the running cluster bridge, or -1 (acquire: a bridge
 * islot seen is live and its ring reset). */
int		 tao__shm_bridge_islot(const struct tao_shm *);
/* Master: set (islot >= 0) or clear (-1) the bridge islot. */
void		 tao__shm_bridge_set(struct tao_shm *, int islot);

/* 1 if islot's bit in the live bitmap is set (see segment-t.h). */
int		 tao__shm_islot_live(const struct tao_shm *, unsigned islot);

/*
 * Take one unit of the global connection limit for a connection of this
 * islot: 0, or -1 with errno EAGAIN when max_connections are already held
 * (the caller then closes the connection and counts it as refused).
 * Exact across processes: acquire never takes the count past the limit
 * (only acquire_over does, below), and a refusal
 * only happens when the limit was really reached at that instant.
 * Only the islot's own worker calls acquire and release.
 */
int		 tao__shm_conn_acquire(struct tao_shm *, unsigned islot);
/* Take a unit even at the limit, for a connection that is already open
 * (handed over in a reload): the count may then exceed max_connections
 * until connections close, which only refuses new ones meanwhile.  So
 * every open connection holds exactly one unit, and sb_held is the
 * islot's open-connection count. */
void		 tao__shm_conn_acquire_over(struct tao_shm *, unsigned islot);
/* Give back one unit taken by acquire on the same islot. */
void		 tao__shm_conn_release(struct tao_shm *, unsigned islot);
/* Units held by all islots now. */
uint64_t	 tao__shm_conn_count(const struct tao_shm *);

/* Master: record who runs in an islot (before fork: this also sets its
 * bit in the live bitmap) and its life state. */
void		 tao__shm_islot_assign(struct tao_shm *, unsigned islot,
		    pid_t pid, unsigned lslot, uint32_t generation);
void		 tao__shm_islot_set_state(struct tao_shm *, unsigned islot,
		    enum tao_islot_state);

/*
 * Master, after the islot's worker has exited and been reaped, before the
 * islot is given to another worker: give its limit units back to the global
 * count, free every table row it owned (also one left mid-update with an
 * odd sequence), repair and re-generation its ring, clear its sleeping
 * flag, zero its stats block (state FREE) and its histograms, and clear
 * its live bit.  Read the stats block first
 * (tao__stats_read) if its counters must be carried into running totals.
 * Must not run while a process still writes as this islot.
 */
void		 tao__shm_islot_reclaim(struct tao_shm *, unsigned islot);

/* ---- section accessors (no bounds checks: islot and row are trusted) ---- */

static inline struct tao_shm_hdr *
tao__shm_hdr(const struct tao_shm *shm)
{
	return (struct tao_shm_hdr *)shm->sh_base;
}

/* Words of the live bitmap in use, and one of them (acquire). */
static inline unsigned
tao__shm_live_words(const struct tao_shm *shm)
{
	return (shm->sh_nislots + 63) / 64;
}

static inline uint64_t
tao__shm_live_word(const struct tao_shm *shm, unsigned i)
{
	return atomic_load_explicit(&tao__shm_hdr(shm)->h_live[i],
	    memory_order_acquire);
}

static inline struct tao_stats_block *
tao__shm_stats(const struct tao_shm *shm, unsigned islot)
{
	return (struct tao_stats_block *)(shm->sh_base + shm->sh_stats_off) +
	    islot;
}

static inline struct tao_table_part *
tao__shm_part(const struct tao_shm *shm, unsigned islot)
{
	return (struct tao_table_part *)(shm->sh_base + shm->sh_table_off +
	    (size_t)islot * shm->sh_table_part_size);
}

static inline struct tao_shm_row *
tao__shm_row(const struct tao_shm *shm, unsigned islot, unsigned row)
{
	return (struct tao_shm_row *)(tao__shm_part(shm, islot) + 1) + row;
}

static inline struct tao_ring_ctl *
tao__shm_ringctl(const struct tao_shm *shm, unsigned islot)
{
	return (struct tao_ring_ctl *)(shm->sh_base + shm->sh_ringctl_off) +
	    islot;
}

static inline struct tao_hist_block *
tao__shm_hist(const struct tao_shm *shm, unsigned islot)
{
	return (struct tao_hist_block *)(shm->sh_base + shm->sh_hist_off) +
	    islot;
}

static inline _Atomic uint64_t *
tao__shm_ringdata(const struct tao_shm *shm, unsigned islot)
{
	return (_Atomic uint64_t *)(shm->sh_base + shm->sh_ringdata_off +
	    (size_t)islot * shm->sh_ring_size);
}

#endif
