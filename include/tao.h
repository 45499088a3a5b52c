/*
 * tao.h - the public interface of libtao, an asynchronous TCP server
 * framework speaking Go Tao's wire format.
 *
 * Model: a master process owns the listening sockets and forks workers; each
 * worker runs one single-threaded epoll loop.  Every callback below runs
 * inside a worker, on that worker's loop, never concurrently with another
 * callback of the same worker.  Nothing here blocks.
 *
 * Errors: fallible calls return 0 (or a positive id) on success and a
 * negative TAO_E* code on failure; tao_strerror() names the code.
 *
 * Ownership: the library copies whatever you pass to tao_conn_send(),
 * tao_server_broadcast() and tao_server_unicast(); payload pointers handed to your
 * callbacks are valid only until the callback returns.
 */
#ifndef TAO_H
#define TAO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TAO_VERSION_MAJOR	0
#define TAO_VERSION_MINOR	1
#define TAO_VERSION_PATCH	0

enum tao_error {
	TAO_OK		 =  0,
	TAO_EINVAL	 = -1,	/* bad argument */
	TAO_ENOMEM	 = -2,	/* allocation failed */
	TAO_EWOULDBLOCK	 = -3,	/* write queue over its bound: retry later */
	TAO_ECLOSED	 = -4,	/* the connection is closed or closing */
	TAO_EEXIST	 = -5,	/* already registered */
	TAO_ENOENT	 = -6,	/* no such connection, timer or handler */
	TAO_ECONFIG	 = -7,	/* configuration error (see stderr) */
	TAO_ESYS	 = -8,	/* system call failed (errno is set) */
	TAO_ETOOBIG	 = -9,	/* message larger than max_frame */
	TAO_ESTATE	 = -10,	/* call not valid in this context */
};

const char	*tao_strerror(int code);

/* Type 0 is the heartbeat on the wire (Go Tao's HeartBeat). */
#define TAO_TYPE_HEARTBEAT	0
/* Frames read by the line codec carry this type. */
#define TAO_TYPE_LINE		1

struct tao_server;
struct tao_conn;
struct tao_client;

/*
 * One decoded frame.  `data` points into the worker's read buffer and is
 * valid only during the callback.  `decoded` is what the type's decode
 * function produced (NULL without one); the handler owns it.
 */
struct tao_message {
	int32_t		 type;
	const void	*data;
	size_t		 len;
	void		*decoded;
};

/* Turn a payload into an object; return < 0 to reject the frame (the
 * connection is counted as an error and closed). */
typedef int	(*tao_decode_fn)(const void *data, size_t len, void **decoded,
		    void *arg);
typedef void	(*tao_handler_fn)(struct tao_conn *, const struct tao_message *,
		    void *arg);
/*
 * Return < 0 to refuse the connection: it is closed and on_close does not
 * run for it (also if on_connect called tao_conn_close first).  Return 0
 * to accept it: from then on on_close runs exactly once when it closes,
 * also when on_connect itself called tao_conn_close.
 */
typedef int	(*tao_connect_fn)(struct tao_conn *, void *arg);
typedef void	(*tao_close_fn)(struct tao_conn *, void *arg);
typedef void	(*tao_error_fn)(struct tao_conn *, int error, void *arg);
/* conn is NULL for worker (server-wide) timers. */
typedef void	(*tao_timer_fn)(struct tao_conn *, void *arg);
/*
 * Renders a broadcast or unicast message for one receiving connection
 * (e.g. differently for line and TLV clients); it normally ends in
 * tao_conn_send().  Without one, the message is sent as it is.
 */
typedef int	(*tao_deliver_fn)(struct tao_conn *, int32_t type,
		    const void *data, size_t len, void *arg);
/* Runs once in every worker process after it is ready to serve. */
typedef void	(*tao_worker_fn)(struct tao_server *, int slot, void *arg);

/*
 * Codecs.  decode() looks at buf[0..len) and returns:
 *   TAO_DECODE_OK  one frame: *frame filled, *used = bytes it spans;
 *   TAO_DECODE_AGAIN  need more bytes: *used = total bytes the frame needs
 *                     when the codec knows it, else 0;
 *   TAO_DECODE_ERROR  the input is invalid (frame too big, garbage).
 * `state` is one word of per-connection decoder state, zero for a new
 * connection; a codec may use it to avoid rescanning bytes it has seen.
 * encode() writes the bytes that go before (head) and after (tail) a payload
 * of `len` bytes, at most TAO_CODEC_MAX_HEAD / TAO_CODEC_MAX_TAIL bytes each.
 */
enum { TAO_DECODE_ERROR = -1, TAO_DECODE_AGAIN = 0, TAO_DECODE_OK = 1 };
#define TAO_CODEC_MAX_HEAD	16
#define TAO_CODEC_MAX_TAIL	4

struct tao_frame {
	int32_t		 type;
	const uint8_t	*payload;	/* points into the decoder's input */
	size_t		 len;
};

struct tao_codec {
	const char	*name;
	int		(*decode)(const uint8_t *buf, size_t len,
			    size_t max_frame, uint64_t *state,
			    struct tao_frame *frame, size_t *used);
	void		(*encode)(int32_t type, size_t len,
			    uint8_t *head, size_t *head_len,
			    uint8_t *tail, size_t *tail_len);
};

extern const struct tao_codec tao_codec_tlv;	/* Go Tao TypeLengthValue */
extern const struct tao_codec tao_codec_line;	/* '\n'-terminated lines */

/* Server lifecycle. */
struct tao_server	*tao_server_new(void);
void			 tao_server_free(struct tao_server *);
/* Read a config file (taod.conf(5)); errors go to stderr as FILE:LINE. */
int			 tao_server_config(struct tao_server *, const char *path);
/* Apply one config directive, e.g. "listen 127.0.0.1:12345 tlv". */
int			 tao_server_config_line(struct tao_server *,
			    const char *line);
/* Run master and workers until stopped; returns 0 after a clean stop. */
int			 tao_server_run(struct tao_server *);

int	tao_server_register(struct tao_server *, int32_t type, tao_decode_fn,
	    tao_handler_fn, void *arg);
void	tao_server_on_message(struct tao_server *, tao_handler_fn, void *arg);
void	tao_server_on_connect(struct tao_server *, tao_connect_fn, void *arg);
void	tao_server_on_close(struct tao_server *, tao_close_fn, void *arg);
void	tao_server_on_error(struct tao_server *, tao_error_fn, void *arg);
void	tao_server_on_worker_start(struct tao_server *, tao_worker_fn, void *arg);
void	tao_server_on_deliver(struct tao_server *, tao_deliver_fn, void *arg);

/* Connections. */
int	 tao_conn_send(struct tao_conn *, int32_t type, const void *, size_t);
/*
 * Close after the queue flushes.  Never closes at once: the connection is
 * marked (tao_conn_send then returns TAO_ECLOSED) and closed after the running
 * callback has returned, so the callback's message stays valid and
 * on_close runs later, never inside the caller.  A peer that does not
 * read its output is closed after send_timeout_ms (taod.conf(5)).
 */
void	 tao_conn_close(struct tao_conn *);
uint64_t tao_conn_id(const struct tao_conn *);	/* the global netid */
void	*tao_conn_data(struct tao_conn *);
void	 tao_conn_set_data(struct tao_conn *, void *);
const char *tao_conn_peer(const struct tao_conn *);	/* "addr:port" */
const struct tao_codec *tao_conn_codec(const struct tao_conn *);
struct tao_server *tao_conn_server(const struct tao_conn *);
/*
 * A reload hands every open connection (TLV or line, between frames) to
 * the new generation of workers instead of closing it.  on_close runs in
 * the old worker and on_connect in the new one as usual, and this returns
 * 1 inside both, so an app can skip "left"/"joined" announcements and
 * rebuild per-connection state (tao_conn_data does not cross processes).
 */
int	tao_conn_migrating(const struct tao_conn *);

/*
 * Every connection on every worker (the sender's own included), each
 * encoded by its own listener's codec.  Cross-worker delivery goes through
 * a shared-memory ring per worker: it never blocks the sender, and a worker
 * too slow to keep up loses the oldest messages (counted as ring_drops).
 * TAO_ETOOBIG above half of ring_size.
 */
int	tao_server_broadcast(struct tao_server *, int32_t type, const void *, size_t);
/*
 * The connection with this netid, on whichever worker holds it.
 * TAO_ENOENT if no such connection is open, TAO_ETOOBIG over max_frame
 * (or, on another worker, over half of ring_size).  When the connection
 * is on the calling worker the message is queued at once and a drop is
 * reported: TAO_EWOULDBLOCK if its queue is full, or what on_deliver
 * returned.  On another worker, 0 means published; a drop there (queue
 * full) is counted in `dropped`.
 */
int	tao_server_unicast(struct tao_server *, uint64_t netid, int32_t type,
	    const void *, size_t);

/*
 * Timers (CLOCK_MONOTONIC, millisecond resolution, never early).  A timer
 * on a connection is cancelled when it closes; pass conn = NULL to the
 * tao_worker_* variants for server-wide timers of the calling worker.
 * Ids are > 0; a negative return is a TAO_E* code.
 */
int64_t	tao_conn_timer_after(struct tao_conn *, uint64_t ms, tao_timer_fn, void *);
int64_t	tao_conn_timer_every(struct tao_conn *, uint64_t ms, tao_timer_fn, void *);
int64_t	tao_conn_timer_at(struct tao_conn *, const struct timespec *when_monotonic,
	    tao_timer_fn, void *);
int	tao_conn_timer_cancel(struct tao_conn *, int64_t timer_id);
int64_t	tao_server_timer_after(struct tao_server *, uint64_t ms, tao_timer_fn,
	    void *);
int64_t	tao_server_timer_every(struct tao_server *, uint64_t ms, tao_timer_fn,
	    void *);
int	tao_server_timer_cancel(struct tao_server *, int64_t timer_id);

/* ==== Client ============================================================
 *
 * A connection to a server speaking the TLV or line codec (taod or Go
 * Tao), with optional TLS, reconnect with back-off, and heartbeats.
 *
 * Design: the client runs on a struct tao_loop that the caller creates and
 * drives from one thread: tao_loop_run() until tao_loop_stop(), or
 * tao_loop_run_once() from the caller's own main loop.  Every client
 * callback runs inside those calls, in that thread; a loop and the
 * clients on it must not be used from two threads at once (use one loop
 * per thread).  There is no hidden thread.  The loop is an epoll set and
 * a CLOCK_MONOTONIC timer heap: it sleeps in epoll_wait until a socket is
 * ready or a timer is due, and does no work while idle, also while it
 * waits to reconnect.  Connects, TLS handshakes, reads and writes are all
 * non-blocking; the one blocking step is the name lookup in
 * tao_client_connect() (give a numeric address to avoid it).
 *
 * Differences from the server API: callbacks receive the struct
 * tao_client, not a struct tao_conn, so they have types of their own
 * (tao_client_handler_fn ...) and the client sends with tao_client_send();
 * decode functions (tao_decode_fn) and struct tao_message are the same.
 * The client does not answer heartbeats, it sends them.
 *
 * SIGPIPE: the client never raises it (plaintext and TLS writes both use
 * MSG_NOSIGNAL), so callers need not ignore it for the client's sake.
 */
struct tao_loop;

struct tao_loop	*tao_loop_new(void);		/* NULL, errno set */
/*
 * Frees the loop with every client and watcher still on it (no callback
 * runs; watched descriptors stay open, they are the caller's).  Not from
 * inside a callback of this loop.
 */
void		 tao_loop_free(struct tao_loop *);
/*
 * Runs iterations until tao_loop_stop() is called (a stop before the call
 * makes it return at once) or until nothing is left that could wake it:
 * no descriptor watched, no client socket, no timer.  0, TAO_ESYS if
 * epoll_wait failed, TAO_ESTATE from inside a callback.
 */
int		 tao_loop_run(struct tao_loop *);
/*
 * One iteration: due timers, then wait at most timeout_ms (-1: until
 * something happens; 0: poll) for I/O and run its callbacks.  Returns
 * at once when nothing could wake it, or when a timer callback called
 * tao_loop_stop().  0, TAO_ESYS, TAO_ESTATE.
 */
int		 tao_loop_run_once(struct tao_loop *, int timeout_ms);
void		 tao_loop_stop(struct tao_loop *);

/*
 * Watch a descriptor of the caller's (stdin, a pipe, an eventfd): fn runs
 * with the events that are ready, TAO_LOOP_READ also on EOF, hang-up and
 * error.  Level-triggered.  The loop never closes it; tao_loop_del_fd()
 * before closing it.  TAO_ESYS with errno EPERM for a descriptor epoll
 * cannot watch (a regular file), TAO_EEXIST if it is watched already.
 */
#define TAO_LOOP_READ	0x1
#define TAO_LOOP_WRITE	0x2
typedef void	(*tao_loop_fd_fn)(struct tao_loop *, int fd, int events,
		    void *arg);
int	tao_loop_add_fd(struct tao_loop *, int fd, int events, tao_loop_fd_fn,
	    void *arg);
int	tao_loop_mod_fd(struct tao_loop *, int fd, int events);
int	tao_loop_del_fd(struct tao_loop *, int fd);

/*
 * Timers on the loop (CLOCK_MONOTONIC, never early), ids > 0 or a
 * negative TAO_E* code.  A one-shot's id is dead once it has fired.
 */
typedef void	(*tao_loop_timer_fn)(struct tao_loop *, void *arg);
int64_t	tao_loop_run_after(struct tao_loop *, uint64_t ms, tao_loop_timer_fn,
	    void *arg);
int64_t	tao_loop_run_every(struct tao_loop *, uint64_t ms, tao_loop_timer_fn,
	    void *arg);
int	tao_loop_timer_cancel(struct tao_loop *, int64_t timer_id);

/*
 * Client options.  A zeroed struct (plus .loop) is a plaintext TLV client
 * without reconnect or heartbeats; every 0 / NULL below means "default".
 */
struct tao_client_opts {
	struct tao_loop		*loop;		/* required */
	const struct tao_codec	*codec;		/* NULL: tao_codec_tlv */
	size_t			 max_frame;	/* largest payload read or
						 * sent; 0: 8 MiB */
	size_t			 write_queue_max; /* 0: 4 MiB; see send */
	uint64_t		 connect_timeout_ms; /* TCP + TLS handshake,
						 * and the flush on close;
						 * 0: 10 000 */

	/* TLS (TLS 1.2 and 1.3, OpenSSL's default ciphers). */
	int			 tls;		/* 1: TLS */
	const char		*tls_server_name; /* SNI and the name the
						 * certificate must match;
						 * NULL: the host part of
						 * addr (an IP address is
						 * matched, not sent) */
	const char		*tls_ca_file;	/* PEM; NULL: the system's
						 * default CA paths */
	int			 tls_no_verify;	/* 1: accept any certificate
						 * (tests only) */
	const char		*tls_cert_file;	/* client certificate (PEM
						 * chain), with ... */
	const char		*tls_key_file;	/* ... its key; NULL: none */

	/*
	 * Reconnect after a failed attempt or a lost connection, waiting
	 * delay = min(reconnect_max_ms, reconnect_min_ms * 2^failures),
	 * jittered to a random value in [delay / 2, delay]; the count of
	 * failures restarts at 0 once a connection is established.
	 */
	int			 reconnect;	/* 1: on */
	uint64_t		 reconnect_min_ms; /* 0: 100 */
	uint64_t		 reconnect_max_ms; /* 0: 30 000 */

	/*
	 * Heartbeats (TLV codec only): an empty type-0 frame every
	 * heartbeat_ms while connected (taod closes a connection silent for
	 * twice its own heartbeat_ms).  With heartbeat_timeout_ms, a
	 * connection on which no frame at all arrived for that long is
	 * closed as dead (TAO_CLIENT_ERR_TIMEOUT); the server must answer
	 * heartbeats for that (taod's heartbeat_reply, on by default).
	 */
	uint64_t		 heartbeat_ms;		/* 0: none */
	uint64_t		 heartbeat_timeout_ms;	/* 0: never */
};

/* What went wrong, for tao_client_on_error. */
enum tao_client_error {
	TAO_CLIENT_ERR_CONNECT = 1,	/* connect failed or timed out */
	TAO_CLIENT_ERR_TLS,		/* TLS handshake failed: certificate,
					 * name, protocol */
	TAO_CLIENT_ERR_IO,		/* an open connection broke (reset,
					 * read or write error) */
	TAO_CLIENT_ERR_PROTOCOL,	/* bad frame, frame over max_frame,
					 * or a decoder refused one */
	TAO_CLIENT_ERR_TIMEOUT,		/* heartbeat_timeout_ms passed */
};

typedef void	(*tao_client_handler_fn)(struct tao_client *,
		    const struct tao_message *, void *arg);
typedef void	(*tao_client_connect_fn)(struct tao_client *, void *arg);
typedef void	(*tao_client_close_fn)(struct tao_client *, void *arg);
/* message: one line for a human, e.g. "TLS handshake with
 * 127.0.0.1:4433 failed: certificate verify failed: certificate has
 * expired"; valid during the call. */
typedef void	(*tao_client_error_fn)(struct tao_client *,
		    enum tao_client_error, const char *message, void *arg);

/*
 * Make a client for addr ("host:port", "[v6addr]:port"); the first
 * attempt starts on the loop's next iteration, so register handlers
 * before running the loop.  Names are resolved here, once (blocking);
 * every address found is tried in turn.  NULL with errno EINVAL (bad addr
 * or options), ENOENT (no such host), ENOMEM, or EPROTO (TLS set-up: bad
 * CA, certificate or key file; printed to stderr).
 */
struct tao_client *tao_client_connect(const char *addr,
		    const struct tao_client_opts *);

/*
 * Handlers, as on the server: a registered type goes to its handler
 * (after decode, if given; a decoder's refusal closes the connection as
 * TAO_CLIENT_ERR_PROTOCOL), others to on_message, else they are dropped.
 * Incoming type-0 frames (heartbeat answers) are dropped unless type 0 is
 * registered.  on_connect runs each time a connection is established
 * (after the TLS handshake); on_close each time an established one ends,
 * whatever the reason, also after tao_client_close().  Failed attempts
 * run on_error only.  Payloads are valid during the callback.
 */
int	tao_client_register(struct tao_client *, int32_t type, tao_decode_fn,
	    tao_client_handler_fn, void *arg);
void	tao_client_on_message(struct tao_client *, tao_client_handler_fn,
	    void *arg);
void	tao_client_on_connect(struct tao_client *, tao_client_connect_fn,
	    void *arg);
void	tao_client_on_close(struct tao_client *, tao_client_close_fn,
	    void *arg);
void	tao_client_on_error(struct tao_client *, tao_client_error_fn,
	    void *arg);

/*
 * Copy one message into the client's queue; it is written in order, as
 * soon as the connection is open.  While connecting, and while waiting to
 * reconnect (reconnect on), messages wait in the queue and are written
 * after the next connection is established (after on_connect returns, so
 * a message on_connect sends goes after them).  Returns 0, or
 * TAO_EWOULDBLOCK when write_queue_max bytes are already queued,
 * TAO_ECLOSED when closed (tao_client_close, or a lost connection without
 * reconnect), TAO_ETOOBIG over max_frame, TAO_ENOMEM, TAO_EINVAL.  A
 * message whose writing had begun when the connection broke is dropped
 * (the server discards the partial frame); messages still whole in the
 * queue go out once on the next connection.
 */
int	tao_client_send(struct tao_client *, int32_t type, const void *,
	    size_t);
/*
 * Stop for good: no more reconnects.  An open connection gets its queue
 * written first (for at most connect_timeout_ms) and is then closed;
 * on_close runs then.  A client that is not connected (connecting, or
 * waiting to reconnect) stops at once and drops its queue.  Sends after
 * this return TAO_ECLOSED.
 */
void	tao_client_close(struct tao_client *);
/* Close at once (nothing more is written, no callback runs) and free;
 * also from inside the client's own callbacks. */
void	tao_client_free(struct tao_client *);

int	 tao_client_connected(const struct tao_client *);  /* 1 if open */
size_t	 tao_client_queued(const struct tao_client *);	/* bytes queued */
const char *tao_client_addr(const struct tao_client *);	/* as given */
struct tao_loop *tao_client_loop(const struct tao_client *);

#ifdef __cplusplus
}
#endif
#endif /* TAO_H */
