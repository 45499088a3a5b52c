/*
 * bridge.h - the cluster bridge's entry point, the one cluster/ header
 * the master includes: what the forked bridge process is given and the
 * call that runs it (design in cluster/bridge.c).
 */
#ifndef TAO_CLUSTER_BRIDGE_H
#define TAO_CLUSTER_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

struct tao_shm;

#define TAO_BRIDGE_HOST_MAX	256
#define TAO_BRIDGE_SECRET_MAX	256
#define TAO_BRIDGE_CHANNEL_MAX	64

struct tao_bridge_params {
	struct tao_shm	*bp_shm;
	const int	*bp_eventfds;		/* one per islot */
	int		 bp_nislots;
	int		 bp_islot;		/* the bridge's own */
	char		 bp_host[TAO_BRIDGE_HOST_MAX];
	int		 bp_port;
	int		 bp_db;			/* SELECT on the publisher */
	char		 bp_password[TAO_BRIDGE_SECRET_MAX];	/* "" none */
	char		 bp_channel[TAO_BRIDGE_CHANNEL_MAX];	/* prefix */
	unsigned	 bp_node_id;
	uint32_t	 bp_queue_max;		/* PUBLISHes awaiting a reply */
	size_t		 bp_max_frame;
};

/* Runs the bridge until SIGTERM, SIGINT or SIGQUIT; returns the exit
 * code (2: cannot run with these parameters, do not respawn). */
int	tao__bridge_run(const struct tao_bridge_params *);

#endif
