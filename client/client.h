/*
 * client.h - internal layout of struct tao_client, shared by the files of
 * client/: client.c (API, connection life), reconnect.c (attempts and
 * back-off), heartbeat.c (heartbeat timers), loop.c (struct tao_loop on
 * the event-loop core), io.c (socket events: connect, handshake, read,
 * dispatch), outq.c (the output queue), tls.c (OpenSSL) and addr.c
 * (parsing and resolving "host:port").
 *
 * A client's life, one connection at a time:
 *
 *	         attempt timer              EPOLLOUT, SO_ERROR 0
 *	WAITING --------------> CONNECTING ---------------------> HANDSHAKE
 *	   ^                        |                      (TLS)   |   |
 *	   |  back-off (reconnect)  | fail                  done   |   | fail
 *	   +------------------------+------<-----------------------+---+
 *	   |                                                       v
 *	   +----------- lost (reconnect) ----------------------- OPEN
 *	                                                   close() |
 *	CLOSED <------ flushed, lost, or no reconnect ------ CLOSING
 *
 * WAITING and CLOSED have no socket.  Sends are queued in every state but
 * CLOSING and CLOSED, and written only in OPEN and CLOSING.
 */
#ifndef TAO_CLIENT_CLIENT_H
#define TAO_CLIENT_CLIENT_H

#include <sys/socket.h>
#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "tao.h"
#include "client/loop.h"
#include "core/framer.h"
#include "core/registry.h"
#include "core/timer.h"
#include "core/wqueue.h"

#define TAO_CLIENT_ADDRS_MAX	8	/* addresses kept from a lookup */

enum tao__client_state {
	TAO_CLIENT_WAITING,	/* no socket; an attempt timer is set */
	TAO_CLIENT_CONNECTING,
	TAO_CLIENT_HANDSHAKE,
	TAO_CLIENT_OPEN,
	TAO_CLIENT_CLOSING,	/* tao_client_close: flushing */
	TAO_CLIENT_CLOSED,
};

/* c_flags */
#define TAO_CLIENT_IN_AGAIN	0x02	/* on the loop's l_again */
#define TAO_CLIENT_ZOMBIE	0x04	/* freed: the memory goes in the
					 * loop's next deferred-free step */

/*
 * The lengths of the messages in the output queue, oldest first, so that
 * a message half written when a connection breaks can be cut out (see
 * outq.c).  A ring of sizes, grown by doubling.
 */
struct tao__frames {
	size_t		*f_len;
	size_t		 f_cap;		/* power of two or 0 */
	size_t		 f_head;
	size_t		 f_count;
	size_t		 f_done;	/* bytes of the oldest already sent */
};

struct tao_client {
	/* First: the socket's watcher (kind TAO_LOOP_IO_CLIENT) and the
	 * node on the loop's flush or deferred-free list (client/loop.h). */
	struct tao__loop_watcher c_w;
	struct tao_loop		*c_loop;
	TAILQ_ENTRY(tao_client)	 c_entry;	/* l_clients */
	TAILQ_ENTRY(tao_client)	 c_again_entry;	/* l_again */
	enum tao__client_state	 c_state;
	int			 c_flags;

	/* Options, with the defaults filled in and strings copied. */
	struct tao_client_opts	 c_opts;
	char			*c_addr;	/* as given */
	char			*c_host;	/* host part, no brackets */
	char			*c_server_name;	/* NULL: do not send SNI */
	struct sockaddr_storage	 c_addrs[TAO_CLIENT_ADDRS_MAX];
	socklen_t		 c_addrlens[TAO_CLIENT_ADDRS_MAX];
	int			 c_naddrs;
	int			 c_addr_next;	/* tried by the next attempt */
	int			 c_round_left;	/* addresses to try before
						 * backing off */

	/* Handlers by type (core/registry.h, h_client), looked up through
	 * tao__framer_lookup like the server's. */
	struct tao_registry	 c_registry;
	tao_client_handler_fn	 c_on_message;
	void			*c_on_message_arg;
	tao_client_connect_fn	 c_on_connect;
	void			*c_on_connect_arg;
	tao_client_close_fn	 c_on_close;
	void			*c_on_close_arg;
	tao_client_error_fn	 c_on_error;
	void			*c_on_error_arg;

	/* TLS: the context lives as long as the client, the SSL object as
	 * long as one connection; the session is kept for resumption. */
	SSL_CTX			*c_ssl_ctx;
	SSL			*c_ssl;
	SSL_SESSION		*c_session;
	int			 c_read_wants_write; /* SSL_read: WANT_WRITE */
	int			 c_write_wants_read; /* SSL_write: WANT_READ */

	/* Input: an unfinished frame (core/framer.h). */
	struct tao_framer	 c_in;

	/* Output. */
	struct tao_wqueue	 c_wq;
	struct tao__frames	 c_frames;

	/* Timers (owner: the client). */
	struct tao__timer_list	 c_timers;
	int64_t			 c_attempt_timer;
	int64_t			 c_deadline_timer;  /* connect or close */
	int64_t			 c_heartbeat_timer;
	int64_t			 c_dead_timer;	    /* heartbeat_timeout */
	uint64_t		 c_failures;	/* since the last healthy
						 * connection */
	uint64_t		 c_open_ms;	/* this connection opened */
	int			 c_healthy;	/* a frame came on it */
	uint64_t		 c_last_rx_ms;
	uint64_t		 c_generation;	/* connections so far */
};

/* client.c: the life of a connection */
int64_t	tao__client_timer_add(struct tao_client *, uint64_t ms,
	    uint64_t period, tao__timer_cb);
void	tao__client_timer_cancel(struct tao_client *, int64_t *id);
void	tao__client_flush_add(struct tao_client *);
/* Drop the socket, TLS object and connection timers (clean: say goodbye
 * to a TLS peer); then tao__client_after_end decides what comes next. */
void	tao__client_conn_end(struct tao_client *, int clean);
void	tao__client_fail(struct tao_client *, enum tao_client_error,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	tao__client_established(struct tao_client *);
void	tao__client_lost(struct tao_client *);
void	tao__client_want(struct tao_client *, uint32_t events);
int	tao__client_gone(const struct tao_client *, uint64_t generation);
/* tao_client_free ran: the memory waits for the deferred-free step. */
int	tao__client_is_zombie(const struct tao_client *);

/* reconnect.c: after conn_end, the next attempt or CLOSED, then the
 * callbacks (on_error if kind != 0, on_close if was_open). */
void	tao__client_after_end(struct tao_client *, int was_open, int kind,
	    const char *msg);
void	tao__client_schedule(struct tao_client *, uint64_t ms);
void	tao__client_deadline_fire(void *owner, void *arg);

/* heartbeat.c: arm the heartbeat timers of a connection just opened. */
void	tao__client_heartbeat_start(struct tao_client *);

/* outq.c */
void	tao__frames_free(struct tao__frames *);
int	tao__frames_push(struct tao__frames *, size_t len);
void	tao__frames_written(struct tao__frames *, size_t bytes);
/* Drop the unsent rest of a half-written message (a connection broke). */
void	tao__outq_cut_partial(struct tao_client *);
void	tao__outq_clear(struct tao_client *);
/* Write what the socket takes: 1 all written, 0 would block (*want has
 * the events to wait for), -1 error (message in err). */
int	tao__outq_flush(struct tao_client *, uint32_t *want, char *err,
	    size_t errlen);

/* tls.c */
int	tao__tls_ctx_new(struct tao_client *);
int	tao__tls_start(struct tao_client *, char *err, size_t errlen);
/* 1 done, 0 again (*want set), -1 failed (message in err) */
int	tao__tls_handshake(struct tao_client *, uint32_t *want, char *err,
	    size_t errlen);
/* > 0 bytes, 0 again (*want set), -1 EOF (errlen: err[0] == '\0') or
 * error */
ssize_t	tao__tls_read(struct tao_client *, void *, size_t, uint32_t *want,
	    char *err, size_t errlen);
ssize_t	tao__tls_write(struct tao_client *, const void *, size_t,
	    uint32_t *want, char *err, size_t errlen);
int	tao__tls_pending(const struct tao_client *);
void	tao__tls_end(struct tao_client *, int clean);
void	tao__tls_ctx_free(struct tao_client *);

/* addr.c: 0, or -1 with errno (EINVAL, ENOENT). */
int	tao__client_resolve(struct tao_client *, const char *addr);
void	tao__client_format_addr(const struct sockaddr *, char *, size_t);

#endif /* TAO_CLIENT_CLIENT_H */
