/*
 * hist-t.h - latency histograms in shared memory: one block per islot.
 *
 *   struct tao_hist_block (one per islot, in the segment's hist section)
 *   +----------------------------------------------------------------+
 *   | hb_handler[0 .. TAO_HIST_TYPES-1]  one series per registered   |
 *   |                                    type, in registration order |
 *   | hb_handler[TAO_HIST_OTHER]         types beyond the bound, and |
 *   |                                    unregistered ones (on_message)|
 *   | hb_wqwait                          write-queue wait            |
 *   +----------------------------------------------------------------+
 *   every field written by the islot's worker only (its loop thread);
 *   while the islot is free, by the master (reset in reclaim)
 *
 * A series counts observations per bucket, not cumulatively: bucket i
 * (0 <= i < TAO_HIST_FINITE) holds durations d with 2^(i-1) us < d <=
 * 2^i us (bucket 0: d <= 1 us), the last one everything over 2^24 us
 * (16.78 s).  Durations are rounded UP to whole microseconds first, so a
 * sample is never put in a bucket whose bound it exceeds.  The bucket is
 * a bit scan of the rounded value (shm/hist.h); the reader makes the
 * counts cumulative for Prometheus' le= buckets.
 *
 * hi_type is the message type of a handler series, set by the worker at
 * start before any observation; hi_used says the series exists (a type
 * is registered for it; "other" and wqwait always exist).
 */
#ifndef TAO_SHM_HIST_T_H
#define TAO_SHM_HIST_T_H

#include <stdatomic.h>
#include <stdint.h>

#include "shm/segment-t.h"

#define TAO_HIST_FINITE		25	/* le = 2^0 .. 2^24 microseconds */
#define TAO_HIST_BUCKETS	(TAO_HIST_FINITE + 1)	/* and +Inf */
#define TAO_HIST_TYPES		32	/* handler series with a type label */
#define TAO_HIST_OTHER		TAO_HIST_TYPES
#define TAO_HIST_SERIES		(TAO_HIST_TYPES + 1)

struct tao_hist {
	_Atomic uint64_t	hi_bucket[TAO_HIST_BUCKETS];
	_Atomic uint64_t	hi_sum_ns;
	_Atomic int32_t		hi_type;
	_Atomic uint32_t	hi_used;
};

struct tao_hist_block {
	_Alignas(TAO_SHM_LINE) struct tao_hist hb_handler[TAO_HIST_SERIES];
	struct tao_hist		hb_wqwait;
};

/* A plain copy (the master's readers and its persistent base). */
struct tao_hist_snapshot {
	uint64_t	hs_bucket[TAO_HIST_BUCKETS];
	uint64_t	hs_sum_ns;
	int32_t		hs_type;
	uint32_t	hs_used;
};

#endif
