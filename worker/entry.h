/*
 * entry.h - the worker's entry point, the one worker/ header the master
 * includes: what a forked child is given (struct tao_worker_params,
 * inherited descriptors included) and the call that runs the worker.
 * The parent never touches the worker's memory after the fork.
 */
#ifndef TAO_WORKER_ENTRY_H
#define TAO_WORKER_ENTRY_H

#include <stdint.h>

#include "core/registry.h"
#include "core/settings.h"

#define TAO_WORKER_MAX_LISTENERS	16

struct tao_server;
struct tao_shm;
struct ssl_ctx_st;

struct tao_worker_params {
	struct tao_server		*wp_server;	/* for callbacks */
	const struct tao_registry	*wp_registry;
	struct tao_settings		 wp_settings;
	int				 wp_slot;	/* listener slot */
	int				 wp_islot;	/* shm instance */
	uint32_t			 wp_generation;
	int				 wp_nlisteners;
	int				 wp_listen_fd[TAO_WORKER_MAX_LISTENERS];
	const struct tao_codec		*wp_codec[TAO_WORKER_MAX_LISTENERS];
	int				 wp_tls[TAO_WORKER_MAX_LISTENERS];
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

#endif /* TAO_WORKER_ENTRY_H */
