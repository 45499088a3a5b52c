/*
 * loop.h - the one event-loop core: an epoll set of watchers, the timer
 * heap, the write-queue chunk pool, one flush list, one deferred-free
 * list and the shared read buffer.  A worker (worker/loop.c) and a
 * client loop (client/loop.c) each embed one and run it with
 * tao__evloop_run_once and their own hooks.
 *
 * One iteration, in this order (like libuv's uv_run):
 *
 *	1. timers due       tao__timers_run at the cached el_now_ms
 *	2. flush            output queued by timers or between iterations;
 *	                    a deferred close (tao_conn_close: marked and
 *	                    queued here) writes what is queued, then closes
 *	3. deferred frees   what was closed since the last free (memory only:
 *	                    the fd left epoll and was closed at close time)
 *	4. poll             the owner's before_poll may stop the loop or
 *	                    shorten the timeout (0 while work is pending)
 *	5. I/O events       each watcher's handler (by its kind), stale
 *	                    events dropped: see struct tao_io
 *	6. owner's work     after_io: e.g. TLS input OpenSSL holds (client),
 *	                    connections to hand over (worker)
 *	7. flush            output queued by the callbacks of steps 5-6
 *	8. deferred frees   what steps 5-7 closed; nothing is freed earlier,
 *	                    so a later event of the same batch, a message a
 *	                    callback holds or a loop over connections never
 *	                    reaches freed memory
 */
#ifndef TAO_CORE_LOOP_H
#define TAO_CORE_LOOP_H

#include <sys/epoll.h>
#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "core/wqueue.h"

#define TAO_IO_KINDS		8
#define TAO_EVLOOP_MAX_EVENTS	256
#define TAO_EVLOOP_STOP		(-2)

/*
 * A watcher: what epoll_data points at.  io_kind picks the handler in the
 * loop's table (a callback per watcher, in 1 byte instead of 8: a
 * connection stays in its 224-byte allocation class).  io_gen changes
 * whenever io_fd is closed: the loop reads every event's generation
 * before running any handler and drops an event whose watcher's
 * generation moved meanwhile (closed, or closed and reopened by an
 * earlier callback of the same batch).  A watcher's memory must live
 * until the deferred frees of the iteration that closed it.
 */
struct tao_io {
	int		io_fd;		/* -1: none */
	uint16_t	io_events;	/* registered epoll mask, 0: none */
	uint8_t		io_kind;	/* < TAO_IO_KINDS */
	uint8_t		io_gen;
};

struct tao_evloop;
typedef void	(*tao_io_fn)(struct tao_evloop *, struct tao_io *,
		    uint32_t revents);

/* A node on the flush or deferred-free list, embedded in its owner. */
struct tao_pending {
	TAILQ_ENTRY(tao_pending) p_entry;	/* tqe_prev NULL: on none */
};
TAILQ_HEAD(tao_pending_list, tao_pending);

struct tao_timers;

struct tao_evloop {
	int			 el_epfd;
	unsigned		 el_nfds;	/* watchers in epoll */
	struct tao_timers	*el_timers;
	struct tao_wq_pool	 el_pool;	/* output chunks */
	uint64_t		 el_now_ms;	/* cached per iteration */
	uint64_t		 el_now_ns;	/* the same reading in ns, and
						 * newer ones of the worker's
						 * dispatch (worker/whist.h) */
	uint8_t			*el_rbuf;	/* shared read buffer */
	size_t			 el_rbuf_size;
	struct tao_pending_list	 el_flush;	/* output queued */
	struct tao_pending_list	 el_closed;	/* freed in steps 3, 8 */
	tao_io_fn		 el_fn[TAO_IO_KINDS];
	struct epoll_event	 el_events[TAO_EVLOOP_MAX_EVENTS];
	uint8_t			 el_gens[TAO_EVLOOP_MAX_EVENTS];
	void			*el_owner;	/* the worker, the client loop */
};

/* The owner's hooks for tao__evloop_run_once; flush and free must take
 * the node off its list. */
struct tao_evloop_ops {
	void	(*flush)(struct tao_pending *);
	void	(*free)(struct tao_pending *);
	/* Given the timers' timeout (-1: none): TAO_EVLOOP_STOP to end
	 * the iteration before polling, else the timeout to poll with. */
	int	(*before_poll)(struct tao_evloop *, int timeout);
	void	(*after_poll)(struct tao_evloop *);
	void	(*after_io)(struct tao_evloop *);
};

/* 0, or -1 with errno.  rbuf_size 0: no shared read buffer. */
int	tao__evloop_init(struct tao_evloop *, size_t rbuf_size, void *owner);
void	tao__evloop_fini(struct tao_evloop *);
void	tao__evloop_handle(struct tao_evloop *, int kind, tao_io_fn);

/* Add, change or remove (events 0) io; io->io_fd must be set.  0 or -1. */
int	tao__io_set(struct tao_evloop *, struct tao_io *, uint32_t events);
/* Set kind and fd and add with events: 0 or -1. */
int	tao__io_add(struct tao_evloop *, struct tao_io *, int kind, int fd,
	    uint32_t events);
/* Leave epoll (DEL before close: a duplicate of the fd may live on in
 * OpenSSL or a child), close the fd, move the generation. */
void	tao__io_close(struct tao_evloop *, struct tao_io *);
/* The same without closing the fd (it is the caller's). */
void	tao__io_forget(struct tao_evloop *, struct tao_io *);
/*
 * The same for an fd the caller closes right after and that no other
 * descriptor or process shares (accepted with SOCK_CLOEXEC, never
 * passed on): close(2) takes it out of epoll itself, so no epoll_ctl.
 * A stale event of this iteration is caught by the generation.
 */
void	tao__io_forget_unshared(struct tao_evloop *, struct tao_io *);

/* Step 4: epoll_wait into el_events, then refresh el_now_ms: the number
 * of events, or -1 (errno; EINTR is not a failure: 0). */
int	tao__evloop_wait(struct tao_evloop *, int timeout);
/* Step 5: run the handler of each of the n events not stale. */
void	tao__evloop_dispatch(struct tao_evloop *, int n);

static inline int
tao__pending_linked(const struct tao_pending *p)
{
	return p->p_entry.tqe_prev != NULL;
}

static inline void
tao__pending_unlink(struct tao_pending_list *list, struct tao_pending *p)
{
	TAILQ_REMOVE(list, p, p_entry);
	p->p_entry.tqe_prev = NULL;
}

/* Queue for the next flush (once). */
static inline void
tao__evloop_flush_add(struct tao_evloop *l, struct tao_pending *p)
{
	if (!tao__pending_linked(p))
		TAILQ_INSERT_TAIL(&l->el_flush, p, p_entry);
}

/* Off the flush list (if on it; never call for a node on el_closed). */
static inline void
tao__evloop_flush_del(struct tao_evloop *l, struct tao_pending *p)
{
	if (tao__pending_linked(p))
		tao__pending_unlink(&l->el_flush, p);
}

/* Closed: off the flush list, freed in the next deferred-free step. */
static inline void
tao__evloop_defer_free(struct tao_evloop *l, struct tao_pending *p)
{
	tao__evloop_flush_del(l, p);
	TAILQ_INSERT_TAIL(&l->el_closed, p, p_entry);
}

/* The flush and free steps.  fn is the owner's (a constant at each call
 * site, so it is a direct call once inlined). */
static inline void
tao__evloop_flush(struct tao_evloop *l, void (*fn)(struct tao_pending *))
{
	struct tao_pending *p;

	/* fn takes p off the list; new output goes to the tail. */
	while ((p = TAILQ_FIRST(&l->el_flush)) != NULL)
		fn(p);
}

static inline void
tao__evloop_free_closed(struct tao_evloop *l,
    void (*fn)(struct tao_pending *))
{
	struct tao_pending *p;

	while ((p = TAILQ_FIRST(&l->el_closed)) != NULL) {
		tao__pending_unlink(&l->el_closed, p);
		fn(p);
	}
}

/* Step 1: refresh el_now_ms and run the timers due. */
void	tao__evloop_timers_run(struct tao_evloop *);
/* The timers' epoll timeout from now: -1 none, else ms. */
int	tao__evloop_timeout(struct tao_evloop *);

/*
 * One iteration, steps 1-8 of the comment above.  Returns 1 when
 * before_poll stopped it, -1 when epoll_wait failed (errno; EINTR is
 * not a failure), else 0.  ops is a static const object of the caller:
 * inlined, its hooks become direct calls.
 */
static inline int
tao__evloop_run_once(struct tao_evloop *l, const struct tao_evloop_ops *ops)
{
	int timeout, n;

	tao__evloop_timers_run(l);				/* 1 */
	tao__evloop_flush(l, ops->flush);			/* 2 */
	tao__evloop_free_closed(l, ops->free);			/* 3 */
	timeout = ops->before_poll(l, tao__evloop_timeout(l));
	if (timeout == TAO_EVLOOP_STOP)
		return 1;
	n = tao__evloop_wait(l, timeout);			/* 4 */
	if (ops->after_poll != NULL)
		ops->after_poll(l);
	if (n == -1)
		return -1;
	tao__evloop_dispatch(l, n);				/* 5 */
	if (ops->after_io != NULL)
		ops->after_io(l);				/* 6 */
	tao__evloop_flush(l, ops->flush);			/* 7 */
	tao__evloop_free_closed(l, ops->free);			/* 8 */
	return 0;
}

#endif /* TAO_CORE_LOOP_H */
