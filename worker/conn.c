/*
 * conn.c - a connection's input, dispatch and output.
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

#include "worker/conn.h"
#include "core/log.h"
#include "core/timer.h"
#include "worker/tls.h"
#include "worker/wshm.h"

#define READ_ROUNDS	4		/* reads per readable event */
#define TLS_READ_ROUNDS	16		/* the same bytes in TLS records */
#define RBUF_STEP	(64 * 1024)	/* growth of a partial frame buffer */

static void	conn_update_events(struct tao_conn *);
static void	conn_close_now(struct tao_conn *);

static inline const struct tao_settings *
conn_settings(const struct tao_conn *c)
{
	return &c->c_worker->w_p.wp_settings;
}

void
tao__format_peer(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];
	int n = 0;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		n = snprintf(out, outlen, "[%s]:%u", host,
		    ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		n = snprintf(out, outlen, "%s:%u", host, ntohs(s4->sin_port));
	} else
		strlcpy(out, "?", outlen);
	(void)n;	/* 56 bytes hold any "[v6]:port" */
}

/*
 * Start serving fd: a new connection (netid 0: give it one) or one handed
 * over by the previous generation during a reload (its netid kept).
 */
static void
conn_start(struct tao_worker *w, struct tao_listener *l, int fd,
    const struct sockaddr *sa, uint64_t netid)
{
	const struct tao_registry *r = w->w_p.wp_registry;
	struct epoll_event ev;
	struct tao_conn *c;
	int one = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("accept: connection");
		close(fd);
		TAO_STAT_ADD(w, ERRORS, 1);
		return;
	}
	c->c_io.io_kind = TAO_IO_CONN;
	c->c_io.io_fd = fd;
	c->c_worker = w;
	c->c_listener = l;
	c->c_row = -1;
	c->c_timeout_id = -1;
	c->c_netid = netid;
	c->c_last_rx_ms = c->c_last_tx_ms = w->w_now_ms;
	tao__wq_init(&c->c_wq);
	LIST_INIT(&c->c_timers);
	if (netid != 0)
		c->c_flags |= TAO_CONN_MIGRATING;

	if (tao__wshm_conn_open(w, c, sa) == -1) {
		/* Over max_connections: accepted and closed at once. */
		TAO_STAT_ADD(w, REFUSED, 1);
		if (w->w_now_ms - w->w_refuse_log_ms >= 1000 ||
		    w->w_refuse_log_ms == 0) {
			w->w_refuse_log_ms = w->w_now_ms;
			char peer[TAO_PEER_MAX];
			tao__format_peer(sa, peer, sizeof(peer));
			log_warnx("max_connections reached: refusing %s",
			    peer);
		}
		close(fd);
		free(c);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* A tls listener's connection starts with the handshake (tls.c). */
	if (l->l_tls && tao__wtls_accept(c) == -1)
		goto fail;
	ev.events = EPOLLIN;
	ev.data.ptr = &c->c_io;
	if (epoll_ctl(w->w_epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_warn("epoll_ctl add %s", tao__conn_peer(c));
		goto fail;
	}
	c->c_events = EPOLLIN;
	TAILQ_INSERT_TAIL(&w->w_conns, c, c_entry);
	if (netid == 0)
		TAO_STAT_ADD(w, ACCEPTED, 1);
	TAO_STAT_ADD(w, CONNECTIONS, 1);
	tao__conn_arm_timeouts(c);

	if (r->r_on_connect != NULL &&
	    r->r_on_connect(c, r->r_on_connect_arg) < 0) {
		log_debug("on_connect refused %s", tao__conn_peer(c));
		tao__conn_abort(c, NULL);
		return;
	}
	c->c_flags |= TAO_CONN_ANNOUNCED;
	c->c_flags &= ~TAO_CONN_MIGRATING;
	if (w->w_state != TAO_WORKER_RUNNING && !w->w_handoff)
		tao__conn_drain(c);	/* handed to us as we stop */
	return;
fail:
	tao__wtls_close(c);
	tao__wshm_conn_close(w, c);
	close(fd);
	free(c);
	TAO_STAT_ADD(w, ERRORS, 1);
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
    uint64_t netid)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct tao_listener *l = NULL;

	/* Only plaintext connections are handed over (see
	 * tao__conn_can_hand_off): never put one behind a tls listener. */
	for (int i = 0; i < w->w_p.wp_nlisteners && l == NULL; i++)
		if (w->w_listeners[i].l_codec == codec &&
		    !w->w_listeners[i].l_tls)
			l = &w->w_listeners[i];
	if (l == NULL || netid == 0 || getpeername(fd, (struct sockaddr *)&ss,
	    &len) == -1) {
		/* The new configuration has no listener of this kind. */
		log_info("reload: closing a handed-over connection (no %s "
		    "listener any more)", codec->name);
		close(fd);
		return;
	}
	conn_start(w, l, fd, (struct sockaddr *)&ss, netid);
}

/* Quiescent: between frames, nothing queued, not closing. */
int
tao__conn_quiescent(const struct tao_conn *c)
{
	return !(c->c_flags & (TAO_CONN_CLOSED | TAO_CONN_CLOSING |
	    TAO_CONN_READ_PAUSED)) && c->c_rbuf == NULL &&
	    c->c_wq.q_bytes == 0;
}

/*
 * Never a TLS connection: its session (keys, sequence numbers) lives in
 * this process's memory and cannot follow the socket, so handoff.c
 * drains it instead once it is quiescent (answer what has arrived,
 * flush, close with close_notify); its client reconnects.
 */
int
tao__conn_can_hand_off(const struct tao_conn *c)
{
	return c->c_tls == NULL && tao__conn_quiescent(c);
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
	conn_close_now(c);
}

int
tao_conn_migrating(const struct tao_conn *c)
{
	return (c->c_flags & TAO_CONN_MIGRATING) != 0;
}

/* ---- input ---------------------------------------------------------- */

static void
conn_dispatch(struct tao_conn *c, const struct tao_frame *f)
{
	struct tao_worker *w = c->c_worker;
	const struct tao_registry *r = w->w_p.wp_registry;
	const struct tao_handler *h;
	struct tao_message m = { f->type, f->payload, f->len, NULL };

	c->c_msgs_in++;
	c->c_last_rx_ms = w->w_now_ms;	/* a frame, not loose bytes */
	TAO_STAT_ADD(w, MSGS_IN, 1);
	h = tao__registry_find(r, f->type);
	if (f->type == TAO_TYPE_HEARTBEAT && c->c_listener->l_codec ==
	    &tao_codec_tlv) {
		if (conn_settings(c)->st_heartbeat_reply)
			(void)tao_send(c, TAO_TYPE_HEARTBEAT, NULL, 0);
		if (h == NULL)
			return;
	}
	if (h != NULL) {
		if (h->h_decode != NULL &&
		    h->h_decode(m.data, m.len, &m.decoded, h->h_arg) < 0) {
			TAO_STAT_ADD(w, ERRORS, 1);
			if (r->r_on_error != NULL)
				r->r_on_error(c, TAO_EINVAL, r->r_on_error_arg);
			tao__conn_abort(c, "message rejected by its decoder");
			return;
		}
		h->h_handler(c, &m, h->h_arg);
	} else if (r->r_on_message != NULL)
		r->r_on_message(c, &m, r->r_on_message_arg);
	else
		TAO_STAT_ADD(w, DROPPED, 1);	/* Go Tao 1.2: not fatal */
}

/*
 * Decode and dispatch frames from buf[0..len); returns the bytes consumed.
 * Stops early when the connection closes or its output is over its bound.
 */
static size_t
conn_decode(struct tao_conn *c, const uint8_t *buf, size_t len)
{
	const struct tao_codec *codec = c->c_listener->l_codec;
	const struct tao_settings *st = conn_settings(c);
	struct tao_frame f;
	size_t off = 0, used;
	int rc;

	while (off < len) {
		if (c->c_flags & (TAO_CONN_CLOSED | TAO_CONN_CLOSING))
			break;
		if (c->c_wq.q_bytes >= st->st_write_queue_max) {
			c->c_flags |= TAO_CONN_READ_PAUSED;
			break;
		}
		rc = codec->decode(buf + off, len - off, st->st_max_frame,
		    &c->c_rstate, &f, &used);
		if (rc == TAO_DECODE_AGAIN) {
			/* max_frame is at most 1 GiB: the size fits */
			c->c_rneed = (uint32_t)used;
			break;
		}
		if (rc == TAO_DECODE_ERROR) {
			TAO_STAT_ADD(c->c_worker, ERRORS, 1);
			tao__conn_abort(c, "bad frame (over max_frame, or "
			    "garbage)");
			break;
		}
		off += used;
		c->c_rneed = 0;
		conn_dispatch(c, &f);
	}
	return off;
}

/* Keep buf[0..len) as the connection's unfinished input. */
static int
conn_keep_input(struct tao_conn *c, const uint8_t *buf, size_t len)
{
	size_t cap = len + 4096;

	if (c->c_rneed > len && c->c_rneed - len < RBUF_STEP)
		cap = c->c_rneed;
	if (c->c_tls != NULL && cap < len + TAO_TLS_RECORD_MAX)
		cap = len + TAO_TLS_RECORD_MAX;	/* see conn_reserve_input */
	if ((c->c_rbuf = malloc(cap)) == NULL)
		return -1;
	memcpy(c->c_rbuf, buf, len);
	c->c_rlen = len;
	c->c_rcap = cap;
	return 0;
}

/*
 * Make room in c_rbuf for the next read, growing towards c_rneed.  TLS
 * needs room for a whole record: OpenSSL then never keeps decrypted
 * bytes we did not take, which epoll could not tell us about (tls.h).
 */
static int
conn_reserve_input(struct tao_conn *c)
{
	size_t room = c->c_tls == NULL ? 1 : TAO_TLS_RECORD_MAX;
	size_t want, cap;
	uint8_t *grown;

	if (c->c_rcap - c->c_rlen >= room)
		return 0;
	want = c->c_rneed > c->c_rlen ? c->c_rneed : c->c_rlen + RBUF_STEP;
	if (want < c->c_rlen + room)
		want = c->c_rlen + room;
	cap = (size_t)c->c_rcap * 2;
	if (cap < c->c_rlen + RBUF_STEP)
		cap = c->c_rlen + RBUF_STEP;
	if (cap > want)
		cap = want;
	if ((grown = realloc(c->c_rbuf, cap)) == NULL)
		return -1;
	c->c_rbuf = grown;
	c->c_rcap = cap;
	return 0;
}

/* Decode what c_rbuf holds; keep the remainder at its start. */
static void
conn_process_own(struct tao_conn *c)
{
	size_t used = conn_decode(c, c->c_rbuf, c->c_rlen);

	if (c->c_flags & TAO_CONN_CLOSED)
		return;
	if (used == c->c_rlen) {
		free(c->c_rbuf);
		c->c_rbuf = NULL;
		c->c_rlen = c->c_rcap = 0;
		c->c_frame_start_ms = 0;
		return;
	}
	if (used > 0) {
		c->c_rlen -= used;
		if (c->c_rcap > 2 * RBUF_STEP && c->c_rlen < c->c_rcap / 4) {
			/* A big frame is done: do not keep its buffer. */
			uint8_t *small = malloc(c->c_rlen + RBUF_STEP);
			if (small != NULL) {
				memcpy(small, c->c_rbuf + used, c->c_rlen);
				free(c->c_rbuf);
				c->c_rbuf = small;
				c->c_rcap = c->c_rlen + RBUF_STEP;
			} else
				memmove(c->c_rbuf, c->c_rbuf + used, c->c_rlen);
		} else
			memmove(c->c_rbuf, c->c_rbuf + used, c->c_rlen);
		c->c_frame_start_ms = c->c_worker->w_now_ms;
		tao__conn_arm_timeouts(c);
	}
}

static void
conn_process_shared(struct tao_conn *c, const uint8_t *buf, size_t len)
{
	size_t used = conn_decode(c, buf, len);

	if ((c->c_flags & TAO_CONN_CLOSED) || used == len)
		return;
	if (conn_keep_input(c, buf + used, len - used) == -1) {
		TAO_STAT_ADD(c->c_worker, ERRORS, 1);
		tao__conn_abort(c, "out of memory for input");
		return;
	}
	c->c_frame_start_ms = c->c_worker->w_now_ms;
	tao__conn_arm_timeouts(c);
}

/* Is there output that can still go out?  Before the TLS handshake is
 * done, none ever will. */
static inline int
conn_has_output(const struct tao_conn *c)
{
	return c->c_wq.q_bytes > 0 && (c->c_tls == NULL ||
	    tao__wtls_can_send(c));
}

static void
conn_peer_closed(struct tao_conn *c)
{
	c->c_flags |= TAO_CONN_PEER_EOF | TAO_CONN_CLOSING;
	if (!conn_has_output(c))
		conn_close_now(c);
	else
		conn_update_events(c);
}

/* Read until the socket is empty (or READ_ROUNDS reads); 0, or -1 closed. */
int
tao__conn_read(struct tao_conn *c)
{
	struct tao_worker *w = c->c_worker;
	int rounds = c->c_tls == NULL ? READ_ROUNDS : TLS_READ_ROUNDS;
	uint8_t *buf;
	size_t room;
	ssize_t n;

	for (int round = 0; round < rounds; round++) {
		int own = c->c_rbuf != NULL;

		if (own) {
			if (conn_reserve_input(c) == -1) {
				TAO_STAT_ADD(w, ERRORS, 1);
				tao__conn_abort(c, "out of memory for input");
				return -1;
			}
			buf = c->c_rbuf + c->c_rlen;
			room = c->c_rcap - c->c_rlen;
		} else {
			buf = w->w_rbuf;
			room = w->w_rbuf_size;
		}
		n = c->c_tls == NULL ? read(c->c_io.io_fd, buf, room) :
		    tao__wtls_read(c, buf, room);
		if (n == 0) {
			conn_peer_closed(c);
			return -1;
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno != ECONNRESET)
				log_debug("read %s: %s", tao__conn_peer(c),
				    strerror(errno));
			tao__conn_abort(c, NULL);
			return -1;
		}
		TAO_STAT_ADD(w, BYTES_IN, (uint64_t)n);
		c->c_bytes_in += (uint64_t)n;
		if (own) {
			c->c_rlen += (size_t)n;
			conn_process_own(c);
		} else
			conn_process_shared(c, buf, (size_t)n);
		if (c->c_flags & (TAO_CONN_CLOSED | TAO_CONN_CLOSING |
		    TAO_CONN_READ_PAUSED))
			return c->c_flags & TAO_CONN_CLOSED ? -1 : 0;
		/* A short read emptied the socket; a TLS read returns one
		 * record, and only a full one suggests that more follow. */
		if ((size_t)n < room && (c->c_tls == NULL ||
		    (size_t)n < TAO_TLS_RECORD_MAX))
			return 0;
	}
	return 0;
}

/* ---- output --------------------------------------------------------- */

int
tao_send(struct tao_conn *c, int32_t type, const void *data, size_t len)
{
	uint8_t head[TAO_CODEC_MAX_HEAD], tail[TAO_CODEC_MAX_TAIL];
	size_t head_len, tail_len;
	struct tao_worker *w;

	if (c == NULL || (data == NULL && len > 0))
		return TAO_EINVAL;
	if (c->c_flags & (TAO_CONN_CLOSED | TAO_CONN_CLOSING))
		return TAO_ECLOSED;
	w = c->c_worker;
	if (len > w->w_p.wp_settings.st_max_frame)
		return TAO_ETOOBIG;
	if (c->c_wq.q_bytes >= w->w_p.wp_settings.st_write_queue_max)
		return TAO_EWOULDBLOCK;
	if (c->c_wq.q_bytes == 0)
		c->c_last_tx_ms = w->w_now_ms;	/* send_timeout_ms from here */
	c->c_listener->l_codec->encode(type, len, head, &head_len, tail,
	    &tail_len);
	if (tao__wq_append(&c->c_wq, &w->w_pool, head, head_len, data, len,
	    tail, tail_len) == -1)
		return TAO_ENOMEM;
	c->c_msgs_out++;
	TAO_STAT_ADD(w, MSGS_OUT, 1);
	if (!(c->c_flags & TAO_CONN_IN_FLUSH)) {
		c->c_flags |= TAO_CONN_IN_FLUSH;
		TAILQ_INSERT_TAIL(&w->w_flush, c, c_flush_entry);
	}
	return 0;
}

/* Resume reading a connection whose output went back under its bound. */
static void
conn_resume(struct tao_conn *c)
{
	c->c_flags &= ~TAO_CONN_READ_PAUSED;
	if (c->c_rbuf != NULL)
		conn_process_own(c);
}

int
tao__conn_flush(struct tao_conn *c)
{
	struct tao_worker *w = c->c_worker;
	size_t written;
	int rc;

	if (c->c_flags & TAO_CONN_IN_FLUSH) {
		c->c_flags &= ~TAO_CONN_IN_FLUSH;
		TAILQ_REMOVE(&w->w_flush, c, c_flush_entry);
	}
	if (c->c_flags & TAO_CONN_CLOSED)
		return -1;
	if ((c->c_flags & TAO_CONN_CLOSING) && !conn_has_output(c)) {
		conn_close_now(c);	/* tao_conn_close, nothing to send */
		return -1;
	}
	rc = c->c_tls == NULL ? tao__wq_flush(&c->c_wq, &w->w_pool,
	    c->c_io.io_fd, &written) : tao__wtls_flush(c, &written);
	if (written > 0) {
		TAO_STAT_ADD(w, BYTES_OUT, written);
		c->c_bytes_out += written;
		c->c_last_tx_ms = w->w_now_ms;
	}
	if (rc == -1) {
		if (errno != EPIPE && errno != ECONNRESET)
			log_debug("write %s: %s", tao__conn_peer(c), strerror(errno));
		tao__conn_abort(c, NULL);
		return -1;
	}
	if (rc == 1 && (c->c_flags & TAO_CONN_CLOSING)) {
		conn_close_now(c);
		return -1;
	}
	if (rc == 0 && c->c_wq.q_bytes > 0)
		tao__conn_arm_timeouts(c);	/* send_timeout_ms */
	if ((c->c_flags & TAO_CONN_READ_PAUSED) && c->c_wq.q_bytes <=
	    w->w_p.wp_settings.st_write_queue_max / 2) {
		conn_resume(c);
		if (c->c_flags & TAO_CONN_CLOSED)
			return -1;
		if (c->c_flags & TAO_CONN_IN_FLUSH)
			return tao__conn_flush(c);
	}
	conn_update_events(c);
	return 0;
}

static void
conn_update_events(struct tao_conn *c)
{
	struct epoll_event ev;
	uint32_t want = 0;

	if (c->c_flags & TAO_CONN_CLOSED)
		return;
	if (!(c->c_flags & (TAO_CONN_READ_PAUSED | TAO_CONN_CLOSING)))
		want |= EPOLLIN;
	if (c->c_wq.q_bytes > 0)
		want |= EPOLLOUT;
	if (c->c_tls != NULL)
		want = tao__wtls_events(c, want);
	if (want == c->c_events)
		return;
	ev.events = want;
	ev.data.ptr = &c->c_io;
	if (epoll_ctl(c->c_worker->w_epfd, EPOLL_CTL_MOD, c->c_io.io_fd,
	    &ev) == -1) {
		log_warn("epoll_ctl mod %s", tao__conn_peer(c));
		tao__conn_abort(c, NULL);
		return;
	}
	c->c_events = want;
}

void
tao__conn_on_event(struct tao_conn *c, uint32_t events)
{
	if (c->c_flags & TAO_CONN_CLOSED)
		return;			/* stale event of this iteration */
	if (c->c_tls != NULL)
		events = tao__wtls_ready(c, events);
	if (events & EPOLLIN) {
		if (tao__conn_read(c) == -1)
			return;
	} else if (events & (EPOLLERR | EPOLLHUP)) {
		if (!(events & EPOLLOUT) || c->c_wq.q_bytes == 0) {
			tao__conn_abort(c, NULL);
			return;
		}
	}
	if (c->c_wq.q_bytes > 0 || (c->c_flags & TAO_CONN_IN_FLUSH)) {
		if (tao__conn_flush(c) == -1)
			return;
	} else
		conn_update_events(c);
	tao__wshm_conn_update(c->c_worker, c);
}

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

	if (c == NULL || (c->c_flags & (TAO_CONN_CLOSED | TAO_CONN_CLOSING)))
		return;
	w = c->c_worker;
	c->c_flags |= TAO_CONN_CLOSING;
	if (!(c->c_flags & TAO_CONN_IN_FLUSH)) {
		c->c_flags |= TAO_CONN_IN_FLUSH;
		TAILQ_INSERT_TAIL(&w->w_flush, c, c_flush_entry);
	}
}

void
tao__conn_abort(struct tao_conn *c, const char *why)
{
	if (why != NULL)
		log_debug("closing %s: %s", tao__conn_peer(c), why);
	conn_close_now(c);
}

void
tao__conn_drain(struct tao_conn *c)
{
	if (c->c_flags & (TAO_CONN_CLOSED | TAO_CONN_CLOSING))
		return;
	if (!(c->c_flags & TAO_CONN_READ_PAUSED) && tao__conn_read(c) == -1)
		return;
	tao_conn_close(c);
}

static void
conn_close_now(struct tao_conn *c)
{
	struct tao_worker *w = c->c_worker;
	const struct tao_registry *r = w->w_p.wp_registry;

	if (c->c_flags & TAO_CONN_CLOSED)
		return;
	c->c_flags |= TAO_CONN_CLOSED;
	(void)epoll_ctl(w->w_epfd, EPOLL_CTL_DEL, c->c_io.io_fd, NULL);
	if (c->c_tls != NULL)
		tao__wtls_close(c);	/* close_notify, while fd is open */
	close(c->c_io.io_fd);
	c->c_io.io_fd = -1;
	if (c->c_flags & TAO_CONN_IN_FLUSH) {
		c->c_flags &= ~TAO_CONN_IN_FLUSH;
		TAILQ_REMOVE(&w->w_flush, c, c_flush_entry);
	}
	/* It stays on w_conns (marked closed) until free_closed: a loop over
	 * w_conns whose callback closes another connection keeps a valid
	 * next pointer.  c_flush_entry is free now and links w_closed. */
	TAILQ_INSERT_TAIL(&w->w_closed, c, c_flush_entry);
	tao__timers_cancel_owner(w->w_timers, &c->c_timers);
	c->c_timeout_id = -1;
	if (!(c->c_flags & TAO_CONN_MIGRATING))
		TAO_STAT_ADD(w, CLOSED, 1);
	tao__stats_sub(w->w_stats, TAO_STAT_CONNECTIONS, 1);
	tao__wshm_conn_close(w, c);
	if ((c->c_flags & TAO_CONN_ANNOUNCED) && r->r_on_close != NULL)
		r->r_on_close(c, r->r_on_close_arg);
	/* c_rbuf stays until tao__conn_free: a message being handled may
	 * point into it (tao.h: data is valid for the whole callback). */
	tao__wq_clear(&c->c_wq, &w->w_pool);
}

/* At a safe point (loop.c free_closed): unlink from w_conns and free. */
void
tao__conn_free(struct tao_conn *c)
{
	struct tao_worker *w = c->c_worker;

	TAILQ_REMOVE(&w->w_conns, c, c_entry);
	tao__wq_clear(&c->c_wq, &w->w_pool);
	free(c->c_rbuf);
	free(c);
}

/* ---- accessors ------------------------------------------------------ */

uint64_t
tao_conn_id(const struct tao_conn *c)
{
	return c->c_netid;
}

void *
tao_conn_data(struct tao_conn *c)
{
	return c->c_data;
}

void
tao_conn_set_data(struct tao_conn *c, void *data)
{
	c->c_data = data;
}

const char *
tao__conn_peer(const struct tao_conn *c)
{
	static char peer[TAO_PEER_MAX];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (c->c_io.io_fd < 0 ||
	    getpeername(c->c_io.io_fd, (struct sockaddr *)&ss, &len) == -1)
		strlcpy(peer, "?", sizeof(peer));
	else
		tao__format_peer((struct sockaddr *)&ss, peer, sizeof(peer));
	return peer;
}

const char *
tao_conn_peer(const struct tao_conn *c)
{
	return tao__conn_peer(c);
}

const struct tao_codec *
tao_conn_codec(const struct tao_conn *c)
{
	return c->c_listener->l_codec;
}

struct tao_server *
tao_conn_server(const struct tao_conn *c)
{
	return c->c_worker->w_p.wp_server;
}
