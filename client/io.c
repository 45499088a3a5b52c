/*
 * io.c - a client socket's events: the end of a non-blocking connect, the
 * TLS handshake, reading and dispatching frames, and writability.
 *
 * Input goes through the framer shared with the server (core/framer.h):
 * read into the loop's buffer, decoded in place, and only an unfinished
 * frame kept in the client's own buffer, grown as its bytes arrive
 * (never at once to the size a header announces: that is the peer's
 * word) and freed once the frame is complete.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "core/clock.h"

#define READ_ROUNDS	8		/* reads per event, for fairness */
#define RBUF_MIN_ROOM	(16 * 1024)	/* one TLS record */

static void	handshake_step(struct tao_client *);

static void
connect_done(struct tao_client *c, uint32_t revents)
{
	char err[256];
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (getsockopt(c->c_w.lw_io.io_fd, SOL_SOCKET, SO_ERROR, &soerr,
	    &len) == -1)
		soerr = errno;
	if (soerr == 0 && !(revents & EPOLLOUT))
		soerr = ECONNREFUSED;	/* HUP with no error recorded */
	if (soerr != 0) {
		tao__client_fail(c, TAO_CLIENT_ERR_CONNECT, "connect to %s: %s",
		    c->c_addr, strerror(soerr));
		return;
	}
	if (!c->c_opts.tls) {
		tao__client_established(c);
		return;
	}
	c->c_state = TAO_CLIENT_HANDSHAKE;
	if (tao__tls_start(c, err, sizeof(err)) == -1) {
		tao__client_fail(c, TAO_CLIENT_ERR_TLS, "TLS with %s: %s",
		    c->c_addr, err);
		return;
	}
	handshake_step(c);
}

static void
handshake_step(struct tao_client *c)
{
	char err[256];
	uint32_t want = 0;

	switch (tao__tls_handshake(c, &want, err, sizeof(err))) {
	case 1:
		tao__client_established(c);
		break;
	case 0:
		tao__client_want(c, want);
		break;
	default:
		tao__client_fail(c, TAO_CLIENT_ERR_TLS,
		    "TLS handshake with %s failed: %s", c->c_addr, err);
		break;
	}
}

/* One frame to its handler: 0, or -1 when the connection was failed. */
static int
dispatch(struct tao_client *c, const struct tao_frame *f)
{
	const struct tao_handler *h;
	struct tao_message m;
	int found;

	if (c->c_opts.heartbeat_timeout_ms > 0)
		c->c_last_rx_ms = tao__now_ms();
	if (!c->c_healthy) {	/* the server talks to us: reset back-off */
		c->c_healthy = 1;
		c->c_failures = 0;
	}
	found = tao__framer_lookup(&c->c_registry, f, &m, &h);
	if (found == -1) {
		tao__client_fail(c, TAO_CLIENT_ERR_PROTOCOL, "a frame of type "
		    "%d from %s was refused by its decoder", (int)f->type,
		    c->c_addr);
		return -1;
	}
	if (found == 1) {
		h->h_client(c, &m, h->h_arg);
		return 0;
	}
	/* An unhandled heartbeat is the answer to ours. */
	if ((f->type != TAO_TYPE_HEARTBEAT ||
	    c->c_opts.codec != &tao_codec_tlv) && c->c_on_message != NULL)
		c->c_on_message(c, &m, c->c_on_message_arg);
	return 0;
}

/* The framer's owner for one read (core/framer.h): the connection is
 * over for the framer once it was failed or replaced by a new one. */
struct reading {
	struct tao_client	*r_client;
	uint64_t		 r_generation;
};

static int
client_ready(void *owner)
{
	(void)owner;
	return 1;
}

static int
client_deliver(void *owner, const struct tao_frame *f)
{
	struct reading *r = owner;

	if (dispatch(r->r_client, f) == -1 ||
	    tao__client_gone(r->r_client, r->r_generation))
		return -1;
	return 0;
}

/* Decode and dispatch n bytes read into buf: 0, or -1 when the
 * connection is over (the framer must not be touched then). */
static int
take_frames(struct tao_client *c, const uint8_t *buf, size_t n,
    uint64_t generation)
{
	struct reading r = { c, generation };

	switch (tao__framer_input(&c->c_in, c->c_opts.codec,
	    c->c_opts.max_frame, buf, n, RBUF_MIN_ROOM, client_ready,
	    client_deliver, &r)) {
	case TAO_FRAMER_GONE:
		return -1;
	case TAO_FRAMER_BAD:
		tao__client_fail(c, TAO_CLIENT_ERR_PROTOCOL,
		    "bad frame from %s (over max_frame %zu bytes, or "
		    "garbage)", c->c_addr, c->c_opts.max_frame);
		return -1;
	case TAO_FRAMER_NOMEM:
		tao__client_fail(c, TAO_CLIENT_ERR_IO, "out of memory "
		    "for input from %s", c->c_addr);
		return -1;
	default:
		return 0;
	}
}

/* One read: > 0 bytes, 0 nothing now, -1 the connection is over. */
static ssize_t
read_some(struct tao_client *c, uint8_t *buf, size_t room)
{
	char err[256];
	uint32_t want = 0;
	ssize_t n;

	if (c->c_ssl != NULL) {
		n = tao__tls_read(c, buf, room, &want, err, sizeof(err));
		if (n == 0 && (want & EPOLLOUT)) {
			c->c_read_wants_write = 1;
			tao__client_want(c, EPOLLIN | EPOLLOUT);
		} else if (n == -1 && err[0] == '\0')
			tao__client_lost(c);
		else if (n == -1)
			tao__client_fail(c, TAO_CLIENT_ERR_IO, "TLS read from "
			    "%s: %s", c->c_addr, err);
		return n;
	}
	for (;;) {
		n = read(c->c_w.lw_io.io_fd, buf, room);
		if (n > 0)
			return n;
		if (n == 0) {
			tao__client_lost(c);
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		tao__client_fail(c, TAO_CLIENT_ERR_IO, "read from %s: %s",
		    c->c_addr, strerror(errno));
		return -1;
	}
}

static void
client_read(struct tao_client *c)
{
	struct tao_evloop *l = &c->c_loop->l_ev;
	uint64_t generation = c->c_generation;
	uint8_t *buf;
	size_t room;
	ssize_t n;

	for (int round = 0; round < READ_ROUNDS; round++) {
		if (tao__framer_buffer(&c->c_in, l->el_rbuf, l->el_rbuf_size,
		    RBUF_MIN_ROOM, &buf, &room) == -1) {
			tao__client_fail(c, TAO_CLIENT_ERR_IO, "out of memory "
			    "for input from %s", c->c_addr);
			return;
		}
		if ((n = read_some(c, buf, room)) <= 0)
			break;
		if (take_frames(c, buf, (size_t)n, generation) == -1)
			return;
	}
	if (tao__client_gone(c, generation))
		return;
	/* Decrypted bytes left inside OpenSSL: epoll will not tell. */
	if (c->c_ssl != NULL && tao__tls_pending(c) &&
	    !(c->c_flags & TAO_CLIENT_IN_AGAIN)) {
		c->c_flags |= TAO_CLIENT_IN_AGAIN;
		TAILQ_INSERT_TAIL(&c->c_loop->l_again, c, c_again_entry);
	}
}

void
tao__client_read_again(struct tao_client *c)
{
	if (c->c_flags & TAO_CLIENT_IN_AGAIN) {
		TAILQ_REMOVE(&c->c_loop->l_again, c, c_again_entry);
		c->c_flags &= ~TAO_CLIENT_IN_AGAIN;
	}
	if (!tao__client_gone(c, c->c_generation))
		client_read(c);
}

void
tao__client_io(struct tao_client *c, uint32_t revents)
{
	uint64_t generation = c->c_generation;

	/* A freed client's socket was closed: the core dropped its events
	 * by generation, so c is alive here. */
	switch (c->c_state) {
	case TAO_CLIENT_CONNECTING:
		connect_done(c, revents);
		break;
	case TAO_CLIENT_HANDSHAKE:
		handshake_step(c);
		break;
	case TAO_CLIENT_OPEN:
	case TAO_CLIENT_CLOSING:
		if ((revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) ||
		    (c->c_read_wants_write && (revents & EPOLLOUT))) {
			c->c_read_wants_write = 0;
			client_read(c);
			if (tao__client_gone(c, generation))
				break;
		}
		if ((revents & EPOLLOUT) || (c->c_write_wants_read &&
		    (revents & EPOLLIN)))
			tao__client_flush(c);
		break;
	default:
		break;
	}
}
