/*
 * tls.h - TLS on a worker's connections (OpenSSL, non-blocking).
 *
 * A connection accepted on a tls listener gets an SSL (c_tls) made from
 * the context the master built before fork (master/tls.h).  conn.c keeps
 * its plaintext logic and calls in here only where a socket is touched:
 *
 *	read(fd)         -> tao__wtls_read    (drives the handshake first)
 *	writev(queue)    -> tao__wtls_flush   (SSL_write_ex per record,
 *	                                       one write(2) per batch:
 *	                                       tls_out.h)
 *	epoll interest   -> tao__wtls_events  (what OpenSSL waits for)
 *	epoll readiness  -> tao__wtls_ready   (retry what waited for it)
 *	close(fd)        -> tao__wtls_close   (close_notify, SSL_free)
 *
 * Handshake: it runs inside the first reads.  Until it completes, queued
 * output (say, an on_connect greeting) waits, and c_frame_start_ms holds
 * the accept time so that frame_timeout_ms and send_timeout_ms (or
 * TAO_TLS_HANDSHAKE_MS) bound the handshake.
 *
 * Read-ahead is on (one read(2) per socketful, not two per record), so
 * OpenSSL may hold records epoll cannot see: tao__wtls_read takes all
 * that fit, and flags the connection when some are left over (see
 * tls.c, TAO_CONN_TLS_HELD); what OpenSSL has not read waits in the
 * socket, where level-triggered epoll sees it.
 */
#ifndef TAO_WORKER_TLS_H
#define TAO_WORKER_TLS_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

struct tao_conn;

/* A handshake's bound when send_timeout_ms is 0 (timeouts.c); with
 * frame_timeout_ms set, that bounds it too. */
#define TAO_TLS_HANDSHAKE_MS	10000

/* The largest plaintext of one TLS record (RFC 8446 section 5.1). */
#define TAO_TLS_RECORD_MAX	16384

/* Give c (accepted on a tls listener) its SSL in accept state: 0 or -1. */
int	tao__wtls_accept(struct tao_conn *);
/*
 * Like read(2): bytes read, 0 on the peer's close (close_notify, or EOF
 * without it), -1 with errno: EAGAIN (handshake in progress or nothing
 * to read), EPROTO (TLS error: bad handshake, garbage, a client
 * certificate refused; counted in `errors`), or the socket's error.
 */
ssize_t	tao__wtls_read(struct tao_conn *, void *buf, size_t len);
/* Like tao__wq_flush: 1 all written, 0 would block (or the handshake is
 * not done), -1 error (errno); *written gets the plaintext bytes sent. */
int	tao__wtls_flush(struct tao_conn *, size_t *written);
/* Ciphertext kept for c that its socket has not taken (0 for plaintext):
 * output is pending while this or the queue is not empty. */
size_t	tao__wtls_pending(const struct tao_conn *);
/* The epoll mask for c, given the one plaintext logic wants. */
uint32_t tao__wtls_events(const struct tao_conn *, uint32_t want);
/* Translate readiness: EPOLLOUT for a read waiting to write is EPOLLIN. */
uint32_t tao__wtls_ready(const struct tao_conn *, uint32_t events);
/* Nothing can be sent before the handshake completes; 1 for plaintext. */
int	tao__wtls_can_send(const struct tao_conn *);
/* Send close_notify if the session is healthy and no queued output or
 * kept ciphertext is being dropped (once, not waiting), free the SSL;
 * c_tls becomes NULL.
 * Call before the queue is cleared and the socket closed. */
void	tao__wtls_close(struct tao_conn *);

#endif
