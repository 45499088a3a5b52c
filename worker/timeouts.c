/*
 * timeouts.c - heartbeat, idle and frame timeouts, checked lazily.
 *
 * Receiving a frame only stores the time (c_last_rx_ms, a 32-bit stamp:
 * worker/conn.h says why that is exact here); nothing touches
 * the timer heap per message.  Each connection that has any timeout
 * enabled owns one timer.  When it fires, the deadlines are recomputed
 * from the stored times: if one has passed the connection is closed and
 * counted, otherwise the timer is re-armed for the earliest deadline.
 * Deadlines only move later with activity (a new frame starts after the
 * previous check), so the armed timer is never later than the true
 * deadline: timeouts are never early and late by at most the loop's 1 ms
 * tick.  Cost: one heap operation per connection per timeout period; a
 * connection with only the frame timeout holds a timer only while a frame
 * is incomplete (so an idle connection holds none).
 *
 * Send timeout: output pending with no byte written for send_timeout_ms
 * (c_last_tx_ms is the last progress, or when the queue became
 * non-empty) means a peer that does not read; it would pin
 * write_queue_max + max_frame forever.  The timer is armed only when a
 * flush would block (conn.c), never per message.  A TLS handshake is
 * bounded even with frame_timeout_ms 0: by send_timeout_ms, or by
 * TAO_TLS_HANDSHAKE_MS when that is 0 too.
 */
#include <stdint.h>

#include "core/clock.h"
#include "worker/conn.h"
#include "core/log.h"
#include "core/timer.h"
#include "worker/tls.h"
#include "worker/proxy.h"

/* The earliest deadline, or UINT64_MAX if none applies; *why names it. */
static uint64_t
conn_next_deadline(const struct tao_conn *c, const char **why)
{
	const struct tao_worker *w = tao__conn_worker(c);
	const struct tao_settings *st = &w->w_p.wp_settings;
	uint64_t now = w->w_loop.el_now_ms, d = UINT64_MAX, t;
	uint64_t rx = tao__conn_stamp_ms(c->c_last_rx_ms, now);
	uint64_t tx = tao__conn_stamp_ms(c->c_last_tx_ms, now);
	uint64_t frame = tao__conn_stamp_ms(c->c_frame_start_ms, now);

	/* While a blocking job runs the peer is not read: only output can
	 * time out (tao__conn_job_done restarts the clocks). */
	if (c->c_flags & TAO_CONN_PROXY) {
		*why = "PROXY header timeout";
		return tao__proxy_deadline(c);	/* nothing else yet */
	}
	if (tao__conn_job(c) != NULL)
		goto output;
	if (st->st_heartbeat_ms > 0) {
		t = rx + 2 * st->st_heartbeat_ms;
		if (t < d) {
			d = t;
			*why = "heartbeat timeout";
		}
	}
	if (st->st_idle_timeout_ms > 0) {
		t = (rx > tx ? rx : tx) + st->st_idle_timeout_ms;
		if (t < d) {
			d = t;
			*why = "idle timeout";
		}
	}
	if (st->st_frame_timeout_ms > 0 && (c->c_flags & TAO_CONN_IN_FRAME)) {
		t = frame + st->st_frame_timeout_ms;
		if (t < d) {
			d = t;
			*why = "frame timeout";
		}
	}
output:
	if (tao__conn_tls(c) != NULL && !tao__wtls_can_send(c)) {
		/* c_frame_start_ms is the accept time until it is done. */
		t = frame + (st->st_send_timeout_ms > 0 ?
		    st->st_send_timeout_ms : TAO_TLS_HANDSHAKE_MS);
		if (t < d) {
			d = t;
			*why = "TLS handshake timeout";
		}
	} else if (st->st_send_timeout_ms > 0 && (c->c_wq.q_bytes > 0 ||
	    tao__wtls_pending(c) > 0)) {
		t = tx + st->st_send_timeout_ms;
		if (t < d) {
			d = t;
			*why = "send timeout";
		}
	}
	return d;
}

static void
conn_timeout_fired(void *owner, void *arg)
{
	struct tao_conn *c = owner;
	struct tao_worker *w = tao__conn_worker(c);
	const char *why = NULL;
	uint64_t now = tao__now_ms(), d;

	(void)arg;
	c->c_cold->cc_timeout_id = -1;	/* a timer owner has a cold part */
	/* Keep the stamps within reach of the clock (worker/conn.h). */
	tao__conn_stamp_age(&c->c_last_rx_ms, w->w_loop.el_now_ms);
	tao__conn_stamp_age(&c->c_last_tx_ms, w->w_loop.el_now_ms);
	tao__conn_stamp_age(&c->c_frame_start_ms, w->w_loop.el_now_ms);
	d = conn_next_deadline(c, &why);
	if (d <= now && (c->c_wq.q_bytes > 0 || tao__wtls_pending(c) > 0) &&
	    tao__wtls_can_send(c)) {
		/* The same for output: the socket may have room we have not
		 * seen yet.  Progress moves the send deadline. */
		if (tao__conn_flush(c) == -1)
			return;		/* closed: flushed, or an error */
		d = conn_next_deadline(c, &why);
	}
	if (d <= now && !(c->c_flags & TAO_CONN_READ_PAUSED) &&
	    tao__conn_job(c) == NULL) {
		/* A worker running late (a stall, a burst) may not have read
		 * frames that are already in the socket: read them before
		 * judging the peer silent.  One read, only when a timeout is
		 * due. */
		if (tao__conn_read(c) == -1)
			return;		/* closed while reading */
		tao__worker_flush_pending(w);
		if (c->c_flags & TAO_CONN_CLOSED)
			return;
		d = conn_next_deadline(c, &why);
	}
	if (d <= now && (c->c_flags & TAO_CONN_PROXY)) {
		tao__proxy_fail(c, why);
		return;
	}
	if (d <= now) {
		TAO_STAT_ADD(w, TIMEOUTS, 1);
		log_debug("closing %s: %s", tao__conn_peer(c), why);
		tao__conn_abort(c, TAO_ETIMEDOUT, NULL);
		return;
	}
	tao__conn_arm_timeouts(c);
}

void
tao__conn_arm_timeouts(struct tao_conn *c)
{
	struct tao_timers *ts = tao__conn_worker(c)->w_loop.el_timers;
	struct tao_conn_cold *cc;
	const char *why = NULL;
	uint64_t d;

	d = conn_next_deadline(c, &why);
	if (d == UINT64_MAX)
		return;	/* nothing to watch; a frame that starts arms it */
	if ((cc = tao__conn_cold(c)) == NULL) {
		log_warn("timeout timer for %s", tao__conn_peer(c));
		return;
	}
	if (cc->cc_timeout_id > 0) {
		/* Armed no later than needed: leave it (the common case). A
		 * frame timeout shorter than the heartbeat can need it
		 * earlier. */
		if (tao__timers_deadline(ts, cc->cc_timeout_id) <= d)
			return;
		(void)tao__timers_cancel(ts, cc->cc_timeout_id, c);
	}
	cc->cc_timeout_id = tao__timers_add(ts, d, 0, conn_timeout_fired, c,
	    NULL, &cc->cc_timers);
	if (cc->cc_timeout_id == -1)
		log_warn("timeout timer for %s", tao__conn_peer(c));
}
