/*
 * worker.h - one worker process: an epoll loop serving the listener
 * sockets of its slot.  Created in the forked child; the parent passes
 * everything it needs in struct tao_worker_params (inherited descriptors
 * included) and never touches the worker's memory.
 */
#ifndef TAO_WORKER_WORKER_H
#define TAO_WORKER_WORKER_H

#include <sys/queue.h>
#include <stdint.h>

#include "tao.h"
#include "core/loop.h"
#include "worker/entry.h"
#include "core/registry.h"
#include "core/settings.h"
#include "core/wqueue.h"
#include "shm/stats.h"
#include "worker/netmap.h"

#define TAO_READ_BUFFER_SIZE		(256 * 1024)

struct tao_shm;
struct tao_hist_block;
struct tao_ring_cursor;
struct tao_timers;
struct tao_conn;
struct ssl_ctx_st;

/* Watcher kinds (core/loop.h): which handler gets the event. */
enum tao_io_kind {
	TAO_IO_LISTENER = 1,
	TAO_IO_CONN,
	TAO_IO_CHANNEL,
	TAO_IO_SIGNAL,
	TAO_IO_RING,
	TAO_IO_POOL,		/* worker/pool.c's eventfd */
};

struct tao_listener {
	struct tao_io		 l_io;
	const struct tao_codec	*l_codec;
	int			 l_index;	/* position in the config */
	int			 l_polling;	/* registered in epoll */
	int			 l_tls;		/* connections speak TLS */
	const struct tao_listen_access *l_access; /* never NULL */
	int			 l_nodelay;	/* accepted sockets inherit
						   TCP_NODELAY from it */
};


enum tao_worker_state {
	TAO_WORKER_RUNNING = 0,
	TAO_WORKER_DRAINING,
	TAO_WORKER_STOPPING,
};

TAILQ_HEAD(tao_conn_list, tao_conn);

struct tao_worker {
	struct tao_worker_params w_p;
	struct tao_evloop	 w_loop;	/* epoll, timers, pool, lists */
	int			 w_state;
	struct tao_io		 w_channel_io;
	struct tao_io		 w_signal_io;
	struct tao_listener	 w_listeners[TAO_WORKER_MAX_LISTENERS];
	struct tao_conn_list	 w_conns;	/* open, and closed until freed */
	uint64_t		 w_accept_delay_ms;
	uint64_t		 w_accept_log_ms;
	uint64_t		 w_refuse_log_ms;
	uint64_t		 w_access_log_ms;	/* access.c */
	uint64_t		 w_access_quiet;
	struct tao_stats_block	*w_stats;	/* ours, in shared memory */
	struct tao_hist_block	*w_hist;	/* ours too (worker/whist.h) */
	/* Write-queue marks of connections with marked output in flight,
	 * by fd (worker/whist.c); NULL slots elsewhere. */
	struct tao_wq_marks	**w_marks;
	unsigned		 w_marks_cap;
	int			 w_hist_chain;	/* el_now_ns is the last frame's
						 * end, in this input batch */
	struct tao_netmap	 w_netmap;	/* our connections by netid */
	struct tao_io		 w_ring_io;	/* our eventfd */
	struct tao_ring_cursor	*w_cursors;	/* one per producer islot */
	int			 w_ring_wake_all; /* broadcast published */
	int			 w_ring_pending; /* records seen before poll */
	struct tao_ring_wake	 w_ring_wake;	/* unicast destinations */
	uint64_t		 w_live_seen[TAO_SHM_MAX_ISLOTS / 64];
	uint64_t		 w_ring_drops;	/* already counted */
	int			 w_handoff;	/* reload: hand connections over */
	int64_t			 w_handoff_timer;
	struct tao_pool		*w_pool;	/* blocking handlers, or NULL */
	int			 w_exit_code;
};


/* Inside the worker. */
void	tao__worker_drain(struct tao_worker *);
/* Stop accepting and arm the drain deadline (graceful stop and reload). */
void	tao__worker_drain_begin(struct tao_worker *);
/* handoff.c */
void	tao__worker_handoff(struct tao_worker *);
void	tao__worker_handoff_sweep(struct tao_worker *);
const struct tao_codec *tao__handoff_codec(uint32_t id);
void	tao__worker_pause_accept(struct tao_worker *);
void	tao__worker_flush_pending(struct tao_worker *);
/* timer_api.c: the server-wide timers of tao_server_timer_*(). */
int64_t	tao__worker_timer_add(struct tao_worker *, uint64_t ms,
	    uint64_t period_ms, tao_timer_fn, void *);
int	tao__worker_timer_cancel(struct tao_worker *, int64_t timer_id);

/* Our counters live in shared memory; only this process writes them. */
#define TAO_STAT_ADD(w, stat, n)	\
	tao__stats_add((w)->w_stats, TAO_STAT_##stat, (n))

#endif
