/*
 * proxy.c - reading a PROXY protocol header (proto/proxy.h parses it)
 * before anything else of the connection.
 *
 * The socket is read with MSG_PEEK and only the header's own bytes are
 * consumed: whatever the client sent after it (a TLS ClientHello, the
 * first frames) stays in the socket, where OpenSSL or the codec read it
 * on the next event (epoll is level-triggered), so nothing is lost and
 * neither TLS nor the framer needs to know a header was there.
 *
 *	peek [stash | new bytes]  ->  parse
 *	  DONE   consume the header's remaining bytes, peer = header's source
 *	  AGAIN  every peeked byte is header: consume them into the stash
 *	  ERROR  close, counted in proxy_errors
 *
 * A header that arrives whole (the normal case: a balancer writes it in
 * one segment) costs one peek and one read and no allocation; only a
 * split header gets a stash (at most TAO_PROXY_MAX bytes) until it ends.
 * The stage is bounded by frame_timeout_ms from accept (timeouts.c), or
 * TAO_PROXY_HEADER_MS when that is off.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "proto/proxy.h"
#include "worker/conn.h"
#include "worker/proxy.h"
#include "worker/wshm.h"

struct tao_proxy_stash {
	size_t		ps_len;
	uint8_t		ps_buf[TAO_PROXY_MAX];
};

void
tao__proxy_free(struct tao_conn *c)
{
	if (!(c->c_flags & TAO_CONN_PROXY))
		return;		/* c_proxy is c_data by now (conn.h) */
	free(c->c_proxy);
	c->c_proxy = NULL;
}

void
tao__proxy_fail(struct tao_conn *c, const char *why)
{
	struct tao_worker *w = tao__conn_worker(c);

	TAO_STAT_ADD(w, PROXY_ERRORS, 1);
	log_debug("closing %s: PROXY header: %s", tao__conn_peer(c), why);
	tao__proxy_free(c);
	tao__conn_abort(c, 0, NULL);
}

uint64_t
tao__proxy_deadline(const struct tao_conn *c)
{
	const struct tao_worker *w = tao__conn_worker(c);
	uint64_t ms = w->w_p.wp_settings.st_frame_timeout_ms;

	return tao__conn_stamp_ms(c->c_frame_start_ms, w->w_loop.el_now_ms) +
	    (ms > 0 ? ms : TAO_PROXY_HEADER_MS);
}

/* Take n bytes the peek showed out of the socket, into dst. */
static int
consume(struct tao_conn *c, uint8_t *dst, size_t n)
{
	ssize_t got;

	while (n > 0) {
		got = read(c->c_io.io_fd, dst, n);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;	/* they were there: reset meanwhile */
		dst += got;
		n -= (size_t)got;
	}
	return 0;
}

/* The header's client becomes the peer, in the connection and its row. */
static void
set_peer(struct tao_conn *c, const struct tao_proxy_hdr *h)
{
	if (h->ph_local)
		return;		/* LOCAL, UNKNOWN: the socket's address */
	memset(&c->c_peer, 0, sizeof(c->c_peer));
	c->c_peer.p_family = h->ph_src.ip_family == TAO_IP_V4 ? AF_INET :
	    AF_INET6;
	c->c_peer.p_port = htons(h->ph_src_port);
	memcpy(c->c_peer.p_addr, h->ph_src.ip_bytes,
	    h->ph_src.ip_family == TAO_IP_V4 ? 4 : 16);
	tao__wshm_conn_set_peer(c);
}

static void
count_in(struct tao_conn *c, size_t n)
{
	tao__conn_count(c, &c->c_bytes_in, n);
	TAO_STAT_ADD(tao__conn_worker(c), BYTES_IN, n);
}

/* The parse said AGAIN: keep all n new bytes. */
static int
stash(struct tao_conn *c, size_t have, size_t n)
{
	if (c->c_proxy == NULL &&
	    (c->c_proxy = calloc(1, sizeof(*c->c_proxy))) == NULL) {
		TAO_STAT_ADD(tao__conn_worker(c), ERRORS, 1);
		tao__conn_abort(c, TAO_ENOMEM, "no memory for a PROXY header");
		return -1;
	}
	if (consume(c, c->c_proxy->ps_buf + have, n) == -1) {
		tao__proxy_fail(c, "read failed");
		return -1;
	}
	c->c_proxy->ps_len = have + n;
	count_in(c, n);
	return 0;
}

int
tao__proxy_read(struct tao_conn *c)
{
	uint8_t *buf = tao__conn_worker(c)->w_loop.el_rbuf;
	size_t have = c->c_proxy != NULL ? c->c_proxy->ps_len : 0;
	struct tao_proxy_hdr h;
	ssize_t n;

	if (have > 0)
		memcpy(buf, c->c_proxy->ps_buf, have);
	do
		n = recv(c->c_io.io_fd, buf + have, TAO_PROXY_MAX - have,
		    MSG_PEEK);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		tao__proxy_fail(c, n == 0 ? "closed before the header" :
		    strerror(errno));
		return -1;
	}
	switch (tao__proxy_parse(buf, have + (size_t)n, &h)) {
	case TAO_PROXY_AGAIN:
		return stash(c, have, (size_t)n);
	case TAO_PROXY_DONE:
		break;
	default:
		tao__proxy_fail(c, "malformed, or not a PROXY header");
		return -1;
	}
	/* The rest of the peek is TLS or codec input: left in the socket. */
	if (consume(c, buf + have, h.ph_len - have) == -1) {
		tao__proxy_fail(c, "read failed");
		return -1;
	}
	count_in(c, h.ph_len - have);
	tao__proxy_free(c);
	c->c_flags &= ~TAO_CONN_PROXY;
	tao__conn_frame_end(c);
	set_peer(c, &h);
	return tao__conn_proxied(c);
}
