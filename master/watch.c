/*
 * watch.c - the master's epoll registrations and their deferred frees
 * (the contract is in master.h, struct tao_watch).
 */
#include <sys/epoll.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/master.h"

int
tao__watch_add(struct tao_master *m, struct tao_watch *w, int fd,
    uint32_t events, tao_watch_fn *fn, void *owner)
{
	struct epoll_event ev;

	memset(w, 0, sizeof(*w));
	w->w_fd = fd;
	w->w_fn = fn;
	w->w_owner = owner;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = w;
	if (epoll_ctl(m->m_epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		return -1;
	w->w_events = events;
	return 0;
}

void
tao__watch_mod(struct tao_master *m, struct tao_watch *w, uint32_t events)
{
	struct epoll_event ev;

	if (w->w_dead || events == w->w_events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = w;
	if (events == 0)
		(void)epoll_ctl(m->m_epfd, EPOLL_CTL_DEL, w->w_fd, NULL);
	else if (epoll_ctl(m->m_epfd, w->w_events == 0 ? EPOLL_CTL_ADD :
	    EPOLL_CTL_MOD, w->w_fd, &ev) == -1)
		return;
	w->w_events = events;
}

void
tao__watch_kill(struct tao_master *m, struct tao_watch *w)
{
	if (w->w_dead)
		return;
	/* DEL before close: the fd number may be reused at once. */
	if (w->w_events != 0)
		(void)epoll_ctl(m->m_epfd, EPOLL_CTL_DEL, w->w_fd, NULL);
	if (w->w_fd >= 0)
		close(w->w_fd);
	w->w_fd = -1;
	w->w_events = 0;
	w->w_dead = 1;
	SLIST_INSERT_HEAD(&m->m_dead, w, w_dead_entry);
}

void
tao__watch_reap(struct tao_master *m)
{
	struct tao_watch *w;

	while ((w = SLIST_FIRST(&m->m_dead)) != NULL) {
		SLIST_REMOVE_HEAD(&m->m_dead, w_dead_entry);
		free(w->w_owner);
	}
}
