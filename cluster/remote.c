/*
 * remote.c - Redis to the local ring: the subscriber's messages are
 * checked, de-duplicated against our own, sequence-checked and put into
 * the bridge's own ring in shared memory, which every local worker reads
 * like any other worker's ring.  The bridge never reads its own ring, so
 * a remote message is never published again.
 *
 * Everything from Redis is untrusted: a message that is not our format,
 * has a bad length, comes on the wrong channel or names a netid of
 * another node is counted (invalid, dropped_in) and dropped; nothing in
 * it is used as a size or an index before it was checked.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "cluster/bridge-int.h"
#include "core/log.h"
#include "proto/cluster.h"
#include "shm/table.h"

static void
invalid(struct tao_bridge *b, const char *why)
{
	tao__bridge_count(b, TAO_CL_INVALID, 1);
	tao__bridge_count(b, TAO_CL_DROPPED_IN, 1);
	/* The first, then every 1000th: a hostile publisher cannot fill
	 * the log. */
	if (b->b_invalid_logged++ % 1000 == 0)
		log_warnx("cluster: dropped a message that is not ours (%s; "
		    "%llu so far)", why,
		    (unsigned long long)b->b_invalid_logged);
}

/*
 * Sequence check for origin o on channel ch (0 all, 1 ours): counts
 * what was missed.  Redis pub/sub never repeats or reorders a
 * connection's messages, so a number below the expected one is not ours
 * to judge (someone else publishing with that nonce): the count resyncs
 * and the message goes on, so no forged number can make the bridge
 * drop an origin's messages from then on.
 */
static int
sequence(struct tao_bridge *b, const struct tao_clmsg *m, int ch)
{
	struct tao_origin *o = &b->b_origins[m->cm_origin];

	if (!o->o_known || o->o_nonce != m->cm_nonce) {
		/* A new origin bridge: a new sequence, nothing to count. */
		memset(o, 0, sizeof(*o));
		o->o_known = 1;
		o->o_nonce = m->cm_nonce;
		o->o_next[0] = o->o_next[1] = UINT64_MAX;
	}
	if (o->o_next[ch] != UINT64_MAX && m->cm_seq > o->o_next[ch])
		tao__bridge_count(b, TAO_CL_LOST, m->cm_seq - o->o_next[ch]);
	o->o_next[ch] = m->cm_seq + 1;
	return 0;
}

static int
inject(struct tao_bridge *b, const struct tao_clmsg *m)
{
	struct tao_ring_rec_hdr h;
	unsigned islot, row;

	memset(&h, 0, sizeof(h));
	h.rh_type = m->cm_type;
	if (m->cm_kind == TAO_CLMSG_BROADCAST) {
		h.rh_kind = TAO_RING_BROADCAST;
		h.rh_dst_islot = TAO_RING_ANY_ISLOT;
	} else {
		if (tao__table_find_netid(b->b_p.bp_shm, m->cm_dst_netid,
		    &islot, &row) == -1)
			return -1;	/* closed since, or never ours */
		h.rh_kind = TAO_RING_UNICAST;
		h.rh_dst_netid = m->cm_dst_netid;
		h.rh_dst_islot = (uint16_t)islot;
	}
	if (tao__ring_publish(b->b_p.bp_shm, (unsigned)b->b_p.bp_islot, &h,
	    m->cm_payload, m->cm_len, NULL) == -1)
		return -1;	/* EMSGSIZE: above the ring's record size */
	if (h.rh_kind == TAO_RING_BROADCAST)
		b->b_wake_all = 1;
	else
		b->b_wake.rw_bits[islot / 64] |= UINT64_C(1) << (islot % 64);
	return 0;
}

static int
from_ourselves(struct tao_bridge *b, const struct tao_clmsg *m)
{
	if (m->cm_origin != b->b_p.bp_node_id)
		return 0;
	/* Our own echo (or our previous bridge's): delivered locally. */
	if (m->cm_nonce != b->b_nonce && m->cm_nonce != b->b_prev_nonce &&
	    !b->b_collision_logged) {
		log_warnx("cluster: another taod publishes as node %u on "
		    "channel %s: give every node its own node_id",
		    b->b_p.bp_node_id, b->b_chan_all);
		b->b_collision_logged = 1;
	}
	return 1;
}

static void
on_remote(struct tao_bridge *b, int ch, const char *data, size_t len)
{
	struct tao_clmsg m;

	if (tao__clmsg_decode(data, len, b->b_p.bp_max_frame, &m) == -1) {
		invalid(b, len < TAO_CLMSG_HDR ? "too short" : "bad header");
		return;
	}
	if (m.cm_origin > TAO_SHM_MAX_NODE || (ch == 0) !=
	    (m.cm_kind == TAO_CLMSG_BROADCAST) || (m.cm_kind ==
	    TAO_CLMSG_UNICAST && tao__shm_netid_node(m.cm_dst_netid) !=
	    b->b_p.bp_node_id)) {
		invalid(b, "wrong channel or destination");
		return;
	}
	if (from_ourselves(b, &m))
		return;
	if (sequence(b, &m, ch) == -1 || inject(b, &m) == -1) {
		tao__bridge_count(b, TAO_CL_DROPPED_IN, 1);
		return;
	}
	tao__bridge_count(b, TAO_CL_RECEIVED, 1);
}

static int
is_str(const redisReply *r, const char *s)
{
	return r->type == REDIS_REPLY_STRING && r->len == strlen(s) &&
	    memcmp(r->str, s, r->len) == 0;
}

static void
on_sub_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct tao_bridge *b = privdata;
	redisReply *reply = r, **e;

	(void)ac;
	if (reply == NULL)
		return;		/* the link is going away */
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) {
		if (reply->type == REDIS_REPLY_ERROR)
			log_warnx("cluster: SUBSCRIBE refused: %s", reply->str);
		return;
	}
	e = reply->element;
	if (is_str(e[0], "subscribe")) {
		if (b->b_subscribed < 2 && ++b->b_subscribed == 2)
			tao__bridge_state(b);
		return;
	}
	if (!is_str(e[0], "message") || e[2]->type != REDIS_REPLY_STRING)
		return;
	if (is_str(e[1], b->b_chan_all))
		on_remote(b, 0, e[2]->str, e[2]->len);
	else if (is_str(e[1], b->b_chan_mine))
		on_remote(b, 1, e[2]->str, e[2]->len);
	else
		invalid(b, "unknown channel");
}

void
tao__remote_subscribe(struct tao_rlink *l)
{
	struct tao_bridge *b = l->l_b;

	b->b_subscribed = 0;
	if (redisAsyncCommand(l->l_ac, on_sub_reply, b, "SUBSCRIBE %s %s",
	    b->b_chan_all, b->b_chan_mine) != REDIS_OK)
		log_warnx("cluster: cannot queue SUBSCRIBE");
}

void
tao__remote_wake(struct tao_bridge *b)
{
	struct tao_shm *shm = b->b_p.bp_shm;
	unsigned self = (unsigned)b->b_p.bp_islot;
	struct tao_ring_wake wake;
	uint64_t one = 1;
	int i = 0;

	if (!b->b_wake_all && tao__ring_wake_next(&b->b_wake, 0) < 0)
		return;
	tao__ring_wake_clear(&wake);
	if (b->b_wake_all)
		tao__ring_wake_collect(shm, self, &wake);
	else
		tao__ring_wake_collect_set(shm, self, &b->b_wake, &wake);
	b->b_wake_all = 0;
	tao__ring_wake_clear(&b->b_wake);
	while ((i = tao__ring_wake_next(&wake, (unsigned)i)) >= 0) {
		if (i < b->b_p.bp_nislots && write(b->b_p.bp_eventfds[i], &one,
		    sizeof(one)) == -1 && errno != EAGAIN)
			log_warn("cluster: eventfd of instance %d", i);
		i++;
	}
}
