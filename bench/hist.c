/*
 * hist.c - log-linear latency histogram (see bench.h for the layout).
 *
 *   value v < 128:       bucket v (exact)
 *   value v >= 128:      msb = floor(log2 v), shift = msb - 7
 *                        bucket (shift + 1) * 128 + (v >> shift) - 128
 *
 * so [128, 256) has 128 buckets of width 1, [256, 512) 128 of width 2,
 * and so on: fixed memory, O(1) insertion, relative error below 1/128.
 */
#include <string.h>

#include "bench.h"

#define SUB	(1u << HIST_SUB_BITS)

static unsigned
bucket_of(uint64_t v)
{
	unsigned msb, shift;

	if (v < SUB)
		return (unsigned)v;
	if (v >> HIST_MAX_BITS)
		return HIST_BUCKETS - 1;
	msb = 63 - (unsigned)__builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	return (shift + 1) * SUB + (unsigned)(v >> shift) - SUB;
}

/* The middle of bucket b, which is within half a bucket of any value in
 * it. */
static uint64_t
bucket_mid(unsigned b)
{
	unsigned shift;

	if (b < SUB)
		return b;
	shift = b / SUB - 1;
	return ((uint64_t)(SUB + b % SUB) << shift) + ((1ull << shift) >> 1);
}

void
bench_hist_init(struct bench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->h_min = UINT64_MAX;
}

void
bench_hist_add(struct bench_hist *h, uint64_t ns)
{
	h->h_bucket[bucket_of(ns)]++;
	h->h_count++;
	if (ns < h->h_min)
		h->h_min = ns;
	if (ns > h->h_max)
		h->h_max = ns;
}

void
bench_hist_merge(struct bench_hist *to, const struct bench_hist *from)
{
	unsigned i;

	for (i = 0; i < HIST_BUCKETS; i++)
		to->h_bucket[i] += from->h_bucket[i];
	to->h_count += from->h_count;
	if (from->h_min < to->h_min)
		to->h_min = from->h_min;
	if (from->h_max > to->h_max)
		to->h_max = from->h_max;
}

uint64_t
bench_hist_quantile(const struct bench_hist *h, double q)
{
	uint64_t rank, seen = 0, v;
	unsigned i;

	if (h->h_count == 0)
		return 0;
	if (q <= 0)
		return h->h_min;
	if (q >= 1)
		return h->h_max;
	/* The smallest value with at least q of the samples at or below it. */
	rank = (uint64_t)(q * (double)h->h_count);
	if ((double)rank < q * (double)h->h_count)
		rank++;
	if (rank == 0)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->h_bucket[i];
		if (seen >= rank)
			break;
	}
	v = bucket_mid(i < HIST_BUCKETS ? i : HIST_BUCKETS - 1);
	if (v < h->h_min)
		v = h->h_min;
	if (v > h->h_max)
		v = h->h_max;
	return v;
}
