/*
 * hist.h - log-scale latency histograms (layout in shm/hist-t.h).
 *
 * The hot path is tao__hist_add: a rounding division by a constant, one
 * bit scan, two relaxed load/store pairs (the writer is the only one, as
 * for the counters of shm/stats.h); no lock, no allocation.
 */
#ifndef TAO_SHM_HIST_H
#define TAO_SHM_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#include "shm/hist-t.h"

/* The bucket of a duration in nanoseconds. */
static inline unsigned
tao__hist_bucket(uint64_t ns)
{
	uint64_t us = ns / 1000 + (ns % 1000 != 0);	/* rounded up */
	unsigned i;

	if (us <= 1)
		return 0;
	i = 64 - (unsigned)__builtin_clzll(us - 1);	/* 2^(i-1) < us <= 2^i */
	return i < TAO_HIST_FINITE ? i : TAO_HIST_FINITE;
}

/* Upper bound of bucket i in microseconds (i < TAO_HIST_FINITE). */
static inline uint64_t
tao__hist_bound_us(unsigned i)
{
	return UINT64_C(1) << i;
}

/* n observations of about ns each, sum_ns in all (n * ns, or exact when
 * the caller knows it: merged write-queue marks).  Single writer. */
static inline void
tao__hist_add(struct tao_hist *h, uint64_t ns, uint64_t n, uint64_t sum_ns)
{
	_Atomic uint64_t *b = &h->hi_bucket[tao__hist_bucket(ns)];

	atomic_store_explicit(b, atomic_load_explicit(b, memory_order_relaxed)
	    + n, memory_order_relaxed);
	atomic_store_explicit(&h->hi_sum_ns, atomic_load_explicit(
	    &h->hi_sum_ns, memory_order_relaxed) + sum_ns,
	    memory_order_relaxed);
}

/* Copy a series; each field is a value it really had. */
void	tao__hist_read(const struct tao_hist *, struct tao_hist_snapshot *);
/* sum += src (buckets and sum; type and used untouched). */
void	tao__hist_accumulate(struct tao_hist_snapshot *sum,
	    const struct tao_hist_snapshot *src);
/* Observations in a snapshot (the sum of its buckets). */
uint64_t tao__hist_count(const struct tao_hist_snapshot *);
/* Zero a block: every series unused, "other" and wqwait used. */
void	tao__hist_block_reset(struct tao_hist_block *);

#endif
