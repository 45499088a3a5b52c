/*
 * relay.c - the master's side of the worker channels: READY, the
 * control records (drain, stop, hand-off) and the connections an old
 * worker hands over during a reload, passed on to a serving worker.
 *
 * The master never blocks on a channel.  A record that does not fit now
 * waits in the worker's queue (struct tao_chan_queue, at most
 * TAO_CHAN_QUEUE_MAX records) and the channel is polled for EPOLLOUT
 * until the queue is empty; records leave in the order they were sent.
 *
 *	q_items: [ . . o o o o . . ]   q_head -> first o, q_len o's
 *
 * Back-pressure: while the worker that takes an old worker's connections
 * has TAO_CHAN_QUEUE_HIGH records waiting (it is slow, or stopped), the
 * old worker's channel is not read (p_relay_paused): its hand-overs wait
 * in the channel, then in the old worker, which keeps serving those
 * connections, instead of filling the queue until one has to be closed.
 * Reading resumes once that queue is under half of it.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/master.h"
#include "core/log.h"

#define RELAY_READ_MAX	64	/* channel records handled per wake-up */
/* What a dead worker's channel can hold: its send buffer took 278
 * records at the default 208 KiB; this is room for a send buffer 200
 * times that, and only stops a process that inherited the worker's end
 * (a module's fork) from keeping the master reading for ever. */
#define RELAY_DEAD_MAX	(1u << 16)

static int
queue_push(struct tao_chan_queue *q, const struct tao_chan_out *o)
{
	if (q->q_len == q->q_cap) {
		unsigned cap = q->q_cap ? q->q_cap * 2 : 16;
		struct tao_chan_out *items;

		if (q->q_cap >= (q->q_limit ? q->q_limit : TAO_CHAN_QUEUE_MAX) ||
		    (items = calloc(cap, sizeof(*items))) == NULL)
			return -1;
		for (unsigned i = 0; i < q->q_len; i++)
			items[i] = q->q_items[(q->q_head + i) % q->q_cap];
		free(q->q_items);
		q->q_items = items;
		q->q_head = 0;
		q->q_cap = cap;
	}
	q->q_items[(q->q_head + q->q_len++) % q->q_cap] = *o;
	return 0;
}

static int
out_send(const struct tao_proc *p, const struct tao_chan_out *o)
{
	return tao__chan_send_msg(p->p_w.w_fd, &o->o_msg, o->o_fd);
}

static void
out_drop(struct tao_proc *p, struct tao_chan_out *o)
{
	if (o->o_fd < 0)
		return;
	close(o->o_fd);
	o->o_fd = -1;
	log_warnx("slot %d: worker %ld did not take a connection handed "
	    "over; closed it", p->p_slot, (long)p->p_pid);
}

static uint32_t
chan_events(const struct tao_proc *p)
{
	return (p->p_relay_paused ? 0 : EPOLLIN) |
	    (p->p_outq.q_len > 0 ? EPOLLOUT : 0);
}

/* Send what waits, in order, until the channel is full. */
void
tao__relay_flush(struct tao_master *m, struct tao_proc *p)
{
	struct tao_chan_queue *q = &p->p_outq;

	while (q->q_len > 0) {
		struct tao_chan_out *o = &q->q_items[q->q_head];

		if (out_send(p, o) == -1) {
			if (errno == EAGAIN || errno == ENOBUFS)
				break;
			log_warn("slot %d: channel to %ld", p->p_slot,
			    (long)p->p_pid);
			out_drop(p, o);
		} else if (o->o_fd >= 0)
			close(o->o_fd);
		q->q_head = (q->q_head + 1) % q->q_cap;
		q->q_len--;
	}
	tao__watch_mod(m, &p->p_w, chan_events(p));
	if (q->q_len < TAO_CHAN_QUEUE_HIGH / 2)
		tao__relay_resume(m);
}

int
tao__relay_send(struct tao_master *m, struct tao_proc *p, uint32_t type,
    uint32_t arg, uint64_t value, int fd)
{
	struct tao_chan_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.cm_type = type;
	msg.cm_arg = arg;
	msg.cm_value = value;
	return tao__relay_send_msg(m, p, &msg, fd);
}

int
tao__relay_send_msg(struct tao_master *m, struct tao_proc *p,
    const struct tao_chan_msg *msg, int fd)
{
	struct tao_chan_out o = { *msg, fd };

	/* The worker closed its end (a paused channel may have no events). */
	if (p->p_w.w_events == 0 && !p->p_relay_paused) {
		if (fd >= 0)
			close(fd);
		errno = EPIPE;
		return -1;
	}
	if (p->p_outq.q_len == 0) {
		if (out_send(p, &o) == 0) {
			if (fd >= 0)
				close(fd);
			return 0;
		}
		if (errno != EAGAIN && errno != ENOBUFS) {
			if (fd >= 0)
				close(fd);
			return -1;
		}
	}
	if (queue_push(&p->p_outq, &o) == -1) {
		if (fd >= 0)
			close(fd);
		errno = ENOBUFS;
		return -1;
	}
	tao__watch_mod(m, &p->p_w, chan_events(p));
	return 0;
}

void
tao__relay_ctl(struct tao_master *m, struct tao_proc *p, uint32_t type)
{
	if (tao__relay_send(m, p, type, 0, 0, -1) == -1) {
		log_warn("slot %d: channel to %ld", p->p_slot, (long)p->p_pid);
		kill(p->p_pid, type == TAO_CHAN_STOP ? SIGQUIT : SIGTERM);
	}
}

void
tao__relay_clear(struct tao_proc *p)
{
	struct tao_chan_queue *q = &p->p_outq;

	for (unsigned i = 0; i < q->q_len; i++)
		out_drop(p, &q->q_items[(q->q_head + i) % q->q_cap]);
	free(q->q_items);
	q->q_items = NULL;
	q->q_head = q->q_len = q->q_cap = 0;
}

/* Where slot's connections go: the serving worker of the same slot (or
 * any serving worker of the current generation); NULL if none serves. */
static struct tao_proc *
relay_target(struct tao_master *m, int slot)
{
	struct tao_proc *to = m->m_slots[slot % m->m_nworkers].sl_current, *p;

	if (to != NULL && to->p_state == TAO_PROC_SERVING)
		return to;
	LIST_FOREACH(p, &m->m_procs, p_entry)
		if (p->p_gen == m->m_gen && p->p_state == TAO_PROC_SERVING)
			return p;
	return NULL;
}

/* Is from's target too far behind to take more now? */
static int
target_behind(struct tao_master *m, const struct tao_proc *from,
    unsigned limit)
{
	const struct tao_proc *to = relay_target(m, from->p_slot);

	return to != NULL && to->p_outq.q_len >= limit;
}

void
tao__relay_resume(struct tao_master *m)
{
	struct tao_proc *p;

	LIST_FOREACH(p, &m->m_procs, p_entry)
		if (p->p_relay_paused &&
		    !target_behind(m, p, TAO_CHAN_QUEUE_HIGH / 2)) {
			p->p_relay_paused = 0;
			tao__watch_mod(m, &p->p_w, chan_events(p));
		}
}

/*
 * An old worker hands a connection over: pass it to its slot's serving
 * worker; after a binary upgrade's commit, to the new master
 * (master/upgrade.c).  fd is owned here.
 */
static void
relay_conn(struct tao_master *m, struct tao_proc *from,
    const struct tao_chan_msg *msg, int fd)
{
	if (tao__upgrade_relay(m, msg, fd) == 0)
		tao__relay_conn(m, from->p_slot, msg, fd);
}

void
tao__relay_conn(struct tao_master *m, int slot, const struct tao_chan_msg *msg,
    int fd)
{
	struct tao_proc *to = relay_target(m, slot);

	if (to == NULL) {
		log_warnx("reload: no serving worker to take a connection; "
		    "closing it");
		close(fd);
		return;
	}
	if (tao__relay_send_msg(m, to, msg, fd) == -1)
		log_warn("reload: passing a connection to worker %ld",
		    (long)to->p_pid);
}

/*
 * A live worker gets at most RELAY_READ_MAX records per wake-up: one
 * flooding its channel must not keep the master inside one callback,
 * and the watch is level-triggered, so what is left wakes the next
 * iteration.  A dead worker gets no next iteration (its channel is
 * closed when it is freed), so its channel is read to the end: it can
 * no longer write, what is there is bounded by the socket's buffer
 * (RELAY_DEAD_MAX), and every connection record left unread would be a
 * connection closed with its client's request in it: a reset and a lost
 * reply (t120; t053 met it when a worker of 100 connections held over
 * 64 and the master read its exit first).
 */
static void
relay_read(struct tao_master *m, struct tao_proc *p, int dead)
{
	struct tao_chan_msg msg;
	int rc = 0, fd;
	unsigned n = 0, max = dead ? RELAY_DEAD_MAX : RELAY_READ_MAX;

	while (n++ < max) {
		if (!dead && p->p_state == TAO_PROC_DRAINING &&
		    target_behind(m, p, TAO_CHAN_QUEUE_HIGH)) {
			p->p_relay_paused = 1;
			tao__watch_mod(m, &p->p_w, chan_events(p));
			return;
		}
		if ((rc = tao__chan_recv(p->p_w.w_fd, &msg, &fd)) != 1)
			break;
		if (msg.cm_type == TAO_CHAN_CONN && fd >= 0) {
			relay_conn(m, p, &msg, fd);
			continue;
		}
		if (msg.cm_type == TAO_CHAN_READY) {
			if (p->p_state == TAO_PROC_STARTING)
				p->p_state = TAO_PROC_SERVING;
			tao__reload_check(m);
		}
		if (fd >= 0)
			close(fd);
	}
	/* A malformed record: the worker is broken or hostile.  Anything
	 * else: it is exiting, SIGCHLD will follow.  Stop polling either
	 * way; a broken worker is killed and respawned like a crash (not
	 * once reaped: its pid may already be another process's). */
	if (rc == -1) {
		if (errno == EBADMSG && !dead) {
			log_warnx("master: worker %d (pid %ld) sent a malformed "
			    "channel record; killing it", p->p_slot,
			    (long)p->p_pid);
			(void)kill(p->p_pid, SIGKILL);
		}
		tao__watch_mod(m, &p->p_w, 0);
	}
}

void
tao__relay_read(struct tao_master *m, struct tao_proc *p)
{
	relay_read(m, p, 0);
}

void
tao__relay_read_dead(struct tao_master *m, struct tao_proc *p)
{
	relay_read(m, p, 1);
}

void
tao__relay_on_channel(struct tao_master *m, struct tao_watch *w,
    uint32_t events)
{
	struct tao_proc *p = w->w_owner;

	if (events & EPOLLOUT)
		tao__relay_flush(m, p);
	if (!w->w_dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		tao__relay_read(m, p);
}
