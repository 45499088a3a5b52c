/*
 * timer_api.c - the public timer calls on top of the worker's heap.
 *
 * tao_timer_fn(struct tao_conn *, void *) and the heap's
 * tao__timer_cb(void *, void *) take the same two pointers; the user's
 * function is stored as the heap callback directly, so a timer costs no
 * allocation beyond its heap node.
 */
#include <errno.h>

#include "tao.h"
#include "core/clock.h"
#include "worker/conn.h"
#include "core/timer.h"
#include "worker/entry.h"

static int64_t
add(struct tao_worker *w, struct tao_conn *c, uint64_t deadline,
    uint64_t period, tao_timer_fn fn, void *arg)
{
	struct tao_conn_cold *cc = NULL;
	int64_t id;

	if (fn == NULL)
		return TAO_EINVAL;
	if (tao__pool_current() != NULL)
		return TAO_ESTATE;	/* the heap is the loop's */
	if (c != NULL && (c->c_flags & (TAO_CONN_CLOSED | TAO_CONN_CLOSING)))
		return TAO_ECLOSED;
	/* A connection's timers are listed in its cold part. */
	if (c != NULL && (cc = tao__conn_cold(c)) == NULL)
		return TAO_ENOMEM;
	id = tao__timers_add(w->w_loop.el_timers, deadline, period,
	    (tao__timer_cb)(void (*)(void))fn, c, arg,
	    cc != NULL ? &cc->cc_timers : NULL);
	return id == -1 ? TAO_ENOMEM : id;
}

int64_t
tao_conn_timer_after(struct tao_conn *c, uint64_t ms, tao_timer_fn fn,
    void *arg)
{
	if (c == NULL)
		return TAO_EINVAL;
	return add(tao__conn_worker(c), c, tao__now_ms_ceil() + ms, 0, fn, arg);
}

int64_t
tao_conn_timer_every(struct tao_conn *c, uint64_t ms, tao_timer_fn fn,
    void *arg)
{
	if (c == NULL || ms == 0)
		return TAO_EINVAL;
	return add(tao__conn_worker(c), c, tao__now_ms_ceil() + ms, ms, fn, arg);
}

int64_t
tao_conn_timer_at(struct tao_conn *c, const struct timespec *when,
    tao_timer_fn fn, void *arg)
{
	if (c == NULL || when == NULL)
		return TAO_EINVAL;
	return add(tao__conn_worker(c), c, tao__timespec_to_ms_ceil(when), 0, fn, arg);
}

int
tao_conn_timer_cancel(struct tao_conn *c, int64_t id)
{
	if (c == NULL)
		return TAO_EINVAL;
	if (tao__pool_current() != NULL)
		return TAO_ESTATE;
	return tao__timers_cancel(tao__conn_worker(c)->w_loop.el_timers, id, c) == 0 ? 0 :
	    TAO_ENOENT;
}

/* The server-wide timers; master/server.c has resolved the handle. */
int64_t
tao__worker_timer_add(struct tao_worker *w, uint64_t ms, uint64_t period,
    tao_timer_fn fn, void *arg)
{
	return add(w, NULL, tao__now_ms_ceil() + ms, period, fn, arg);
}

int
tao__worker_timer_cancel(struct tao_worker *w, int64_t id)
{
	return tao__timers_cancel(w->w_loop.el_timers, id, NULL) == 0 ? 0 :
	    TAO_ENOENT;
}
