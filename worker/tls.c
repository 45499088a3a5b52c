/*
 * tls.c - one connection's TLS: handshake, reads, writes and close on a
 * non-blocking socket inside the worker's epoll loop (see tls.h).
 *
 * OpenSSL tells us what it waits for after every call; the connection
 * remembers it in two flags that tao__wtls_events adds to the epoll mask:
 *
 *	TAO_CONN_TLS_WANT_OUT	a read (or the handshake) must write first:
 *				poll EPOLLOUT, and on it read again
 *	TAO_CONN_TLS_WANT_IN	a write must read first: poll EPOLLIN, and
 *				on it flush again
 *
 * OpenSSL's writes never block: they go to the worker's staging buffer,
 * and what the socket does not take is kept for the connection
 * (tls_out.h), so WANT_OUT no longer arises from our write BIO.  Should
 * a write wait to read, it is retried with the same bytes: they stay at
 * the head of the output queue until SSL_write_ex reports them written,
 * and a chunk only grows at its tail, so the retry passes the same data,
 * possibly longer (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER makes the address
 * irrelevant anyway).  A fatal error marks the connection so that no
 * close_notify is attempted on it (OpenSSL forbids SSL_shutdown then).
 */
#include <sys/types.h>
#include <sys/epoll.h>

#include <errno.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "worker/conn.h"
#include "core/log.h"
#include "worker/tls.h"
#include "worker/tls_out.h"

int
tao__wtls_accept(struct tao_conn *c)
{
	SSL_CTX *ctx = tao__conn_worker(c)->w_p.wp_tls_ctx;
	SSL *ssl;

	if (ctx == NULL || (ssl = SSL_new(ctx)) == NULL) {
		log_warnx("TLS: cannot create a session for %s",
		    tao__conn_peer(c));
		ERR_clear_error();
		return -1;
	}
	/* Reads: the socket BIO; writes: staged, one write(2) per pass
	 * (tls_out.h). */
	if (tao__wtls_out_attach(ssl, c->c_io.io_fd) == -1) {
		log_warnx("TLS: cannot attach %s", tao__conn_peer(c));
		ERR_clear_error();
		SSL_free(ssl);
		return -1;
	}
	SSL_set_accept_state(ssl);
	/* Read-ahead: one read(2) takes what the socket holds, not a
	 * record header and then its body (see tao__wtls_read). */
	SSL_set_read_ahead(ssl, 1);
	if (tao__conn_set_tls(c, ssl) == -1) {
		log_warnx("TLS: out of memory for %s", tao__conn_peer(c));
		SSL_free(ssl);
		return -1;
	}
	/* The handshake counts as a frame: frame_timeout_ms bounds it, and
	 * so does send_timeout_ms or TAO_TLS_HANDSHAKE_MS (timeouts.c). */
	tao__conn_frame_begin(c, tao__conn_worker(c)->w_loop.el_now_ms);
	return 0;
}

/* Why OpenSSL refused the peer, for the log. */
static const char *
tls_reason(SSL *ssl)
{
	long verify = SSL_get_verify_result(ssl);
	unsigned long e = ERR_peek_last_error();
	const char *r;

	if (verify != X509_V_OK)
		return X509_verify_cert_error_string(verify);
	if (e != 0 && (r = ERR_reason_error_string(e)) != NULL)
		return r;
	return "protocol error";
}

/* A fatal TLS error: counted, logged, no close_notify later. */
static void
tls_fatal(struct tao_conn *c, const char *what)
{
	struct tao_worker *w = tao__conn_worker(c);

	c->c_flags |= TAO_CONN_TLS_FAILED;
	TAO_STAT_ADD(w, ERRORS, 1);
	if (tao__log_level() >= TAO_LOG_DEBUG)
		log_debug("TLS %s %s: %s", what, tao__conn_peer(c),
		    tls_reason(tao__conn_tls(c)));
	ERR_clear_error();
	errno = EPROTO;
}

static void
handshake_done(struct tao_conn *c)
{
	SSL *ssl = tao__conn_tls(c);

	c->c_flags |= TAO_CONN_TLS_READY;
	/* No frame has started yet: the handshake's deadline is lifted (the
	 * armed timer finds nothing due and lapses, see timeouts.c). */
	if (c->c_in.fr_buf == NULL)
		tao__conn_frame_end(c);
	if (tao__log_level() >= TAO_LOG_DEBUG)
		log_debug("TLS %s: %s %s%s", tao__conn_peer(c),
		    SSL_get_version(ssl), SSL_get_cipher_name(ssl),
		    SSL_session_reused(ssl) ? ", resumed" : "");
}

/* After a failed SSL_do_handshake (rc) or SSL_read_ex (rc 0). */
static ssize_t
read_failed(struct tao_conn *c, int rc, const char *what)
{
	int saved = errno;

	switch (SSL_get_error(tao__conn_tls(c), rc)) {
	case SSL_ERROR_WANT_WRITE:
		c->c_flags |= TAO_CONN_TLS_WANT_OUT;
		/* FALLTHROUGH */
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		/* close_notify, or EOF without it (IGNORE_UNEXPECTED_EOF) */
		return 0;
	case SSL_ERROR_SYSCALL:
		c->c_flags |= TAO_CONN_TLS_FAILED;
		ERR_clear_error();
		errno = saved != 0 ? saved : ECONNRESET;
		return -1;
	default:
		tls_fatal(c, what);
		return -1;
	}
}

/*
 * With read-ahead OpenSSL may hold records it read from the socket that
 * we have not asked for yet, which epoll cannot see.  So one call takes
 * every record that fits in buf until OpenSSL would have to wait for the
 * socket; if it stops first (buf full), TAO_CONN_TLS_HELD makes the
 * connection poll EPOLLOUT (ready at once) and read again on it, but
 * only while it is being read at all (tao__wtls_events): a paused
 * connection, or one with a job, is left alone until it resumes.
 */
static ssize_t
tls_read(struct tao_conn *c, void *buf, size_t len)
{
	size_t n, got = 0;
	int rc;

	c->c_flags &= ~(TAO_CONN_TLS_WANT_OUT | TAO_CONN_TLS_HELD);
	if (!(c->c_flags & TAO_CONN_TLS_READY)) {
		errno = 0;
		if ((rc = SSL_do_handshake(tao__conn_tls(c))) != 1)
			return read_failed(c, rc, "handshake with");
		handshake_done(c);
	}
	do {
		errno = 0;
		if (SSL_read_ex(tao__conn_tls(c), (char *)buf + got, len - got,
		    &n) != 1) {
			if (got == 0)
				return read_failed(c, 0, "read from");
			/* Had some: what stopped it comes again next time
			 * (errors and close_notify stay); a write it waits
			 * for is polled for.  A close_notify read ahead
			 * with the last data must be seen once that data
			 * is answered, and epoll will not tell: read again
			 * (TLS_HELD), which returns 0. */
			switch (SSL_get_error(tao__conn_tls(c), 0)) {
			case SSL_ERROR_WANT_WRITE:
				c->c_flags |= TAO_CONN_TLS_WANT_OUT;
				break;
			case SSL_ERROR_ZERO_RETURN:
				c->c_flags |= TAO_CONN_TLS_HELD;
				break;
			}
			ERR_clear_error();
			return (ssize_t)got;
		}
		got += n;
	} while (got < len && SSL_has_pending(tao__conn_tls(c)));
	if (SSL_has_pending(tao__conn_tls(c)))
		c->c_flags |= TAO_CONN_TLS_HELD;
	return (ssize_t)got;
}

/*
 * What the handshake or a read wrote (a flight, a ticket, an alert) goes
 * out now; if the socket fails the connection is over, whatever was
 * read (0, the peer's close, stays 0).
 */
ssize_t
tao__wtls_read(struct tao_conn *c, void *buf, size_t len)
{
	ssize_t n = tls_read(c, buf, len);
	int saved = errno;

	if (tao__wtls_out_push(c) == -1 && n != 0) {
		c->c_flags |= TAO_CONN_TLS_FAILED;
		return -1;
	}
	errno = saved;
	return n;
}

/* After a failed SSL_write_ex: 0 to wait, -1 error. */
static int
write_failed(struct tao_conn *c)
{
	int saved = errno;

	switch (SSL_get_error(tao__conn_tls(c), 0)) {
	case SSL_ERROR_WANT_WRITE:
		return 0;			/* EPOLLOUT: queue not empty */
	case SSL_ERROR_WANT_READ:
		c->c_flags |= TAO_CONN_TLS_WANT_IN;
		return 0;
	case SSL_ERROR_SYSCALL:
	case SSL_ERROR_ZERO_RETURN:
		c->c_flags |= TAO_CONN_TLS_FAILED;
		ERR_clear_error();
		errno = saved != 0 ? saved : EPIPE;
		return -1;
	default:
		tls_fatal(c, "write to");
		return -1;
	}
}

/* After SSL calls that came to rc (1 done, 0 wait, -1 error): push what
 * they staged; the worse of the two. */
static int
flush_end(struct tao_conn *c, int rc)
{
	int saved = errno, sent = tao__wtls_out_push(c);

	if (sent == -1 && rc != -1) {
		c->c_flags |= TAO_CONN_TLS_FAILED;
		return -1;
	}
	errno = saved;
	return rc < sent ? rc : sent;
}

/*
 * The remainder first (it may be a handshake flight); then records of
 * the queue's head, staged and written TAO_TLS_STAGE_BATCH at a time:
 * a 16 KiB message is two records in one write(2).  Nothing more is
 * encrypted while a remainder waits.
 */
int
tao__wtls_flush(struct tao_conn *c, size_t *written)
{
	struct tao_worker *w = tao__conn_worker(c);
	const void *data;
	size_t len, n;
	int rc;

	*written = 0;
	if ((rc = flush_end(c, 1)) != 1)
		return rc;
	if (!(c->c_flags & TAO_CONN_TLS_READY))
		return c->c_wq.q_bytes == 0;	/* after the handshake */
	c->c_flags &= ~TAO_CONN_TLS_WANT_IN;
	while ((data = tao__wq_peek(&c->c_wq, &len)) != NULL) {
		/* All of it: the BIO takes everything.  A retry (after
		 * WANT_READ) passes the same bytes, perhaps more. */
		if (len > TAO_TLS_STAGE_BATCH)
			len = TAO_TLS_STAGE_BATCH;
		errno = 0;
		if (SSL_write_ex(tao__conn_tls(c), data, len, &n) != 1)
			return flush_end(c, write_failed(c));
		tao__wq_consume(&c->c_wq, &w->w_loop.el_pool, n);
		*written += n;
		if (tao__wtls_out_staged() >= TAO_TLS_STAGE_BATCH &&
		    (rc = flush_end(c, 1)) != 1)
			return rc;
	}
	return flush_end(c, 1);
}

size_t
tao__wtls_pending(const struct tao_conn *c)
{
	return tao__conn_tls(c) == NULL ? 0 :
	    tao__wtls_out_kept(tao__conn_tls(c));
}

uint32_t
tao__wtls_events(const struct tao_conn *c, uint32_t want)
{
	if (!(c->c_flags & TAO_CONN_TLS_READY))
		want = EPOLLIN;		/* output waits for the handshake */
	if (c->c_flags & TAO_CONN_TLS_WANT_OUT)
		want |= EPOLLOUT;
	/* Held input waits for a read: EPOLLOUT is ready at once. */
	if ((c->c_flags & TAO_CONN_TLS_HELD) && (want & EPOLLIN))
		want |= EPOLLOUT;
	if (c->c_flags & TAO_CONN_TLS_WANT_IN)
		want |= EPOLLIN;
	if (tao__wtls_pending(c) > 0)
		want |= EPOLLOUT;	/* ciphertext kept (tls_out.h) */
	return want;
}

uint32_t
tao__wtls_ready(const struct tao_conn *c, uint32_t events)
{
	if ((c->c_flags & TAO_CONN_TLS_WANT_OUT) && (events & EPOLLOUT))
		events |= EPOLLIN;
	if ((c->c_flags & TAO_CONN_TLS_HELD) && (events & EPOLLOUT) &&
	    (c->c_io.io_events & EPOLLIN))
		events |= EPOLLIN;
	/* Polled for a write's sake while reading is paused: only the
	 * flush (the write's retry) may read. */
	if ((c->c_flags & (TAO_CONN_TLS_WANT_IN | TAO_CONN_READ_PAUSED)) ==
	    (TAO_CONN_TLS_WANT_IN | TAO_CONN_READ_PAUSED))
		events &= ~(uint32_t)EPOLLIN;
	return events;
}

int
tao__wtls_can_send(const struct tao_conn *c)
{
	return tao__conn_tls(c) == NULL || (c->c_flags & TAO_CONN_TLS_READY) != 0;
}

void
tao__wtls_close(struct tao_conn *c)
{
	SSL *ssl = tao__conn_tls(c);

	if (ssl == NULL)
		return;
	/*
	 * close_notify says "I have sent all I meant to": not after a fatal
	 * error (OpenSSL forbids it), nor when queued output is being
	 * dropped (the client must see a truncation, not a clean end).
	 * Ciphertext still kept counts as queued.  One try, never
	 * waiting: a peer that cannot take 24 more bytes does not get them.
	 */
	if ((c->c_flags & (TAO_CONN_TLS_READY | TAO_CONN_TLS_FAILED)) ==
	    TAO_CONN_TLS_READY && c->c_wq.q_bytes == 0 &&
	    tao__wtls_out_kept(ssl) == 0) {
		(void)SSL_shutdown(ssl);
		(void)tao__wtls_out_push(c);
	}
	ERR_clear_error();
	SSL_free(ssl);		/* and a remainder with its BIO */
	(void)tao__conn_set_tls(c, NULL);
}
