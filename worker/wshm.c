/*
 * wshm.c - connection accounting in shared memory (see wshm.h).
 *
 * Who owns what (shm/stats-t.h has the whole list):
 *   - a connection's msgs/bytes counters: the counts since the last
 *     publish, 32 bits each in struct tao_conn (c_msgs_in ...), bumped on
 *     the hot path in private memory;
 *   - its table row: a copy for operators, written at open, freed at
 *     close, and publish_tick adds the connection's counts to it about
 *     once a second (or earlier, before a count could wrap), so `taoctl
 *     conns` may show counters up to PUBLISH_MS old.  No event writes it,
 *     and the row of a connection that was idle for the second is not
 *     even read;
 *   - this worker's open-connection count: the limit units it holds
 *     (sb_held), one per open connection, also the "connections" gauge;
 *   - the peer address: kept binary in the connection (c_peer); the row
 *     holds a binary copy, made at open (and when a PROXY header names
 *     the real client), which `taoctl conns` formats.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <string.h>
#include <time.h>

#include "shm/segment.h"
#include "shm/table.h"
#include "core/clock.h"
#include "worker/conn.h"
#include "core/timer.h"
#include "worker/wshm.h"
#include "worker/access.h"

#define PUBLISH_MS	1000

static unsigned
self(const struct tao_worker *w)
{
	return (unsigned)w->w_p.wp_islot;
}

/* The row's copy of a kept peer (shm/ knows no address families). */
static void
row_peer(const struct tao__peer *p, struct tao_row_peer *rp)
{
	memset(rp, 0, sizeof(*rp));
	rp->rp_family = p->p_family == AF_INET6 ? TAO_ROW_PEER_V6 :
	    p->p_family == AF_INET ? TAO_ROW_PEER_V4 : TAO_ROW_PEER_NONE;
	rp->rp_port = ntohs(p->p_port);
	memcpy(rp->rp_addr, p->p_addr, sizeof(rp->rp_addr));
}

/* The row of c; its pid, generation and listener slot are the islot's
 * (the master assigned them), so they are not written here. */
static void
row_fill(const struct tao_conn *c, struct tao_conn_row *row)
{
	struct timespec ts;

	memset(row, 0, sizeof(*row));
	clock_gettime(CLOCK_REALTIME, &ts);
	row->cr_connected_ms = (int64_t)ts.tv_sec * 1000 +
	    ts.tv_nsec / 1000000;
	row->cr_netid = c->c_netid;
	row->cr_state = TAO_ROW_OPEN;
	row_peer(&c->c_peer, &row->cr_peer);
}

int
tao__wshm_conn_open(struct tao_worker *w, struct tao_conn *c)
{
	struct tao_shm *shm = w->w_p.wp_shm;
	struct tao_conn_row row;
	int next;

	if (tao__shm_conn_acquire(shm, self(w)) == -1) {
		if (c->c_netid == 0)
			return -1;
		/* Handed over in a reload: serve it even at the limit. */
		tao__shm_conn_acquire_over(shm, self(w));
	}
	/* A new connection's netid names the row it is about to get, so
	 * unicast finds it without a search; a handed-over one keeps its
	 * netid (and is found by the search). */
	next = tao__table_next_free(shm, self(w));
	if (c->c_netid == 0)
		c->c_netid = tao__shm_netid_make(shm, self(w), next < 0 ?
		    shm->sh_max_connections : (unsigned)next);
	if (tao__netmap_put(&w->w_netmap, c->c_netid, c) == -1) {
		tao__shm_conn_release(shm, self(w));
		return -1;
	}
	row_fill(c, &row);
	/* -1: table full; the connection still works, unlisted */
	c->c_row = next < 0 ? -1 : tao__table_insert(shm, self(w), &row);
	return 0;
}

void
tao__wshm_conn_close(struct tao_worker *w, struct tao_conn *c)
{
	struct tao_shm *shm = w->w_p.wp_shm;

	tao__netmap_del(&w->w_netmap, c->c_netid);
	tao__access_release(c);		/* while the row is still ours */
	if (c->c_row >= 0)
		tao__table_remove(shm, self(w), (unsigned)c->c_row);
	c->c_row = -1;
	tao__shm_conn_release(shm, self(w));
}

void
tao__wshm_conn_set_peer(struct tao_conn *c)
{
	struct tao_worker *w = tao__conn_worker(c);
	struct tao_row_peer rp;

	if (c->c_row < 0)
		return;
	row_peer(&c->c_peer, &rp);
	tao__table_set_peer(w->w_p.wp_shm, self(w), (unsigned)c->c_row, &rp);
}

void
tao__wshm_publish(struct tao_worker *w)
{
	struct tao_conn *c;

	TAILQ_FOREACH(c, &w->w_conns, c_entry) {
		if (c->c_flags & TAO_CONN_CLOSED)
			continue;
		if ((c->c_msgs_in | c->c_msgs_out | c->c_bytes_in |
		    c->c_bytes_out) != 0)
			tao__wshm_conn_publish(c);
	}
}

void
tao__wshm_conn_publish(struct tao_conn *c)
{
	struct tao_worker *w = tao__conn_worker(c);

	if (c->c_row >= 0)
		tao__table_add_counters(w->w_p.wp_shm, self(w),
		    (unsigned)c->c_row, c->c_msgs_in, c->c_msgs_out,
		    c->c_bytes_in, c->c_bytes_out);
	c->c_msgs_in = c->c_msgs_out = c->c_bytes_in = c->c_bytes_out = 0;
}

static void
publish_tick(void *owner, void *arg)
{
	(void)owner;
	tao__wshm_publish(arg);
}

int
tao__wshm_attach(struct tao_worker *w)
{
	return tao__timers_add(w->w_loop.el_timers, tao__now_ms_ceil() + PUBLISH_MS,
	    PUBLISH_MS, publish_tick, NULL, w, NULL) == -1 ? -1 : 0;
}
