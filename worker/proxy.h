/*
 * proxy.h - the PROXY protocol stage of a connection (worker/proxy.c):
 * on a `listen ... proxy` listener a connection starts with
 * TAO_CONN_PROXY set and is only read by tao__proxy_read until its
 * header is complete; then the header's client address becomes the
 * connection's peer and it goes on to access control, TLS and the codec
 * (tao__conn_proxied, conn.c).
 */
#ifndef TAO_WORKER_PROXY_H
#define TAO_WORKER_PROXY_H

#include <stdint.h>

struct tao_conn;

/* Hard bound on the header when frame_timeout_ms is 0 (off). */
#define TAO_PROXY_HEADER_MS	10000

/* Read what the socket has of the header: 0 (waiting, or done and
 * handed on), -1 the connection was closed. */
int	tao__proxy_read(struct tao_conn *);
/* The header's deadline (accept time + frame_timeout_ms, or
 * TAO_PROXY_HEADER_MS). */
uint64_t tao__proxy_deadline(const struct tao_conn *);
/* Free the partial header a connection keeps, if any. */
void	tao__proxy_free(struct tao_conn *);
/* The stage failed (garbage, EOF, timeout): counted, closed. */
void	tao__proxy_fail(struct tao_conn *, const char *why);

/* conn.c: the header is done, c_peer is final; admit and start TLS and
 * the codec.  0, or -1 if it was refused (closed). */
int	tao__conn_proxied(struct tao_conn *);

#endif
