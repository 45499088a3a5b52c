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

static int64_t
add(struct tao_conn *c, uint64_t deadline, uint64_t period, tao_timer_fn fn,
    void *arg)
{
	struct tao_worker *w = tao__worker;
	int64_t id;

	if (fn == NULL)
		return TAO_EINVAL;
	if (w == NULL)
		return TAO_ESTATE;
	if (c != NULL && (c->c_flags & (TAO_CONN_CLOSED | TAO_CONN_CLOSING)))
		return TAO_ECLOSED;
	id = tao__timers_add(w->w_loop.el_timers, deadline, period,
	    (tao__timer_cb)(void (*)(void))fn, c, arg,
	    c != NULL ? &c->c_timers : NULL);
	return id == -1 ? TAO_ENOMEM : id;
}

int64_t
tao_run_after(struct tao_conn *c, uint64_t ms, tao_timer_fn fn, void *arg)
{
	if (c == NULL)
		return TAO_EINVAL;
	return add(c, tao__now_ms_ceil() + ms, 0, fn, arg);
}

int64_t
tao_run_every(struct tao_conn *c, uint64_t ms, tao_timer_fn fn, void *arg)
{
	if (c == NULL || ms == 0)
		return TAO_EINVAL;
	return add(c, tao__now_ms_ceil() + ms, ms, fn, arg);
}

int64_t
tao_run_at(struct tao_conn *c, const struct timespec *when, tao_timer_fn fn,
    void *arg)
{
	if (c == NULL || when == NULL)
		return TAO_EINVAL;
	return add(c, tao__timespec_to_ms_ceil(when), 0, fn, arg);
}

int
tao_timer_cancel(struct tao_conn *c, int64_t id)
{
	if (tao__worker == NULL)
		return TAO_ESTATE;
	return tao__timers_cancel(tao__worker->w_loop.el_timers, id, c) == 0 ? 0 :
	    TAO_ENOENT;
}

int64_t
tao_worker_run_after(struct tao_server *s, uint64_t ms, tao_timer_fn fn,
    void *arg)
{
	(void)s;
	return add(NULL, tao__now_ms_ceil() + ms, 0, fn, arg);
}

int64_t
tao_worker_run_every(struct tao_server *s, uint64_t ms, tao_timer_fn fn,
    void *arg)
{
	(void)s;
	if (ms == 0)
		return TAO_EINVAL;
	return add(NULL, tao__now_ms_ceil() + ms, ms, fn, arg);
}

int
tao_worker_timer_cancel(struct tao_server *s, int64_t id)
{
	(void)s;
	return tao_timer_cancel(NULL, id);
}
