/*
 * conn.c - a connection's input, dispatch and output (queueing a
 * message: conn_send.c).
 *
 * Reading: with no unfinished frame the socket is read into the worker's
 * shared buffer and frames are decoded in place (no copy); only a trailing
 * partial frame is copied into the connection's own c_rbuf.  While a
 * partial frame is pending the socket is read straight into c_rbuf, grown
 * geometrically towards the size the frame header announced, never
 * allocated up front (a peer announcing 8 MiB and sending 8 bytes costs a
 * few KiB, not 8 MiB).
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/framer.h"
#include "worker/conn.h"
#include "core/log.h"
#include "core/timer.h"
#include "worker/tls.h"
#include "worker/wshm.h"
#include "worker/pool.h"
#include "worker/access.h"
#include "worker/proxy.h"
#include "worker/whist.h"

#define READ_ROUNDS	4		/* reads per readable event */
#define TLS_READ_ROUNDS	16		/* the same bytes in TLS records */


static inline const struct tao_settings *
conn_settings(const struct tao_conn *c)
{
	return &tao__conn_worker(c)->w_p.wp_settings;
}

struct tao_conn_cold *
tao__conn_cold(struct tao_conn *c)
{
	struct tao_conn_cold *cc;

	if (c->c_cold != NULL)
		return c->c_cold;
	if ((cc = calloc(1, sizeof(*cc))) == NULL)
		return NULL;
	cc->cc_timeout_id = -1;
	LIST_INIT(&cc->cc_timers);
	return c->c_cold = cc;
}

/* A connection never registered: its memory, cold part included. */
static void
conn_discard(struct tao_conn *c)
{
	free(c->c_cold);
	free(c);
}

/* Over max_connections: accepted and closed at once, logged at most
 * once a second. */
static void
conn_refuse(struct tao_worker *w, struct tao_conn *c,
    const struct sockaddr *sa)
{
	char peer[TAO_PEER_MAX];

	TAO_STAT_ADD(w, REFUSED, 1);
	if (w->w_loop.el_now_ms - w->w_refuse_log_ms >= 1000 ||
	    w->w_refuse_log_ms == 0) {
		w->w_refuse_log_ms = w->w_loop.el_now_ms;
		tao__format_peer(sa, peer, sizeof(peer));
		log_warnx("max_connections reached: refusing %s", peer);
	}
	close(c->c_io.io_fd);
	conn_discard(c);
}


/*
 * Start serving fd: a new connection (netid 0: give it one) or one handed
 * over by the previous generation during a reload (its netid kept).
 */
/* A connection object for fd, not yet registered anywhere; NULL (fd
 * closed, counted) when out of memory. */
static struct tao_conn *
conn_new(struct tao_worker *w, struct tao_listener *l, int fd,
    const struct sockaddr *sa, uint64_t netid)
{
	struct tao_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("accept: connection");
		close(fd);
		TAO_STAT_ADD(w, ERRORS, 1);
		return NULL;
	}
	c->c_io.io_fd = fd;
	c->c_lindex = (uint8_t)(l - w->w_listeners);
	c->c_row = -1;
	c->c_netid = netid;
	tao__peer_set(&c->c_peer, sa);
	c->c_last_rx_ms = c->c_last_tx_ms = tao__conn_stamp(w->w_loop.el_now_ms);
	tao__wq_init(&c->c_wq);
	if (netid != 0)
		c->c_flags |= TAO_CONN_MIGRATING;
	return c;
}

/* on_connect, then serving: 0, or -1 if it was closed. */
static int
conn_announce(struct tao_conn *c)
{
	struct tao_worker *w = tao__conn_worker(c);
	const struct tao_registry *r = w->w_p.wp_registry;

	if (r->r_on_connect != NULL &&
	    r->r_on_connect(c, r->r_on_connect_arg) < 0) {
		log_debug("on_connect refused %s", tao__conn_peer(c));
		tao__conn_abort(c, 0, NULL);
		return -1;
	}
	c->c_flags |= TAO_CONN_ANNOUNCED;
	c->c_flags &= ~TAO_CONN_MIGRATING;
	if (w->w_state != TAO_WORKER_RUNNING && !w->w_handoff)
		tao__conn_drain(c);	/* handed to us as we stop */
	return c->c_flags & TAO_CONN_CLOSED ? -1 : 0;
}

/*
 * A new connection of a proxy listener waits for its header first
 * (worker/proxy.c): no access check, TLS or on_connect before the real
 * peer is known.  A handed-over one passed its header long ago.
 */
static void
conn_start(struct tao_worker *w, struct tao_listener *l, int fd,
    const struct sockaddr *sa, uint64_t netid)
{
	struct tao_conn *c;
	int one = 1, proxy = l->l_access->la_proxy && netid == 0;

	if ((c = conn_new(w, l, fd, sa, netid)) == NULL)
		return;
	if (tao__wshm_conn_open(w, c) == -1) {
		conn_refuse(w, c, sa);	/* over max_connections */
		return;
	}
	/* A fresh accept inherits it from the listener (loop.c checks). */
	if (netid != 0 || !l->l_nodelay)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if (proxy) {
		c->c_flags |= TAO_CONN_PROXY;
		tao__conn_frame_begin(c, w->w_loop.el_now_ms);	/* its deadline */
	} else if (tao__access_admit(c) == -1) {
		tao__wshm_conn_close(w, c);	/* counted by admit */
		close(fd);
		conn_discard(c);
		return;
	}
	/* A tls listener's connection starts with the handshake (tls.c). */
	if (!proxy && l->l_tls && tao__wtls_accept(c) == -1)
		goto fail;
	if (tao__io_add(&w->w_loop, &c->c_io, TAO_IO_CONN, fd, EPOLLIN) == -1) {
		log_warn("epoll_ctl add %s", tao__conn_peer(c));
		goto fail;
	}
	TAILQ_INSERT_TAIL(&w->w_conns, c, c_entry);
	if (netid == 0)
		TAO_STAT_ADD(w, ACCEPTED, 1);
	tao__conn_arm_timeouts(c);
	if (!proxy)
		(void)conn_announce(c);
	return;
fail:
	tao__wtls_close(c);
	tao__wshm_conn_close(w, c);
	close(fd);
	conn_discard(c);
	TAO_STAT_ADD(w, ERRORS, 1);
}

int
tao__conn_proxied(struct tao_conn *c)
{
	if (tao__access_admit(c) == -1) {
		tao__conn_abort(c, 0, NULL);
		return -1;
	}
	if (tao__conn_listener(c)->l_tls && tao__wtls_accept(c) == -1) {
		TAO_STAT_ADD(tao__conn_worker(c), ERRORS, 1);
		tao__conn_abort(c, TAO_ESYS, NULL);
		return -1;
	}
	tao__conn_arm_timeouts(c);
	if (conn_announce(c) == -1)
		return -1;
	/* What followed the header waits in the socket: TLS reads it on
	 * its next event, plaintext now. */
	return tao__conn_tls(c) == NULL ? tao__conn_read(c) : 0;
}

void
tao__conn_accept(struct tao_worker *w, struct tao_listener *l, int fd,
    const struct sockaddr *sa, socklen_t salen)
{
	(void)salen;
	conn_start(w, l, fd, sa, 0);
}

void
tao__conn_adopt(struct tao_worker *w, int fd, const struct tao_codec *codec,
    uint64_t netid, const uint8_t peer[20])
{
	struct sockaddr_storage ss;
	struct tao__peer kept;
	socklen_t len = sizeof(ss);
	struct tao_listener *l = NULL;

	/* Only plaintext connections are handed over (see
	 * tao__conn_can_hand_off): never put one behind a tls listener. */
	for (int i = 0; i < w->w_p.wp_nlisteners && l == NULL; i++)
		if (w->w_listeners[i].l_codec == codec &&
		    !w->w_listeners[i].l_tls)
			l = &w->w_listeners[i];
	memcpy(&kept, peer, sizeof(kept));	/* the old owner's (PROXY) */
	if (l == NULL || netid == 0 || (tao__peer_sockaddr(&kept, &ss) == -1
	    && getpeername(fd, (struct sockaddr *)&ss, &len) == -1)) {
		/* The new configuration has no listener of this kind. */
		log_info("reload: closing a handed-over connection (no %s "
		    "listener any more)", codec->name);
		close(fd);
		return;
	}
	conn_start(w, l, fd, (struct sockaddr *)&ss, netid);
}

/*
 * The connection leaves this worker with its socket: whatever the peer
 * sent since our last read waits in the socket for the new owner, so
 * nothing is lost.  on_close runs with tao_conn_migrating() true.
 */
void
tao__conn_hand_off(struct tao_conn *c)
{
	c->c_flags |= TAO_CONN_MIGRATING;
	tao__conn_close_now(c, 0);
}

/* ---- input ---------------------------------------------------------- */

static void
conn_dispatch(struct tao_conn *c, const struct tao_frame *f)
{
	struct tao_worker *w = tao__conn_worker(c);
	const struct tao_registry *r = w->w_p.wp_registry;
	const struct tao_handler *h;
	struct tao_message m;
	int found;

	tao__conn_count_msg(c, &c->c_msgs_in);
	c->c_last_rx_ms = tao__conn_stamp(w->w_loop.el_now_ms);	/* a frame,
							 * not loose bytes */
	TAO_STAT_ADD(w, MSGS_IN, 1);
	found = tao__framer_lookup(r, f, &m, &h);
	if (f->type == TAO_TYPE_HEARTBEAT && tao__conn_listener(c)->l_codec ==
	    &tao_codec_tlv) {
		if (conn_settings(c)->st_heartbeat_reply)
			(void)tao_conn_send(c, TAO_TYPE_HEARTBEAT, NULL, 0);
		if (h == NULL)
			return;
	}
	if (found == 1 && h->h_blocking && w->w_pool != NULL) {
		/* Not read again until its job is done (pool.h). */
		if (tao__pool_submit(w, c, h, &m) < 0) {
			TAO_STAT_ADD(w, ERRORS, 1);
			tao__conn_abort(c, TAO_ENOMEM, "no memory for a job");
		}
	} else if (found == 1) {
		uint64_t t0 = tao__whist_begin(w);
		h->h_handler(c, &m, h->h_arg);
		tao__whist_handler(w, h, t0);
	} else if (found == -1) {
		TAO_STAT_ADD(w, ERRORS, 1);
		tao__conn_abort(c, TAO_EPROTO, "message rejected by its decoder");
	} else if (r->r_on_message != NULL) {
		uint64_t t0 = tao__whist_begin(w);
		r->r_on_message(c, &m, r->r_on_message_arg);
		tao__whist_handler(w, NULL, t0);
	} else
		TAO_STAT_ADD(w, DROPPED, 1);	/* Go Tao 1.2: not fatal */
}

/* Framer hooks (core/framer.h): inlined into conn_input. */
static int
conn_ready(void *owner)
{
	struct tao_conn *c = owner;

	if (c->c_flags & TAO_CONN_CLOSED)
		return -1;
	if ((c->c_flags & TAO_CONN_CLOSING) || tao__conn_job(c) != NULL)
		return 0;	/* a blocking job first: order (pool.h) */
	if (c->c_wq.q_bytes >= conn_settings(c)->st_write_queue_max) {
		c->c_flags |= TAO_CONN_READ_PAUSED;
		return 0;
	}
	return 1;
}

static int
conn_deliver(void *owner, const struct tao_frame *f)
{
	struct tao_conn *c = owner;

	conn_dispatch(c, f);
	return c->c_flags & TAO_CONN_CLOSED ? -1 : 0;
}

/*
 * n bytes were read into the buffer the framer gave (n == 0: resume what
 * c_in holds).  Decode, dispatch, keep the rest; a new unfinished frame
 * starts the frame timeout.
 */
void
tao__conn_input(struct tao_conn *c, const uint8_t *buf, size_t n)
{
	const struct tao_settings *st = conn_settings(c);
	size_t room = tao__conn_tls(c) == NULL ? 1 : TAO_TLS_RECORD_MAX;
	int own = c->c_in.fr_buf != NULL, rc;

	tao__whist_batch(tao__conn_worker(c));
	rc = tao__framer_input(&c->c_in, tao__conn_listener(c)->l_codec,
	    st->st_max_frame, buf, n, room, conn_ready, conn_deliver, c);
	tao__whist_batch(tao__conn_worker(c));	/* c may be closed, not yet freed */
	switch (rc) {
	case TAO_FRAMER_IDLE:
		if (own)	/* the unfinished frame is done */
			tao__conn_frame_end(c);
		break;
	case TAO_FRAMER_BEGUN:
		tao__conn_frame_begin(c, tao__conn_worker(c)->w_loop.el_now_ms);
		tao__conn_arm_timeouts(c);
		break;
	case TAO_FRAMER_BAD:
		TAO_STAT_ADD(tao__conn_worker(c), ERRORS, 1);
		tao__conn_abort(c, TAO_EPROTO, "bad frame (over max_frame, or "
		    "garbage)");
		break;
	case TAO_FRAMER_NOMEM:
		TAO_STAT_ADD(tao__conn_worker(c), ERRORS, 1);
		tao__conn_abort(c, TAO_ENOMEM, "out of memory for input");
		break;
	default:	/* HELD, GONE */
		break;
	}
}

/* Queued output, or TLS ciphertext the socket has not taken yet. */
static inline int
conn_output_pending(const struct tao_conn *c)
{
	return c->c_wq.q_bytes > 0 || (tao__conn_tls(c) != NULL &&
	    tao__wtls_pending(c) > 0);
}

/* Is there output that can still go out?  Before the TLS handshake is
 * done, none ever will (but its own flight will). */
static inline int
conn_has_output(const struct tao_conn *c)
{
	return (c->c_wq.q_bytes > 0 && (tao__conn_tls(c) == NULL ||
	    tao__wtls_can_send(c))) || (tao__conn_tls(c) != NULL &&
	    tao__wtls_pending(c) > 0);
}

static void
conn_peer_closed(struct tao_conn *c)
{
	c->c_flags |= TAO_CONN_PEER_EOF | TAO_CONN_CLOSING;
	if (!conn_has_output(c))
		tao__conn_close_now(c, 0);
	else
		tao__conn_update_events(c);
}

/* A failed read: 0 try again (EINTR), -1 the connection is over or the
 * socket is empty (*empty set). */
static int
conn_read_failed(struct tao_conn *c, int *empty)
{
	if (errno == EINTR)
		return 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		*empty = 1;
		return -1;
	}
	if (errno != ECONNRESET)
		log_debug("read %s: %s", tao__conn_peer(c), strerror(errno));
	tao__conn_abort(c, TAO_ESYS, NULL);
	return -1;
}

/* Read until the socket is empty (or READ_ROUNDS reads); 0, or -1 closed. */
int
tao__conn_read(struct tao_conn *c)
{
	struct tao_worker *w = tao__conn_worker(c);
	int rounds = tao__conn_tls(c) == NULL ? READ_ROUNDS : TLS_READ_ROUNDS;
	size_t need_room = tao__conn_tls(c) == NULL ? 1 : TAO_TLS_RECORD_MAX;
	int empty = 0;
	uint8_t *buf;
	size_t room;
	ssize_t n;

	if (c->c_flags & TAO_CONN_PROXY)
		return tao__proxy_read(c);
	for (int round = 0; round < rounds; round++) {
		if (tao__framer_buffer(&c->c_in, w->w_loop.el_rbuf,
		    w->w_loop.el_rbuf_size, need_room, &buf, &room) == -1) {
			TAO_STAT_ADD(w, ERRORS, 1);
			tao__conn_abort(c, TAO_ENOMEM, "out of memory for input");
			return -1;
		}
		n = tao__conn_tls(c) == NULL ? read(c->c_io.io_fd, buf, room) :
		    tao__wtls_read(c, buf, room);
		if (n == 0) {
			conn_peer_closed(c);
			return -1;
		}
		if (n == -1) {
			if (conn_read_failed(c, &empty) == 0)
				continue;
			return empty ? 0 : -1;
		}
		TAO_STAT_ADD(w, BYTES_IN, (uint64_t)n);
		tao__conn_count(c, &c->c_bytes_in, (size_t)n);
		tao__conn_input(c, buf, (size_t)n);
		if ((c->c_flags & (TAO_CONN_CLOSED | TAO_CONN_CLOSING |
		    TAO_CONN_READ_PAUSED)) || tao__conn_job(c) != NULL)
			return c->c_flags & TAO_CONN_CLOSED ? -1 : 0;
		/* A short read emptied the socket; a TLS read took what
		 * OpenSSL read ahead, and unless it had to leave some
		 * (TLS_HELD) the socket's rest shows in the next poll. */
		if ((size_t)n < room && (tao__conn_tls(c) == NULL ||
		    !(c->c_flags & TAO_CONN_TLS_HELD)))
			return 0;
	}
	return 0;
}

/* ---- output --------------------------------------------------------- */

/* Resume reading a connection whose output went back under its bound. */
static void
conn_resume(struct tao_conn *c)
{
	c->c_flags &= ~TAO_CONN_READ_PAUSED;
	if (c->c_in.fr_buf != NULL)
		tao__conn_input(c, NULL, 0);
}

int
tao__conn_flush(struct tao_conn *c)
{
	struct tao_worker *w = tao__conn_worker(c);
	size_t written = 0;
	int rc;

	if (c->c_flags & TAO_CONN_CLOSED)
		return -1;	/* on the closed list, never on the flush list */
	tao__evloop_flush_del(&w->w_loop, &c->c_pending);
	if ((c->c_flags & TAO_CONN_CLOSING) && tao__conn_job(c) != NULL) {
		/* Closing waits for the job's replies (tao__conn_job_done). */
		rc = !conn_output_pending(c) ? 1 : tao__conn_tls(c) == NULL ?
		    tao__wq_flush(&c->c_wq, &w->w_loop.el_pool,
		    c->c_io.io_fd, &written) : tao__wtls_flush(c, &written);
		tao__whist_written(w, c, written);
		if (rc == -1) {
			tao__conn_abort(c, TAO_ESYS, NULL);
			return -1;
		}
		tao__conn_update_events(c);
		return 0;
	}
	if ((c->c_flags & TAO_CONN_CLOSING) && !conn_has_output(c)) {
		tao__conn_close_now(c, 0);	/* tao_conn_close, nothing to send */
		return -1;
	}
	rc = tao__conn_tls(c) == NULL ? tao__wq_flush(&c->c_wq, &w->w_loop.el_pool,
	    c->c_io.io_fd, &written) : tao__wtls_flush(c, &written);
	if (written > 0) {
		tao__whist_written(w, c, written);
		TAO_STAT_ADD(w, BYTES_OUT, written);
		tao__conn_count(c, &c->c_bytes_out, written);
		c->c_last_tx_ms = tao__conn_stamp(w->w_loop.el_now_ms);
	}
	if (rc == -1) {
		if (errno != EPIPE && errno != ECONNRESET)
			log_debug("write %s: %s", tao__conn_peer(c), strerror(errno));
		tao__conn_abort(c, TAO_ESYS, NULL);
		return -1;
	}
	if (rc == 1 && (c->c_flags & TAO_CONN_CLOSING)) {
		tao__conn_close_now(c, 0);
		return -1;
	}
	if (rc == 0 && conn_output_pending(c))
		tao__conn_arm_timeouts(c);	/* send_timeout_ms */
	if ((c->c_flags & TAO_CONN_READ_PAUSED) && c->c_wq.q_bytes <=
	    w->w_p.wp_settings.st_write_queue_max / 2) {
		conn_resume(c);
		if (c->c_flags & TAO_CONN_CLOSED)
			return -1;
		if (tao__pending_linked(&c->c_pending))
			return tao__conn_flush(c);
	}
	tao__conn_update_events(c);
	return 0;
}

void
tao__conn_update_events(struct tao_conn *c)
{
	uint32_t want = 0;

	if (c->c_flags & TAO_CONN_CLOSED)
		return;
	if (!(c->c_flags & (TAO_CONN_READ_PAUSED | TAO_CONN_CLOSING)) &&
	    tao__conn_job(c) == NULL)
		want |= EPOLLIN;
	if (c->c_wq.q_bytes > 0)
		want |= EPOLLOUT;
	if (tao__conn_tls(c) != NULL)
		want = tao__wtls_events(c, want);
	/* Not read while its job runs, but a reset still closes it (epoll
	 * reports errors and hang-ups whatever the mask). */
	if (want == 0 && tao__conn_job(c) != NULL)
		want = EPOLLERR;
	if (want == c->c_io.io_events)
		return;
	if (tao__io_set(&tao__conn_worker(c)->w_loop, &c->c_io, want) == -1) {
		log_warn("epoll_ctl mod %s", tao__conn_peer(c));
		tao__conn_abort(c, TAO_ESYS, NULL);
	}
}

/* errno for on_error from the socket's pending error (a reset). */
static void
conn_socket_errno(const struct tao_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->c_io.io_fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1
	    || err == 0)
		err = ECONNRESET;
	errno = err;
}

void
tao__conn_on_event(struct tao_conn *c, uint32_t events)
{
	if (c->c_flags & TAO_CONN_CLOSED)
		return;			/* stale event of this iteration */
	if (tao__conn_tls(c) != NULL)
		events = tao__wtls_ready(c, events);
	if (events & EPOLLIN) {
		if (tao__conn_read(c) == -1)
			return;
	} else if (events & (EPOLLERR | EPOLLHUP)) {
		if (!(events & EPOLLOUT) || !conn_output_pending(c)) {
			conn_socket_errno(c);
			tao__conn_abort(c, TAO_ESYS, NULL);
			return;
		}
	}
	if (conn_output_pending(c) || tao__pending_linked(&c->c_pending)) {
		if (tao__conn_flush(c) == -1)
			return;
	} else
		tao__conn_update_events(c);
}
