/*
 * entry.h - the worker's entry point, the one worker/ header the master
 * includes: what a forked child is given (struct tao_worker_params,
 * inherited descriptors included), the call that runs the worker, and
 * the few calls the server handle makes into the running worker.
 * The parent never touches the worker's memory after the fork.
 */
#ifndef TAO_WORKER_ENTRY_H
#define TAO_WORKER_ENTRY_H

#include <stdint.h>

#include "core/access.h"
#include "core/registry.h"
#include "core/settings.h"

#define TAO_WORKER_MAX_LISTENERS	16

struct tao_server;
struct tao_shm;
struct ssl_ctx_st;

struct tao_worker_params {
	struct tao_server		*wp_server;	/* for callbacks */
	/* Set to the running worker while tao__worker_run runs, NULL
	 * before and after: how the handle finds its worker (server.c). */
	struct tao_worker		**wp_bind;
	const struct tao_registry	*wp_registry;
	struct tao_settings		 wp_settings;
	int				 wp_slot;	/* listener slot */
	int				 wp_islot;	/* shm instance */
	uint32_t			 wp_generation;
	int				 wp_nlisteners;
	int				 wp_listen_fd[TAO_WORKER_MAX_LISTENERS];
	const struct tao_codec		*wp_codec[TAO_WORKER_MAX_LISTENERS];
	int				 wp_tls[TAO_WORKER_MAX_LISTENERS];
	/* PROXY header and allow/deny of each listener: the generation's
	 * config in the master's memory, which the fork copied. */
	const struct tao_listen_access	*wp_access[TAO_WORKER_MAX_LISTENERS];
	/* This generation's TLS context (master/tls.h), inherited at fork;
	 * NULL when no listener has tls. */
	struct ssl_ctx_st		*wp_tls_ctx;
	int				 wp_channel_fd;	/* -1: none */
	struct tao_shm			*wp_shm;
	const int			*wp_eventfds;	/* one per islot */
	int				 wp_nislots;
};

/* Runs the worker's loop until it stops; returns the process exit code
 * (2: a fatal configuration error, not to be respawned). */
int	tao__worker_run(const struct tao_worker_params *);

/*
 * What the server handle (master/server.c) calls inside the running
 * worker; struct tao_worker stays opaque to it.  Defined in wring.c and
 * timer_api.c (their own headers declare them too).
 */
struct tao_worker;
int	tao__wring_broadcast(struct tao_worker *, int32_t type, const void *,
	    size_t);
int	tao__wring_unicast(struct tao_worker *, uint64_t netid, int32_t type,
	    const void *, size_t);
int64_t	tao__worker_timer_add(struct tao_worker *, uint64_t ms,
	    uint64_t period_ms, tao_timer_fn, void *);
int	tao__worker_timer_cancel(struct tao_worker *, int64_t timer_id);
/* Non-NULL on a blocking-handler pool thread (worker/pool.c), where only
 * the thread-safe calls of tao.h are allowed. */
struct tao_job;
struct tao_job *tao__pool_current(void);

#endif /* TAO_WORKER_ENTRY_H */
