/*
 * wshm.c - connection accounting in shared memory (see wshm.h).
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shm/segment.h"
#include "shm/table.h"
#include "worker/conn.h"
#include "worker/wshm.h"

int
tao__wshm_conn_open(struct tao_worker *w, struct tao_conn *c,
    const struct sockaddr *peer)
{
	struct tao_shm *shm = w->w_p.wp_shm;
	struct tao_conn_row row;
	struct timespec ts;
	int idx;

	if (tao__shm_conn_acquire(shm, (unsigned)w->w_p.wp_islot) == -1) {
		if (c->c_netid == 0)
			return -1;
		/* Handed over in a reload: serve it even at the limit. */
		c->c_flags |= TAO_CONN_NO_UNIT;
	}
	if (c->c_netid == 0)
		c->c_netid = tao__shm_next_netid(shm);
	if (tao__netmap_put(&w->w_netmap, c->c_netid, c) == -1) {
		if (!(c->c_flags & TAO_CONN_NO_UNIT))
			tao__shm_conn_release(shm, (unsigned)w->w_p.wp_islot);
		return -1;
	}
	memset(&row, 0, sizeof(row));
	clock_gettime(CLOCK_REALTIME, &ts);
	row.cr_netid = c->c_netid;
	row.cr_connected_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	row.cr_pid = (int32_t)getpid();
	row.cr_generation = w->w_p.wp_generation;
	row.cr_lslot = (uint16_t)w->w_p.wp_slot;
	row.cr_state = TAO_ROW_OPEN;
	tao__format_peer(peer, row.cr_peer, sizeof(row.cr_peer));
	idx = tao__table_insert(shm, (unsigned)w->w_p.wp_islot, &row);
	c->c_row = idx;		/* -1: table full; the connection still works */
	return 0;
}

void
tao__wshm_conn_close(struct tao_worker *w, struct tao_conn *c)
{
	struct tao_shm *shm = w->w_p.wp_shm;

	tao__netmap_del(&w->w_netmap, c->c_netid);
	if (c->c_row >= 0)
		tao__table_remove(shm, (unsigned)w->w_p.wp_islot,
		    (unsigned)c->c_row);
	c->c_row = -1;
	if (!(c->c_flags & TAO_CONN_NO_UNIT))
		tao__shm_conn_release(shm, (unsigned)w->w_p.wp_islot);
}

void
tao__wshm_conn_update(struct tao_worker *w, struct tao_conn *c)
{
	if (c->c_row < 0 || (c->c_flags & TAO_CONN_CLOSED))
		return;
	tao__table_update_counters(w->w_p.wp_shm, (unsigned)w->w_p.wp_islot,
	    (unsigned)c->c_row, c->c_msgs_in, c->c_msgs_out, c->c_bytes_in,
	    c->c_bytes_out);
}
