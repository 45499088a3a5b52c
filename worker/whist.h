/*
 * whist.h - the worker's latency histograms and write-queue gauge
 * (shm/hist-t.h, TAO_STAT_QUEUE_BYTES), kept from three points of the
 * data path:
 *
 *	dispatch     t0 = clock (or the previous frame's t1 in the same
 *	             input batch); handler; tao__whist_handler: clock again,
 *	             t1 - t0 into the type's series.  t0 and t1 also become
 *	             the loop's el_now_ns, the queue stamp of what the
 *	             handler sends (no clock read per send)
 *	send         tao__whist_queued: a mark in the queue (core/wqueue.h),
 *	             the gauge up
 *	write        tao__whist_written: the gauge down; a clock read only
 *	             when a mark's last byte went out, its wait counted
 *
 * A blocking handler (worker/pool.c) is timed on its pool thread into
 * its job and counted by the loop when the job is done, so every series
 * keeps one writer, the loop thread.
 */
#ifndef TAO_WORKER_WHIST_H
#define TAO_WORKER_WHIST_H

#include <stdint.h>

#include "core/clock.h"
#include "core/registry.h"
#include "shm/hist.h"
#include "shm/segment.h"
#include "worker/conn.h"

/* At start: our block (its types were set by the master before the
 * fork, master/hist.c), or none when the metrics listener is off
 * (st_histograms): then every hook below is one test of w_hist. */
static inline void
tao__whist_start(struct tao_worker *w)
{
	w->w_hist = w->w_p.wp_settings.st_histograms ? tao__shm_hist(
	    w->w_p.wp_shm, (unsigned)w->w_p.wp_islot) : NULL;
}

static inline struct tao_hist *
tao__whist_series(struct tao_worker *w, const struct tao_handler *h)
{
	unsigned i = h != NULL && h->h_seq < TAO_HIST_TYPES ? h->h_seq :
	    TAO_HIST_OTHER;

	return &w->w_hist->hb_handler[i];
}

/*
 * Before a handler runs: the clock, also the stamp of its sends.  Frames
 * of one input batch (tao__conn_input) are timed back to back: the end
 * of one is the start of the next (the next frame's decode is counted in
 * its time), so a batch costs one clock read per frame, plus one.
 */
static inline uint64_t
tao__whist_begin(struct tao_worker *w)
{
	if (w->w_hist == NULL)
		return 0;
	if (!w->w_hist_chain)
		w->w_loop.el_now_ns = tao__now_ns();
	return w->w_loop.el_now_ns;
}

/* A blocking handler's run, measured on its pool thread. */
static inline void
tao__whist_job(struct tao_worker *w, const struct tao_handler *h,
    uint64_t ns)
{
	if (w->w_hist != NULL)
		tao__hist_add(tao__whist_series(w, h), ns, 1, ns);
}

/* A handler (h, or NULL for on_message) that began at t0 returned. */
static inline void
tao__whist_handler(struct tao_worker *w, const struct tao_handler *h,
    uint64_t t0)
{
	uint64_t t1;

	if (w->w_hist == NULL)
		return;
	t1 = tao__now_ns();
	w->w_loop.el_now_ns = t1;
	w->w_hist_chain = 1;
	tao__hist_add(tao__whist_series(w, h), t1 - t0, 1, t1 - t0);
}

/* An input batch begins or ends: the next frame reads the clock. */
static inline void
tao__whist_batch(struct tao_worker *w)
{
	w->w_hist_chain = 0;
}

/* worker/whist.c: c's write-queue marks (begun with the bytes queued
 * before a message of len bytes), or NULL without memory; the marks of
 * a connection whose output is all written are given back. */
struct tao_wq_marks *tao__whist_marks(struct tao_worker *, struct tao_conn *,
	    size_t len);
struct tao_wq_marks *tao__whist_marks_of(struct tao_worker *,
	    const struct tao_conn *);
void	tao__whist_marks_free(struct tao_worker *, const struct tao_conn *);

/* A message of len bytes went into c's queue. */
static inline void
tao__whist_queued(struct tao_worker *w, struct tao_conn *c, size_t len)
{
	struct tao_wq_marks *mk;

	tao__stats_add(w->w_stats, TAO_STAT_QUEUE_BYTES, len);
	if (w->w_hist != NULL && (mk = tao__whist_marks(w, c, len)) != NULL)
		tao__wq_mark(mk, len, w->w_loop.el_now_ns);
}

/* written bytes of c's queue went out. */
static inline void
tao__whist_written(struct tao_worker *w, struct tao_conn *c, size_t written)
{
	struct tao_wq_marks *mk;
	uint64_t now, n, wait;

	tao__stats_sub(w->w_stats, TAO_STAT_QUEUE_BYTES, written);
	if (w->w_hist == NULL || (mk = tao__whist_marks_of(w, c)) == NULL)
		return;
	tao__wq_marks_written(mk, written);
	if (mk->mk_out < mk->mk_ring[mk->mk_head].m_end)
		return;
	now = tao__now_ns();
	while (tao__wq_mark_done(mk, now, &n, &wait))
		tao__hist_add(&w->w_hist->hb_wqwait, wait / n, n, wait);
	if (mk->mk_len == 0)
		tao__whist_marks_free(w, c);	/* nothing marked in flight */
}

/* c's queue is about to be dropped unwritten. */
static inline void
tao__whist_dropped(struct tao_worker *w, const struct tao_conn *c)
{
	tao__stats_sub(w->w_stats, TAO_STAT_QUEUE_BYTES, c->c_wq.q_bytes);
	if (w->w_marks != NULL)
		tao__whist_marks_free(w, c);
}

#endif
