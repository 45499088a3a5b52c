/*
 * wring.h - the worker's end of the cross-worker broadcast rings: attach at
 * start, consume on wake-up, and the sleep/wake handshake around
 * epoll_wait (see shm/ring.h for the protocol).
 */
#ifndef TAO_WORKER_WRING_H
#define TAO_WORKER_WRING_H

#include <stddef.h>
#include <stdint.h>

struct tao_worker;

int	tao__wring_attach(struct tao_worker *);
void	tao__wring_detach(struct tao_worker *);
/* Before epoll_wait: returns the timeout to use (0 if records wait). */
int	tao__wring_before_poll(struct tao_worker *, int timeout);
void	tao__wring_after_poll(struct tao_worker *);
void	tao__wring_on_event(struct tao_worker *);
/* tao_server_broadcast() and tao_server_unicast() of this worker
 * (tao.h has the contracts; master/server.c resolves the handle). */
int	tao__wring_broadcast(struct tao_worker *, int32_t type, const void *,
	    size_t);
int	tao__wring_unicast(struct tao_worker *, uint64_t netid, int32_t type,
	    const void *, size_t);

#endif
