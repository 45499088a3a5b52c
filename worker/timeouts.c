/*
 * timeouts.c - heartbeat, idle and frame timeouts, checked lazily.
 *
 * Receiving a frame only stores the time (c_last_rx_ms); nothing touches
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
	const struct tao_settings *st = &tao__conn_worker(c)->w_p.wp_settings;
	uint64_t d = UINT64_MAX, t;

	/* While a blocking job runs the peer is not read: only output can
	 * time out (tao__conn_job_done restarts the clocks). */
	if (c->c_flags & TAO_CONN_PROXY) {
		*why = "PROXY header timeout";
		return tao__proxy_deadline(c);	/* nothing else yet */
	}
	if (c->c_job != NULL)
		goto output;
	if (st->st_heartbeat_ms > 0) {
		t = c->c_last_rx_ms + 2 * st->st_heartbeat_ms;
		if (t < d) {
			d = t;
			*why = "heartbeat timeout";
		}
	}
	if (st->st_idle_timeout_ms > 0) {
		t = c->c_last_rx_ms > c->c_last_tx_ms ? c->c_last_rx_ms :
		    c->c_last_tx_ms;
		t += st->st_idle_timeout_ms;
		if (t < d) {
			d = t;
			*why = "idle timeout";
		}
	}
	if (st->st_frame_timeout_ms > 0 && c->c_frame_start_ms != 0) {
		t = c->c_frame_start_ms + st->st_frame_timeout_ms;
		if (t < d) {
			d = t;
			*why = "frame timeout";
		}
	}
output:
	if (tao__conn_tls(c) != NULL && !tao__wtls_can_send(c)) {
		/* c_frame_start_ms is the accept time until it is done. */
		t = c->c_frame_start_ms + (st->st_send_timeout_ms > 0 ?
		    st->st_send_timeout_ms : TAO_TLS_HANDSHAKE_MS);
		if (t < d) {
			d = t;
			*why = "TLS handshake timeout";
		}
	} else if (st->st_send_timeout_ms > 0 && (c->c_wq.q_bytes > 0 ||
	    tao__wtls_pending(c) > 0)) {
		t = c->c_last_tx_ms + st->st_send_timeout_ms;
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
	c->c_timeout_id = -1;
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
	    c->c_job == NULL) {
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
	const char *why = NULL;
	uint64_t d;

	d = conn_next_deadline(c, &why);
	if (d == UINT64_MAX)
		return;	/* nothing to watch; a frame that starts arms it */
	if (c->c_timeout_id > 0) {
		/* Armed no later than needed: leave it (the common case). A
		 * frame timeout shorter than the heartbeat can need it
		 * earlier. */
		if (tao__timers_deadline(tao__conn_worker(c)->w_loop.el_timers,
		    c->c_timeout_id) <= d)
			return;
		(void)tao__timers_cancel(tao__conn_worker(c)->w_loop.el_timers,
		    c->c_timeout_id, c);
	}
	c->c_timeout_id = tao__timers_add(tao__conn_worker(c)->w_loop.el_timers, d, 0,
	    conn_timeout_fired, c, NULL, &c->c_timers);
	if (c->c_timeout_id == -1)
		log_warn("timeout timer for %s", tao__conn_peer(c));
}
