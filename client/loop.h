/*
 * loop.h - internal interface of the client's event loop (struct tao_loop,
 * opaque in tao.h): what client.c and io.c need from loop.c and the
 * reverse.
 *
 * A client loop is the event-loop core (core/loop.h: the epoll set of
 * watchers with generations, the timer heap, the chunk pool, the shared
 * read buffer, the one flush list and the one deferred-free list) plus
 * what only a client loop has:
 *
 *	l_clients   every client made on this loop, freed by tao_loop_free
 *	l_again     TLS clients whose SSL object holds decrypted input that
 *	            epoll cannot announce (the socket itself may be empty)
 *	l_watches   the caller's descriptors (tao_loop_add_fd)
 *	l_timers    the caller's timers (tao_loop_run_after/_every)
 *
 * Every watcher of a client loop starts with a struct tao__loop_watcher,
 * so that the core's deferred-free step can tell from the node alone
 * whether a client or a watch is to be freed:
 *
 *	struct tao_client, struct tao__watch
 *	+----------------------------+
 *	| lw_io       (epoll_data)   |  io_kind: TAO_LOOP_IO_CLIENT, _WATCH
 *	| lw_pending  (flush, free)  |  a client: on el_flush or el_closed;
 *	+----------------------------+  a watch: on el_closed only
 *	| the rest of the object     |
 */
#ifndef TAO_CLIENT_LOOP_H
#define TAO_CLIENT_LOOP_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "tao.h"
#include "core/loop.h"
#include "core/timer.h"
#include "core/wqueue.h"

/* The client loop's watcher kinds (io_kind, core/loop.h). */
enum {
	TAO_LOOP_IO_CLIENT,	/* a client's socket: io.c */
	TAO_LOOP_IO_WATCH,	/* a caller's descriptor: loop.c */
};

struct tao__loop_watcher {
	struct tao_io		 lw_io;		/* first: epoll_data */
	struct tao_pending	 lw_pending;
};

static inline struct tao__loop_watcher *
tao__loop_watcher_of(struct tao_pending *p)
{
	return (struct tao__loop_watcher *)(void *)((char *)p -
	    offsetof(struct tao__loop_watcher, lw_pending));
}

#define TAO_LOOP_RBUF_SIZE	(64 * 1024)

struct tao__watch;
struct tao__loop_timer;
TAILQ_HEAD(tao__clients, tao_client);

struct tao_loop {
	struct tao_evloop	 l_ev;		/* the core: see above */
	struct tao__clients	 l_clients;
	struct tao__clients	 l_again;
	LIST_HEAD(, tao__watch)	 l_watches;
	LIST_HEAD(, tao__loop_timer) l_timers;
	int			 l_timeout_ms;	/* this iteration's, -1: none */
	int			 l_running;	/* inside tao_loop_run_once */
	int			 l_stop;
};

/* CLOCK_MONOTONIC ms, rounded up: the base of relative deadlines. */
uint64_t tao__loop_deadline(uint64_t ms_from_now);

/* Hooks into client.c and io.c, called by loop.c at the steps its phase
 * comment names. */
void	tao__client_io(struct tao_client *, uint32_t revents);	/* 5 */
void	tao__client_read_again(struct tao_client *);		/* 6 */
void	tao__client_flush(struct tao_client *);			/* 2, 7 */
void	tao__client_destroy(struct tao_client *);		/* 3, 8 */

#endif /* TAO_CLIENT_LOOP_H */
