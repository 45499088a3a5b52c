/*
 * wshm.h - the worker's side of shared memory: the global connection
 * limit, netids and the connection table, behind a few calls so the
 * connection code does not know the layout.  Owners of each counter are
 * listed at the top of wshm.c.
 */
#ifndef TAO_WORKER_WSHM_H
#define TAO_WORKER_WSHM_H

#include <stddef.h>

struct tao_worker;
struct tao_conn;

/* Arm the periodic counter publish (once, at worker start).  0 or -1. */
int	tao__wshm_attach(struct tao_worker *);
/* Count the connection against max_connections, give it a netid (one
 * that names its table row) and a table row holding c_peer.  -1 when
 * the global limit is reached. */
int	tao__wshm_conn_open(struct tao_worker *, struct tao_conn *);
/* Copy c's peer (c_peer, changed by a PROXY header) to its row. */
void	tao__wshm_conn_set_peer(struct tao_conn *);
/* Give back the unit and the row; the netid no longer reaches c. */
void	tao__wshm_conn_close(struct tao_worker *, struct tao_conn *);
/* Copy every open connection's counters to its row (rows that did not
 * change are only read).  Runs every second from a worker timer. */
void	tao__wshm_publish(struct tao_worker *);

#endif
