/*
 * t256-metrics-hist-math - the bucket arithmetic of the latency
 * histograms (shm/hist.h) and the write queue's wait marks
 * (core/wqueue.h), without a daemon.
 *
 *  - every bucket edge: 0, 1 us and 1 ns over it, each power of two of
 *    microseconds and 1 ns over it, up to the overflow bucket;
 *    a duration never lands in a bucket whose bound it exceeds, nor one
 *    bucket too high (compared with a plain loop over the bounds for
 *    100 000 random durations);
 *  - add / read / accumulate / count / reset;
 *  - marks: one per stamp, messages of one stamp share a mark, a mark is
 *    done only when its last byte is written (a partial write of it is
 *    not enough), the ring's merge keeps the sum of waits exact, clear
 *    drops them;
 *  - the registry numbers handlers in registration order (the series).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"
#include "core/wqueue.h"
#include "shm/hist.h"
#include "tests/tap.h"

/* The reference: the first bucket whose bound (in ns) holds ns. */
static unsigned
slow_bucket(uint64_t ns)
{
	for (unsigned i = 0; i < TAO_HIST_FINITE; i++)
		if (ns <= tao__hist_bound_us(i) * 1000)
			return i;
	return TAO_HIST_FINITE;
}

static void
test_edges(void)
{
	int bad = 0;

	is_int(tao__hist_bucket(0), 0, "0 ns: bucket 0 (le 1 us)");
	is_int(tao__hist_bucket(1000), 0, "1 us: bucket 0");
	is_int(tao__hist_bucket(1001), 1, "1 us + 1 ns: bucket 1 (le 2 us)");
	for (unsigned i = 1; i < TAO_HIST_FINITE; i++) {
		uint64_t edge = tao__hist_bound_us(i) * 1000;
		if (tao__hist_bucket(edge) != i ||
		    tao__hist_bucket(edge + 1) != (i + 1 < TAO_HIST_FINITE ?
		    i + 1 : TAO_HIST_FINITE) || tao__hist_bucket(edge - 1) !=
		    (edge - 1 <= tao__hist_bound_us(i - 1) * 1000 ? i - 1 : i))
			bad++;
	}
	is_int(bad, 0, "every power-of-two edge: on it, 1 ns under, 1 ns over");
	is_int(tao__hist_bucket(UINT64_C(16777216000)), TAO_HIST_FINITE - 1,
	    "16.777216 s: the last finite bucket");
	is_int(tao__hist_bucket(UINT64_C(16777216001)), TAO_HIST_FINITE,
	    "over it: +Inf");
	is_int(tao__hist_bucket(UINT64_MAX), TAO_HIST_FINITE,
	    "UINT64_MAX ns: +Inf, no overflow");
	srandom(256);
	bad = 0;
	for (int i = 0; i < 100000; i++) {
		uint64_t ns = ((uint64_t)random() << 31 | (uint64_t)random()) >>
		    (random() % 40);
		if (tao__hist_bucket(ns) != slow_bucket(ns))
			bad++;
	}
	is_int(bad, 0, "100 000 random durations: the bit scan agrees with "
	    "a loop over the bounds");
	ok(tao__hist_bound_us(0) == 1 && tao__hist_bound_us(24) == 16777216,
	    "bounds 1 us .. 16.777216 s");
}

static void
test_series(void)
{
	static struct tao_hist_block b;
	struct tao_hist_snapshot s, sum;

	tao__hist_block_reset(&b);
	tao__hist_read(&b.hb_handler[0], &s);
	ok(!s.hs_used && tao__hist_count(&s) == 0, "reset: typed series "
	    "unused and empty");
	tao__hist_read(&b.hb_handler[TAO_HIST_OTHER], &s);
	ok(s.hs_used, "reset: \"other\" exists");
	tao__hist_add(&b.hb_handler[3], 500, 1, 500);
	tao__hist_add(&b.hb_handler[3], 3000, 2, 6000);
	tao__hist_add(&b.hb_handler[3], UINT64_C(20000000000), 1,
	    UINT64_C(20000000000));
	tao__hist_read(&b.hb_handler[3], &s);
	ok(s.hs_bucket[0] == 1 && s.hs_bucket[2] == 2 &&
	    s.hs_bucket[TAO_HIST_FINITE] == 1, "add: 0.5 us, 2 x 3 us, 20 s "
	    "in buckets 0, 2 and +Inf");
	is_int(tao__hist_count(&s), 4, "count is the sum of the buckets");
	ok(s.hs_sum_ns == UINT64_C(20000006500), "sum in ns");
	memset(&sum, 0, sizeof(sum));
	tao__hist_accumulate(&sum, &s);
	tao__hist_accumulate(&sum, &s);
	ok(tao__hist_count(&sum) == 8 && sum.hs_sum_ns ==
	    UINT64_C(40000013000) && sum.hs_bucket[2] == 4, "accumulate");
	tao__hist_block_reset(&b);
	tao__hist_read(&b.hb_handler[3], &s);
	ok(tao__hist_count(&s) == 0 && s.hs_sum_ns == 0, "reset empties");
}

/* The queue's bytes and the marks, moved together as the worker does
 * (worker/whist.h): append then mark, consume then written. */
static void
queue_msg(struct tao_wqueue *q, struct tao_wq_pool *pool,
    struct tao_wq_marks *mk, size_t len, uint64_t stamp)
{
	static const char msg[100];

	tao__wq_append(q, pool, msg, len, NULL, 0, NULL, 0);
	tao__wq_mark(mk, len, stamp);
}

static void
write_out(struct tao_wqueue *q, struct tao_wq_pool *pool,
    struct tao_wq_marks *mk, size_t n)
{
	tao__wq_consume(q, pool, n);
	tao__wq_marks_written(mk, n);
}

static void
test_marks(void)
{
	struct tao_wq_pool pool;
	struct tao_wqueue q;
	struct tao_wq_marks mk;
	uint64_t n, wait, tn = 0, tw = 0;

	tao__wq_pool_init(&pool);
	tao__wq_init(&q);
	/* 5 unmarked bytes queued before the marks began: they go first */
	tao__wq_append(&q, &pool, "early", 5, NULL, 0, NULL, 0);
	tao__wq_marks_begin(&mk, &q, q.q_bytes);
	/* three messages at t=1000 (one handler), one at t=5000 */
	for (int i = 0; i < 3; i++)
		queue_msg(&q, &pool, &mk, 10, 1000);
	queue_msg(&q, &pool, &mk, 10, 5000);
	is_int(mk.mk_len, 2, "one mark per stamp");
	ok(!tao__wq_mark_done(&mk, 9000, &n, &wait), "nothing written: "
	    "nothing done");
	write_out(&q, &pool, &mk, 34);
	ok(!tao__wq_mark_done(&mk, 9000, &n, &wait), "5 unmarked and 29 "
	    "of 30 bytes: the mark is not done");
	write_out(&q, &pool, &mk, 1);
	ok(tao__wq_mark_done(&mk, 9000, &n, &wait) && n == 3 && wait ==
	    3 * 8000, "its last byte out: 3 messages, 8 us each");
	ok(!tao__wq_mark_done(&mk, 9000, &n, &wait), "the next one waits");
	write_out(&q, &pool, &mk, 10);
	ok(tao__wq_mark_done(&mk, 9500, &n, &wait) && n == 1 && wait == 4500,
	    "then it is done: 4.5 us");
	is_int(mk.mk_len, 0, "ring empty");

	/* 20 messages with 20 stamps: 8 marks, the rest merged into the
	 * newest with an exact sum */
	for (int i = 0; i < 20; i++)
		queue_msg(&q, &pool, &mk, 7, 100000 + (uint64_t)i * 1000);
	is_int(mk.mk_len, TAO_WQ_MARKS, "a full ring stays at its size");
	write_out(&q, &pool, &mk, 140);
	while (tao__wq_mark_done(&mk, 200000, &n, &wait)) {
		tn += n;
		tw += wait;
	}
	/* waits: 200000 - (100000 + i * 1000), i = 0..19 */
	ok(tn == 20 && tw == 20 * 100000 - 1000 * 190, "every message "
	    "counted once, the sum of waits exact (%llu ns)",
	    (unsigned long long)tw);
	queue_msg(&q, &pool, &mk, 7, 1);
	tao__wq_clear(&q, &pool);
	tao__wq_marks_begin(&mk, &q, q.q_bytes);
	ok(mk.mk_len == 0 && q.q_bytes == 0 && !tao__wq_mark_done(&mk,
	    2, &n, &wait), "marks begun again drop the old ones (never "
	    "written)");
	tao__wq_pool_free(&pool);
}

static void
handler(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)c; (void)m; (void)arg;
}

static void
test_registry(void)
{
	struct tao_registry r;

	memset(&r, 0, sizeof(r));
	tao__registry_add(&r, 500, NULL, handler, NULL, 0);
	tao__registry_add(&r, 3, NULL, handler, NULL, 0);
	tao__registry_add(&r, -7, NULL, handler, NULL, 1);
	is_int(tao__registry_add(&r, 3, NULL, handler, NULL, 0), TAO_EEXIST,
	    "a second registration is refused");
	ok(tao__registry_find(&r, 500)->h_seq == 0 &&
	    tao__registry_find(&r, 3)->h_seq == 1 &&
	    tao__registry_find(&r, -7)->h_seq == 2 && r.r_nhandlers == 3,
	    "handlers numbered in registration order (sorted and direct)");
	tao__registry_free(&r);
}

int
main(void)
{
	plan(0);
	test_edges();
	test_series();
	test_marks();
	test_registry();
	return done_testing();
}
