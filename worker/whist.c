/*
 * whist.c - the write-queue marks of the worker's connections (the
 * write-queue wait histogram, core/wqueue.h), kept outside struct
 * tao_conn: 280 bytes a connection would cost every idle connection,
 * while only those with marked output in flight need them.  They are
 * found by fd in w_marks, allocated when a connection queues its first
 * marked message and given back when its last marked byte is written or
 * it is freed.
 *
 * A closed connection's fd can be reused by a new connection before the
 * old one is freed (frees wait for the end of the loop's batch), so a
 * slot names its owner: a new owner takes the slot over, and the old
 * one's free leaves it alone.
 */
#include <stdlib.h>
#include <string.h>

#include "worker/whist.h"

static int
marks_grow(struct tao_worker *w, unsigned fd)
{
	unsigned cap = w->w_marks_cap ? w->w_marks_cap : 64;
	struct tao_wq_marks **v;

	while (cap <= fd)
		cap *= 2;
	if ((v = realloc(w->w_marks, cap * sizeof(*v))) == NULL)
		return -1;
	memset(v + w->w_marks_cap, 0, (cap - w->w_marks_cap) * sizeof(*v));
	w->w_marks = v;
	w->w_marks_cap = cap;
	return 0;
}

struct tao_wq_marks *
tao__whist_marks(struct tao_worker *w, struct tao_conn *c, size_t len)
{
	int fd = c->c_io.io_fd;
	struct tao_wq_marks *mk;

	if (fd < 0 || ((unsigned)fd >= w->w_marks_cap &&
	    marks_grow(w, (unsigned)fd) == -1))
		return NULL;		/* not timed, nothing else lost */
	if ((mk = w->w_marks[fd]) != NULL && mk->mk_owner == c)
		return mk;
	if (mk == NULL && (mk = malloc(sizeof(*mk))) == NULL)
		return NULL;
	w->w_marks[fd] = mk;
	tao__wq_marks_begin(mk, c, c->c_wq.q_bytes - len);
	return mk;
}

struct tao_wq_marks *
tao__whist_marks_of(struct tao_worker *w, const struct tao_conn *c)
{
	int fd = c->c_io.io_fd;
	struct tao_wq_marks *mk;

	if (fd < 0 || (unsigned)fd >= w->w_marks_cap ||
	    (mk = w->w_marks[fd]) == NULL || mk->mk_owner != c)
		return NULL;
	return mk;
}

void
tao__whist_marks_free(struct tao_worker *w, const struct tao_conn *c)
{
	int fd = c->c_io.io_fd;

	if (tao__whist_marks_of(w, c) == NULL)
		return;
	free(w->w_marks[fd]);
	w->w_marks[fd] = NULL;
}
