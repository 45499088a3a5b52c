/*
 * conn_close.c - how a connection ends: tao_conn_close (mark, close after
 * the flush), an abort, a graceful drain, the close itself with its
 * callbacks, and the end of a blocking handler's job (worker/pool.h),
 * which a close waits for.  conn.c has the input and output paths.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"
#include "core/timer.h"
#include "worker/conn.h"
#include "worker/pool.h"
#include "worker/tls.h"
#include "worker/wshm.h"
#include "worker/proxy.h"
#include "worker/whist.h"

/* ---- closing -------------------------------------------------------- */

/*
 * Only marks and queues: the connection goes on the flush list, and the
 * flush (loop steps 2 and 5, after every callback has returned) writes
 * what is queued and then closes it.  So a handler's message stays valid
 * after it closes its own connection, on_close never runs inside the
 * caller's callback, and no loop over connections sees one vanish.
 */
void
tao_conn_close(struct tao_conn *c)
{
	struct tao_worker *w;

	struct tao_job *j;

	if (c != NULL && (j = tao__pool_current()) != NULL) {
		tao__pool_close(j, c);
		return;
	}
	if (c == NULL || (c->c_flags & (TAO_CONN_CLOSED | TAO_CONN_CLOSING)))
		return;
	w = tao__conn_worker(c);
	c->c_flags |= TAO_CONN_CLOSING;
	tao__evloop_flush_add(&w->w_loop, &c->c_pending);
}

void
tao__conn_abort(struct tao_conn *c, int err, const char *why)
{
	int saved_errno = errno;

	if (why != NULL)
		log_debug("closing %s: %s", tao__conn_peer(c), why);
	errno = saved_errno;
	tao__conn_close_now(c, err);
}

void
tao__conn_drain(struct tao_conn *c)
{
	if (c->c_flags & (TAO_CONN_CLOSED | TAO_CONN_CLOSING))
		return;
	if (tao__conn_job(c) != NULL) {
		/* Answer what waits behind the job first (job_done). */
		c->c_flags |= TAO_CONN_DRAIN_AFTER_JOB;
		return;
	}
	if (!(c->c_flags & TAO_CONN_READ_PAUSED) && tao__conn_read(c) == -1)
		return;
	tao_conn_close(c);
}

/* The callbacks and the bookkeeping of a closed connection: on_error,
 * on_close, its table row, its output; then freed at the safe point. */
static void
conn_close_finish(struct tao_conn *c, int err, int saved_errno)
{
	struct tao_worker *w = tao__conn_worker(c);
	const struct tao_registry *r = w->w_p.wp_registry;

	tao__evloop_defer_free(&w->w_loop, &c->c_pending);
	if (!(c->c_flags & TAO_CONN_MIGRATING))
		TAO_STAT_ADD(w, CLOSED, 1);
	if (err != 0 && (c->c_flags & TAO_CONN_ANNOUNCED) &&
	    r->r_on_error != NULL) {
		errno = saved_errno;
		r->r_on_error(c, err, r->r_on_error_arg);
	}
	if ((c->c_flags & TAO_CONN_ANNOUNCED) && r->r_on_close != NULL)
		r->r_on_close(c, r->r_on_close_arg);
	/* After on_close: its row and netid stay until it has run. */
	tao__wshm_conn_close(w, c);
	/* c_in stays until tao__conn_free: a message being handled may
	 * point into it (tao.h: data is valid for the whole callback). */
	tao__whist_dropped(w, c);
	tao__wq_clear(&c->c_wq, &w->w_loop.el_pool);
}

/*
 * err != 0: the connection failed (tao__conn_abort); on_error runs with
 * it and the errno of the failure, right before on_close.  With a
 * blocking job running, the socket closes now and the rest waits for
 * the job (tao__conn_job_done): on_close runs after it, and the memory
 * the job uses stays.
 */
void
tao__conn_close_now(struct tao_conn *c, int err)
{
	struct tao_worker *w = tao__conn_worker(c);
	int saved_errno = errno;

	if (c->c_flags & TAO_CONN_CLOSED)
		return;
	c->c_flags |= TAO_CONN_CLOSED;
	/* A socket handed to the next generation lives on there: take it
	 * out of our epoll set.  Any other is ours alone and its close
	 * below does that (one system call less per connection). */
	if (c->c_flags & TAO_CONN_MIGRATING)
		tao__io_forget(&w->w_loop, &c->c_io);
	else
		tao__io_forget_unshared(&w->w_loop, &c->c_io);
	if (tao__conn_tls(c) != NULL)
		tao__wtls_close(c);	/* close_notify, while fd is open */
	if (w->w_marks != NULL)
		tao__whist_marks_free(w, c);	/* found by the fd */
	close(c->c_io.io_fd);
	c->c_io.io_fd = -1;
	/* It stays on w_conns (marked closed) until the deferred frees: a
	 * loop over w_conns whose callback closes another connection keeps
	 * a valid next pointer.  c_pending moves to the closed list. */
	if (c->c_cold != NULL) {
		tao__timers_cancel_owner(w->w_loop.el_timers,
		    &c->c_cold->cc_timers);
		c->c_cold->cc_timeout_id = -1;
	}
	if (tao__conn_job(c) != NULL) {
		tao__evloop_flush_del(&w->w_loop, &c->c_pending);
		tao__pool_conn_closed(c, err, saved_errno);
		return;
	}
	conn_close_finish(c, err, saved_errno);
}

void
tao__conn_job_done(struct tao_conn *c, int err, int saved_errno)
{
	struct tao_worker *w = tao__conn_worker(c);

	if (c->c_flags & TAO_CONN_CLOSED) {
		conn_close_finish(c, err, saved_errno);
		return;
	}
	if (c->c_flags & TAO_CONN_CLOSING) {
		tao__evloop_flush_add(&w->w_loop, &c->c_pending);
		return;
	}
	/* The peer was not silent, we were busy: its clocks restart. */
	c->c_last_rx_ms = tao__conn_stamp(w->w_loop.el_now_ms);
	if (c->c_flags & TAO_CONN_IN_FRAME)
		tao__conn_frame_begin(c, w->w_loop.el_now_ms);
	/* Go on with what arrived behind the job, then read again. */
	if (c->c_in.fr_buf != NULL && !(c->c_flags & TAO_CONN_READ_PAUSED))
		tao__conn_input(c, NULL, 0);
	if (c->c_flags & TAO_CONN_CLOSED)
		return;
	if ((c->c_flags & TAO_CONN_DRAIN_AFTER_JOB) &&
	    tao__conn_job(c) == NULL) {
		c->c_flags &= ~TAO_CONN_DRAIN_AFTER_JOB;
		tao__conn_drain(c);
		return;
	}
	tao__conn_update_events(c);
	tao__conn_arm_timeouts(c);
}

/* At a safe point (the loop's deferred frees): unlink from w_conns and free. */
void
tao__conn_free(struct tao_conn *c)
{
	struct tao_worker *w = tao__conn_worker(c);

	TAILQ_REMOVE(&w->w_conns, c, c_entry);
	tao__whist_dropped(w, c);
	tao__wq_clear(&c->c_wq, &w->w_loop.el_pool);
	tao__framer_free(&c->c_in);
	tao__proxy_free(c);
	free(c->c_cold);	/* its timers were cancelled at close */
	free(c);
}
