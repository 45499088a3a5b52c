/*
 * pool.h - the worker's pool of threads for blocking handlers
 * (tao_server_register_blocking).
 *
 *	loop thread                           pool threads (N)
 *	-----------                           ----------------
 *	blocking frame -> job (message copy)
 *	   conn: c_job set, not read   ----->  p_jobs (locked FIFO,
 *	   (p_waiting if p_jobs is full)        at most queue_max)
 *	                                       handler(conn, msg)
 *	                                         tao_conn_send  -> SEND op
 *	                                         tao_conn_close -> CLOSE op
 *	                                       job returns      -> DONE op
 *	eventfd readable  <------------------  p_ops (locked FIFO) + eventfd
 *	   apply ops in order: send, close;
 *	   DONE: c_job cleared, the conn is read again (or, if it closed
 *	   meanwhile, its on_error/on_close run now and it is freed)
 *
 * The loop owns every connection: a pool thread never touches one except
 * through the ops and its immutable fields (netid, peer, codec, server).
 * A connection has at most one job, so its frames keep their order; the
 * connection's memory lives until its DONE op is applied.
 */
#ifndef TAO_WORKER_POOL_H
#define TAO_WORKER_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/registry.h"
#include "worker/entry.h"

struct tao_worker;
struct tao_conn;
struct tao_pool;

/* Start the pool (threads, eventfd on the loop); 0 or -1 (errno). */
int	tao__pool_start(struct tao_worker *, int nthreads, uint32_t queue_max);
/* Join the threads and free the pool (no job may be left). */
void	tao__pool_stop(struct tao_worker *);
/* The eventfd is readable: apply what the threads handed back. */
void	tao__pool_on_event(struct tao_worker *);
/*
 * Run h for this frame on the pool: 0 (the connection is not read until
 * the job is done), or TAO_ENOMEM.
 */
int	tao__pool_submit(struct tao_worker *, struct tao_conn *,
	    const struct tao_handler *, const struct tao_message *);
/* The connection closes while its job runs: sends now get TAO_ECLOSED;
 * err and errno are kept for its on_error (tao__conn_job_done). */
void	tao__pool_conn_closed(struct tao_conn *, int err, int saved_errno);

/* On a pool thread (tao__pool_current() != NULL): conn.c's halves. */
int	tao__pool_send(struct tao_job *, struct tao_conn *, int32_t type,
	    const void *, size_t);
void	tao__pool_close(struct tao_job *, struct tao_conn *);

#endif
