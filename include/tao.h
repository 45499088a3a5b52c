/*
 * tao.h - the public interface of libtao, an asynchronous TCP server
 * framework speaking Go Tao's wire format.
 *
 * Names are tao_<object>_<verb>: tao_server_* take the server handle,
 * tao_conn_* a connection, tao_client_* and tao_loop_* the client side.
 *
 * Processes.  A program builds a struct tao_server (config, handlers) and
 * calls tao_server_run(), which turns the calling process into the master:
 * it opens the listening sockets and forks the worker processes.  Every
 * server callback below runs inside a worker, on that worker's one
 * single-threaded event loop, never concurrently with another callback of
 * the same worker; workers are separate processes, so a global variable a
 * callback changes is that worker's own copy.  Nothing here blocks.  The
 * one exception is a handler registered with tao_server_register_blocking,
 * which runs on a thread of the worker's pool and may block.
 *
 * Errors.  Every call that can fail returns 0 (or a non-negative value
 * where it says so: a timer id, a length) on success and a negative
 * TAO_E* code on failure; tao_strerror() names the code.  The one
 * exception is a constructor that returns a pointer: tao_server_new(),
 * tao_loop_new() and tao_client_connect() return NULL with errno set.
 * (The client's error callback receives an enum tao_client_error, a
 * reason and not a return value.)
 *
 * Ownership.  The library copies whatever you pass in: payloads given to
 * tao_conn_send(), tao_server_broadcast() and tao_server_unicast(), and
 * the path given to tao_server_config().  Pointers the library hands to
 * your callbacks (a message's data, a client error message) are valid
 * only until the callback returns; a struct tao_conn * is valid longer,
 * as tao_server_on_close() says.
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
	TAO_EINVAL	 = -1,	/* bad argument, or not a tao_server handle */
	TAO_ENOMEM	 = -2,	/* allocation failed */
	TAO_EWOULDBLOCK	 = -3,	/* write queue over its bound: retry later */
	TAO_ECLOSED	 = -4,	/* the connection is closed or closing */
	TAO_EEXIST	 = -5,	/* already registered */
	TAO_ENOENT	 = -6,	/* no such connection, timer or handler */
	TAO_ECONFIG	 = -7,	/* configuration error (see stderr) */
	TAO_ESYS	 = -8,	/* system call failed (errno is set) */
	TAO_ETOOBIG	 = -9,	/* too large: message over max_frame, or a
				 * result over the caller's buffer */
	TAO_ESTATE	 = -10,	/* call not valid in this process or now */
	TAO_ETIMEDOUT	 = -11,	/* a connection timeout expired (on_error) */
	TAO_EPROTO	 = -12,	/* the peer broke the protocol (on_error) */
};

/* A static English string for any value, "unknown error" if not a code. */
const char	*tao_strerror(int code);

/* Type 0 is the heartbeat on the wire (Go Tao's HeartBeat). */
#define TAO_TYPE_HEARTBEAT	0
/* Frames read by the line codec carry this type. */
#define TAO_TYPE_LINE		1

struct tao_server;
struct tao_conn;
struct tao_client;

/*
 * One decoded frame, as a handler sees it.  `data` points into the
 * worker's read buffer and is valid only until the handler returns: copy
 * what you keep.  `decoded` is what the type's decode function produced
 * (NULL without one); from the handler on, it is the handler's to free.
 */
struct tao_message {
	int32_t		 type;
	const void	*data;
	size_t		 len;
	void		*decoded;
};

/*
 * Callback types.  `arg` is the pointer given when the callback was set.
 *
 * tao_decode_fn turns a payload (valid during the call) into an object:
 * return 0 and set *decoded, which the handler then owns; or return < 0
 * to refuse the frame, after freeing whatever it allocated: the
 * connection is then counted as an error and closed, and on_error runs
 * with TAO_EPROTO.
 */
typedef int	(*tao_decode_fn)(const void *data, size_t len, void **decoded,
		    void *arg);
/* Handles one message (see struct tao_message for how long it lives). */
typedef void	(*tao_handler_fn)(struct tao_conn *, const struct tao_message *,
		    void *arg);
/*
 * Runs when a connection is accepted (or handed over in a reload, see
 * tao_conn_migrating).  Return < 0 to refuse it: it is closed and neither
 * on_error nor on_close runs for it (also if on_connect called
 * tao_conn_close first).  Return 0 to accept it: from then on on_close
 * runs exactly once when it closes, also when on_connect itself called
 * tao_conn_close.
 */
typedef int	(*tao_connect_fn)(struct tao_conn *, void *arg);
/* See tao_server_on_close() and tao_server_on_error(). */
typedef void	(*tao_close_fn)(struct tao_conn *, void *arg);
typedef void	(*tao_error_fn)(struct tao_conn *, int error, void *arg);
/* A timer fired; conn is NULL for server-wide (tao_server_timer_*) ones. */
typedef void	(*tao_timer_fn)(struct tao_conn *, void *arg);
/*
 * Renders a broadcast or unicast message for one receiving connection
 * (e.g. differently for line and TLV clients); it normally ends in
 * tao_conn_send() and returns its result.  data is valid during the call.
 * Without one, the message is sent as it is.
 */
typedef int	(*tao_deliver_fn)(struct tao_conn *, int32_t type,
		    const void *data, size_t len, void *arg);
/* Runs once in every worker process after it is ready to serve; `slot`
 * is the worker's number, 0 .. workers - 1. */
typedef void	(*tao_worker_fn)(struct tao_server *, int slot, void *arg);

/*
 * Codecs: how frames look on the wire.  Two are built in (tlv, line);
 * a program adds its own with tao_server_codec() (and names it on a
 * `listen` line) or gives one to a client (tao_client_opts.codec).
 *
 * A codec is a pair of pure functions: no I/O, no allocation, no global
 * state that changes (they run in every worker process, and a client's
 * in the client's thread), never exit.  Contract:
 *
 * decode(buf, len, max_frame, state, frame, used) looks at buf[0..len),
 * len >= 1, the start of one connection's unread input, and returns one
 * of enum tao_decode_result:
 *   TAO_DECODE_OK     one whole frame starts at buf[0]: fill *frame and
 *                     set *used to the bytes it spans on the wire
 *                     (1 <= *used <= len).  frame->payload may point into
 *                     buf (no copy); it is valid until the handler of the
 *                     frame returns.  frame->len must not exceed max_frame.
 *   TAO_DECODE_AGAIN  the frame is not complete yet: set *used to the
 *                     total number of bytes the frame needs when the
 *                     codec knows it (the library then reads up to that
 *                     much before calling again), else 0.
 *   TAO_DECODE_ERROR  the input can never become a valid frame: garbage,
 *                     or a frame whose payload would exceed max_frame.
 *                     The connection is closed (on_error TAO_EPROTO; a
 *                     client gets TAO_CLIENT_ERR_PROTOCOL).
 * Any other return value counts as TAO_DECODE_ERROR.  Limits: the
 * library keeps buffering while decode says AGAIN, so a codec must say
 * ERROR as soon as it knows the frame would be over max_frame (a header
 * announcing too much, a line longer than max_frame bytes with no end in
 * sight); it is the only bound on an unfinished frame's memory.
 * Buffers: buf is read-only and owned by the library; after AGAIN the
 * next call's buf starts at the same byte and holds at least the bytes
 * seen before (perhaps at another address: never keep pointers into it).
 * `state` is one word per connection for the codec's own use, 0 for a
 * new connection; the library keeps it between calls and never looks at
 * it.  A codec uses it to avoid rescanning (the line codec keeps how far
 * it has looked for '\n') and must leave it 0 after OK and ERROR, since
 * the next frame starts afresh.  Decoding runs on the worker's loop
 * thread, between callbacks.
 *
 * encode(type, len, head, head_len, tail, tail_len) writes the bytes that
 * go before (head, at most TAO_CODEC_MAX_HEAD) and after (tail, at most
 * TAO_CODEC_MAX_TAIL) a payload of len bytes, len <= max_frame, and sets
 * both lengths (0 for none); the library writes head, payload, tail.  A
 * codec whose frames carry no type ignores it (the line codec's frames
 * read back as TAO_TYPE_LINE).  It cannot fail: refuse sizes the format
 * cannot carry by telling users to set max_frame below them.
 *
 * Reload: a connection of a built-in codec is handed to the new
 * generation; one of a program's codec is not (the new workers could
 * not know its state): it is answered, flushed and closed by the old
 * worker, like a TLS connection.  Heartbeat frames (type 0) are answered
 * only on tlv listeners.
 */
enum tao_decode_result {
	TAO_DECODE_OK		= 1,
	TAO_DECODE_AGAIN	= 2,
	TAO_DECODE_ERROR	= 3,
};
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

/*
 * Registers a copy of codec (the struct is copied; its functions must
 * stay loaded while the server runs) under name, after which a config's
 * `listen HOST:PORT name` uses it; codec->name is ignored, and
 * tao_conn_codec() of such a connection returns the library's copy,
 * named `name`.  Names are resolved when the server starts (or
 * reloads), so the config may be read before this call.  0; TAO_EINVAL
 * for a bad handle, NULL decode or encode, or a name that is not 1 to 31
 * characters of [a-z0-9_-] or that is tlv, line or tls; TAO_EEXIST for
 * a name already registered; TAO_ENOMEM after 16 codecs; TAO_ESTATE
 * inside a worker.
 */
struct tao_server;
int	tao_server_codec(struct tao_server *, const char *name,
	    const struct tao_codec *codec);

/* ==== Server: set-up, in the embedding program's process ===============
 *
 * Build the server before tao_server_run(): these calls return
 * TAO_EINVAL for a handle that is not one tao_server_new() made (NULL
 * included) and TAO_ESTATE when called inside a worker (from a callback).
 * Workers get what was set at the moment they are forked.
 */

/* A server with the built-in defaults (taod.conf(5)).  NULL with errno
 * ENOMEM is its only failure. */
struct tao_server	*tao_server_new(void);
/* Frees the handle, its handlers and its copy of the config path; NULL is
 * ignored, and so is a call inside a worker.  Not while it runs. */
void			 tao_server_free(struct tao_server *);
/*
 * Reads a config file (taod.conf(5)) on top of what is set.  The path is
 * copied: a reload (SIGHUP, taoctl reload) re-reads this file, whatever
 * the caller does with its string.  0, TAO_ECONFIG with FILE:LINE:
 * message on stderr (tao_server_run then refuses to start), TAO_ENOMEM,
 * TAO_EINVAL, TAO_ESTATE.
 */
int			 tao_server_config(struct tao_server *,
			    const char *path);
/* Applies one directive, e.g. "listen 127.0.0.1:12345 tlv" (copied).
 * Same returns as tao_server_config. */
int			 tao_server_config_line(struct tao_server *,
			    const char *line);
/*
 * Runs the server until it is stopped; it blocks the calling process.
 * It forks the workers (`workers`, default one per CPU) and respawns
 * those that die, so call it from a single-threaded program (or one
 * whose other threads block the signals below); it flushes the caller's
 * stdio buffers before each fork so that no worker prints them again.
 * While it runs, the calling process is the master: SIGTERM and SIGINT
 * stop it gracefully, SIGQUIT fast, SIGHUP reloads the config file.
 * For that it blocks SIGCHLD, SIGTERM, SIGINT, SIGQUIT and SIGHUP and
 * ignores SIGPIPE; when it returns, the signal mask and SIGPIPE's
 * disposition are the caller's again (those signals still pending then
 * were meant for the server and are consumed).
 *
 * Workers never return from it: each leaves with _exit() after its own
 * teardown (its stdio flushed), so the program's atexit handlers run only
 * in the process that called tao_server_run.  Call it once per handle.
 *
 * Returns 0 after a clean stop (every worker has exited), TAO_ECONFIG
 * for a bad configuration (message on stderr), TAO_ESYS when set-up
 * failed (bind, shared memory, control socket; logged), TAO_EINVAL,
 * TAO_ESTATE (from inside a worker).  A broken invariant inside the
 * master (a failing epoll_wait) is fatal: logged, and the process exits.
 */
int			 tao_server_run(struct tao_server *);

/*
 * The handler of one message type, with an optional decode function;
 * 0, TAO_EEXIST if the type has one, TAO_EINVAL for a NULL handler,
 * TAO_ENOMEM, TAO_ESTATE.  Types without a handler go to on_message.
 */
int	tao_server_register(struct tao_server *, int32_t type, tao_decode_fn,
	    tao_handler_fn, void *arg);
/*
 * The same for a handler that may block (a database call, a file read):
 * its frames run on a small pool of threads in each worker
 * (`blocking_threads`, default 4), so the worker's loop and its other
 * connections go on meanwhile.  The decode function still runs on the
 * loop.  Same returns as tao_server_register.
 *
 * Order: a connection's blocking frames run one at a time, in arrival
 * order, and the connection is not read while one runs, so its later
 * frames, blocking or not, wait behind it and are handled in order.  The
 * message (data, len, decoded) is a copy valid until the handler returns.
 * Each worker queues at most `blocking_queue_max` jobs (default 1024) for
 * its threads; a connection whose frame finds the queue full waits, not
 * read, until there is room: nothing is dropped.
 *
 * On a pool thread a handler may call only this thread-safe subset, and
 * only for the connection it was given:
 *   tao_conn_send   copied and handed to the loop, which queues it in
 *                   order; 0, TAO_ECLOSED once the connection is closed
 *                   (or after this handler's tao_conn_close), TAO_ETOOBIG,
 *                   TAO_ENOMEM, TAO_EINVAL, TAO_ESTATE for another
 *                   connection.  No TAO_EWOULDBLOCK: the connection is
 *                   not read while its queue is over write_queue_max.
 *   tao_conn_close  handed to the loop, after the sends before it.
 *   tao_conn_id, tao_conn_peer, tao_conn_codec, tao_conn_server.
 *   tao_conn_data, tao_conn_set_data: the pointer itself; callbacks of
 *                   the same connection on the loop (its timers, a
 *                   delivery) may run meanwhile, so guard what it points
 *                   to if both use it.
 * Everything else (timers, tao_server_broadcast, _unicast) returns
 * TAO_ESTATE there.  A connection that closes while its job runs (reset
 * by the peer, send_timeout_ms, the drain deadline) stays allocated until
 * the job returns: sends get TAO_ECLOSED, and on_error and on_close run
 * once, on the loop, after the job.  The peer's half-close (EOF) is read
 * only after the job, so its reply still goes out; a tao_conn_close on
 * the loop, a graceful stop and a reload also wait for the job and its
 * replies.  While a job runs, the connection's idle, heartbeat and frame
 * timeouts are suspended (it is the server that is busy).
 */
int	tao_server_register_blocking(struct tao_server *, int32_t type,
	    tao_decode_fn, tao_handler_fn, void *arg);
/*
 * The callback setters: fn replaces the previous one (NULL removes it).
 * Each returns 0, TAO_EINVAL or TAO_ESTATE.
 *
 * on_message: messages of unregistered types (without it they are
 * counted as dropped; the connection stays open).
 * on_connect: see tao_connect_fn.
 * on_close: runs exactly once for every accepted connection, whatever
 * closed it, after its socket is closed; tao_conn_send() then returns
 * TAO_ECLOSED, while tao_conn_id, _data, _peer, _codec and _server still
 * work.  A struct tao_conn * is valid from on_connect until on_close
 * returns, also after tao_conn_close(); it is freed after that, at the
 * end of the loop iteration, so keep tao_conn_id() rather than the
 * pointer (tao_server_unicast takes it).
 * on_error: runs when the server closes an accepted connection because
 * it failed, once, right before its on_close, with the reason:
 *   TAO_EPROTO     a frame the codec could not parse, one over max_frame,
 *                  or one its decode function refused;
 *   TAO_ETIMEDOUT  idle_timeout_ms, heartbeat_ms, frame_timeout_ms or
 *                  send_timeout_ms expired (taod.conf(5));
 *   TAO_ESYS       reading or writing failed (a reset, a TLS error);
 *                  errno holds the reason during the call;
 *   TAO_ENOMEM     no memory for the connection's input.
 * It does not run for an orderly end (the peer closed, tao_conn_close,
 * a stop or reload, the drain deadline) nor for a refused connection.
 * on_worker_start: see tao_worker_fn.
 * on_deliver: see tao_deliver_fn.
 */
int	tao_server_on_message(struct tao_server *, tao_handler_fn, void *arg);
int	tao_server_on_connect(struct tao_server *, tao_connect_fn, void *arg);
int	tao_server_on_close(struct tao_server *, tao_close_fn, void *arg);
int	tao_server_on_error(struct tao_server *, tao_error_fn, void *arg);
int	tao_server_on_worker_start(struct tao_server *, tao_worker_fn,
	    void *arg);
int	tao_server_on_deliver(struct tao_server *, tao_deliver_fn, void *arg);

/*
 * Modules: an app that taod loads at start-up (`app /path/to/NAME.so
 * ARGS...`, or `app NAME ARGS...` with `module_path DIR`, taod.conf(5))
 * instead of one built into it.  A module is a shared object that
 * defines one symbol, tao_module_v1, most simply with
 *
 *	static int init(struct tao_server *s, int argc, char **argv)
 *	{
 *		return tao_server_register(s, 1, NULL, handler, NULL);
 *	}
 *	TAO_MODULE("greet", init);
 *
 * built with `cc -shared -fPIC $(pkg-config --cflags tao) greet.c -o
 * greet.so` and NOT linked with -ltao: the module calls the libtao that
 * taod carries (a second copy of the library would hold a second, empty
 * state).  taod dlopens it in the master before any worker is forked,
 * checks `abi` (a module built for another TAO_MODULE_ABI is refused
 * with a message naming both versions), then calls init once with the
 * server handle and the words of the app line, argv[0] the app's name or
 * path and argv[argc] NULL (the strings are valid during the call).
 * init may call every set-up function (tao_server_register,
 * tao_server_codec, tao_server_on_*); it returns 0, or a negative TAO_E*
 * code to refuse (bad arguments): taod then exits, and `taod -t` fails,
 * with FILE:LINE.  A module is never unloaded, and a reload does not
 * load it again (the app line cannot change on reload).
 */
#define TAO_MODULE_ABI		1

struct tao_module {
	uint32_t	 abi;		/* TAO_MODULE_ABI, first, always */
	const char	*name;		/* for messages: "greet" */
	int		(*init)(struct tao_server *, int argc, char **argv);
};

#define TAO_MODULE(name, init)						\
	const struct tao_module tao_module_v1 = { TAO_MODULE_ABI, (name), (init) }

/* ==== Server: inside a worker =========================================
 *
 * The calls below are for callbacks: they act on the calling worker's
 * loop.  Those taking a struct tao_server * need the handle the worker
 * runs (the one given to tao_server_run, also passed to on_worker_start
 * and returned by tao_conn_server): a pointer that is no server handle
 * (NULL included) is TAO_EINVAL, and a handle no worker of this process
 * runs (in the master, before the run, another tao_server) TAO_ESTATE.
 * A struct tao_conn * must be one the library gave this worker and still
 * valid (see on_close).
 */

/*
 * Copies one message into the connection's write queue, encoded by its
 * listener's codec, and never blocks: the queue is written when the
 * socket allows, after the running callback returns.  0 when queued;
 * TAO_ECLOSED once the connection is closing or closed (after
 * tao_conn_close, inside on_error and on_close); TAO_ETOOBIG over
 * max_frame; TAO_EWOULDBLOCK while write_queue_max bytes are already
 * queued (Go Tao's ErrWouldBlock: the peer is not reading; while it
 * lasts the connection is not read either); TAO_ENOMEM; TAO_EINVAL for
 * a NULL connection, or NULL data with len > 0.
 */
int	 tao_conn_send(struct tao_conn *, int32_t type, const void *, size_t);
/*
 * Closes after the queue flushes.  It never closes at once: the
 * connection is marked (tao_conn_send then returns TAO_ECLOSED) and
 * closed after the running callback has returned, so the callback's
 * message stays valid and on_close runs later, never inside the caller.
 * A peer that does not read its output is closed after send_timeout_ms
 * (taod.conf(5)).  Calling it again, or on NULL, does nothing.
 */
void	 tao_conn_close(struct tao_conn *);
/* The netid: unique across all workers and generations of the server. */
uint64_t tao_conn_id(const struct tao_conn *);
/* One pointer of the caller's per connection, NULL at first; the library
 * never looks at it, so free what it points to in on_close. */
void	*tao_conn_data(struct tao_conn *);
void	 tao_conn_set_data(struct tao_conn *, void *);
/*
 * Copies the peer's address as "a.b.c.d:port" or "[v6]:port" (or "?"
 * if unknown) into buf, NUL-terminated; it is kept from accept, so it
 * works also in on_error and on_close.  TAO_CONN_PEER_MAX bytes always
 * suffice.  Returns the string's length, TAO_ETOOBIG if it did not fit
 * (buf then holds as much as fits), or TAO_EINVAL (NULL, size 0).
 */
#define TAO_CONN_PEER_MAX	56
int	 tao_conn_peer(const struct tao_conn *, char *buf, size_t size);
/* The codec of the connection's listener (static storage, or the
 * server's copy of one given to tao_server_codec). */
const struct tao_codec *tao_conn_codec(const struct tao_conn *);
/* The server handle this worker runs. */
struct tao_server *tao_conn_server(const struct tao_conn *);
/*
 * A reload hands every open connection (TLV or line, between frames) to
 * the new generation of workers instead of closing it.  on_close runs in
 * the old worker and on_connect in the new one as usual, and this returns
 * 1 inside both (else 0), so an app can skip "left"/"joined"
 * announcements and rebuild per-connection state (tao_conn_data does not
 * cross processes).
 */
int	tao_conn_migrating(const struct tao_conn *);

/*
 * Sends to every connection on every worker (the sender's own included),
 * each through on_deliver if set, else encoded by its own listener's
 * codec.  Cross-worker delivery goes through a shared-memory ring per
 * worker: it never blocks the sender, and a worker too slow to keep up
 * loses the oldest messages (counted as ring_drops).  0 when published
 * (a connection whose queue is full misses it); TAO_ETOOBIG over
 * max_frame or over half of ring_size; TAO_EINVAL (bad handle, NULL data
 * with len > 0); TAO_ESTATE outside a worker.
 */
int	tao_server_broadcast(struct tao_server *, int32_t type, const void *,
	    size_t);
/*
 * Sends to the connection with this netid, on whichever worker holds it.
 * TAO_ENOENT if no such connection is open, TAO_ETOOBIG over max_frame
 * (or, on another worker, over half of ring_size).  When the connection
 * is on the calling worker the message is queued at once and a drop is
 * reported: TAO_EWOULDBLOCK if its queue is full, or what on_deliver
 * returned.  On another worker, 0 means published; a drop there (queue
 * full) is counted in `dropped`.  With a `cluster` (taod.conf(5)), a
 * netid of another node (the node id is in its top bits) goes to that
 * node through the cluster bridge: 0 means handed to the bridge, which
 * counts what it cannot deliver; TAO_ENOENT while the bridge is not
 * running.  A broadcast reaches every node's connections the same way.
 * TAO_EINVAL and TAO_ESTATE as for tao_server_broadcast.
 */
int	tao_server_unicast(struct tao_server *, uint64_t netid, int32_t type,
	    const void *, size_t);

/*
 * Timers (CLOCK_MONOTONIC, millisecond resolution, never early), run by
 * the calling worker's loop.  Ties fire in the order they were set.
 * Success returns the timer's id, > 0; failure a negative code:
 * TAO_EINVAL (NULL connection or fn, period 0, bad handle), TAO_ECLOSED
 * (the connection is closing), TAO_ENOMEM, TAO_ESTATE (server timers
 * outside a worker).  A connection's timers are cancelled when it
 * closes.  A one-shot's id is dead once it has fired.
 */
int64_t	tao_conn_timer_after(struct tao_conn *, uint64_t ms, tao_timer_fn,
	    void *arg);
int64_t	tao_conn_timer_every(struct tao_conn *, uint64_t ms, tao_timer_fn,
	    void *arg);
int64_t	tao_conn_timer_at(struct tao_conn *,
	    const struct timespec *when_monotonic, tao_timer_fn, void *arg);
/* 0, or TAO_ENOENT if the id is not a live timer of this connection
 * (also from inside its own callback: a periodic timer then stops). */
int	tao_conn_timer_cancel(struct tao_conn *, int64_t timer_id);
/* Server-wide timers of the calling worker (fn gets conn NULL). */
int64_t	tao_server_timer_after(struct tao_server *, uint64_t ms,
	    tao_timer_fn, void *arg);
int64_t	tao_server_timer_every(struct tao_server *, uint64_t ms,
	    tao_timer_fn, void *arg);
/* 0, TAO_ENOENT if not a live server timer, TAO_EINVAL, TAO_ESTATE. */
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
	 * failures restarts at 0 once a connection has been healthy: a
	 * frame arrived on it, or it stayed up 5 s.  (A server that
	 * accepts and closes at once, e.g. a full one, counts as a
	 * failure, so clients back off instead of storming it.)
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
