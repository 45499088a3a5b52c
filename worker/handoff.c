/*
 * handoff.c - a reload moves this worker's connections to the new
 * generation instead of closing them.
 *
 * On TAO_CHAN_HANDOFF the worker stops accepting and marks every
 * connection.  A marked connection leaves as soon as it is quiescent (no
 * partial frame read, no output queued): its socket goes to the master
 * over the channel (SCM_RIGHTS), which passes it to the new worker of the
 * slot.  Bytes the client sends meanwhile wait in the socket, so no
 * request is lost and the client sees nothing.  Connections still busy at
 * drain_timeout_ms are closed like in a graceful stop.  TLS connections
 * cannot be handed over (their session state is in this process): each
 * is drained once quiescent instead (what has arrived is answered, then
 * it closes with close_notify) and its client reconnects to the new
 * generation.
 */
#include <errno.h>
#include <string.h>

#include "proto/channel.h"
#include "proto/codec.h"
#include "core/clock.h"
#include "worker/conn.h"
#include "core/log.h"
#include "core/timer.h"
#include "worker/worker.h"

#define HANDOFF_RETRY_MS	5

/* The channel passes on only connections with a valid codec id
 * (tao__chan_recv), so this is never NULL for one it delivered. */
const struct tao_codec *
tao__handoff_codec(uint32_t id)
{
	return tao__codec_by_id(id);
}

/* Its netid and its peer go with it: a PROXY header's client address
 * cannot be read back from the socket by the new owner. */
static int
send_conn(struct tao_worker *w, const struct tao_conn *c, int id)
{
	struct tao_chan_msg m;

	_Static_assert(sizeof(c->c_peer) == TAO_CHAN_PEER_LEN,
	    "the peer fits the channel record");
	memset(&m, 0, sizeof(m));
	m.cm_type = TAO_CHAN_CONN;
	m.cm_arg = (uint32_t)id;
	m.cm_value = c->c_netid;
	memcpy(m.cm_peer, &c->c_peer, sizeof(c->c_peer));
	return tao__chan_send_msg(w->w_channel_io.io_fd, &m, c->c_io.io_fd);
}

void
tao__worker_handoff_sweep(struct tao_worker *w)
{
	struct tao_conn *c, *next;
	int id;

	if (!w->w_handoff || w->w_channel_io.io_fd == -1)
		return;
	TAILQ_FOREACH_SAFE(c, &w->w_conns, c_entry, next) {
		id = tao__codec_id(tao__conn_listener(c)->l_codec);
		if (!tao__conn_can_hand_off(c) || id == -1) {
			/* TLS cannot move between processes, nor can a
			 * codec the other side has no number for: once its
			 * current exchange is done, finish it here (see
			 * tao__conn_can_hand_off). */
			if ((tao__conn_tls(c) != NULL || id == -1) &&
			    tao__conn_quiescent(c))
				tao__conn_drain(c);
			continue;
		}
		if (send_conn(w, c, id) == -1) {
			if (errno != EAGAIN && errno != ENOBUFS)
				log_warn("handing over %s", tao__conn_peer(c));
			return;		/* channel full: retry on the timer */
		}
		tao__conn_hand_off(c);
	}
}

static void
handoff_retry(void *owner, void *arg)
{
	struct tao_worker *w = arg;

	(void)owner;
	tao__worker_handoff_sweep(w);
	if (TAILQ_EMPTY(&w->w_conns) && w->w_handoff_timer > 0) {
		(void)tao__timers_cancel(w->w_loop.el_timers, w->w_handoff_timer,
		    NULL);
		w->w_handoff_timer = 0;
	}
}

void
tao__worker_handoff(struct tao_worker *w)
{
	if (w->w_state != TAO_WORKER_RUNNING || w->w_channel_io.io_fd == -1)
		return;
	w->w_handoff = 1;
	tao__worker_drain_begin(w);
	tao__worker_handoff_sweep(w);
	if (!TAILQ_EMPTY(&w->w_conns)) {
		int64_t id = tao__timers_add(w->w_loop.el_timers, tao__now_ms_ceil() +
		    HANDOFF_RETRY_MS, HANDOFF_RETRY_MS, handoff_retry, NULL, w,
		    NULL);
		w->w_handoff_timer = id > 0 ? id : 0;
	}
}
