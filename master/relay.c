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

static int
queue_push(struct tao_chan_queue *q, const struct tao_chan_out *o)
{
	if (q->q_len == q->q_cap) {
		unsigned cap = q->q_cap ? q->q_cap * 2 : 16;
		struct tao_chan_out *items;

		if (q->q_cap >= TAO_CHAN_QUEUE_MAX || (items = calloc(cap,
		    sizeof(*items))) == NULL)
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

/* Send what waits, in order, until the channel is full. */
static void
queue_flush(struct tao_master *m, struct tao_proc *p)
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
	tao__watch_mod(m, &p->p_w, EPOLLIN | (q->q_len ? EPOLLOUT : 0));
}

static int	relay_send_msg(struct tao_master *, struct tao_proc *,
		    const struct tao_chan_msg *, int);

int
tao__relay_send(struct tao_master *m, struct tao_proc *p, uint32_t type,
    uint32_t arg, uint64_t value, int fd)
{
	struct tao_chan_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.cm_type = type;
	msg.cm_arg = arg;
	msg.cm_value = value;
	return relay_send_msg(m, p, &msg, fd);
}

/* tao__relay_send of a whole record (a handed-over peer with it). */
static int
relay_send_msg(struct tao_master *m, struct tao_proc *p,
    const struct tao_chan_msg *msg, int fd)
{
	struct tao_chan_out o = { *msg, fd };

	if (p->p_w.w_events == 0) {	/* the worker closed its end */
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
	tao__watch_mod(m, &p->p_w, EPOLLIN | EPOLLOUT);
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

/*
 * An old worker hands a connection over: pass it to the serving worker of
 * the same slot (or any serving worker of the current generation).  fd is
 * owned here.
 */
static void
relay_conn(struct tao_master *m, struct tao_proc *from,
    const struct tao_chan_msg *msg, int fd)
{
	struct tao_proc *to = m->m_slots[from->p_slot % m->m_nworkers]
	    .sl_current, *p;

	if (to == NULL || to->p_state != TAO_PROC_SERVING)
		LIST_FOREACH(p, &m->m_procs, p_entry)
			if (p->p_gen == m->m_gen &&
			    p->p_state == TAO_PROC_SERVING) {
				to = p;
				break;
			}
	if (to == NULL || to->p_state != TAO_PROC_SERVING) {
		log_warnx("reload: no serving worker to take a connection; "
		    "closing it");
		close(fd);
		return;
	}
	if (relay_send_msg(m, to, msg, fd) == -1)
		log_warn("reload: passing a connection to worker %ld",
		    (long)to->p_pid);
}

void
tao__relay_read(struct tao_master *m, struct tao_proc *p)
{
	struct tao_chan_msg msg;
	int rc = 0, fd, n = 0;

	/* At most RELAY_READ_MAX records per wake-up: a worker flooding its
	 * channel must not keep the master inside one callback.  The watch
	 * is level-triggered, so what is left wakes the next iteration. */
	while (n++ < RELAY_READ_MAX &&
	    (rc = tao__chan_recv(p->p_w.w_fd, &msg, &fd)) == 1) {
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
	 * way; a broken worker is killed and respawned like a crash. */
	if (rc == -1) {
		if (errno == EBADMSG) {
			log_warnx("master: worker %d (pid %ld) sent a malformed "
			    "channel record; killing it", p->p_slot,
			    (long)p->p_pid);
			(void)kill(p->p_pid, SIGKILL);
		}
		tao__watch_mod(m, &p->p_w, 0);
	}
}

void
tao__relay_on_channel(struct tao_master *m, struct tao_watch *w,
    uint32_t events)
{
	struct tao_proc *p = w->w_owner;

	if (events & EPOLLOUT)
		queue_flush(m, p);
	if (!w->w_dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		tao__relay_read(m, p);
}
