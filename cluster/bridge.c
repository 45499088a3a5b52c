/*
 * bridge.c - the cluster bridge: one process per node that carries
 * broadcasts and unicasts between taod nodes over Redis pub/sub.
 *
 * DESIGN.  A bridge process per node, forked and respawned by the master
 * like a worker (master/cluster.c), rather than a Redis connection in
 * every worker:
 *   - a node has one pair of Redis connections, not two per worker;
 *   - a slow, stopped or dead Redis can only stall the bridge: workers
 *     never wait on it, never buffer for it, never even call hiredis;
 *     what cannot be published is bounded (cluster_queue_max PUBLISHes,
 *     TAO_BRIDGE_QUEUE_BYTES bytes) and counted as dropped;
 *   - the bridge reuses the shared-memory rings the workers already use
 *     between themselves, so a worker's code path for a broadcast is the
 *     one it had without a cluster: one ring record.
 * The price: one more hop (ring -> bridge -> Redis -> bridge -> ring) and
 * the link state is per node, not per worker.
 *
 *   node A                                  node B
 *   worker --ring A--> bridge A --PUBLISH--> Redis --message--> bridge B
 *     |                  ^   (tao:all or tao:node:B)               |
 *     +--> its conns     |                               ring of bridge B
 *   other workers of A read ring A as before             workers of B read
 *
 * The bridge holds an islot like a worker (its own ring, eventfd, live
 * bit); the shm header names it (h_bridge_islot), so a worker sends a
 * unicast for another node's netid (node id in the netid's top bits,
 * shm/segment-t.h) as a ring record whose destination is the bridge.
 * The bridge reads every other islot's ring: broadcasts go to
 * <prefix>:all, unicasts to <prefix>:node:<N>.  It subscribes to
 * <prefix>:all and <prefix>:node:<self> on a second connection, drops
 * what it published itself (the local connections had it through the
 * local ring) and puts the rest into its own ring, which it never reads:
 * nothing is published twice.  Per-sender order holds all the way: one
 * ring, one connection, Redis keeps a connection's order, one ring.
 *
 * The loop is core/loop with hiredis's async API on it (cluster/link.c),
 * no thread; signals arrive through a signalfd.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "cluster/bridge-int.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/timer.h"
#include "proto/cluster.h"

#define IO_RING		0
#define IO_SIGNAL	1
#define CONSUME_BATCH	1024
#define REPLY_TIMEOUT_MS 10000	/* PUBLISHes unanswered that long: the
				 * connection is dropped and made again */
#define EXIT_FATAL	2

static void
set_state(struct tao_bridge *b, enum tao_cluster_state s)
{
	atomic_store_explicit(&tao__bridge_block(b)->cb_state, (uint32_t)s,
	    memory_order_relaxed);
}

static void
set_queued(struct tao_bridge *b)
{
	atomic_store_explicit(&tao__bridge_block(b)->cb_counter[TAO_CL_QUEUED],
	    b->b_pending, memory_order_relaxed);
}

/* Up: the publisher connected and both subscriptions confirmed. */
void
tao__bridge_state(struct tao_bridge *b)
{
	int up = b->b_pub.l_connected && b->b_sub.l_connected &&
	    b->b_subscribed == 2;
	uint64_t now = tao__now_ms();

	if (up && !b->b_was_up) {
		if (b->b_ever_up) {
			tao__bridge_count(b, TAO_CL_RECONNECTS, 1);
			log_info("cluster: link to redis %s:%d restored, "
			    "subscriptions restored (down %llu ms, %llu "
			    "message(s) not published meanwhile)",
			    b->b_p.bp_host, b->b_p.bp_port,
			    (unsigned long long)(now - b->b_down_since_ms),
			    (unsigned long long)(tao__bridge_counter(b,
			    TAO_CL_DROPPED_OUT) - b->b_dropped_at_down));
		} else
			log_info("cluster: node %u linked to redis %s:%d, "
			    "channels %s and %s", b->b_p.bp_node_id,
			    b->b_p.bp_host, b->b_p.bp_port, b->b_chan_all,
			    b->b_chan_mine);
		b->b_ever_up = 1;
		set_state(b, TAO_CLUSTER_UP);
	} else if (!up && b->b_was_up) {
		b->b_down_since_ms = now;
		b->b_dropped_at_down = tao__bridge_counter(b,
		    TAO_CL_DROPPED_OUT);
		set_state(b, TAO_CLUSTER_DOWN);
	}
	b->b_was_up = up;
}

static void
link_connected(struct tao_rlink *l)
{
	tao__bridge_state(l->l_b);
}

static void
link_down(struct tao_rlink *l)
{
	if (l == &l->l_b->b_sub)
		l->l_b->b_subscribed = 0;
	tao__bridge_state(l->l_b);
}

/* ---- local rings to Redis -------------------------------------------- */

static void
on_published(redisAsyncContext *ac, void *r, void *privdata)
{
	struct tao_bridge *b = ac->data != NULL ?
	    ((struct tao_rlink *)ac->data)->l_b : NULL;
	redisReply *reply = r;

	if (b == NULL)
		return;
	b->b_pending--;
	b->b_pending_bytes -= (size_t)(uintptr_t)privdata;
	b->b_last_reply_ms = tao__now_ms();
	set_queued(b);
	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER)
		tao__bridge_count(b, TAO_CL_PUBLISHED, 1);
	else
		tao__bridge_count(b, TAO_CL_DROPPED_OUT, 1);
}

/*
 * Back-pressure: with cluster_queue_max PUBLISHes awaiting replies the
 * bridge stops reading the rings (it is woken again by the replies), so
 * a burst waits in the ring, which is its buffer, instead of being
 * dropped.  A Redis that stays slow lets the ring lap the bridge: those
 * records are counted (dropped) and their numbers skipped (consume_all).
 */
static int
queue_full(const struct tao_bridge *b)
{
	return b->b_pub.l_ac != NULL && (b->b_pending >= b->b_p.bp_queue_max ||
	    b->b_pending_bytes + TAO_CLMSG_HDR + b->b_p.bp_max_frame >
	    TAO_BRIDGE_QUEUE_BYTES);
}

/* Hand one message to hiredis, or count it dropped.  m's sequence
 * number is used either way, so receivers count exactly what they miss. */
static void
publish_out(struct tao_bridge *b, const char *chan, struct tao_clmsg *m,
    const void *payload)
{
	size_t n = TAO_CLMSG_HDR + m->cm_len;
	redisAsyncContext *ac = b->b_pub.l_ac;

	if (ac == NULL || b->b_pending >= b->b_p.bp_queue_max ||
	    b->b_pending_bytes + n > TAO_BRIDGE_QUEUE_BYTES ||
	    m->cm_len > b->b_p.bp_max_frame) {
		tao__bridge_count(b, TAO_CL_DROPPED_OUT, 1);
		return;
	}
	tao__clmsg_encode_hdr(m, b->b_scratch);
	memcpy(b->b_scratch + TAO_CLMSG_HDR, payload, m->cm_len);
	if (redisAsyncCommand(ac, on_published, (void *)(uintptr_t)n,
	    "PUBLISH %s %b", chan, b->b_scratch, n) != REDIS_OK) {
		tao__bridge_count(b, TAO_CL_DROPPED_OUT, 1);
		return;
	}
	if (b->b_pending++ == 0)
		b->b_last_reply_ms = tao__now_ms();
	b->b_pending_bytes += n;
	set_queued(b);
}

static int
on_record(void *arg, const struct tao_ring_rec_hdr *h, const void *payload)
{
	struct tao_bridge *b = arg;
	struct tao_clmsg m;
	char chan[sizeof(b->b_chan_mine)];
	unsigned node;

	memset(&m, 0, sizeof(m));
	m.cm_origin = b->b_p.bp_node_id;
	m.cm_nonce = b->b_nonce;
	m.cm_type = h->rh_type;
	m.cm_len = h->rh_payload_len;
	if (h->rh_kind == TAO_RING_BROADCAST) {
		m.cm_kind = TAO_CLMSG_BROADCAST;
		m.cm_seq = b->b_seq_all++;
		publish_out(b, b->b_chan_all, &m, payload);
		return queue_full(b);
	}
	/* The cursor filter lets through only unicasts addressed to us:
	 * netids of other nodes (worker/wring.c). */
	node = tao__shm_netid_node(h->rh_dst_netid);
	if (h->rh_kind != TAO_RING_UNICAST || node == b->b_p.bp_node_id)
		return 0;
	m.cm_kind = TAO_CLMSG_UNICAST;
	m.cm_dst_netid = h->rh_dst_netid;
	m.cm_seq = b->b_seq_node[node]++;
	snprintf(chan, sizeof(chan), "%s:node:%u", b->b_p.bp_channel, node);
	publish_out(b, chan, &m, payload);
	return queue_full(b);
}

/* The islots to read: live now or at the last look, never our own. */
static void
producers(struct tao_bridge *b, uint64_t *set, int update)
{
	const struct tao_shm *shm = b->b_p.bp_shm;
	unsigned self = (unsigned)b->b_p.bp_islot;
	uint64_t live;

	for (unsigned k = 0; k < tao__shm_live_words(shm); k++) {
		live = tao__shm_live_word(shm, k);
		set[k] = live | b->b_live_seen[k];
		if (update)
			b->b_live_seen[k] = live;
	}
	set[self / 64] &= ~(UINT64_C(1) << (self % 64));
}

static int
set_next(const struct tao_bridge *b, uint64_t *set, unsigned *k)
{
	unsigned words = tao__shm_live_words(b->b_p.bp_shm);
	int i;

	for (; *k < words; (*k)++)
		if (set[*k] != 0) {
			i = (int)(*k * 64) + __builtin_ctzll(set[*k]);
			set[*k] &= set[*k] - 1;
			return i < b->b_p.bp_nislots ? i : -1;
		}
	return -1;
}

static void
consume_all(struct tao_bridge *b)
{
	uint64_t set[TAO_SHM_MAX_ISLOTS / 64], drops = 0;
	unsigned k = 0;
	int i;

	producers(b, set, 1);
	while (!queue_full(b) && (i = set_next(b, set, &k)) >= 0)
		(void)tao__ring_consume(b->b_p.bp_shm, (unsigned)i,
		    &b->b_cursors[i], on_record, b, CONSUME_BATCH);
	for (i = 0; i < b->b_p.bp_nislots; i++)
		drops += b->b_cursors[i].rc_drops;
	if (drops > b->b_ring_drops) {
		/* Lapped: these never reached Redis.  Their numbers are
		 * skipped on the broadcast channel (most records are
		 * broadcasts), so the receivers count them as lost. */
		tao__bridge_count(b, TAO_CL_DROPPED_OUT, drops - b->b_ring_drops);
		b->b_seq_all += drops - b->b_ring_drops;
		log_warnx("cluster: bridge fell behind the rings: %llu "
		    "message(s) not published", (unsigned long long)(drops -
		    b->b_ring_drops));
		b->b_ring_drops = drops;
	}
}

/* Every second: a Redis that holds our PUBLISHes unanswered for
 * REPLY_TIMEOUT_MS (stopped, or a dead peer TCP has not noticed) is
 * dropped; they count as dropped and the link is made again. */
static void
on_watchdog(void *owner, void *arg)
{
	struct tao_bridge *b = owner;

	(void)arg;
	if (b->b_pub.l_ac == NULL || b->b_pending == 0 ||
	    tao__now_ms() - b->b_last_reply_ms < REPLY_TIMEOUT_MS)
		return;
	log_warnx("cluster: redis %s:%d has not answered %u PUBLISH(es) for "
	    "%d s; reconnecting", b->b_p.bp_host, b->b_p.bp_port,
	    b->b_pending, REPLY_TIMEOUT_MS / 1000);
	/* Not redisAsyncDisconnect: it would wait for those replies.  The
	 * free calls them with NULL (dropped), then on_disconnect, which
	 * schedules the reconnect. */
	redisAsyncFree(b->b_pub.l_ac);
}

/* ---- the loop ----------------------------------------------------------- */

static void
on_ring(struct tao_evloop *l, struct tao_io *io, uint32_t ev)
{
	struct tao_bridge *b = l->el_owner;
	uint64_t v;

	(void)ev;
	(void)!read(io->io_fd, &v, sizeof(v));
	consume_all(b);
}

static void
on_signal(struct tao_evloop *l, struct tao_io *io, uint32_t ev)
{
	struct tao_bridge *b = l->el_owner;
	struct signalfd_siginfo si;

	(void)ev;
	while (read(io->io_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		b->b_stop = 1;
}

static void nothing(struct tao_pending *p) { (void)p; }

static int
before_poll(struct tao_evloop *l, int timeout)
{
	struct tao_bridge *b = l->el_owner;
	uint64_t set[TAO_SHM_MAX_ISLOTS / 64];
	unsigned k = 0;
	int i;

	tao__remote_wake(b);
	if (b->b_stop)
		return TAO_EVLOOP_STOP;
	if (timeout == 0)
		return 0;
	if (queue_full(b))	/* the replies wake us, not the rings */
		return timeout < 0 || timeout > 1000 ? 1000 : timeout;
	tao__ring_sleep_begin(b->b_p.bp_shm, (unsigned)b->b_p.bp_islot);
	producers(b, set, 0);
	while ((i = set_next(b, set, &k)) >= 0)
		if (tao__ring_readable(b->b_p.bp_shm, (unsigned)i,
		    &b->b_cursors[i])) {
			b->b_ring_pending = 1;
			return 0;
		}
	/* Live bits change without a wake-up: look again now and then. */
	return timeout < 0 || timeout > 1000 ? 1000 : timeout;
}

static void
after_poll(struct tao_evloop *l)
{
	struct tao_bridge *b = l->el_owner;

	tao__ring_sleep_end(b->b_p.bp_shm, (unsigned)b->b_p.bp_islot);
	if (b->b_ring_pending) {
		b->b_ring_pending = 0;
		consume_all(b);
	}
}

static const struct tao_evloop_ops bridge_ops = {
	.flush = nothing,
	.free = nothing,
	.before_poll = before_poll,
	.after_poll = after_poll,
};

/* ---- set-up ------------------------------------------------------------- */

static void
init_nonce(struct tao_bridge *b)
{
	struct tao_cluster_block *cb = tao__bridge_block(b);

	if (getrandom(&b->b_nonce, sizeof(b->b_nonce), 0) !=
	    (ssize_t)sizeof(b->b_nonce))
		b->b_nonce = tao__now_ms() ^ ((uint64_t)getpid() << 32);
	b->b_nonce |= 1;
	/* The previous bridge's echoes may still arrive after a respawn. */
	b->b_prev_nonce = atomic_exchange(&cb->cb_nonce, b->b_nonce);
}

static int
setup_links(struct tao_bridge *b)
{
	struct tao_rlink *l[2] = { &b->b_pub, &b->b_sub };

	tao__rlink_init(&b->b_pub, &b->b_loop, b, "publisher", b->b_nonce);
	tao__rlink_init(&b->b_sub, &b->b_loop, b, "subscriber",
	    b->b_nonce * 31);
	b->b_pub.l_db = b->b_p.bp_db;
	b->b_sub.l_on_up = tao__remote_subscribe;
	for (int i = 0; i < 2; i++) {
		l[i]->l_host = b->b_p.bp_host;
		l[i]->l_port = b->b_p.bp_port;
		l[i]->l_password = b->b_p.bp_password;
		l[i]->l_on_down = link_down;
		l[i]->l_on_connected = link_connected;
	}
	tao__evloop_handle(&b->b_loop, TAO_RLINK_IO_KIND, tao__rlink_on_io);
	return 0;
}

static int
setup_fds(struct tao_bridge *b)
{
	sigset_t set;
	int sfd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	signal(SIGPIPE, SIG_IGN);	/* hiredis write()s to its sockets */
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		return -1;
	tao__evloop_handle(&b->b_loop, IO_RING, on_ring);
	tao__evloop_handle(&b->b_loop, IO_SIGNAL, on_signal);
	if (tao__io_add(&b->b_loop, &b->b_sig_io, IO_SIGNAL, sfd,
	    EPOLLIN) == -1) {
		close(sfd);
		return -1;
	}
	return tao__io_add(&b->b_loop, &b->b_ring_io, IO_RING,
	    b->b_p.bp_eventfds[b->b_p.bp_islot], EPOLLIN);
}

static struct tao_bridge *
bridge_new(const struct tao_bridge_params *p)
{
	struct tao_bridge *b;
	unsigned n = (unsigned)p->bp_nislots;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->b_p = *p;
	b->b_scratch = malloc(TAO_CLMSG_HDR + p->bp_max_frame);
	b->b_cursors = calloc(n, sizeof(*b->b_cursors));
	if (b->b_scratch == NULL || b->b_cursors == NULL ||
	    tao__evloop_init(&b->b_loop, 0, b) == -1) {
		free(b->b_scratch);
		free(b->b_cursors);
		free(b);
		return NULL;
	}
	for (unsigned i = 0; i < n; i++) {
		tao__ring_cursor_init(p->bp_shm, i, &b->b_cursors[i]);
		tao__ring_cursor_set_self(&b->b_cursors[i],
		    (unsigned)p->bp_islot);
	}
	snprintf(b->b_chan_all, sizeof(b->b_chan_all), "%s:all",
	    p->bp_channel);
	snprintf(b->b_chan_mine, sizeof(b->b_chan_mine), "%s:node:%u",
	    p->bp_channel, p->bp_node_id);
	init_nonce(b);
	return b;
}

static void
bridge_free(struct tao_bridge *b)
{
	tao__rlink_close(&b->b_pub);
	tao__rlink_close(&b->b_sub);
	tao__io_close(&b->b_loop, &b->b_sig_io);
	tao__io_forget(&b->b_loop, &b->b_ring_io);	/* the master's fd */
	tao__evloop_fini(&b->b_loop);
	free(b->b_scratch);
	free(b->b_cursors);
	free(b);
}

int
tao__bridge_run(const struct tao_bridge_params *p)
{
	struct tao_bridge *b;

	/* The master's death must not leave us publishing for a node that
	 * is gone. */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 0;
	if (p->bp_islot < 0 || p->bp_islot >= p->bp_nislots ||
	    p->bp_node_id > TAO_SHM_MAX_NODE || p->bp_queue_max == 0) {
		log_warnx("cluster: bad bridge parameters");
		return EXIT_FATAL;
	}
	if ((b = bridge_new(p)) == NULL || setup_links(b) == -1 ||
	    setup_fds(b) == -1) {
		log_warn("cluster: bridge set-up");
		if (b != NULL)
			bridge_free(b);
		return 1;
	}
	if (tao__timers_add(b->b_loop.el_timers, tao__now_ms() + 1000, 1000,
	    on_watchdog, b, NULL, NULL) < 0) {
		log_warn("cluster: bridge set-up");
		bridge_free(b);
		return 1;
	}
	atomic_store(&tao__bridge_block(b)->cb_pid, (int32_t)getpid());
	set_state(b, TAO_CLUSTER_CONNECTING);
	tao__rlink_connect(&b->b_pub);
	tao__rlink_connect(&b->b_sub);
	while (!b->b_stop)
		if (tao__evloop_run_once(&b->b_loop, &bridge_ops) == -1) {
			log_warn("cluster: epoll_wait");
			break;
		}
	log_debug("cluster: bridge stopping");
	set_state(b, TAO_CLUSTER_OFF);
	bridge_free(b);
	return 0;
}
