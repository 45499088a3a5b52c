/*
 * client.c - tao_client: the public calls and the life of a connection
 * (the state diagram is in client.h): teardown, establishment, flushing,
 * close and free.  The next attempt and the back-off are in reconnect.c,
 * the heartbeat timers in heartbeat.c.
 *
 * Every teardown goes through tao__client_conn_end(), which leaves no
 * socket, no TLS object and no connection timer behind, and then through
 * tao__client_after_end() (reconnect.c), which decides what comes next
 * (another attempt, or CLOSED) *before* any callback runs: a callback
 * then sees a consistent client and may send, close or free it.  After
 * each callback the code checks whether the client was freed (ZOMBIE)
 * before touching it again.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "proto/codec.h"
#include "core/clock.h"

#define DEFAULT_WRITE_QUEUE_MAX		(4u << 20)
#define DEFAULT_CONNECT_TIMEOUT_MS	10000
#define DEFAULT_RECONNECT_MIN_MS	100
#define DEFAULT_RECONNECT_MAX_MS	30000

static int
zombie(const struct tao_client *c)
{
	return (c->c_flags & TAO_CLIENT_ZOMBIE) != 0;
}

int
tao__client_is_zombie(const struct tao_client *c)
{
	return zombie(c);
}

/* The connection a caller was working on is over (or the client freed). */
int
tao__client_gone(const struct tao_client *c, uint64_t generation)
{
	return zombie(c) || c->c_generation != generation ||
	    (c->c_state != TAO_CLIENT_OPEN && c->c_state != TAO_CLIENT_CLOSING);
}

void
tao__client_timer_cancel(struct tao_client *c, int64_t *id)
{
	if (*id > 0)
		(void)tao__timers_cancel(c->c_loop->l_ev.el_timers, *id, c);
	*id = -1;
}

int64_t
tao__client_timer_add(struct tao_client *c, uint64_t ms, uint64_t period,
    tao__timer_cb fn)
{
	return tao__timers_add(c->c_loop->l_ev.el_timers,
	    tao__loop_deadline(ms), period, fn, c, NULL, &c->c_timers);
}

void
tao__client_want(struct tao_client *c, uint32_t events)
{
	if (c->c_w.lw_io.io_fd == -1)
		return;
	if (tao__io_set(&c->c_loop->l_ev, &c->c_w.lw_io, events) == -1)
		tao__client_fail(c, TAO_CLIENT_ERR_IO, "epoll_ctl %s: %s",
		    c->c_addr, strerror(errno));
}

void
tao__client_flush_add(struct tao_client *c)
{
	tao__evloop_flush_add(&c->c_loop->l_ev, &c->c_w.lw_pending);
}

static void
lists_leave(struct tao_client *c)
{
	struct tao_loop *l = c->c_loop;

	/* Never for a client on the deferred-free list (core/loop.h). */
	tao__evloop_flush_del(&l->l_ev, &c->c_w.lw_pending);
	if (c->c_flags & TAO_CLIENT_IN_AGAIN)
		TAILQ_REMOVE(&l->l_again, c, c_again_entry);
	c->c_flags &= ~TAO_CLIENT_IN_AGAIN;
}

/*
 * Drop the current socket, TLS object and connection timers; input that
 * was not a whole frame is discarded, and so is the rest of a message
 * that was half written.  clean: say goodbye to a TLS peer.
 */
void
tao__client_conn_end(struct tao_client *c, int clean)
{
	if (c->c_ssl != NULL)
		tao__tls_end(c, clean);
	tao__io_close(&c->c_loop->l_ev, &c->c_w.lw_io);
	lists_leave(c);
	tao__client_timer_cancel(c, &c->c_deadline_timer);
	tao__client_timer_cancel(c, &c->c_heartbeat_timer);
	tao__client_timer_cancel(c, &c->c_dead_timer);
	tao__outq_cut_partial(c);
	c->c_read_wants_write = c->c_write_wants_read = 0;
	tao__framer_free(&c->c_in);	/* the next connection starts afresh */
}

void
tao__client_fail(struct tao_client *c, enum tao_client_error kind,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int was_open = c->c_state == TAO_CLIENT_OPEN ||
	    c->c_state == TAO_CLIENT_CLOSING;

	if (zombie(c) || c->c_state == TAO_CLIENT_WAITING ||
	    c->c_state == TAO_CLIENT_CLOSED)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tao__client_conn_end(c, 0);
	tao__client_after_end(c, was_open, kind, msg);
}

/* The server closed an open connection between frames: no error. */
void
tao__client_lost(struct tao_client *c)
{
	if (zombie(c) || (c->c_state != TAO_CLIENT_OPEN &&
	    c->c_state != TAO_CLIENT_CLOSING))
		return;
	tao__client_conn_end(c, 0);
	tao__client_after_end(c, 1, 0, NULL);
}


void
tao__client_established(struct tao_client *c)
{
	uint64_t generation;

	tao__client_timer_cancel(c, &c->c_deadline_timer);
	c->c_state = TAO_CLIENT_OPEN;
	c->c_healthy = 0;	/* c_failures: see after_conn_end */
	c->c_open_ms = tao__now_ms();
	/* The next attempt starts with the address that worked. */
	c->c_addr_next = (c->c_addr_next + c->c_naddrs - 1) % c->c_naddrs;
	generation = ++c->c_generation;
	c->c_last_rx_ms = tao__now_ms();
	tao__client_heartbeat_start(c);
	tao__client_want(c, EPOLLIN);
	if (tao__client_gone(c, generation))
		return;
	if (c->c_on_connect != NULL) {
		c->c_on_connect(c, c->c_on_connect_arg);
		if (tao__client_gone(c, generation))
			return;
	}
	if (c->c_wq.q_bytes > 0)
		tao__client_flush_add(c);
}

/* ---- flushing (steps 2 and 7 of the loop) ----------------------------- */

static void
finish_close(struct tao_client *c)
{
	tao__client_conn_end(c, 1);
	c->c_state = TAO_CLIENT_CLOSED;
	tao__outq_clear(c);
	if (c->c_on_close != NULL)
		c->c_on_close(c, c->c_on_close_arg);
}

void
tao__client_flush(struct tao_client *c)
{
	char err[256];
	uint32_t want = 0;
	int rc;

	tao__evloop_flush_del(&c->c_loop->l_ev, &c->c_w.lw_pending);
	if (c->c_state != TAO_CLIENT_OPEN && c->c_state != TAO_CLIENT_CLOSING)
		return;
	rc = tao__outq_flush(c, &want, err, sizeof(err));
	if (rc == -1) {
		tao__client_fail(c, TAO_CLIENT_ERR_IO, "write to %s: %s",
		    c->c_addr, err);
		return;
	}
	if (rc == 1 && c->c_state == TAO_CLIENT_CLOSING) {
		finish_close(c);
		return;
	}
	tao__client_want(c, EPOLLIN | want |
	    (c->c_read_wants_write ? EPOLLOUT : 0));
}

/* ---- public ----------------------------------------------------------- */

static int
opts_fill(struct tao_client_opts *o, const struct tao_client_opts *from)
{
	*o = *from;
	if (o->loop == NULL)
		return -1;
	if (o->codec == NULL)
		o->codec = &tao_codec_tlv;
	if (o->codec->decode == NULL || o->codec->encode == NULL)
		return -1;
	if (o->max_frame == 0)
		o->max_frame = TAO_MAX_FRAME_DEFAULT;
	if (o->max_frame > UINT32_MAX)
		return -1;		/* the TLV length field is 32 bits */
	if (o->write_queue_max == 0)
		o->write_queue_max = DEFAULT_WRITE_QUEUE_MAX;
	if (o->connect_timeout_ms == 0)
		o->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	if (o->reconnect_min_ms == 0)
		o->reconnect_min_ms = DEFAULT_RECONNECT_MIN_MS;
	if (o->reconnect_max_ms == 0)
		o->reconnect_max_ms = DEFAULT_RECONNECT_MAX_MS;
	if (o->reconnect_max_ms < o->reconnect_min_ms)
		o->reconnect_max_ms = o->reconnect_min_ms;
	if ((o->tls_cert_file == NULL) != (o->tls_key_file == NULL))
		return -1;
	return 0;
}

struct tao_client *
tao_client_connect(const char *addr, const struct tao_client_opts *opts)
{
	struct tao_client *c;
	int saved;

	if (addr == NULL || opts == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->c_w.lw_io.io_fd = -1;
	c->c_w.lw_io.io_kind = TAO_LOOP_IO_CLIENT;
	c->c_attempt_timer = c->c_deadline_timer = -1;
	c->c_heartbeat_timer = c->c_dead_timer = -1;
	c->c_state = TAO_CLIENT_CLOSED;
	tao__wq_init(&c->c_wq);
	LIST_INIT(&c->c_timers);
	if (opts_fill(&c->c_opts, opts) == -1) {
		free(c);
		errno = EINVAL;
		return NULL;
	}
	c->c_loop = c->c_opts.loop;
	TAILQ_INSERT_TAIL(&c->c_loop->l_clients, c, c_entry);
	if ((c->c_addr = strdup(addr)) == NULL ||
	    tao__client_resolve(c, addr) == -1 ||
	    (c->c_opts.tls && tao__tls_ctx_new(c) == -1))
		goto fail;
	/* The caller's strings were needed only until here. */
	c->c_opts.tls_server_name = c->c_server_name;
	c->c_opts.tls_ca_file = NULL;
	c->c_opts.tls_cert_file = c->c_opts.tls_key_file = NULL;
	c->c_round_left = c->c_naddrs - 1;
	tao__client_schedule(c, 0);
	if (c->c_state == TAO_CLIENT_CLOSED) {
		errno = ENOMEM;
		goto fail;
	}
	return c;
fail:
	saved = errno;
	tao__client_destroy(c);
	errno = saved;
	return NULL;
}

int
tao_client_register(struct tao_client *c, int32_t type, tao_decode_fn decode,
    tao_client_handler_fn fn, void *arg)
{
	if (c == NULL)
		return TAO_EINVAL;
	return tao__registry_add_client(&c->c_registry, type, decode, fn,
	    arg);
}

void
tao_client_on_message(struct tao_client *c, tao_client_handler_fn fn,
    void *arg)
{
	c->c_on_message = fn;
	c->c_on_message_arg = arg;
}

void
tao_client_on_connect(struct tao_client *c, tao_client_connect_fn fn,
    void *arg)
{
	c->c_on_connect = fn;
	c->c_on_connect_arg = arg;
}

void
tao_client_on_close(struct tao_client *c, tao_client_close_fn fn, void *arg)
{
	c->c_on_close = fn;
	c->c_on_close_arg = arg;
}

void
tao_client_on_error(struct tao_client *c, tao_client_error_fn fn, void *arg)
{
	c->c_on_error = fn;
	c->c_on_error_arg = arg;
}

int
tao_client_send(struct tao_client *c, int32_t type, const void *data,
    size_t len)
{
	uint8_t head[TAO_CODEC_MAX_HEAD], tail[TAO_CODEC_MAX_TAIL];
	size_t head_len, tail_len;

	if (c == NULL || zombie(c) || (data == NULL && len > 0))
		return TAO_EINVAL;
	if (c->c_state == TAO_CLIENT_CLOSING ||
	    c->c_state == TAO_CLIENT_CLOSED)
		return TAO_ECLOSED;
	if (len > c->c_opts.max_frame)
		return TAO_ETOOBIG;
	if (c->c_wq.q_bytes >= c->c_opts.write_queue_max)
		return TAO_EWOULDBLOCK;
	c->c_opts.codec->encode(type, len, head, &head_len, tail, &tail_len);
	if (head_len + len + tail_len == 0)
		return 0;
	if (tao__frames_push(&c->c_frames, head_len + len + tail_len) == -1)
		return TAO_ENOMEM;
	if (tao__wq_append(&c->c_wq, &c->c_loop->l_ev.el_pool, head, head_len,
	    data, len, tail, tail_len) == -1) {
		c->c_frames.f_count--;
		return TAO_ENOMEM;
	}
	if (c->c_state == TAO_CLIENT_OPEN)
		tao__client_flush_add(c);
	return 0;
}

void
tao_client_close(struct tao_client *c)
{
	if (c == NULL || zombie(c))
		return;
	switch (c->c_state) {
	case TAO_CLIENT_OPEN:
		/* Written (or given up on) at the loop's next flush. */
		c->c_state = TAO_CLIENT_CLOSING;
		tao__client_timer_cancel(c, &c->c_heartbeat_timer);
		tao__client_timer_cancel(c, &c->c_dead_timer);
		c->c_deadline_timer = tao__client_timer_add(c,
		    c->c_opts.connect_timeout_ms, 0, tao__client_deadline_fire);
		tao__client_flush_add(c);
		break;
	case TAO_CLIENT_WAITING:
	case TAO_CLIENT_CONNECTING:
	case TAO_CLIENT_HANDSHAKE:
		tao__client_timer_cancel(c, &c->c_attempt_timer);
		tao__client_conn_end(c, 0);
		c->c_state = TAO_CLIENT_CLOSED;
		tao__outq_clear(c);
		break;
	default:
		break;
	}
}

/* No socket, TLS object, timer or list left: nothing refers to c but
 * l_clients (and the deferred-free list). */
static void
client_detach(struct tao_client *c)
{
	struct tao_loop *l = c->c_loop;

	if (c->c_ssl != NULL)
		tao__tls_end(c, 0);
	tao__io_close(&l->l_ev, &c->c_w.lw_io);
	lists_leave(c);
	tao__timers_cancel_owner(l->l_ev.el_timers, &c->c_timers);
}

void
tao_client_free(struct tao_client *c)
{
	if (c == NULL || zombie(c))
		return;
	client_detach(c);
	c->c_state = TAO_CLIENT_CLOSED;
	c->c_flags |= TAO_CLIENT_ZOMBIE;
	/* Inside the loop the caller may be one of our own callbacks, with
	 * io.c still holding c: the memory goes in the loop's next
	 * deferred-free step (core/loop.h). */
	if (c->c_loop->l_running)
		tao__evloop_defer_free(&c->c_loop->l_ev, &c->c_w.lw_pending);
	else
		tao__client_destroy(c);
}

/* Called off every list of the core (tao_loop_free, the deferred-free
 * step, a failed tao_client_connect). */
void
tao__client_destroy(struct tao_client *c)
{
	client_detach(c);
	tao__outq_clear(c);
	tao__frames_free(&c->c_frames);
	tao__tls_ctx_free(c);
	TAILQ_REMOVE(&c->c_loop->l_clients, c, c_entry);
	tao__framer_free(&c->c_in);
	tao__registry_free(&c->c_registry);
	free(c->c_addr);
	free(c->c_host);
	free(c->c_server_name);
	free(c);
}

int
tao_client_connected(const struct tao_client *c)
{
	return c != NULL && !zombie(c) && c->c_state == TAO_CLIENT_OPEN;
}

size_t
tao_client_queued(const struct tao_client *c)
{
	return c == NULL ? 0 : c->c_wq.q_bytes;
}

const char *
tao_client_addr(const struct tao_client *c)
{
	return c == NULL ? NULL : c->c_addr;
}

struct tao_loop *
tao_client_loop(const struct tao_client *c)
{
	return c == NULL ? NULL : c->c_loop;
}
