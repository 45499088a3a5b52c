/*
 * conn.h - one client connection inside a worker.
 *
 * Input: the worker reads into one shared buffer; a connection keeps only
 * the unfinished remainder of a frame (c_in, core/framer.h), growing it as bytes arrive
 * and freeing it once the frame completes, so an idle connection holds no
 * I/O buffer.  Output: a chunked queue flushed with writev; EPOLLOUT is
 * armed only while it is non-empty.  Back-pressure: while the queue holds
 * write_queue_max bytes or more, tao_conn_send() refuses and the connection is
 * not read (undecoded input waits in c_in).
 *
 * TLS (worker/tls.h): an SSL is kept (tao__conn_tls, in the cold part)
 * for connections of a tls listener; the socket calls (read, writev,
 * close) go through OpenSSL instead, and every plaintext path pays one
 * test of the cold pointer at most.
 *
 * Life: accepted -> open -> [closing: flush, then close] -> closed.  A
 * closed connection stays allocated, with its input buffer, and linked on
 * w_conns until the deferred frees of the loop iteration (core/loop.h), so a stale
 * event, a message a running callback holds, or a loop over w_conns
 * never reaches freed memory.  tao_conn_close itself never closes: it
 * marks and queues the connection for the next flush (loop.c).
 */
#ifndef TAO_WORKER_CONN_H
#define TAO_WORKER_CONN_H

#include <sys/socket.h>
#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "core/framer.h"
#include "core/loop.h"
#include "core/timer.h"
#include "worker/worker.h"
#include "core/wqueue.h"

enum tao_conn_flag {
	TAO_CONN_CLOSING	= 1 << 0,	/* flush, then close */
	TAO_CONN_CLOSED		= 1 << 1,	/* fd closed, awaiting free */
	TAO_CONN_READ_PAUSED	= 1 << 2,	/* output over its bound */
	TAO_CONN_ANNOUNCED	= 1 << 4,	/* on_connect accepted it */
	TAO_CONN_PEER_EOF	= 1 << 5,
	TAO_CONN_MIGRATING	= 1 << 6,	/* changing generation */
	TAO_CONN_HANDOFF	= 1 << 7,	/* hand off when quiescent */
	TAO_CONN_DRAIN_AFTER_JOB = 1 << 8,	/* drain once c_job is done */
	/* TLS connections only (worker/tls.c): */
	TAO_CONN_TLS_READY	= 1 << 9,	/* handshake done */
	TAO_CONN_TLS_WANT_OUT	= 1 << 10,	/* a read waits to write */
	TAO_CONN_TLS_WANT_IN	= 1 << 11,	/* a write waits to read */
	TAO_CONN_TLS_FAILED	= 1 << 12,	/* fatal: no close_notify */
	TAO_CONN_PROXY		= 1 << 13,	/* PROXY header not read yet */
	TAO_CONN_IPHELD		= 1 << 14,	/* a max_connections_per_ip
						 * unit (worker/access.c) */
	TAO_CONN_TLS_HELD	= 1 << 15,	/* OpenSSL holds input */
	TAO_CONN_IN_FRAME	= 1 << 16,	/* c_frame_start_ms is set */
};

struct tao_proxy_stash;

struct ssl_st;

/*
 * The peer's address, kept from accept (or getpeername at a hand-over)
 * for the connection's whole life: tao_conn_peer() works in on_close,
 * after the socket is closed and when a reset made getpeername fail.
 * 20 bytes, formatted only when asked.
 */
struct tao__peer {
	uint16_t		 p_family;	/* AF_INET, AF_INET6, 0: none */
	uint16_t		 p_port;	/* network byte order */
	uint8_t			 p_addr[16];
};

/*
 * What few connections need, allocated on first need and freed with the
 * connection (tao__conn_free): an idle plaintext connection with no
 * timeout armed holds none.  A connection with heartbeat_ms or
 * idle_timeout_ms always has a timer, so it has one too.
 */
struct tao_conn_cold {
	struct ssl_st		*cc_tls;	/* NULL: plaintext listener */
	/* A blocking handler's job in flight (worker/pool.h): while set the
	 * connection is not read, and it is not freed. */
	struct tao_job		*cc_job;
	int64_t			 cc_timeout_id;	/* lazy timeout timer, -1 */
	struct tao__timer_list	 cc_timers;	/* every timer c owns */
};

/*
 * Times are 32-bit stamps, the low half of the loop's millisecond clock
 * (tao__conn_stamp), read back as full times with tao__conn_stamp_ms:
 * exact while a stamp is under 2^31 ms (24 days) old.  Every timeout
 * that reads one is at most two days (master/config.c MS_MAX is a day;
 * heartbeat waits 2x), far below that, and a connection whose timeouts
 * read c_last_rx_ms/c_last_tx_ms at any time (heartbeat, idle) has a
 * timer that fires at least that often and ages the stamps
 * (timeouts.c): one older than TAO_CONN_STAMP_OLD (12 days) is moved up
 * to exactly that age, which changes no decision of a timeout shorter
 * than it.  The other reads are of stamps set when their timer was
 * armed (a frame's start, output becoming pending).
 */
struct tao_conn {
	struct tao_io		 c_io;		/* io_fd: the socket */
	uint32_t		 c_flags;
	int32_t			 c_row;		/* shm table row, -1 none */
	uint64_t		 c_netid;
	/* Unfinished input (core/framer.h): 16 bytes, the sizes live in
	 * the buffer.  The struct must stay within jemalloc's 160-byte
	 * size class (t291 checks it). */
	struct tao_framer	 c_in;
	struct tao__peer	 c_peer;
	uint32_t		 c_last_rx_ms;	/* stamps, see above */
	/* Last output progress, or when output became pending: idle and
	 * send timeouts (timeouts.c). */
	uint32_t		 c_last_tx_ms;
	/* Valid while TAO_CONN_IN_FRAME: tao__conn_frame_begin/_end. */
	uint32_t		 c_frame_start_ms;
	/* Counted since the last publish (wshm.c), which adds them to the
	 * table row once a second and zeroes them; published early by
	 * tao__conn_count and tao__conn_count_msg before they could wrap. */
	uint32_t		 c_bytes_in, c_bytes_out;
	uint16_t		 c_msgs_in, c_msgs_out;
	uint8_t			 c_lindex;	/* in w_listeners: see below */
	struct tao_wqueue	 c_wq;
	/* The user's data; before on_connect, while a PROXY header is
	 * read (TAO_CONN_PROXY), a split header's bytes (proxy.c): the
	 * program sees the connection only after, so they share a word. */
	union {
		void			*c_data;
		struct tao_proxy_stash	*c_proxy;
	};
	struct tao_conn_cold	*c_cold;	/* NULL until needed */
	TAILQ_ENTRY(tao_conn)	 c_entry;	/* w_conns, until freed */
	struct tao_pending	 c_pending;	/* flush list, or closed list */
};

_Static_assert(TAO_WORKER_MAX_LISTENERS <= 256, "c_lindex is 8 bits");

/*
 * The worker this process runs: exactly one per process (master/server.c
 * s_worker), set by tao__worker_run before any connection exists (tests
 * that fake a worker set it themselves).
 */
extern struct tao_worker *tao__worker_self;

/*
 * Read c's worker, SSL, job and timers through these, not the fields:
 * where they are kept is the layout's business (an idle connection's
 * size, t291).
 */
static inline struct tao_worker *
tao__conn_worker(const struct tao_conn *c)
{
	(void)c;
	return tao__worker_self;
}

/* c's cold part, allocated (zeroed, no timer) if it has none; NULL with
 * errno ENOMEM.  conn.c. */
struct tao_conn_cold *tao__conn_cold(struct tao_conn *);

static inline struct ssl_st *
tao__conn_tls(const struct tao_conn *c)
{
	return c->c_cold != NULL ? c->c_cold->cc_tls : NULL;
}

/* 0, or -1 (ENOMEM) if there is no room to keep ssl. */
static inline int
tao__conn_set_tls(struct tao_conn *c, struct ssl_st *ssl)
{
	if (ssl == NULL && c->c_cold == NULL)
		return 0;
	if (tao__conn_cold(c) == NULL)
		return -1;
	c->c_cold->cc_tls = ssl;
	return 0;
}

static inline struct tao_job *
tao__conn_job(const struct tao_conn *c)
{
	return c->c_cold != NULL ? c->c_cold->cc_job : NULL;
}

/* 0, or -1 (ENOMEM) if there is no room to keep j. */
static inline int
tao__conn_set_job(struct tao_conn *c, struct tao_job *j)
{
	if (j == NULL && c->c_cold == NULL)
		return 0;
	if (tao__conn_cold(c) == NULL)
		return -1;
	c->c_cold->cc_job = j;
	return 0;
}

/* The lazy timeout timer's id, or -1 (timeouts.c). */
static inline int64_t
tao__conn_timeout_id(const struct tao_conn *c)
{
	return c->c_cold != NULL ? c->c_cold->cc_timeout_id : -1;
}

/* The list of timers c owns, or NULL if it never had one. */
static inline struct tao__timer_list *
tao__conn_timers(struct tao_conn *c)
{
	return c->c_cold != NULL ? &c->c_cold->cc_timers : NULL;
}

/* ---- 32-bit millisecond stamps (see struct tao_conn) ---- */

#define TAO_CONN_STAMP_OLD	(UINT32_C(1) << 30)

static inline uint32_t
tao__conn_stamp(uint64_t now_ms)
{
	return (uint32_t)now_ms;
}

/* The full time of a stamp taken less than 2^31 ms before now_ms; one
 * that looks later than now_ms (taken from a clock read after now_ms)
 * reads as now_ms. */
static inline uint64_t
tao__conn_stamp_ms(uint32_t stamp, uint64_t now_ms)
{
	uint32_t age = (uint32_t)now_ms - stamp;

	return now_ms - (age < (UINT32_C(1) << 31) ? age : 0);
}

/* A stamp older than TAO_CONN_STAMP_OLD moved up to that age. */
static inline void
tao__conn_stamp_age(uint32_t *stamp, uint64_t now_ms)
{
	uint32_t age = (uint32_t)now_ms - *stamp;

	if (age > TAO_CONN_STAMP_OLD && age < (UINT32_C(1) << 31))
		*stamp = (uint32_t)now_ms - TAO_CONN_STAMP_OLD;
}

/* A frame (or a handshake, or a PROXY header) starts now: its deadline
 * runs from here. */
static inline void
tao__conn_frame_begin(struct tao_conn *c, uint64_t now_ms)
{
	c->c_frame_start_ms = tao__conn_stamp(now_ms);
	c->c_flags |= TAO_CONN_IN_FRAME;
}

/* Between frames again: no frame deadline. */
static inline void
tao__conn_frame_end(struct tao_conn *c)
{
	c->c_flags &= ~TAO_CONN_IN_FRAME;
}

/* The listener that accepted c (or took it over in a reload). */
static inline struct tao_listener *
tao__conn_listener(const struct tao_conn *c)
{
	return &tao__conn_worker(c)->w_listeners[c->c_lindex];
}

/* The connection of its flush/closed list node. */
static inline struct tao_conn *
tao__conn_of_pending(struct tao_pending *p)
{
	return (struct tao_conn *)((char *)p -
	    offsetof(struct tao_conn, c_pending));
}

/* Add the counts to the row now and zero them (wshm.c). */
void	tao__wshm_conn_publish(struct tao_conn *);

/* Count n into one of c's 32-bit byte counters (n < 2^31: one read or
 * write). */
static inline void
tao__conn_count(struct tao_conn *c, uint32_t *counter, size_t n)
{
	if (n > UINT32_MAX - *counter)
		tao__wshm_conn_publish(c);
	*counter += (uint32_t)n;
}

/* Count one message into one of c's 16-bit message counters. */
static inline void
tao__conn_count_msg(struct tao_conn *c, uint16_t *counter)
{
	if (*counter == UINT16_MAX)
		tao__wshm_conn_publish(c);
	*counter += 1;
}

/* "addr:port" of the peer, formatted from c_peer into a static buffer:
 * for log lines only (tao_conn_peer copies into the caller's buffer). */
const char *tao__conn_peer(const struct tao_conn *);
#define TAO_PEER_MAX	TAO_CONN_PEER_MAX	/* "[v6 address]:port" */
void	tao__format_peer(const struct sockaddr *, char *, size_t);
/* Keep the peer address of sa (conn_api.c). */
void	tao__peer_set(struct tao__peer *, const struct sockaddr *);
/* Take an accepted socket; closes fd itself on failure. */
void	tao__conn_accept(struct tao_worker *, struct tao_listener *, int fd,
	    const struct sockaddr *, socklen_t);
/* Take a connection handed over by the previous generation. */
void	tao__conn_adopt(struct tao_worker *, int fd, const struct tao_codec *,
	    uint64_t netid, const uint8_t peer[20]);
/* The sockaddr of a kept peer; 0, or -1 if it has none (family 0). */
int	tao__peer_sockaddr(const struct tao__peer *, struct sockaddr_storage *);
/* Between frames, nothing queued, not closing. */
int	tao__conn_quiescent(const struct tao_conn *);
/* Can it move to the new generation now (plaintext and quiescent)? */
int	tao__conn_can_hand_off(const struct tao_conn *);
/* Forget the connection here (its fd was sent to the new generation). */
void	tao__conn_hand_off(struct tao_conn *);
void	tao__conn_on_event(struct tao_conn *, uint32_t events);
int	tao__conn_flush(struct tao_conn *);
/* Read and dispatch what the socket holds now: 0, or -1 if it closed. */
int	tao__conn_read(struct tao_conn *);
/*
 * Close at once, dropping queued output.  err is the TAO_E* code of the
 * failure that on_error receives (tao.h lists them), or 0 when the
 * server itself decided to close (a refusal, a stop): then on_error
 * does not run.  why, if not NULL, goes to the debug log.
 */
void	tao__conn_abort(struct tao_conn *, int err, const char *why);
/* Graceful stop: read what has arrived, answer it, flush, close. */
void	tao__conn_drain(struct tao_conn *);
void	tao__conn_free(struct tao_conn *);
/* conn.c, shared with conn_close.c: decode n new bytes (or resume what
 * c_in holds), and set the epoll mask from the connection's state. */
void	tao__conn_input(struct tao_conn *, const uint8_t *buf, size_t n);
void	tao__conn_update_events(struct tao_conn *);
/* conn_close.c: close the socket now; on_error (err != 0) and on_close
 * run now, or after the running blocking job. */
void	tao__conn_close_now(struct tao_conn *, int err);
/* pool.c, on the loop: a send handed back by a blocking handler (queued
 * even over write_queue_max or while closing; TAO_ECLOSED once closed),
 * and the end of its job (err, saved_errno: why it closed meanwhile). */
int	tao__conn_send_job(struct tao_conn *, int32_t type, const void *,
	    size_t);
void	tao__conn_job_done(struct tao_conn *, int err, int saved_errno);
void	tao__conn_arm_timeouts(struct tao_conn *);

#endif
