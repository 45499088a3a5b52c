/*
 * loop.c - the client's event loop: the event-loop core (core/loop.h)
 * with the client's hooks, the caller's watched descriptors and timers.
 *
 * One iteration (tao_loop_run_once) is the core's tao__evloop_run_once:
 *
 *	1. timers due       connection attempts and back-off, connect and
 *	                    heartbeat timeouts, heartbeats, caller timers
 *	2. flush            output queued since the last write (by the caller
 *	                    between iterations, or by step 1)
 *	3. deferred frees   clients and watches freed since the last free
 *	4. poll             epoll_wait until the next timer or the caller's
 *	                    timeout; 0 while a TLS client holds input or the
 *	                    loop was stopped
 *	5. I/O events       client sockets (connect, handshake, read, write)
 *	                    and the caller's watched descriptors; an event
 *	                    whose watcher was closed or dropped by an earlier
 *	                    callback of the batch is not delivered
 *	6. held input       TLS clients whose SSL object still has decrypted
 *	                    bytes: epoll cannot announce those
 *	7. flush            output queued by the callbacks of steps 5 and 6
 *	8. deferred frees   clients and watches freed during this iteration
 *
 * Nothing is freed before step 8, so a callback may free a client or
 * drop a watch whose event is still waiting later in the same batch.
 * The loop never spins: with nothing due it sleeps in epoll_wait, and
 * with nothing at all to wait for (no descriptor, no timer) tao_loop_run
 * returns.
 */
#include <sys/types.h>
#include <sys/epoll.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "client/loop.h"
#include "core/clock.h"

/* A descriptor the caller watches (tao_loop_add_fd). */
struct tao__watch {
	struct tao__loop_watcher w_lw;		/* first */
	tao_loop_fd_fn		 w_fn;
	void			*w_arg;
	int			 w_events;	/* TAO_LOOP_READ | WRITE */
	LIST_ENTRY(tao__watch)	 w_entry;	/* l_watches */
};

/*
 * A caller's timer.  The timer heap passes two pointers to its callback;
 * the caller's function and argument travel in this record, found by id
 * on cancel (callers keep a handful of timers: a list is enough).
 */
struct tao__loop_timer {
	int64_t			 lt_id;
	uint64_t		 lt_period;
	tao_loop_timer_fn	 lt_fn;
	void			*lt_arg;
	LIST_ENTRY(tao__loop_timer) lt_entry;
};

uint64_t
tao__loop_deadline(uint64_t ms)
{
	uint64_t now = tao__now_ms_ceil();

	return ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
}

/* ---- the core's hooks ------------------------------------------------- */

static void
client_event(struct tao_evloop *el, struct tao_io *io, uint32_t revents)
{
	(void)el;
	tao__client_io((struct tao_client *)io, revents);
}

static void
watch_event(struct tao_evloop *el, struct tao_io *io, uint32_t revents)
{
	struct tao__watch *w = (struct tao__watch *)io;
	int events = 0;

	if (revents & (EPOLLERR | EPOLLHUP))
		events = w->w_events;	/* let the caller see the error */
	if (revents & (EPOLLIN | EPOLLRDHUP))
		events |= TAO_LOOP_READ;
	if (revents & EPOLLOUT)
		events |= TAO_LOOP_WRITE;
	events &= w->w_events;
	if (events != 0)
		w->w_fn(el->el_owner, io->io_fd, events, w->w_arg);
}

/* Only clients are ever on the flush list. */
static void
flush_one(struct tao_pending *p)
{
	tao__client_flush((struct tao_client *)tao__loop_watcher_of(p));
}

static void
free_one(struct tao_pending *p)
{
	struct tao__loop_watcher *lw = tao__loop_watcher_of(p);

	if (lw->lw_io.io_kind == TAO_LOOP_IO_CLIENT)
		tao__client_destroy((struct tao_client *)lw);
	else
		free(lw);
}

/* Something could still happen: a descriptor to watch, a timer, output. */
static int
loop_alive(const struct tao_loop *l)
{
	return l->l_ev.el_nfds > 0 || tao__timers_count(l->l_ev.el_timers) > 0
	    || !TAILQ_EMPTY(&l->l_ev.el_flush) || !TAILQ_EMPTY(&l->l_again);
}

static int
before_poll(struct tao_evloop *el, int timeout)
{
	struct tao_loop *l = el->el_owner;
	int caller = l->l_timeout_ms;

	/* A timer callback that stopped the loop must not wait for I/O. */
	if (l->l_stop || !TAILQ_EMPTY(&el->el_flush) ||
	    !TAILQ_EMPTY(&l->l_again))
		return 0;
	if (caller < 0 && !loop_alive(l))
		return 0;		/* nothing could ever wake us */
	if (timeout == -1 || (caller >= 0 && caller < timeout))
		timeout = caller;
	return timeout;
}

/*
 * Step 6: one round each for the clients listed now; one that still
 * holds input goes back to the tail and waits for the next iteration,
 * so a fast sender cannot keep the loop here.  tao__client_read_again
 * always takes the client off the list first.
 */
static void
read_held_input(struct tao_evloop *el)
{
	struct tao_loop *l = el->el_owner;
	struct tao_client *c;
	unsigned n = 0;

	TAILQ_FOREACH(c, &l->l_again, c_again_entry)
		n++;
	while (n-- > 0 && (c = TAILQ_FIRST(&l->l_again)) != NULL)
		tao__client_read_again(c);
}

static const struct tao_evloop_ops client_ops = {
	.flush = flush_one,
	.free = free_one,
	.before_poll = before_poll,
	.after_io = read_held_input,
};

/* ---- the loop --------------------------------------------------------- */

struct tao_loop *
tao_loop_new(void)
{
	struct tao_loop *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if (tao__evloop_init(&l->l_ev, TAO_LOOP_RBUF_SIZE, l) == -1) {
		int saved = errno;
		free(l);
		errno = saved;
		return NULL;
	}
	tao__evloop_handle(&l->l_ev, TAO_LOOP_IO_CLIENT, client_event);
	tao__evloop_handle(&l->l_ev, TAO_LOOP_IO_WATCH, watch_event);
	TAILQ_INIT(&l->l_clients);
	TAILQ_INIT(&l->l_again);
	LIST_INIT(&l->l_watches);
	LIST_INIT(&l->l_timers);
	return l;
}

int
tao_loop_run_once(struct tao_loop *l, int timeout_ms)
{
	int rc, saved;

	if (l == NULL)
		return TAO_EINVAL;
	if (l->l_running)
		return TAO_ESTATE;
	l->l_running = 1;
	l->l_stop = 0;	/* a stop asks for the end of one iteration */
	l->l_timeout_ms = timeout_ms;
	rc = tao__evloop_run_once(&l->l_ev, &client_ops);
	saved = errno;
	if (rc == -1) {		/* steps 7-8 still: nothing is left behind */
		tao__evloop_flush(&l->l_ev, flush_one);
		tao__evloop_free_closed(&l->l_ev, free_one);
	}
	l->l_running = 0;
	if (rc == -1) {
		errno = saved;
		return TAO_ESYS;
	}
	return 0;
}

int
tao_loop_run(struct tao_loop *l)
{
	int rc = 0;

	if (l == NULL)
		return TAO_EINVAL;
	if (l->l_running)
		return TAO_ESTATE;
	while (!l->l_stop && loop_alive(l))
		if ((rc = tao_loop_run_once(l, -1)) < 0)
			break;
	l->l_stop = 0;
	return rc;
}

void
tao_loop_stop(struct tao_loop *l)
{
	if (l != NULL)
		l->l_stop = 1;
}

void
tao_loop_free(struct tao_loop *l)
{
	struct tao_client *c;
	struct tao__watch *w;
	struct tao__loop_timer *t;

	if (l == NULL)
		return;
	tao__evloop_free_closed(&l->l_ev, free_one);	/* and off l_clients */
	while ((c = TAILQ_FIRST(&l->l_clients)) != NULL)
		tao__client_destroy(c);
	while ((w = LIST_FIRST(&l->l_watches)) != NULL) {
		LIST_REMOVE(w, w_entry);
		free(w);
	}
	while ((t = LIST_FIRST(&l->l_timers)) != NULL) {
		LIST_REMOVE(t, lt_entry);
		free(t);
	}
	tao__evloop_fini(&l->l_ev);
	free(l);
}

/* ---- the caller's descriptors ----------------------------------------- */

static uint32_t
watch_mask(int events)
{
	return ((events & TAO_LOOP_READ) ? EPOLLIN : 0) |
	    ((events & TAO_LOOP_WRITE) ? EPOLLOUT : 0);
}

static struct tao__watch *
watch_find(struct tao_loop *l, int fd)
{
	struct tao__watch *w;

	LIST_FOREACH(w, &l->l_watches, w_entry)
		if (w->w_lw.lw_io.io_fd == fd)
			return w;
	return NULL;
}

static int
events_valid(int events)
{
	return events != 0 &&
	    (events & ~(TAO_LOOP_READ | TAO_LOOP_WRITE)) == 0;
}

int
tao_loop_add_fd(struct tao_loop *l, int fd, int events, tao_loop_fd_fn fn,
    void *arg)
{
	struct tao__watch *w;

	if (l == NULL || fd < 0 || fn == NULL || !events_valid(events))
		return TAO_EINVAL;
	if (watch_find(l, fd) != NULL)
		return TAO_EEXIST;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return TAO_ENOMEM;
	w->w_fn = fn;
	w->w_arg = arg;
	w->w_events = events;
	if (tao__io_add(&l->l_ev, &w->w_lw.lw_io, TAO_LOOP_IO_WATCH, fd,
	    watch_mask(events)) == -1) {
		int saved = errno;	/* EPERM: a regular file */
		free(w);
		errno = saved;
		return TAO_ESYS;
	}
	LIST_INSERT_HEAD(&l->l_watches, w, w_entry);
	return 0;
}

int
tao_loop_mod_fd(struct tao_loop *l, int fd, int events)
{
	struct tao__watch *w;

	if (l == NULL || !events_valid(events))
		return TAO_EINVAL;
	if ((w = watch_find(l, fd)) == NULL)
		return TAO_ENOENT;
	if (tao__io_set(&l->l_ev, &w->w_lw.lw_io, watch_mask(events)) == -1)
		return TAO_ESYS;
	w->w_events = events;
	return 0;
}

int
tao_loop_del_fd(struct tao_loop *l, int fd)
{
	struct tao__watch *w;

	if (l == NULL)
		return TAO_EINVAL;
	if ((w = watch_find(l, fd)) == NULL)
		return TAO_ENOENT;
	/* The fd is the caller's: leave the epoll set (the core copes
	 * with one the caller closed already), do not close it.  The
	 * new generation drops an event of this batch still to come. */
	tao__io_forget(&l->l_ev, &w->w_lw.lw_io);
	w->w_lw.lw_io.io_fd = -1;
	LIST_REMOVE(w, w_entry);
	if (l->l_running)
		tao__evloop_defer_free(&l->l_ev, &w->w_lw.lw_pending);
	else
		free(w);
	return 0;
}

/* ---- the caller's timers ---------------------------------------------- */

static void
loop_timer_fire(void *owner, void *arg)
{
	struct tao_loop *l = owner;
	struct tao__loop_timer *t = arg;
	tao_loop_timer_fn fn = t->lt_fn;
	void *fn_arg = t->lt_arg;

	if (t->lt_period == 0) {	/* its id is dead: forget it first */
		LIST_REMOVE(t, lt_entry);
		free(t);
	}
	/* A periodic record may be freed by a cancel inside fn: do not
	 * touch it afterwards. */
	fn(l, fn_arg);
}

static int64_t
loop_timer_add(struct tao_loop *l, uint64_t ms, uint64_t period,
    tao_loop_timer_fn fn, void *arg)
{
	struct tao__loop_timer *t;

	if (l == NULL || fn == NULL)
		return TAO_EINVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return TAO_ENOMEM;
	t->lt_period = period;
	t->lt_fn = fn;
	t->lt_arg = arg;
	t->lt_id = tao__timers_add(l->l_ev.el_timers, tao__loop_deadline(ms),
	    period, loop_timer_fire, l, t, NULL);
	if (t->lt_id == -1) {
		free(t);
		return TAO_ENOMEM;
	}
	LIST_INSERT_HEAD(&l->l_timers, t, lt_entry);
	return t->lt_id;
}

int64_t
tao_loop_run_after(struct tao_loop *l, uint64_t ms, tao_loop_timer_fn fn,
    void *arg)
{
	return loop_timer_add(l, ms, 0, fn, arg);
}

int64_t
tao_loop_run_every(struct tao_loop *l, uint64_t ms, tao_loop_timer_fn fn,
    void *arg)
{
	if (ms == 0)
		return TAO_EINVAL;
	return loop_timer_add(l, ms, ms, fn, arg);
}

int
tao_loop_timer_cancel(struct tao_loop *l, int64_t id)
{
	struct tao__loop_timer *t;

	if (l == NULL)
		return TAO_EINVAL;
	LIST_FOREACH(t, &l->l_timers, lt_entry)
		if (t->lt_id == id)
			break;
	if (t == NULL || tao__timers_cancel(l->l_ev.el_timers, id, l) == -1)
		return TAO_ENOENT;
	LIST_REMOVE(t, lt_entry);
	free(t);
	return 0;
}
