/*
 * loop.c - the event-loop core (loop.h): the epoll set of watchers, the
 * generation check that drops stale events, timers and the shared read
 * buffer.  The iteration itself is tao__evloop_run_once in loop.h.
 */
#include <sys/types.h>
#include <sys/epoll.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/loop.h"
#include "core/timer.h"

/* One clock reading for both caches (floor milliseconds). */
static void
now_refresh(struct tao_evloop *l)
{
	l->el_now_ns = tao__now_ns();
	l->el_now_ms = l->el_now_ns / 1000000;
}

int
tao__evloop_init(struct tao_evloop *l, size_t rbuf_size, void *owner)
{
	memset(l, 0, sizeof(*l));
	l->el_epfd = -1;
	l->el_owner = owner;
	now_refresh(l);
	TAILQ_INIT(&l->el_flush);
	TAILQ_INIT(&l->el_closed);
	tao__wq_pool_init(&l->el_pool);
	if ((l->el_timers = tao__timers_new()) == NULL)
		goto fail;
	if (rbuf_size > 0 && (l->el_rbuf = malloc(rbuf_size)) == NULL)
		goto fail;
	l->el_rbuf_size = rbuf_size;
	if ((l->el_epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		goto fail;
	return 0;
fail:
	tao__evloop_fini(l);
	return -1;
}

void
tao__evloop_fini(struct tao_evloop *l)
{
	tao__timers_free(l->el_timers);
	l->el_timers = NULL;
	tao__wq_pool_free(&l->el_pool);
	free(l->el_rbuf);
	l->el_rbuf = NULL;
	if (l->el_epfd != -1)
		close(l->el_epfd);
	l->el_epfd = -1;
}

void
tao__evloop_handle(struct tao_evloop *l, int kind, tao_io_fn fn)
{
	l->el_fn[kind] = fn;
}

int
tao__io_set(struct tao_evloop *l, struct tao_io *io, uint32_t events)
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
	if (epoll_ctl(l->el_epfd, op, io->io_fd, &ev) == -1)
		return -1;
	if (op == EPOLL_CTL_ADD)
		l->el_nfds++;
	else if (op == EPOLL_CTL_DEL)
		l->el_nfds--;
	io->io_events = (uint16_t)events;
	return 0;
}

int
tao__io_add(struct tao_evloop *l, struct tao_io *io, int kind, int fd,
    uint32_t events)
{
	io->io_kind = (uint8_t)kind;
	io->io_fd = fd;
	io->io_events = 0;
	return tao__io_set(l, io, events);
}

void
tao__io_forget(struct tao_evloop *l, struct tao_io *io)
{
	if (io->io_events != 0 && tao__io_set(l, io, 0) == -1) {
		/* The fd was closed already: epoll dropped it itself. */
		io->io_events = 0;
		l->el_nfds--;
	}
	io->io_gen++;
}

void
tao__io_forget_unshared(struct tao_evloop *l, struct tao_io *io)
{
	if (io->io_events != 0) {
		io->io_events = 0;
		l->el_nfds--;
	}
	io->io_gen++;
}

void
tao__io_close(struct tao_evloop *l, struct tao_io *io)
{
	if (io->io_fd == -1)
		return;
	tao__io_forget(l, io);
	close(io->io_fd);
	io->io_fd = -1;
}

void
tao__evloop_timers_run(struct tao_evloop *l)
{
	now_refresh(l);
	(void)tao__timers_run(l->el_timers, l->el_now_ms);
}

int
tao__evloop_timeout(struct tao_evloop *l)
{
	return tao__timers_timeout(l->el_timers, tao__now_ms());
}

int
tao__evloop_wait(struct tao_evloop *l, int timeout)
{
	int n = epoll_wait(l->el_epfd, l->el_events, TAO_EVLOOP_MAX_EVENTS,
	    timeout);
	int saved = errno;

	now_refresh(l);
	if (n == -1) {
		errno = saved;
		return saved == EINTR ? 0 : -1;
	}
	/* Generations before any handler runs: see struct tao_io. */
	for (int i = 0; i < n; i++)
		l->el_gens[i] = ((struct tao_io *)l->el_events[i].data.ptr)->io_gen;
	return n;
}

void
tao__evloop_dispatch(struct tao_evloop *l, int n)
{
	for (int i = 0; i < n; i++) {
		struct tao_io *io = l->el_events[i].data.ptr;

		if (io->io_gen != l->el_gens[i] || io->io_fd == -1)
			continue;	/* closed by an earlier callback */
		l->el_fn[io->io_kind](l, io, l->el_events[i].events);
	}
}
