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
 * Ownership: the library copies whatever you pass to tao_send(),
 * tao_broadcast() and tao_unicast(); payload pointers handed to your
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
/* Return < 0 to refuse the connection: it is closed, on_close is not run. */
typedef int	(*tao_connect_fn)(struct tao_conn *, void *arg);
typedef void	(*tao_close_fn)(struct tao_conn *, void *arg);
typedef void	(*tao_error_fn)(struct tao_conn *, int error, void *arg);
/* conn is NULL for worker (server-wide) timers. */
typedef void	(*tao_timer_fn)(struct tao_conn *, void *arg);
/*
 * Renders a broadcast or unicast message for one receiving connection
 * (e.g. differently for line and TLV clients); it normally ends in
 * tao_send().  Without one, the message is sent as it is.
 */
typedef int	(*tao_deliver_fn)(struct tao_conn *, int32_t type,
		    const void *data, size_t len, void *arg);
/* Runs once in every worker process after it is ready to serve. */
typedef void	(*tao_worker_fn)(struct tao_server *, int slot, void *arg);

/*
 * Codecs.  decode() looks at buf[0..len) and returns:
 *   TAO_DECODE_FRAME  one frame: *frame filled, *used = bytes it spans;
 *   TAO_DECODE_AGAIN  need more bytes: *used = total bytes the frame needs
 *                     when the codec knows it, else 0;
 *   TAO_DECODE_ERROR  the input is invalid (frame too big, garbage).
 * `state` is one word of per-connection decoder state, zero for a new
 * connection; a codec may use it to avoid rescanning bytes it has seen.
 * encode() writes the bytes that go before (head) and after (tail) a payload
 * of `len` bytes, at most TAO_CODEC_MAX_HEAD / TAO_CODEC_MAX_TAIL bytes each.
 */
enum { TAO_DECODE_ERROR = -1, TAO_DECODE_AGAIN = 0, TAO_DECODE_FRAME = 1 };
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

int	tao_register(struct tao_server *, int32_t type, tao_decode_fn,
	    tao_handler_fn, void *arg);
void	tao_on_message(struct tao_server *, tao_handler_fn, void *arg);
void	tao_on_connect(struct tao_server *, tao_connect_fn, void *arg);
void	tao_on_close(struct tao_server *, tao_close_fn, void *arg);
void	tao_on_error(struct tao_server *, tao_error_fn, void *arg);
void	tao_on_worker_start(struct tao_server *, tao_worker_fn, void *arg);
void	tao_on_deliver(struct tao_server *, tao_deliver_fn, void *arg);

/* Connections. */
int	 tao_send(struct tao_conn *, int32_t type, const void *, size_t);
void	 tao_conn_close(struct tao_conn *);	/* after the queue flushes */
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
int	tao_broadcast(struct tao_server *, int32_t type, const void *, size_t);
/* The connection with this netid, on whichever worker holds it;
 * TAO_ENOENT if no such connection is open. */
int	tao_unicast(struct tao_server *, uint64_t netid, int32_t type,
	    const void *, size_t);

/*
 * Timers (CLOCK_MONOTONIC, millisecond resolution, never early).  A timer
 * on a connection is cancelled when it closes; pass conn = NULL to the
 * tao_worker_* variants for server-wide timers of the calling worker.
 * Ids are > 0; a negative return is a TAO_E* code.
 */
int64_t	tao_run_after(struct tao_conn *, uint64_t ms, tao_timer_fn, void *);
int64_t	tao_run_every(struct tao_conn *, uint64_t ms, tao_timer_fn, void *);
int64_t	tao_run_at(struct tao_conn *, const struct timespec *when_monotonic,
	    tao_timer_fn, void *);
int	tao_timer_cancel(struct tao_conn *, int64_t timer_id);
int64_t	tao_worker_run_after(struct tao_server *, uint64_t ms, tao_timer_fn,
	    void *);
int64_t	tao_worker_run_every(struct tao_server *, uint64_t ms, tao_timer_fn,
	    void *);
int	tao_worker_timer_cancel(struct tao_server *, int64_t timer_id);

#ifdef __cplusplus
}
#endif
#endif /* TAO_H */
