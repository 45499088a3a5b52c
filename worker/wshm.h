/*
 * wshm.h - the worker's side of shared memory: the global connection
 * limit, netids and the connection table, behind three calls so the
 * connection code does not know the layout.
 */
#ifndef TAO_WORKER_WSHM_H
#define TAO_WORKER_WSHM_H

struct tao_worker;
struct tao_conn;
struct sockaddr;

/* Count the connection against max_connections, give it a netid and a
 * table row.  -1 when the global limit is reached. */
int	tao__wshm_conn_open(struct tao_worker *, struct tao_conn *,
	    const struct sockaddr *peer);
void	tao__wshm_conn_close(struct tao_worker *, struct tao_conn *);
/* Publish the connection's counters to its table row (once per event). */
void	tao__wshm_conn_update(struct tao_worker *, struct tao_conn *);

#endif
