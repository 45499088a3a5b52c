/*
 * wring.c - broadcast and unicast across workers.
 *
 * A broadcast is delivered to this worker's connections at once and
 * published as one record in this worker's ring in shared memory; every
 * other worker reads every ring with its own cursor and delivers the
 * record to its connections.  A unicast to a netid held elsewhere is a
 * record naming its destination islot (found from the netid, which names
 * the connection's row: shm/segment-t.h); only that consumer copies it,
 * the others skip it after reading its first header words, and only that
 * consumer is woken.
 *
 * Which rings are read: those of islots in the live bitmap the master
 * keeps in the shm header, plus, once more, those that were live at the
 * previous look (the last records of a producer that just died).  Never
 * every islot of the segment.
 *
 * Wake-ups (shm/ring.h has the protocol): before epoll_wait the worker
 * raises its "sleeping" flag and re-checks the rings; a producer that
 * published during an iteration collects the sleepers once, at the end
 * of the iteration, and writes their eventfds, so a burst of broadcasts
 * costs one eventfd write per sleeping worker, not one per message.
 *
 * Cluster (cluster/bridge.c): the node's bridge holds an islot too; it
 * reads every ring (broadcasts go to the other nodes) and writes into
 * its own what came from them, which this file delivers like any other
 * worker's record.  A unicast for another node's netid is a record for
 * the bridge.  Nothing here waits for Redis.
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
#include "worker/wshm.h"
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

	if (tao__wshm_attach(w) == -1 ||
	    (w->w_cursors = calloc(n, sizeof(*w->w_cursors))) == NULL)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		tao__ring_cursor_init(w->w_p.wp_shm, i, &w->w_cursors[i]);
		tao__ring_cursor_set_self(&w->w_cursors[i], self(w));
	}
	tao__ring_wake_clear(&w->w_ring_wake);
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

	TAO_STAT_ADD(w, RING_READS, 1);
	if (h->rh_kind == TAO_RING_BROADCAST)
		deliver_all(w, h->rh_type, payload, h->rh_payload_len);
	else if (h->rh_kind == TAO_RING_UNICAST &&
	    (c = tao__netmap_get(&w->w_netmap, h->rh_dst_netid)) != NULL)
		(void)deliver(w, c, h->rh_type, payload, h->rh_payload_len);
	return 0;
}

/* The islots whose rings to read, into set: live now or at the last
 * look; with update, "now" becomes the last look. */
static void
producers(struct tao_worker *w, uint64_t *set, int update)
{
	const struct tao_shm *shm = w->w_p.wp_shm;
	uint64_t live;

	for (unsigned k = 0; k < tao__shm_live_words(shm); k++) {
		live = tao__shm_live_word(shm, k);
		set[k] = live | w->w_live_seen[k];
		if (update)
			w->w_live_seen[k] = live;
	}
	set[self(w) / 64] &= ~(UINT64_C(1) << (self(w) % 64));
}

/* Next islot in set at or after *k's word; -1 at the end. */
static int
set_next(const struct tao_worker *w, uint64_t *set, unsigned *k)
{
	unsigned words = tao__shm_live_words(w->w_p.wp_shm);
	int i;

	for (; *k < words; (*k)++)
		if (set[*k] != 0) {
			i = (int)(*k * 64) + __builtin_ctzll(set[*k]);
			set[*k] &= set[*k] - 1;
			return i < w->w_p.wp_nislots ? i : -1;
		}
	return -1;
}

static int
consume_all(struct tao_worker *w)
{
	uint64_t set[TAO_SHM_MAX_ISLOTS / 64], drops = 0;
	unsigned k = 0;
	int total = 0, n, i;

	producers(w, set, 1);
	while ((i = set_next(w, set, &k)) >= 0) {
		/* One batch per ring per wake-up: a producer that keeps
		 * up cannot keep us from our own sockets; before_poll
		 * comes back with a zero timeout if more is waiting. */
		if ((n = tao__ring_consume(w->w_p.wp_shm, (unsigned)i,
		    &w->w_cursors[i], on_record, w, CONSUME_BATCH)) > 0)
			total += n;
	}
	for (i = 0; i < w->w_p.wp_nislots; i++)
		drops += w->w_cursors[i].rc_drops;
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

	tao__ring_wake_clear(&wake);
	if (w->w_ring_wake_all)
		tao__ring_wake_collect(w->w_p.wp_shm, self(w), &wake);
	else
		tao__ring_wake_collect_set(w->w_p.wp_shm, self(w),
		    &w->w_ring_wake, &wake);
	w->w_ring_wake_all = 0;
	tao__ring_wake_clear(&w->w_ring_wake);
	while ((i = tao__ring_wake_next(&wake, (unsigned)i)) >= 0) {
		if (i < w->w_p.wp_nislots &&
		    write(w->w_p.wp_eventfds[i], &one, sizeof(one)) == -1 &&
		    errno != EAGAIN)
			log_warn("eventfd of instance %d", i);
		i++;
	}
}

/*
 * Records found here are consumed in after_poll, right after a poll that
 * does not wait, so their output is flushed in the loop's own flush step
 * like everything else.
 */
int
tao__wring_before_poll(struct tao_worker *w, int timeout)
{
	uint64_t set[TAO_SHM_MAX_ISLOTS / 64];
	unsigned k = 0;
	int i;

	if (w->w_ring_wake_all || tao__ring_wake_next(&w->w_ring_wake, 0) >= 0)
		wake_consumers(w);
	if (timeout == 0)
		return 0;
	tao__ring_sleep_begin(w->w_p.wp_shm, self(w));
	producers(w, set, 0);
	while ((i = set_next(w, set, &k)) >= 0)
		if (tao__ring_readable(w->w_p.wp_shm, (unsigned)i,
		    &w->w_cursors[i])) {
			w->w_ring_pending = 1;
			return 0;
		}
	return timeout;
}

void
tao__wring_after_poll(struct tao_worker *w)
{
	tao__ring_sleep_end(w->w_p.wp_shm, self(w));
	if (w->w_ring_pending) {
		w->w_ring_pending = 0;
		consume_all(w);
	}
}

void
tao__wring_on_event(struct tao_worker *w)
{
	uint64_t v;

	(void)!read(w->w_ring_io.io_fd, &v, sizeof(v));
	consume_all(w);
}

/* dst: the consumer of a unicast (woken alone), or -1 for a broadcast. */
static int
publish(struct tao_worker *w, int kind, uint64_t netid, int dst,
    int32_t type, const void *data, size_t len)
{
	struct tao_ring_rec_hdr h;

	memset(&h, 0, sizeof(h));
	h.rh_kind = (uint16_t)kind;
	h.rh_type = type;
	h.rh_dst_netid = netid;
	h.rh_dst_islot = dst < 0 ? TAO_RING_ANY_ISLOT : (uint16_t)dst;
	if (tao__ring_publish(w->w_p.wp_shm, self(w), &h, data, len,
	    NULL) == -1)
		return errno == EMSGSIZE ? TAO_ETOOBIG : TAO_EINVAL;
	if (dst < 0)
		w->w_ring_wake_all = 1;
	else
		w->w_ring_wake.rw_bits[dst / 64] |= UINT64_C(1) << (dst % 64);
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
	if ((rc = publish(w, TAO_RING_BROADCAST, 0, -1, type, data, len)) < 0)
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
	/* Another node's netid (its top bits, shm/segment-t.h): the
	 * bridge of this node publishes it to that node (cluster/). */
	if (tao__shm_netid_node(netid) != tao__shm_node_id(w->w_p.wp_shm)) {
		int bridge = tao__shm_bridge_islot(w->w_p.wp_shm);
		if (bridge < 0 || bridge == (int)self(w))
			return TAO_ENOENT;
		return publish(w, TAO_RING_UNICAST, netid, bridge, type, data,
		    len);
	}
	/* The netid names its row: one read, a search only for a
	 * connection handed over in a reload (or one already closed). */
	if (tao__table_find_netid(w->w_p.wp_shm, netid, &islot, &row) == -1 ||
	    islot == self(w))
		return TAO_ENOENT;
	return publish(w, TAO_RING_UNICAST, netid, (int)islot, type, data,
	    len);
}
