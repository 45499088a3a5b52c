/*
 * stats.h - per-islot counters in shared memory (layout in shm/stats-t.h).
 *
 * The worker updates its own block with the inline helpers below: one
 * relaxed load and one relaxed store, legal because it is the only writer.
 * Anyone may read any block with tao__stats_read.  Counters restart at 0
 * when an islot is reclaimed; the master keeps running totals of dead
 * islots (read the block before tao__shm_islot_reclaim) so what it reports
 * never goes backwards.
 */
#ifndef TAO_SHM_STATS_H
#define TAO_SHM_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "shm/segment.h"
#include "shm/stats-t.h"

static inline void
tao__stats_add(struct tao_stats_block *b, enum tao_stat s, uint64_t n)
{
	uint64_t v = atomic_load_explicit(&b->sb_counter[s],
	    memory_order_relaxed);

	atomic_store_explicit(&b->sb_counter[s], v + n, memory_order_relaxed);
}

static inline void
tao__stats_inc(struct tao_stats_block *b, enum tao_stat s)
{
	tao__stats_add(b, s, 1);
}

/* For the gauge (TAO_STAT_CONNECTIONS); never below zero. */
static inline void
tao__stats_sub(struct tao_stats_block *b, enum tao_stat s, uint64_t n)
{
	uint64_t v = atomic_load_explicit(&b->sb_counter[s],
	    memory_order_relaxed);

	atomic_store_explicit(&b->sb_counter[s], v > n ? v - n : 0,
	    memory_order_relaxed);
}

static inline void
tao__stats_set(struct tao_stats_block *b, enum tao_stat s, uint64_t v)
{
	atomic_store_explicit(&b->sb_counter[s], v, memory_order_relaxed);
}

static inline uint64_t
tao__stats_get(const struct tao_stats_block *b, enum tao_stat s)
{
	return atomic_load_explicit(&b->sb_counter[s], memory_order_relaxed);
}

/* A copy of one islot's block.  Each field is a value it really had, but
 * fields may come from slightly different instants. */
void		 tao__stats_read(const struct tao_shm *, unsigned islot,
		    struct tao_stats_snapshot *);
/* Add src's counters (and gauge) into sum; identity fields untouched. */
void		 tao__stats_accumulate(struct tao_stats_snapshot *sum,
		    const struct tao_stats_snapshot *src);
/* "accepted", "closed", ... ; NULL for an out-of-range value. */
const char	*tao__stats_name(enum tao_stat);
/* 1 for gauges (a level, not a monotonic count). */
int		 tao__stats_is_gauge(enum tao_stat);
const char	*tao__stats_state_name(enum tao_islot_state);

/* For tao__shm_islot_reclaim: zero the block, state FREE. */
void		 tao__stats_reset(struct tao_shm *, unsigned islot);

#endif
