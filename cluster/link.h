/*
 * link.h - one connection to Redis driven by the bridge's core/loop: the
 * hiredis async API with a small adapter (its add/del read/write hooks
 * become epoll interest on a struct tao_io), a connect timeout, and
 * reconnection with exponential back-off and jitter (link.c).
 */
#ifndef TAO_CLUSTER_LINK_H
#define TAO_CLUSTER_LINK_H

#include <stdint.h>

#include "core/loop.h"

struct redisAsyncContext;
struct tao_bridge;
struct tao_rlink;

/* Called when a connection attempt starts (after AUTH and SELECT were
 * queued), to queue what this link is for (SUBSCRIBE): hiredis sends it
 * once connected. */
typedef void (*tao_rlink_up_fn)(struct tao_rlink *);
/* Called when a connected link is lost or a connection attempt failed. */
typedef void (*tao_rlink_down_fn)(struct tao_rlink *);

struct tao_rlink {
	struct tao_io			 l_io;		/* first: container */
	struct redisAsyncContext	*l_ac;		/* NULL: none now */
	struct tao_evloop		*l_loop;
	struct tao_bridge		*l_b;
	const char			*l_name;	/* "publisher" ... */
	const char			*l_host;
	int				 l_port;
	int				 l_db;		/* -1: no SELECT */
	const char			*l_password;	/* "": no AUTH */
	int				 l_connected;
	int				 l_closing;	/* no more retries */
	unsigned			 l_failures;	/* in a row */
	int				 l_logged;	/* the failure was */
	int64_t				 l_timer;	/* 0: none */
	uint64_t			 l_rand;	/* jitter state */
	tao_rlink_up_fn			 l_on_up;
	tao_rlink_down_fn		 l_on_down;
	tao_rlink_up_fn			 l_on_connected;	/* connect done */
};

/* The io kind the adapter registers its sockets with. */
#define TAO_RLINK_IO_KIND	2

void	tao__rlink_init(struct tao_rlink *, struct tao_evloop *,
	    struct tao_bridge *, const char *name, uint64_t seed);
/* Connect now (a failure schedules the next attempt). */
void	tao__rlink_connect(struct tao_rlink *);
/* Drop the connection (pending callbacks get NULL replies), no retry. */
void	tao__rlink_close(struct tao_rlink *);
/* The loop handler for TAO_RLINK_IO_KIND. */
void	tao__rlink_on_io(struct tao_evloop *, struct tao_io *, uint32_t);

#endif
