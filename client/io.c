/*
 * io.c - a client socket's events: the end of a non-blocking connect, the
 * TLS handshake, reading and dispatching frames, and writability.
 *
 * Input goes into the client's own buffer, which holds at most one
 * unfinished frame between reads; frames are decoded in place and the
 * rest moved to the front.  For a frame whose size the codec announced
 * (TLV), the buffer doubles as its bytes arrive, up to that size (never
 * at once: the header is the peer's word); after a big frame it shrinks
 * back.
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
#define RBUF_STEP	(64 * 1024)
#define RBUF_KEEP	(256 * 1024)	/* larger buffers shrink when idle */

static void	handshake_step(struct tao_client *);

static void
connect_done(struct tao_client *c, uint32_t revents)
{
	char err[256];
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (getsockopt(c->c_io.io_fd, SOL_SOCKET, SO_ERROR, &soerr,
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

/*
 * Room for the next read: at least RBUF_MIN_ROOM.  The buffer grows with
 * the bytes that really arrive (doubling, up to the announced frame), not
 * to the size a header announces: an 8-byte header must not make us
 * allocate max_frame.
 */
static int
reserve_input(struct tao_client *c)
{
	size_t want;
	uint8_t *p;

	if (c->c_rcap - c->c_rlen >= RBUF_MIN_ROOM)
		return 0;
	want = c->c_rlen + RBUF_STEP;
	if (c->c_rneed > want) {
		if (want < c->c_rcap * 2)
			want = c->c_rcap * 2;
		if (want > c->c_rneed)
			want = c->c_rneed;
	}
	if ((p = realloc(c->c_rbuf, want)) == NULL)
		return -1;
	c->c_rbuf = p;
	c->c_rcap = want;
	return 0;
}

/* One frame to its handler: 0, or -1 when the connection was failed. */
static int
dispatch(struct tao_client *c, const struct tao_frame *f)
{
	struct tao_message m = { f->type, f->payload, f->len, NULL };
	const struct tao__client_handler *h = NULL;
	size_t lo = 0, hi = c->c_nhandlers;

	if (c->c_opts.heartbeat_timeout_ms > 0)
		c->c_last_rx_ms = tao__now_ms();
	if (!c->c_healthy) {	/* the server talks to us: reset back-off */
		c->c_healthy = 1;
		c->c_failures = 0;
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (c->c_handlers[mid].h_type == f->type) {
			h = &c->c_handlers[mid];
			break;
		}
		if (c->c_handlers[mid].h_type < f->type)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (h == NULL) {
		if (f->type == TAO_TYPE_HEARTBEAT &&
		    c->c_opts.codec == &tao_codec_tlv)
			return 0;	/* the answer to our heartbeat */
		if (c->c_on_message != NULL)
			c->c_on_message(c, &m, c->c_on_message_arg);
		return 0;
	}
	if (h->h_decode != NULL &&
	    h->h_decode(m.data, m.len, &m.decoded, h->h_arg) < 0) {
		tao__client_fail(c, TAO_CLIENT_ERR_PROTOCOL, "a frame of type "
		    "%d from %s was refused by its decoder", (int)f->type,
		    c->c_addr);
		return -1;
	}
	h->h_fn(c, &m, h->h_arg);
	return 0;
}

/* Decode and dispatch what the buffer holds: 0, or -1 when the
 * connection is over (the buffer must not be touched then). */
static int
take_frames(struct tao_client *c, uint64_t generation)
{
	const struct tao_codec *codec = c->c_opts.codec;
	struct tao_frame f;
	size_t off = 0, used;
	int rc;

	while (off < c->c_rlen) {
		rc = codec->decode(c->c_rbuf + off, c->c_rlen - off,
		    c->c_opts.max_frame, &c->c_rstate, &f, &used);
		if (rc == TAO_DECODE_AGAIN) {
			c->c_rneed = used;	/* from `off`, the new front */
			break;
		}
		if (rc == TAO_DECODE_ERROR) {
			tao__client_fail(c, TAO_CLIENT_ERR_PROTOCOL,
			    "bad frame from %s (over max_frame %zu bytes, or "
			    "garbage)", c->c_addr, c->c_opts.max_frame);
			return -1;
		}
		off += used;
		c->c_rneed = 0;
		if (dispatch(c, &f) == -1 || tao__client_gone(c, generation))
			return -1;
	}
	if (off > 0) {
		c->c_rlen -= off;
		memmove(c->c_rbuf, c->c_rbuf + off, c->c_rlen);
	}
	if (c->c_rcap > RBUF_KEEP && c->c_rlen < RBUF_STEP &&
	    c->c_rneed < RBUF_STEP) {
		uint8_t *p = realloc(c->c_rbuf, RBUF_STEP);

		if (p != NULL) {
			c->c_rbuf = p;
			c->c_rcap = RBUF_STEP;
		}
	}
	return 0;
}

/* One read: > 0 bytes, 0 nothing now, -1 the connection is over. */
static ssize_t
read_some(struct tao_client *c)
{
	uint8_t *buf = c->c_rbuf + c->c_rlen;
	size_t room = c->c_rcap - c->c_rlen;
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
		n = read(c->c_io.io_fd, buf, room);
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
	uint64_t generation = c->c_generation;
	ssize_t n;

	for (int round = 0; round < READ_ROUNDS; round++) {
		if (reserve_input(c) == -1) {
			tao__client_fail(c, TAO_CLIENT_ERR_IO, "out of memory "
			    "for input from %s", c->c_addr);
			return;
		}
		if ((n = read_some(c)) <= 0)
			break;
		c->c_rlen += (size_t)n;
		if (take_frames(c, generation) == -1)
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
tao__client_io(struct tao__loop_io *io, uint32_t revents)
{
	struct tao_client *c = (struct tao_client *)io;
	uint64_t generation = c->c_generation;

	if (tao__client_is_zombie(c))
		return;
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
