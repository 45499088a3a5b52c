/*
 * loop.c - the client's event loop: epoll, timers, watched descriptors.
 *
 * One iteration (tao_loop_run_once), in this order:
 *
 *	1. timers due       connection attempts and back-off, connect and
 *	                    heartbeat timeouts, heartbeats, caller timers
 *	2. flush            output queued since the last write (by the caller
 *	                    between iterations, or by step 1)
 *	3. poll             epoll_wait until the next timer or the caller's
 *	                    timeout; 0 while a TLS client holds input
 *	4. I/O events       client sockets (connect, handshake, read, write)
 *	                    and the caller's watched descriptors
 *	5. held input       TLS clients whose SSL object still has decrypted
 *	                    bytes: epoll cannot announce those
 *	6. flush            output queued by the callbacks of steps 4 and 5
 *	7. deferred frees   clients and watchers freed during this iteration
 *
 * Nothing is freed before step 7, so a callback may free a client or
 * drop a watcher whose event is still waiting later in the same batch.
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

#define MAX_EVENTS	64

/* A descriptor the caller watches (tao_loop_add_fd). */
struct tao__watch {
	struct tao__loop_io	 w_io;		/* first: epoll_data */
	struct tao_loop		*w_loop;
	tao_loop_fd_fn		 w_fn;
	void			*w_arg;
	int			 w_events;	/* TAO_LOOP_READ | WRITE */
	int			 w_dead;	/* dropped, freed in step 7 */
	LIST_ENTRY(tao__watch)	 w_entry;
};

/*
 * A caller's timer.  The timer heap passes two pointers to its callback;
 * the caller's function and argument travel in this record, found by id
 * on cancel (callers keep a handful of timers: a list is enough).
 */
struct loop_timer {
	int64_t			 lt_id;
	uint64_t		 lt_period;
	tao_loop_timer_fn	 lt_fn;
	void			*lt_arg;
	LIST_ENTRY(loop_timer)	 lt_entry;
};

/* Kept outside struct tao_loop: only this file knows loop_timer. */
LIST_HEAD(loop_timers, loop_timer);

struct loop_priv {
	struct tao_loop		 lp_loop;	/* first */
	struct loop_timers	 lp_timers;
};

uint64_t
tao__loop_deadline(uint64_t ms)
{
	uint64_t now = tao__now_ms_ceil();

	return ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
}

struct tao_loop *
tao_loop_new(void)
{
	struct loop_priv *lp;
	struct tao_loop *l;

	if ((lp = calloc(1, sizeof(*lp))) == NULL)
		return NULL;
	l = &lp->lp_loop;
	LIST_INIT(&lp->lp_timers);
	TAILQ_INIT(&l->l_clients);
	TAILQ_INIT(&l->l_flush);
	TAILQ_INIT(&l->l_again);
	LIST_INIT(&l->l_watches);
	tao__wq_pool_init(&l->l_pool);
	if ((l->l_timers = tao__timers_new()) == NULL ||
	    (l->l_rbuf = malloc(TAO_LOOP_RBUF_SIZE)) == NULL)
		goto fail;
	if ((l->l_epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		goto fail;
	return l;
fail:
	tao__timers_free(l->l_timers);
	free(l->l_rbuf);
	free(lp);
	return NULL;
}

/* ---- descriptors ------------------------------------------------------ */

int
tao__loop_io_set(struct tao_loop *l, struct tao__loop_io *io,
    uint32_t events)
{
	struct epoll_event ev;
	int op;

	if (io->io_events == events)
		return 0;
	if (events == 0)
		op = EPOLL_CTL_DEL;
	else if (io->io_events == 0)
		op = EPOLL_CTL_ADD;
	else
		op = EPOLL_CTL_MOD;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = io;
	if (epoll_ctl(l->l_epfd, op, io->io_fd, &ev) == -1)
		return -1;
	if (op == EPOLL_CTL_ADD)
		l->l_nfds++;
	else if (op == EPOLL_CTL_DEL)
		l->l_nfds--;
	io->io_events = events;
	return 0;
}

void
tao__loop_io_close(struct tao_loop *l, struct tao__loop_io *io)
{
	if (io->io_fd == -1)
		return;
	/* DEL before close: a closed fd leaves epoll only when every
	 * duplicate of it is closed, and OpenSSL or a fork may hold one. */
	if (io->io_events != 0 && tao__loop_io_set(l, io, 0) == -1) {
		io->io_events = 0;
		l->l_nfds--;
	}
	close(io->io_fd);
	io->io_fd = -1;
}

static void
watch_event(struct tao__loop_io *io, uint32_t revents)
{
	struct tao__watch *w = (struct tao__watch *)io;
	int events = 0;

	if (w->w_dead)
		return;
	if (revents & (EPOLLERR | EPOLLHUP))
		events = w->w_events;	/* let the caller see the error */
	if (revents & (EPOLLIN | EPOLLRDHUP))
		events |= TAO_LOOP_READ;
	if (revents & EPOLLOUT)
		events |= TAO_LOOP_WRITE;
	events &= w->w_events;
	if (events != 0)
		w->w_fn(w->w_loop, w->w_io.io_fd, events, w->w_arg);
}

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
		if (!w->w_dead && w->w_io.io_fd == fd)
			return w;
	return NULL;
}

int
tao_loop_add_fd(struct tao_loop *l, int fd, int events, tao_loop_fd_fn fn,
    void *arg)
{
	struct tao__watch *w;

	if (l == NULL || fd < 0 || fn == NULL || events == 0 ||
	    (events & ~(TAO_LOOP_READ | TAO_LOOP_WRITE)) != 0)
		return TAO_EINVAL;
	if (watch_find(l, fd) != NULL)
		return TAO_EEXIST;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return TAO_ENOMEM;
	w->w_io.io_fd = fd;
	w->w_io.io_cb = watch_event;
	w->w_loop = l;
	w->w_fn = fn;
	w->w_arg = arg;
	w->w_events = events;
	if (tao__loop_io_set(l, &w->w_io, watch_mask(events)) == -1) {
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

	if (l == NULL || events == 0 ||
	    (events & ~(TAO_LOOP_READ | TAO_LOOP_WRITE)) != 0)
		return TAO_EINVAL;
	if ((w = watch_find(l, fd)) == NULL)
		return TAO_ENOENT;
	if (tao__loop_io_set(l, &w->w_io, watch_mask(events)) == -1)
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
	/* The fd is the caller's: leave the epoll set, do not close it.
	 * If the caller closed it already, epoll dropped it by itself. */
	if (tao__loop_io_set(l, &w->w_io, 0) == -1) {
		w->w_io.io_events = 0;
		l->l_nfds--;
	}
	w->w_dead = 1;
	if (l->l_running)
		l->l_zombies++;
	else {
		LIST_REMOVE(w, w_entry);
		free(w);
	}
	return 0;
}

/* ---- caller timers ---------------------------------------------------- */

static void
loop_timer_fire(void *owner, void *arg)
{
	struct loop_priv *lp = owner;
	struct loop_timer *t = arg;
	tao_loop_timer_fn fn = t->lt_fn;
	void *fn_arg = t->lt_arg;

	if (t->lt_period == 0) {	/* its id is dead: forget it first */
		LIST_REMOVE(t, lt_entry);
		free(t);
	}
	/* A periodic record may be freed by a cancel inside fn: do not
	 * touch it afterwards. */
	fn(&lp->lp_loop, fn_arg);
}

static int64_t
loop_timer_add(struct tao_loop *l, uint64_t ms, uint64_t period,
    tao_loop_timer_fn fn, void *arg)
{
	struct loop_priv *lp = (struct loop_priv *)l;
	struct loop_timer *t;

	if (l == NULL || fn == NULL)
		return TAO_EINVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return TAO_ENOMEM;
	t->lt_period = period;
	t->lt_fn = fn;
	t->lt_arg = arg;
	t->lt_id = tao__timers_add(l->l_timers, tao__loop_deadline(ms),
	    period, loop_timer_fire, lp, t, NULL);
	if (t->lt_id == -1) {
		free(t);
		return TAO_ENOMEM;
	}
	LIST_INSERT_HEAD(&lp->lp_timers, t, lt_entry);
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
	struct loop_priv *lp = (struct loop_priv *)l;
	struct loop_timer *t;

	if (l == NULL)
		return TAO_EINVAL;
	LIST_FOREACH(t, &lp->lp_timers, lt_entry)
		if (t->lt_id == id)
			break;
	if (t == NULL || tao__timers_cancel(l->l_timers, id, lp) == -1)
		return TAO_ENOENT;
	LIST_REMOVE(t, lt_entry);
	free(t);
	return 0;
}

/* ---- running ---------------------------------------------------------- */

static void
flush_all(struct tao_loop *l)
{
	struct tao_client *c;

	/* tao__client_flush takes c off the list (or re-queues it only
	 * after this pass: new output goes to the tail, written next time). */
	while ((c = TAILQ_FIRST(&l->l_flush)) != NULL)
		tao__client_flush(c);
}

static void
read_held_input(struct tao_loop *l)
{
	struct tao_client *c;
	unsigned n = 0;

	/*
	 * One round each for the clients listed now: one that still holds
	 * input goes back to the tail and waits for the next iteration, so
	 * a fast sender cannot keep the loop here.  tao__client_read_again
	 * always takes the client off the list first.
	 */
	TAILQ_FOREACH(c, &l->l_again, c_again_entry)
		n++;
	while (n-- > 0 && (c = TAILQ_FIRST(&l->l_again)) != NULL)
		tao__client_read_again(c);
}

static void
free_zombies(struct tao_loop *l)
{
	struct tao_client *c, *ctmp;
	struct tao__watch *w, *wtmp;

	if (l->l_zombies == 0)
		return;
	LIST_FOREACH_SAFE(w, &l->l_watches, w_entry, wtmp)
		if (w->w_dead) {
			LIST_REMOVE(w, w_entry);
			free(w);
		}
	TAILQ_FOREACH_SAFE(c, &l->l_clients, c_entry, ctmp)
		if (tao__client_is_zombie(c))
			tao__client_destroy(c);
	l->l_zombies = 0;
}

/* Something could still happen: a descriptor to watch, a timer, output. */
static int
loop_alive(const struct tao_loop *l)
{
	return l->l_nfds > 0 || tao__timers_count(l->l_timers) > 0 ||
	    !TAILQ_EMPTY(&l->l_flush) || !TAILQ_EMPTY(&l->l_again);
}

static int
poll_timeout(struct tao_loop *l, int timeout_ms)
{
	int t;

	/* A timer callback that stopped the loop must not wait for I/O. */
	if (l->l_stop || !TAILQ_EMPTY(&l->l_flush) ||
	    !TAILQ_EMPTY(&l->l_again))
		return 0;
	t = tao__timers_timeout(l->l_timers, tao__now_ms());
	if (t == -1 || (timeout_ms >= 0 && timeout_ms < t))
		t = timeout_ms;
	return t;
}

int
tao_loop_run_once(struct tao_loop *l, int timeout_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	int i, n, saved;

	if (l == NULL)
		return TAO_EINVAL;
	if (l->l_running)
		return TAO_ESTATE;
	l->l_running = 1;
	l->l_stop = 0;	/* a stop asks for the end of one iteration */
	(void)tao__timers_run(l->l_timers, tao__now_ms());
	flush_all(l);
	if (timeout_ms < 0 && !loop_alive(l))
		timeout_ms = 0;		/* nothing could ever wake us */
	n = epoll_wait(l->l_epfd, evs, MAX_EVENTS, poll_timeout(l,
	    timeout_ms));
	saved = errno;
	for (i = 0; i < n; i++) {
		struct tao__loop_io *io = evs[i].data.ptr;

		if (io->io_fd != -1)
			io->io_cb(io, evs[i].events);
	}
	read_held_input(l);
	flush_all(l);
	free_zombies(l);
	l->l_running = 0;
	if (n == -1 && saved != EINTR) {
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
	struct loop_priv *lp = (struct loop_priv *)l;
	struct tao_client *c;
	struct tao__watch *w;
	struct loop_timer *t;

	if (l == NULL)
		return;
	while ((c = TAILQ_FIRST(&l->l_clients)) != NULL)
		tao__client_destroy(c);
	while ((w = LIST_FIRST(&l->l_watches)) != NULL) {
		LIST_REMOVE(w, w_entry);
		free(w);
	}
	while ((t = LIST_FIRST(&lp->lp_timers)) != NULL) {
		LIST_REMOVE(t, lt_entry);
		free(t);
	}
	tao__timers_free(l->l_timers);
	tao__wq_pool_free(&l->l_pool);
	free(l->l_rbuf);
	close(l->l_epfd);
	free(lp);
}
