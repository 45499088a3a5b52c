/*
 * loop.h - internal interface of the client's event loop (struct tao_loop,
 * public in tao.h): what client.c and io.c need from loop.c and the
 * reverse.
 *
 * A loop is one epoll set, one timer heap (core/timer.h, which depends on
 * nothing else in worker/) and three lists of clients:
 *
 *	l_clients   every client made on this loop, freed by tao_loop_free
 *	l_flush     clients with output queued since their last write
 *	l_again     TLS clients whose SSL object holds decrypted input that
 *	            epoll cannot announce (the socket itself may be empty)
 *
 * Whatever sits in epoll_data is a struct tao__loop_io; its callback says
 * what it belongs to (a client's socket or a caller's watched fd).
 */
#ifndef TAO_CLIENT_LOOP_H
#define TAO_CLIENT_LOOP_H

#include <sys/queue.h>
#include <stdint.h>

#include "tao.h"
#include "core/timer.h"
#include "core/wqueue.h"

struct tao__loop_io;
typedef void	(*tao__loop_io_cb)(struct tao__loop_io *, uint32_t revents);

/*
 * One descriptor in the epoll set.  io_fd is -1 when there is none: an
 * event that was already collected for a descriptor closed by an earlier
 * callback of the same batch finds -1 and is dropped.  New sockets are
 * opened only from timer callbacks, never during the I/O phase, so a
 * stale event can never be taken for one on a new descriptor.
 */
struct tao__loop_io {
	int		 io_fd;
	uint32_t	 io_events;	/* epoll mask registered, 0: none */
	tao__loop_io_cb	 io_cb;
};

#define TAO_LOOP_RBUF_SIZE	(64 * 1024)

struct tao__watch;
TAILQ_HEAD(tao__clients, tao_client);

struct tao_loop {
	int			 l_epfd;
	struct tao_timers	*l_timers;
	struct tao_wq_pool	 l_pool;	/* output chunks, all clients */
	uint8_t			*l_rbuf;	/* shared read buffer */
	struct tao__clients	 l_clients;
	struct tao__clients	 l_flush;
	struct tao__clients	 l_again;
	LIST_HEAD(, tao__watch)	 l_watches;
	unsigned		 l_nfds;	/* descriptors in epoll */
	unsigned		 l_zombies;	/* freed, memory not yet */
	int			 l_running;	/* inside tao_loop_run_once */
	int			 l_stop;
};

/*
 * Add, change or remove (events 0) io in the epoll set; io->io_fd must
 * be set.  0, or -1 with errno.
 */
int	tao__loop_io_set(struct tao_loop *, struct tao__loop_io *,
	    uint32_t events);
/* Remove io from the epoll set (if it is there) and close its fd. */
void	tao__loop_io_close(struct tao_loop *, struct tao__loop_io *);

/* CLOCK_MONOTONIC ms, rounded up: the base of relative deadlines. */
uint64_t tao__loop_deadline(uint64_t ms_from_now);

/* Hooks into client.c/io.c, called by loop.c at the points its phase
 * comment names. */
void	tao__client_flush(struct tao_client *);
void	tao__client_read_again(struct tao_client *);
void	tao__client_destroy(struct tao_client *);
int	tao__client_is_zombie(const struct tao_client *);

#endif /* TAO_CLIENT_LOOP_H */
