/*
 * loop.c - the worker's event loop: the core loop (core/loop.h, whose
 * comment gives the order of one iteration) with the worker's watchers
 * and hooks:
 *
 *	watchers      listeners (accept), connections (read, dispatch,
 *	              write), the master channel, signals, the ring
 *	before_poll   leave once stopping and every connection is gone;
 *	              the ring's "going to sleep" (wring.c)
 *	after_io      hand connections over during a reload (handoff.c)
 *	flush, free   tao__conn_flush, tao__conn_free
 *
 * Closing and loops: tao_conn_close from a callback only marks the
 * connection and queues it for the flush, which closes it after the
 * callback has returned.  A closed connection stays linked on w_conns,
 * marked TAO_CONN_CLOSED, until the deferred frees unlink and free it,
 * so every TAILQ_FOREACH_SAFE over w_conns (graceful stop, broadcast
 * fan-out, hand-off sweep, drain deadline) keeps a valid next pointer
 * whatever its callbacks close; such loops skip closed entries.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/channel.h"
#include "core/clock.h"
#include "core/loop.h"
#include "worker/conn.h"
#include "core/log.h"
#include "worker/wring.h"
#include "worker/pool.h"
#include "core/timer.h"
#include "worker/worker.h"
#include "worker/whist.h"
#include "shm/segment.h"

/* A listener the master gave no access settings (an embedding test). */
static const struct tao_listen_access no_access;

#define ACCEPT_BATCH	256
#define ACCEPT_DELAY_MIN_MS	5
#define ACCEPT_DELAY_MAX_MS	1000

static void
listeners_poll(struct tao_worker *w, int on)
{
	for (int i = 0; i < w->w_p.wp_nlisteners; i++) {
		struct tao_listener *l = &w->w_listeners[i];
		if (l->l_io.io_fd == -1 || l->l_polling == on)
			continue;
		if (tao__io_set(&w->w_loop, &l->l_io, on ? EPOLLIN : 0) == -1) {
			log_warn("epoll_ctl listener %d", i);
			continue;
		}
		l->l_polling = on;
	}
}

static void
tao__set_worker_title(struct tao_worker *w, const char *state)
{
	tao__set_title("taod: worker process %d (%s)", w->w_p.wp_slot, state);
}

static void
accept_resume(void *owner, void *arg)
{
	struct tao_worker *w = arg;

	(void)owner;
	if (w->w_state == TAO_WORKER_RUNNING)
		listeners_poll(w, 1);
}

/* EMFILE and friends: stop polling the listeners for a while (Go Tao's
 * 5 ms doubling to 1 s) instead of spinning on a backlog we cannot take. */
void
tao__worker_pause_accept(struct tao_worker *w)
{
	int saved = errno;

	w->w_accept_delay_ms = w->w_accept_delay_ms == 0 ?
	    ACCEPT_DELAY_MIN_MS : w->w_accept_delay_ms * 2;
	if (w->w_accept_delay_ms > ACCEPT_DELAY_MAX_MS)
		w->w_accept_delay_ms = ACCEPT_DELAY_MAX_MS;
	if (w->w_accept_log_ms == 0 || w->w_loop.el_now_ms - w->w_accept_log_ms >=
	    1000) {
		w->w_accept_log_ms = w->w_loop.el_now_ms;
		errno = saved;
		log_warn("accept (pausing %llu ms)",
		    (unsigned long long)w->w_accept_delay_ms);
	}
	listeners_poll(w, 0);
	if (tao__timers_add(w->w_loop.el_timers, tao__now_ms_ceil() +
	    w->w_accept_delay_ms, 0, accept_resume, NULL, w, NULL) == -1)
		listeners_poll(w, 1);	/* better spin than stop for good */
}

/* Is TCP_NODELAY set on the listening socket (so on what it accepts)? */
static int
listener_nodelay(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	return getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 &&
	    on != 0;
}

static void
listener_on_event(struct tao_worker *w, struct tao_listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	for (int i = 0; i < ACCEPT_BATCH && w->w_state ==
	    TAO_WORKER_RUNNING; i++) {
		len = sizeof(ss);
		fd = accept4(l->l_io.io_fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			switch (errno) {
			case EAGAIN:
#if EAGAIN != EWOULDBLOCK
			case EWOULDBLOCK:
#endif
				return;
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
			case EPERM:
				continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				tao__worker_pause_accept(w);
				return;
			default:
				log_warn("accept");
				return;
			}
		}
		w->w_accept_delay_ms = 0;
		tao__conn_accept(w, l, fd, (struct sockaddr *)&ss, len);
	}
}

static void
drain_deadline(void *owner, void *arg)
{
	struct tao_worker *w = arg;
	struct tao_conn *c, *next;
	unsigned n = 0;

	(void)owner;
	TAILQ_FOREACH_SAFE(c, &w->w_conns, c_entry, next) {
		if (c->c_flags & TAO_CONN_CLOSED)
			continue;	/* freed at the end of the iteration */
		tao__conn_abort(c, 0, NULL);
		n++;
	}
	if (n > 0)
		log_warnx("drain timeout: closed %u connection%s still open",
		    n, n == 1 ? "" : "s");
}

void
tao__worker_drain_begin(struct tao_worker *w)
{
	uint64_t timeout = w->w_p.wp_settings.st_drain_timeout_ms;

	w->w_state = TAO_WORKER_DRAINING;
	tao__set_worker_title(w, "shutting down");
	listeners_poll(w, 0);
	if (tao__timers_add(w->w_loop.el_timers, tao__now_ms_ceil() + timeout, 0,
	    drain_deadline, NULL, w, NULL) == -1)
		drain_deadline(NULL, w);
}

void
tao__worker_drain(struct tao_worker *w)
{
	struct tao_conn *c, *next;

	if (w->w_state != TAO_WORKER_RUNNING) {
		if (w->w_handoff) {
			/* The master is gone or stopping during a hand-off:
			 * finish by closing gracefully instead. */
			w->w_handoff = 0;
			TAILQ_FOREACH_SAFE(c, &w->w_conns, c_entry, next)
				tao__conn_drain(c);
		}
		return;
	}
	tao__worker_drain_begin(w);
	TAILQ_FOREACH_SAFE(c, &w->w_conns, c_entry, next)
		tao__conn_drain(c);
}

static void
worker_stop_now(struct tao_worker *w)
{
	w->w_state = TAO_WORKER_STOPPING;
	listeners_poll(w, 0);
	drain_deadline(NULL, w);
}

static void
channel_on_event(struct tao_worker *w)
{
	struct tao_chan_msg m;
	int rc, fd;

	while ((rc = tao__chan_recv(w->w_channel_io.io_fd, &m, &fd)) == 1) {
		switch (m.cm_type) {
		case TAO_CHAN_DRAIN:
			tao__worker_drain(w);
			break;
		case TAO_CHAN_HANDOFF:
			tao__worker_handoff(w);
			break;
		case TAO_CHAN_CONN:
			/* Adopt it even if a newer reload already told us to
			 * hand off or stop: the sweep passes it on, or the
			 * drain closes it gracefully. */
			if (fd >= 0) {
				tao__conn_adopt(w, fd,
				    tao__handoff_codec(m.cm_arg), m.cm_value,
				    m.cm_peer);
				fd = -1;
			}
			break;
		case TAO_CHAN_STOP:
			worker_stop_now(w);
			break;
		default:
			log_warnx("channel: unknown message %u", m.cm_type);
		}
		if (fd >= 0)
			close(fd);
	}
	if (rc == -1) {
		/* The master is gone: nobody supervises us any more. */
		if (errno != 0)
			log_warn("channel");
		tao__io_close(&w->w_loop, &w->w_channel_io);
		tao__worker_drain(w);
	}
}

static void
signal_on_event(struct tao_worker *w)
{
	struct signalfd_siginfo si;

	while (read(w->w_signal_io.io_fd, &si, sizeof(si)) ==
	    (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM)
			tao__worker_drain(w);
		else if (si.ssi_signo == SIGQUIT)
			worker_stop_now(w);
	}
}

static void
flush_one(struct tao_pending *p)
{
	(void)tao__conn_flush(tao__conn_of_pending(p));	/* unlinks p */
}

static void
free_one(struct tao_pending *p)
{
	tao__conn_free(tao__conn_of_pending(p));	/* and off w_conns */
}

void
tao__worker_flush_pending(struct tao_worker *w)
{
	tao__evloop_flush(&w->w_loop, flush_one);
}

/* The watchers' handlers, by kind. */
static void
conn_event(struct tao_evloop *l, struct tao_io *io, uint32_t revents)
{
	(void)l;
	tao__conn_on_event((struct tao_conn *)io, revents);
}

static void
listener_event(struct tao_evloop *l, struct tao_io *io, uint32_t revents)
{
	(void)revents;
	listener_on_event(l->el_owner, (struct tao_listener *)io);
}

static void
channel_event(struct tao_evloop *l, struct tao_io *io, uint32_t revents)
{
	(void)io, (void)revents;
	channel_on_event(l->el_owner);
}

static void
signal_event(struct tao_evloop *l, struct tao_io *io, uint32_t revents)
{
	(void)io, (void)revents;
	signal_on_event(l->el_owner);
}

static void
ring_event(struct tao_evloop *l, struct tao_io *io, uint32_t revents)
{
	(void)io, (void)revents;
	tao__wring_on_event(l->el_owner);
}

static void
pool_event(struct tao_evloop *l, struct tao_io *io, uint32_t revents)
{
	(void)io, (void)revents;
	tao__pool_on_event(l->el_owner);
}

static int
worker_setup(struct tao_worker *w)
{
	sigset_t set;
	int sfd;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN);	/* the master decides, not a ^C */
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		return -1;
	if (tao__evloop_init(&w->w_loop, TAO_READ_BUFFER_SIZE, w) == -1)
		return -1;
	tao__evloop_handle(&w->w_loop, TAO_IO_CONN, conn_event);
	tao__evloop_handle(&w->w_loop, TAO_IO_LISTENER, listener_event);
	tao__evloop_handle(&w->w_loop, TAO_IO_CHANNEL, channel_event);
	tao__evloop_handle(&w->w_loop, TAO_IO_SIGNAL, signal_event);
	tao__evloop_handle(&w->w_loop, TAO_IO_RING, ring_event);
	tao__evloop_handle(&w->w_loop, TAO_IO_POOL, pool_event);
	if (tao__io_add(&w->w_loop, &w->w_signal_io, TAO_IO_SIGNAL, sfd,
	    EPOLLIN) == -1)
		return -1;
	w->w_channel_io.io_fd = -1;
	if (w->w_p.wp_channel_fd != -1 && tao__io_add(&w->w_loop,
	    &w->w_channel_io, TAO_IO_CHANNEL, w->w_p.wp_channel_fd,
	    EPOLLIN) == -1)
		return -1;
	TAILQ_INIT(&w->w_conns);
	for (int i = 0; i < w->w_p.wp_nlisteners; i++) {
		struct tao_listener *l = &w->w_listeners[i];
		l->l_io.io_kind = TAO_IO_LISTENER;
		l->l_io.io_fd = w->w_p.wp_listen_fd[i];
		l->l_codec = w->w_p.wp_codec[i];
		l->l_tls = w->w_p.wp_tls[i];
		l->l_access = w->w_p.wp_access[i] != NULL ?
		    w->w_p.wp_access[i] : &no_access;
		l->l_index = i;
		l->l_nodelay = listener_nodelay(l->l_io.io_fd);
	}
	listeners_poll(w, 1);
	/* Threads only in a worker, and only for blocking handlers. */
	if (w->w_p.wp_registry->r_nblocking > 0 && tao__pool_start(w,
	    w->w_p.wp_settings.st_blocking_threads,
	    w->w_p.wp_settings.st_blocking_queue_max) == -1)
		return -1;
	return tao__wring_attach(w);
}

static void
worker_teardown(struct tao_worker *w)
{
	tao__evloop_free_closed(&w->w_loop, free_one);
	tao__pool_stop(w);
	tao__wring_detach(w);
	for (int i = 0; i < w->w_p.wp_nlisteners; i++)
		if (w->w_listeners[i].l_io.io_fd != -1)
			close(w->w_listeners[i].l_io.io_fd);
	if (w->w_channel_io.io_fd != -1)
		close(w->w_channel_io.io_fd);
	close(w->w_signal_io.io_fd);
	tao__evloop_fini(&w->w_loop);
	if (w->w_p.wp_bind != NULL)
		*w->w_p.wp_bind = NULL;
}

static int
before_poll(struct tao_evloop *l, int timeout)
{
	struct tao_worker *w = l->el_owner;

	if (w->w_state != TAO_WORKER_RUNNING && TAILQ_EMPTY(&w->w_conns))
		return TAO_EVLOOP_STOP;
	return tao__wring_before_poll(w, timeout);
}

static void
after_poll(struct tao_evloop *l)
{
	tao__wring_after_poll(l->el_owner);
}

static void
after_io(struct tao_evloop *l)
{
	tao__worker_handoff_sweep(l->el_owner);
}

static const struct tao_evloop_ops worker_ops = {
	.flush = flush_one,
	.free = free_one,
	.before_poll = before_poll,
	.after_poll = after_poll,
	.after_io = after_io,
};

struct tao_worker *tao__worker_self;

int
tao__worker_run(const struct tao_worker_params *p)
{
	static struct tao_worker worker;
	struct tao_worker *w = &worker;
	const struct tao_registry *r = p->wp_registry;
	int rc;

	memset(w, 0, sizeof(*w));
	tao__worker_self = w;	/* every connection's (worker/conn.h) */
	w->w_p = *p;
	w->w_loop.el_epfd = -1;
	w->w_stats = tao__shm_stats(p->wp_shm, (unsigned)p->wp_islot);
	tao__whist_start(w);
	if (worker_setup(w) == -1) {
		log_warn("worker setup");
		return 1;
	}
	if (p->wp_bind != NULL)
		*p->wp_bind = w;
	if (r->r_on_worker_start != NULL)
		r->r_on_worker_start(p->wp_server, p->wp_slot,
		    r->r_on_worker_start_arg);
	if (w->w_channel_io.io_fd != -1 && tao__chan_send(
	    w->w_channel_io.io_fd, TAO_CHAN_READY, 0, 0) == -1)
		log_warn("channel: READY");
	while ((rc = tao__evloop_run_once(&w->w_loop, &worker_ops)) == 0)
		;
	if (rc == -1) {
		log_warn("epoll_wait");
		w->w_exit_code = 1;
	}
	rc = w->w_exit_code;
	worker_teardown(w);
	return rc;
}
