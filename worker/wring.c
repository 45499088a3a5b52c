/*
 * wring.c - broadcast and unicast across workers.
 *
 * A broadcast is delivered to this worker's connections at once and
 * published as one record in this worker's ring in shared memory; every
 * other worker reads every ring with its own cursor and delivers the
 * record to its connections.  A unicast to a netid held elsewhere is a
 * record with a destination; only the worker holding the netid delivers.
 *
 * Wake-ups (shm/ring.h has the protocol): before epoll_wait the worker
 * raises its "sleeping" flag and re-checks the rings; a producer that
 * published during an iteration collects the sleepers once, at the end
 * of the iteration, and writes their eventfds, so a burst of broadcasts
 * costs one eventfd write per sleeping worker, not one per message.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "shm/ring.h"
#include "shm/segment.h"
#include "shm/table.h"
#include "worker/conn.h"
#include "core/log.h"
#include "worker/wring.h"
#include "worker/worker.h"

#define CONSUME_BATCH	4096

static unsigned
self(const struct tao_worker *w)
{
	return (unsigned)w->w_p.wp_islot;
}

int
tao__wring_attach(struct tao_worker *w)
{
	unsigned n = (unsigned)w->w_p.wp_nislots;

	if ((w->w_cursors = calloc(n, sizeof(*w->w_cursors))) == NULL)
		return -1;
	for (unsigned i = 0; i < n; i++)
		tao__ring_cursor_init(w->w_p.wp_shm, i, &w->w_cursors[i]);
	return tao__io_add(&w->w_loop, &w->w_ring_io, TAO_IO_RING,
	    w->w_p.wp_eventfds[self(w)], EPOLLIN);
}

void
tao__wring_detach(struct tao_worker *w)
{
	free(w->w_cursors);
	w->w_cursors = NULL;
	tao__netmap_free(&w->w_netmap);
}

/* 0, or why the message did not reach c's queue (counted as dropped
 * unless c is closing). */
static int
deliver(struct tao_worker *w, struct tao_conn *c, int32_t type,
    const void *data, size_t len)
{
	const struct tao_registry *r = w->w_p.wp_registry;
	int rc;

	if (c->c_flags & (TAO_CONN_CLOSED | TAO_CONN_CLOSING))
		return TAO_ECLOSED;
	if (r->r_on_deliver != NULL)
		rc = r->r_on_deliver(c, type, data, len, r->r_on_deliver_arg);
	else
		rc = tao_conn_send(c, type, data, len);
	/* A receiver that does not read (its queue is full) loses the
	 * message: count it rather than lose it silently. */
	if (rc == TAO_EWOULDBLOCK || rc == TAO_ENOMEM || rc == TAO_ETOOBIG)
		TAO_STAT_ADD(w, DROPPED, 1);
	return rc < 0 ? rc : 0;
}

/* Callbacks may close any connection: closed ones stay linked until the
 * end of the loop iteration (loop.c), so `next` stays valid. */
static void
deliver_all(struct tao_worker *w, int32_t type, const void *data, size_t len)
{
	struct tao_conn *c, *next;

	TAILQ_FOREACH_SAFE(c, &w->w_conns, c_entry, next)
		(void)deliver(w, c, type, data, len);
}

static int
on_record(void *arg, const struct tao_ring_rec_hdr *h, const void *payload)
{
	struct tao_worker *w = arg;
	struct tao_conn *c;

	if (h->rh_kind == TAO_RING_BROADCAST)
		deliver_all(w, h->rh_type, payload, h->rh_payload_len);
	else if (h->rh_kind == TAO_RING_UNICAST &&
	    (c = tao__netmap_get(&w->w_netmap, h->rh_dst_netid)) != NULL)
		(void)deliver(w, c, h->rh_type, payload, h->rh_payload_len);
	return 0;
}

static int
consume_all(struct tao_worker *w)
{
	uint64_t drops = 0;
	int total = 0, n;

	for (unsigned i = 0; i < (unsigned)w->w_p.wp_nislots; i++) {
		if (i == self(w))
			continue;
		/* One batch per ring per wake-up: a producer that keeps
		 * up cannot keep us from our own sockets; before_poll
		 * comes back with a zero timeout if more is waiting. */
		if ((n = tao__ring_consume(w->w_p.wp_shm, i,
		    &w->w_cursors[i], on_record, w, CONSUME_BATCH)) > 0)
			total += n;
		drops += w->w_cursors[i].rc_drops;
	}
	if (drops > w->w_ring_drops) {
		TAO_STAT_ADD(w, RING_DROPS, drops - w->w_ring_drops);
		log_warnx("broadcast ring: lost %llu message(s) (this worker "
		    "fell behind)", (unsigned long long)(drops -
		    w->w_ring_drops));
		w->w_ring_drops = drops;
	}
	return total;
}

static void
wake_consumers(struct tao_worker *w)
{
	struct tao_ring_wake wake;
	uint64_t one = 1;
	int i = 0;

	w->w_ring_published = 0;
	tao__ring_wake_clear(&wake);
	tao__ring_wake_collect(w->w_p.wp_shm, self(w), &wake);
	while ((i = tao__ring_wake_next(&wake, (unsigned)i)) >= 0) {
		if (i < w->w_p.wp_nislots &&
		    write(w->w_p.wp_eventfds[i], &one, sizeof(one)) == -1 &&
		    errno != EAGAIN)
			log_warn("eventfd of instance %d", i);
		i++;
	}
}

int
tao__wring_before_poll(struct tao_worker *w, int timeout)
{
	if (w->w_ring_published)
		wake_consumers(w);
	if (timeout == 0)
		return 0;
	tao__ring_sleep_begin(w->w_p.wp_shm, self(w));
	for (unsigned i = 0; i < (unsigned)w->w_p.wp_nislots; i++)
		if (i != self(w) && tao__ring_readable(w->w_p.wp_shm, i,
		    &w->w_cursors[i])) {
			tao__ring_sleep_end(w->w_p.wp_shm, self(w));
			consume_all(w);
			tao__worker_flush_pending(w);
			return 0;
		}
	return timeout;
}

void
tao__wring_after_poll(struct tao_worker *w)
{
	tao__ring_sleep_end(w->w_p.wp_shm, self(w));
}

void
tao__wring_on_event(struct tao_worker *w)
{
	uint64_t v;

	(void)!read(w->w_ring_io.io_fd, &v, sizeof(v));
	consume_all(w);
}

static int
publish(struct tao_worker *w, int kind, uint64_t netid, int32_t type,
    const void *data, size_t len)
{
	struct tao_ring_rec_hdr h;

	memset(&h, 0, sizeof(h));
	h.rh_kind = (uint16_t)kind;
	h.rh_type = type;
	h.rh_dst_netid = netid;
	if (tao__ring_publish(w->w_p.wp_shm, self(w), &h, data, len,
	    NULL) == -1)
		return errno == EMSGSIZE ? TAO_ETOOBIG : TAO_EINVAL;
	w->w_ring_published = 1;
	return 0;
}

int
tao__wring_broadcast(struct tao_worker *w, int32_t type, const void *data,
    size_t len)
{
	int rc;

	if (data == NULL && len > 0)
		return TAO_EINVAL;
	if (len > w->w_p.wp_settings.st_max_frame)
		return TAO_ETOOBIG;
	if ((rc = publish(w, TAO_RING_BROADCAST, 0, type, data, len)) < 0)
		return rc;
	deliver_all(w, type, data, len);
	return 0;
}

int
tao__wring_unicast(struct tao_worker *w, uint64_t netid, int32_t type,
    const void *data, size_t len)
{
	struct tao_conn *c;
	unsigned islot, row;

	if (data == NULL && len > 0)
		return TAO_EINVAL;
	/* Every worker of a generation has our max_frame: a bigger message
	 * would be dropped by the receiver, so refuse it here. */
	if (len > w->w_p.wp_settings.st_max_frame)
		return TAO_ETOOBIG;
	if ((c = tao__netmap_get(&w->w_netmap, netid)) != NULL) {
		if (c->c_flags & (TAO_CONN_CLOSED | TAO_CONN_CLOSING))
			return TAO_ENOENT;
		return deliver(w, c, type, data, len);	/* local: its result */
	}
	if (tao__table_find_netid(w->w_p.wp_shm, netid, &islot, &row) == -1)
		return TAO_ENOENT;
	return publish(w, TAO_RING_UNICAST, netid, type, data, len);
}
