/*
 * pool.c - blocking handlers on a per-worker thread pool (pool.h has the
 * picture).  Two locked FIFOs: jobs to the threads (a condition variable
 * wakes them), ops back to the loop (an eventfd wakes it, written only
 * when the FIFO goes from empty to non-empty, since the loop always
 * reads the eventfd before it takes the FIFO).
 */
#include <sys/eventfd.h>
#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "worker/conn.h"
#include "worker/pool.h"
#include "worker/worker.h"
#include "worker/whist.h"

#define POOL_MAX_THREADS	64

enum { OP_SEND = 1, OP_CLOSE, OP_DONE };

struct tao_op {
	STAILQ_ENTRY(tao_op)	 o_entry;
	struct tao_job		*o_job;
	int			 o_kind;
	int32_t			 o_type;
	size_t			 o_len;
	const uint8_t		*o_data;	/* just after the op */
};

struct tao_job {
	STAILQ_ENTRY(tao_job)	 j_entry;
	struct tao_pool		*j_pool;
	struct tao_conn		*j_conn;	/* valid until DONE is applied */
	const struct tao_handler *j_handler;
	struct tao_message	 j_msg;		/* data -> j_data */
	size_t			 j_max_frame;
	atomic_int		 j_closed;	/* the loop closed the conn */
	int			 j_close_err;	/* why, for on_error: loop */
	int			 j_close_errno;
	int			 j_closing;	/* the handler closed it */
	uint64_t		 j_ns;		/* the handler's run (whist.h) */
	struct tao_op		 j_done;	/* posted when it returns */
	uint8_t			 j_data[];
};

STAILQ_HEAD(tao_job_list, tao_job);
STAILQ_HEAD(tao_op_list, tao_op);

struct tao_pool {
	pthread_mutex_t		 p_lock;	/* p_jobs, p_njobs, p_stop */
	pthread_cond_t		 p_cond;
	struct tao_job_list	 p_jobs;
	uint32_t		 p_njobs;	/* queued, not yet running */
	int			 p_stop;
	pthread_mutex_t		 p_ops_lock;	/* p_ops */
	struct tao_op_list	 p_ops;
	struct tao_io		 p_io;		/* the eventfd */
	/* Loop thread only: jobs over the queue bound, in arrival order. */
	struct tao_job_list	 p_waiting;
	uint32_t		 p_queue_max;
	int			 p_nthreads;
	pthread_t		 p_threads[POOL_MAX_THREADS];
};

static __thread struct tao_job *current_job;

struct tao_job *
tao__pool_current(void)
{
	return current_job;
}

/* Any thread: hand op to the loop. */
static void
post(struct tao_pool *p, struct tao_op *op)
{
	uint64_t one = 1;
	int wake;

	pthread_mutex_lock(&p->p_ops_lock);
	wake = STAILQ_EMPTY(&p->p_ops);
	STAILQ_INSERT_TAIL(&p->p_ops, op, o_entry);
	pthread_mutex_unlock(&p->p_ops_lock);
	if (wake && write(p->p_io.io_fd, &one, sizeof(one)) == -1 &&
	    errno != EAGAIN)
		log_warn("pool: eventfd write");
}

static void *
thread_main(void *arg)
{
	struct tao_pool *p = arg;
	struct tao_job *j;

	for (;;) {
		pthread_mutex_lock(&p->p_lock);
		while (STAILQ_EMPTY(&p->p_jobs) && !p->p_stop)
			pthread_cond_wait(&p->p_cond, &p->p_lock);
		if ((j = STAILQ_FIRST(&p->p_jobs)) == NULL) {
			pthread_mutex_unlock(&p->p_lock);
			return NULL;	/* stopping, nothing left */
		}
		STAILQ_REMOVE_HEAD(&p->p_jobs, j_entry);
		p->p_njobs--;
		pthread_mutex_unlock(&p->p_lock);

		current_job = j;
		uint64_t t0 = tao__now_ns();
		j->j_handler->h_handler(j->j_conn, &j->j_msg,
		    j->j_handler->h_arg);
		j->j_ns = tao__now_ns() - t0;
		current_job = NULL;
		post(p, &j->j_done);	/* part of the job: cannot fail */
	}
}

/* ---- pool threads: the thread-safe calls -------------------------------- */

int
tao__pool_send(struct tao_job *j, struct tao_conn *c, int32_t type,
    const void *data, size_t len)
{
	struct tao_op *op;

	if (c != j->j_conn)
		return TAO_ESTATE;
	if (j->j_closing || atomic_load_explicit(&j->j_closed,
	    memory_order_acquire))
		return TAO_ECLOSED;
	if (len > j->j_max_frame)
		return TAO_ETOOBIG;
	if ((op = malloc(sizeof(*op) + len)) == NULL)
		return TAO_ENOMEM;
	op->o_job = j;
	op->o_kind = OP_SEND;
	op->o_type = type;
	op->o_len = len;
	op->o_data = (const uint8_t *)(op + 1);
	if (len > 0)
		memcpy(op + 1, data, len);
	post(j->j_pool, op);
	return 0;
}

void
tao__pool_close(struct tao_job *j, struct tao_conn *c)
{
	struct tao_op *op;

	if (c != j->j_conn || j->j_closing)
		return;
	j->j_closing = 1;
	/* A close that cannot be allocated still happens: at DONE. */
	if ((op = calloc(1, sizeof(*op))) == NULL)
		return;
	op->o_job = j;
	op->o_kind = OP_CLOSE;
	post(j->j_pool, op);
}

/* ---- the loop thread ---------------------------------------------------- */

/* Hand waiting jobs to the threads while the queue has room. */
static void
pool_feed(struct tao_pool *p, struct tao_job *j)
{
	int signal = 0;

	if (j != NULL)
		STAILQ_INSERT_TAIL(&p->p_waiting, j, j_entry);
	pthread_mutex_lock(&p->p_lock);
	while ((j = STAILQ_FIRST(&p->p_waiting)) != NULL &&
	    p->p_njobs < p->p_queue_max) {
		STAILQ_REMOVE_HEAD(&p->p_waiting, j_entry);
		STAILQ_INSERT_TAIL(&p->p_jobs, j, j_entry);
		p->p_njobs++;
		signal = 1;
	}
	if (signal)
		pthread_cond_broadcast(&p->p_cond);
	pthread_mutex_unlock(&p->p_lock);
}

int
tao__pool_submit(struct tao_worker *w, struct tao_conn *c,
    const struct tao_handler *h, const struct tao_message *m)
{
	struct tao_job *j;

	if ((j = calloc(1, sizeof(*j) + m->len)) == NULL)
		return TAO_ENOMEM;
	if (tao__conn_set_job(c, j) == -1) {	/* its cold part */
		free(j);
		return TAO_ENOMEM;
	}
	j->j_pool = w->w_pool;
	j->j_conn = c;
	j->j_handler = h;
	j->j_msg = *m;
	j->j_msg.data = j->j_data;
	if (m->len > 0)
		memcpy(j->j_data, m->data, m->len);
	j->j_max_frame = w->w_p.wp_settings.st_max_frame;
	atomic_init(&j->j_closed, 0);
	j->j_done.o_job = j;
	j->j_done.o_kind = OP_DONE;
	pool_feed(w->w_pool, j);
	return 0;
}

void
tao__pool_conn_closed(struct tao_conn *c, int err, int saved_errno)
{
	struct tao_job *j = tao__conn_job(c);

	j->j_close_err = err;
	j->j_close_errno = saved_errno;
	atomic_store_explicit(&j->j_closed, 1, memory_order_release);
}

static void
apply(struct tao_op *op)
{
	struct tao_job *j = op->o_job;
	struct tao_conn *c = j->j_conn;

	switch (op->o_kind) {
	case OP_SEND:
		(void)tao__conn_send_job(c, op->o_type, op->o_data, op->o_len);
		free(op);
		break;
	case OP_CLOSE:
		tao_conn_close(c);
		free(op);
		break;
	case OP_DONE: {
		int err = j->j_close_err, saved_errno = j->j_close_errno;
		(void)tao__conn_set_job(c, NULL);	/* it has a cold part */
		tao__whist_job(tao__conn_worker(c), j->j_handler, j->j_ns);
		if (j->j_closing)
			tao_conn_close(c);
		free(j);
		tao__conn_job_done(c, err, saved_errno);
		break;
	}
	}
}

void
tao__pool_on_event(struct tao_worker *w)
{
	struct tao_pool *p = w->w_pool;
	struct tao_op_list ops;
	struct tao_op *op;
	uint64_t n;
	int done = 0;

	if (read(p->p_io.io_fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		log_warn("pool: eventfd read");
	pthread_mutex_lock(&p->p_ops_lock);
	STAILQ_INIT(&ops);
	STAILQ_CONCAT(&ops, &p->p_ops);
	pthread_mutex_unlock(&p->p_ops_lock);
	while ((op = STAILQ_FIRST(&ops)) != NULL) {
		STAILQ_REMOVE_HEAD(&ops, o_entry);
		done += op->o_kind == OP_DONE;
		apply(op);
	}
	if (done > 0)
		pool_feed(p, NULL);
}

int
tao__pool_start(struct tao_worker *w, int nthreads, uint32_t queue_max)
{
	struct tao_pool *p;
	int fd, rc;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	pthread_mutex_init(&p->p_lock, NULL);
	pthread_cond_init(&p->p_cond, NULL);
	pthread_mutex_init(&p->p_ops_lock, NULL);
	STAILQ_INIT(&p->p_jobs);
	STAILQ_INIT(&p->p_ops);
	STAILQ_INIT(&p->p_waiting);
	p->p_queue_max = queue_max > 0 ? queue_max : 1;
	p->p_io.io_fd = -1;
	w->w_pool = p;
	if ((fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto fail;
	if (tao__io_add(&w->w_loop, &p->p_io, TAO_IO_POOL, fd, EPOLLIN) == -1) {
		close(fd);
		p->p_io.io_fd = -1;
		goto fail;
	}
	if (nthreads > POOL_MAX_THREADS)
		nthreads = POOL_MAX_THREADS;
	for (; p->p_nthreads < nthreads; p->p_nthreads++)
		if ((rc = pthread_create(&p->p_threads[p->p_nthreads], NULL,
		    thread_main, p)) != 0) {
			errno = rc;
			goto fail;
		}
	return 0;
fail:
	tao__pool_stop(w);
	return -1;
}

void
tao__pool_stop(struct tao_worker *w)
{
	struct tao_pool *p = w->w_pool;
	struct tao_op *op;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->p_lock);
	p->p_stop = 1;
	pthread_cond_broadcast(&p->p_cond);
	pthread_mutex_unlock(&p->p_lock);
	for (int i = 0; i < p->p_nthreads; i++)
		pthread_join(p->p_threads[i], NULL);
	/* The loop ran until every connection, and so every job, was done;
	 * only ops of nothing could be left. */
	while ((op = STAILQ_FIRST(&p->p_ops)) != NULL) {
		STAILQ_REMOVE_HEAD(&p->p_ops, o_entry);
		if (op->o_kind != OP_DONE)
			free(op);
	}
	if (p->p_io.io_fd != -1)
		tao__io_close(&w->w_loop, &p->p_io);
	pthread_mutex_destroy(&p->p_lock);
	pthread_cond_destroy(&p->p_cond);
	pthread_mutex_destroy(&p->p_ops_lock);
	free(p);
	w->w_pool = NULL;
}
