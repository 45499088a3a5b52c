/*
 * ring.h - the worker's end of the cross-worker broadcast rings: attach at
 * start, consume on wake-up, and the sleep/wake handshake around
 * epoll_wait (see shm/ring.h for the protocol).
 */
#ifndef TAO_WORKER_RING_H
#define TAO_WORKER_RING_H

struct tao_worker;

int	tao__ring_attach(struct tao_worker *);
void	tao__ring_detach(struct tao_worker *);
/* Before epoll_wait: returns the timeout to use (0 if records wait). */
int	tao__ring_before_poll(struct tao_worker *, int timeout);
void	tao__ring_after_poll(struct tao_worker *);
void	tao__ring_on_event(struct tao_worker *);

#endif
