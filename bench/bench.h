/*
 * bench.h - the pieces shared by tao-bench's modes.
 *
 * tao-bench is a self-contained load generator: it speaks the TLV wire
 * format on its own (it does not use libtao, so that it measures the
 * server and not a second copy of the library) and keeps every hot path
 * allocation-free once the connections are set up.
 *
 * Layout:
 *   tao-bench.c   options, threads, result merging and printing
 *   hist.c        log-linear latency histogram
 *   net.c         sockets, frames, the payload pool, clocks
 *   echo.c        modes echo and stream
 *   burst.c       mode burst
 *   idle.c        mode idle
 *   chat.c        mode chat
 *   tls.c         --tls: the connections over TLS (echo, stream, burst)
 *
 * Names are bench_<module>_<verb>: this is a separate program, not libtao.
 */
#ifndef TAO_BENCH_H
#define TAO_BENCH_H

#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_HDR		8		/* int32 type | uint32 length */
#define BENCH_TYPE_HEARTBEAT	0
#define BENCH_TYPE_DATA		1		/* what echo/chat send */
#define BENCH_TYPE_WELCOME	3		/* chat: "netid=N worker=W" */

/* ---- histogram (hist.c) ------------------------------------------------ */

/*
 * Log-linear buckets over nanoseconds: values below 2^SUB_BITS have a
 * bucket each; above, every power of two is cut into 2^SUB_BITS equal
 * buckets, so a bucket is at most 1/128 of its value wide (< 0.8 %).
 * Values from 2^MAX_BITS ns (about 4.9 hours) up share the last bucket.
 */
#define HIST_SUB_BITS	7
#define HIST_MAX_BITS	44
#define HIST_BUCKETS	((HIST_MAX_BITS - HIST_SUB_BITS + 1) << HIST_SUB_BITS)

struct bench_hist {
	uint64_t	h_count;
	uint64_t	h_min;
	uint64_t	h_max;
	uint64_t	h_bucket[HIST_BUCKETS];
};

void		bench_hist_init(struct bench_hist *);
void		bench_hist_add(struct bench_hist *, uint64_t ns);
void		bench_hist_merge(struct bench_hist *,
		    const struct bench_hist *);
/* The value at quantile q (0..1) in ns, within the bucket error; 0 if
 * empty. */
uint64_t	bench_hist_quantile(const struct bench_hist *, double q);

/* ---- options and results (tao-bench.c) -------------------------------- */

enum bench_mode {
	MODE_ECHO, MODE_BURST, MODE_STREAM, MODE_IDLE, MODE_CHAT
};

struct bench_opts {
	enum bench_mode	 o_mode;
	const char	*o_mode_name;
	struct sockaddr_in o_addr;
	struct sockaddr_in o_addr2;	/* --port2: every odd connection */
	int		 o_has_addr2;
	int		 o_conns;	/* -c / -n */
	int		 o_depth;	/* -d, requests in flight per conn */
	size_t		 o_payload;	/* -s */
	double		 o_seconds;	/* -t */
	int		 o_threads;	/* -j */
	int		 o_json;
	uint64_t	 o_heartbeat_ms;	/* idle: 0 = none */
	double		 o_timeout;	/* seconds: connect, reply, drain */
	int		 o_senders;	/* chat */
	double		 o_rate;	/* chat: messages/s, all senders */
	int		 o_tls;		/* --tls */
	const char	*o_ca_file;	/* --ca: verify against it */
	const char	*o_host;	/* -h, for SNI and verification */
};

/*
 * What one thread measured.  Counters are summed over threads, the
 * histograms merged; the times are absolute CLOCK_MONOTONIC ns.
 */
struct bench_result {
	uint64_t	r_msgs;		/* verified replies inside the window */
	uint64_t	r_bytes;	/* their payload bytes */
	uint64_t	r_replies;	/* verified replies, window or not */
	uint64_t	r_sent;		/* requests (chat: messages) sent */
	uint64_t	r_connected;
	uint64_t	r_connect_failures;
	uint64_t	r_mismatches;	/* a reply differing from the request */
	uint64_t	r_resets;	/* closed or reset by the server */
	uint64_t	r_timeouts;	/* requests unanswered in time */
	uint64_t	r_missing;	/* burst/chat: replies never seen */
	uint64_t	r_open;		/* idle: still open at the end */
	uint64_t	r_duplicates;	/* chat */
	uint64_t	r_reordered;	/* chat */
	uint64_t	r_foreign;	/* frames not sent by us, ignored */
	uint64_t	r_heartbeats;	/* type-0 frames received, ignored */
	uint64_t	r_start;	/* measurement window */
	uint64_t	r_end;
	struct bench_hist r_lat;	/* echo/stream/burst/chat same-worker */
	struct bench_hist r_lat2;	/* chat cross-worker */
};

struct bench_thread {
	int			 t_id;
	int			 t_first;	/* first global conn index */
	int			 t_count;	/* connections of this thread */
	const struct bench_opts	*t_opts;
	struct bench_result	 t_res;
	pthread_t		 t_tid;
};

/* All threads wait here once (between set-up and measuring). */
void	bench_sync(void);

/* ---- network and payloads (net.c) ---------------------------------------- */

struct ssl_st;

/* One client connection; the modes embed it first in their own struct. */
struct bench_conn {
	int		 c_fd;		/* -1 when closed */
	struct ssl_st	*c_ssl;		/* --tls: set once TCP is connected */
	int		 c_handshake;	/* --tls: handshake not finished */
	uint8_t		*c_rbuf;
	size_t		 c_rlen;
	size_t		 c_rcap;
	uint8_t		*c_wbuf;
	size_t		 c_woff;	/* first unsent byte */
	size_t		 c_wlen;
	size_t		 c_wcap;
	uint32_t	 c_events;	/* what epoll is asked for now */
};

struct bench_frame {
	int32_t		 f_type;
	uint32_t	 f_len;
	const uint8_t	*f_payload;
};

uint64_t bench_now(void);		/* CLOCK_MONOTONIC, ns */
void	 bench_raise_nofile(void);
int	 bench_conn_alloc(struct bench_conn *, size_t rcap, size_t wcap);
void	 bench_conn_free(struct bench_conn *);
/* Start a non-blocking connect and register it with ep for `events`;
 * 0 in progress or done, -1 failed (errno set). */
int	 bench_conn_start(struct bench_conn *, int ep,
	    const struct sockaddr_in *, uint32_t events, void *ptr);
/* After EPOLLOUT on a connecting socket: 0 connected, -1 failed. */
int	 bench_conn_check(struct bench_conn *);
void	 bench_conn_close(struct bench_conn *, int ep);
int	 bench_conn_events(struct bench_conn *, int ep, uint32_t, void *ptr);
/* Append a frame header to the write buffer and return where its
 * payload goes, or NULL when the unsent bytes would exceed c_wcap. */
uint8_t	*bench_conn_frame(struct bench_conn *, int32_t type, size_t len);
/* Write what is queued: 1 all written, 0 some left (wait for EPOLLOUT),
 * -1 error. */
int	 bench_conn_flush(struct bench_conn *);
/* Read once into the free part of the read buffer: >0 bytes read,
 * 0 would block, -1 EOF or error (errno 0 for EOF).  With TLS, reads
 * until the socket is empty or the buffer full; then decrypted bytes may
 * be left inside OpenSSL, which epoll cannot see: read again while
 * bench_conn_pending() says so. */
ssize_t	 bench_conn_read(struct bench_conn *);
int	 bench_conn_pending(const struct bench_conn *);
/* --tls, after the TCP connect: start (or go on with) the handshake:
 * 1 done, 0 in progress (epoll events updated), -1 failed. */
int	 bench_conn_handshake(struct bench_conn *, int ep, void *ptr);
/* Take the next whole frame from the read buffer: 1 frame, 0 need more,
 * -1 a frame longer than max (the stream cannot be trusted). */
int	 bench_frame_next(struct bench_conn *, size_t *off, size_t max,
	    struct bench_frame *);
/* Drop the consumed bytes [0, off) from the read buffer. */
void	 bench_conn_consume(struct bench_conn *, size_t off);
int	 bench_connect_all(void *base, size_t stride, int n, int ep,
	    const struct bench_opts *, struct bench_result *);

void	 bench_put32(uint8_t *, uint32_t);
void	 bench_put64(uint8_t *, uint64_t);
uint32_t bench_get32(const uint8_t *);
uint64_t bench_get64(const uint8_t *);

/*
 * Payloads: a random pool per thread; the payload of request `seq` on
 * connection `salt` is seq (8 bytes LE, truncated if the payload is
 * shorter) followed by pool bytes at an offset derived from both, so
 * every request differs and its reply can be checked byte for byte
 * without storing what was sent.
 */
struct bench_pool {
	uint8_t		*p_bytes;
	size_t		 p_span;	/* offsets are taken modulo this */
};

int	 bench_pool_init(struct bench_pool *, size_t payload, uint64_t seed);
void	 bench_pool_free(struct bench_pool *);
void	 bench_pool_fill(const struct bench_pool *, uint8_t *dst, size_t len,
	    uint64_t salt, uint64_t seq);
/* 1 when buf is exactly the payload of (salt, seq). */
int	 bench_pool_check(const struct bench_pool *, const uint8_t *buf,
	    size_t len, uint64_t salt, uint64_t seq);

/* ---- TLS (tls.c) ---------------------------------------------------- */

int	 bench_tls_init(const struct bench_opts *);
void	 bench_tls_cleanup(void);
int	 bench_tls_start(struct bench_conn *);
/* 1 done, 0 again (*want: the epoll event to wait for), -1 failed. */
int	 bench_tls_handshake(struct bench_conn *, uint32_t *want);
/* >0 bytes, 0 would block, -1 error or EOF (errno 0). */
ssize_t	 bench_tls_read(struct bench_conn *, void *, size_t);
ssize_t	 bench_tls_write(struct bench_conn *, const void *, size_t);
int	 bench_tls_pending(const struct bench_conn *);
void	 bench_tls_free(struct bench_conn *);

/* ---- modes --------------------------------------------------------- */

typedef int	(*bench_run_fn)(struct bench_thread *);

/* Each runs one thread's share of the connections; errors are counted in
 * t_res.  A return of -1 means the thread could not run at all. */
int	bench_echo_run(struct bench_thread *);	/* echo and stream */
int	bench_burst_run(struct bench_thread *);
int	bench_idle_run(struct bench_thread *);
int	bench_chat_setup(const struct bench_opts *);
void	bench_chat_cleanup(void);
int	bench_chat_run(struct bench_thread *);

#endif /* TAO_BENCH_H */
