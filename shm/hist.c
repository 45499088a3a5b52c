/*
 * hist.c - reading, summing and resetting latency histograms.
 */
#include <string.h>

#include "shm/hist.h"

_Static_assert(sizeof(struct tao_hist_block) % TAO_SHM_LINE == 0,
    "histogram blocks keep islots on separate lines");

void
tao__hist_read(const struct tao_hist *h, struct tao_hist_snapshot *out)
{
	for (unsigned i = 0; i < TAO_HIST_BUCKETS; i++)
		out->hs_bucket[i] = atomic_load_explicit(&h->hi_bucket[i],
		    memory_order_relaxed);
	out->hs_sum_ns = atomic_load_explicit(&h->hi_sum_ns,
	    memory_order_relaxed);
	out->hs_type = atomic_load_explicit(&h->hi_type, memory_order_relaxed);
	out->hs_used = atomic_load_explicit(&h->hi_used, memory_order_relaxed);
}

void
tao__hist_accumulate(struct tao_hist_snapshot *sum,
    const struct tao_hist_snapshot *src)
{
	for (unsigned i = 0; i < TAO_HIST_BUCKETS; i++)
		sum->hs_bucket[i] += src->hs_bucket[i];
	sum->hs_sum_ns += src->hs_sum_ns;
}

uint64_t
tao__hist_count(const struct tao_hist_snapshot *s)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < TAO_HIST_BUCKETS; i++)
		n += s->hs_bucket[i];
	return n;
}

static void
series_reset(struct tao_hist *h, int used)
{
	for (unsigned i = 0; i < TAO_HIST_BUCKETS; i++)
		atomic_store_explicit(&h->hi_bucket[i], 0,
		    memory_order_relaxed);
	atomic_store_explicit(&h->hi_sum_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&h->hi_type, 0, memory_order_relaxed);
	atomic_store_explicit(&h->hi_used, (uint32_t)used,
	    memory_order_relaxed);
}

void
tao__hist_block_reset(struct tao_hist_block *b)
{
	for (unsigned i = 0; i < TAO_HIST_TYPES; i++)
		series_reset(&b->hb_handler[i], 0);
	series_reset(&b->hb_handler[TAO_HIST_OTHER], 1);
	series_reset(&b->hb_wqwait, 1);
}
