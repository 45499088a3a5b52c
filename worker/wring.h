/*
 * wring.h - the worker's end of the cross-worker broadcast rings: attach at
 * start, consume on wake-up, and the sleep/wake handshake around
 * epoll_wait (see shm/ring.h for the protocol).
 */
#ifndef TAO_WORKER_WRING_H
#define TAO_WORKER_WRING_H

struct tao_worker;

int	tao__wring_attach(struct tao_worker *);
void	tao__wring_detach(struct tao_worker *);
/* Before epoll_wait: returns the timeout to use (0 if records wait). */
int	tao__wring_before_poll(struct tao_worker *, int timeout);
void	tao__wring_after_poll(struct tao_worker *);
void	tao__wring_on_event(struct tao_worker *);

#endif
