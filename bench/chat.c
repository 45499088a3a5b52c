/*
 * chat.c - mode chat: fan-out through a broadcasting chat server.
 *
 * Contract with the server (taod's chat app):
 *   - the first frame on a new connection is type 3, "netid=N worker=W";
 *   - a type-1 frame from any client is delivered to every client as a
 *     type-1 frame whose payload is the sender's 8-byte LE netid followed
 *     by the original payload.
 *
 * Every connection receives; --senders of them also send, at --rate
 * messages/s in all, spread evenly.  A message is
 *
 *   | "TBCH" | sender k: u32 | seq: u64 | sent at: u64 ns | pad |
 *
 * where the pad is pool bytes derived from (k, seq), so each delivery is
 * verified byte for byte.  Receivers check the netid prefix against the
 * sender's welcome, follow each sender's seq (see take_seq: late ones
 * count as reordered, repeats as duplicates), and put send-to-receipt
 * latency in the same-worker or cross-worker histogram.  After the
 * window, senders stop, the threads meet to learn how many messages each
 * sender sent, and the receivers drain until they have them all or
 * o_timeout passes; whatever is still short is lost (counted as missing).
 * Lines "tao-bench: window start" and "... end" on stderr mark the window.
 *
 * CLOCK_MONOTONIC is one clock for every thread of this process, so the
 * timestamp in a message is comparable wherever it is received.
 */
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define MAGIC		"TBCH"
#define BODY_MIN	24	/* magic, sender, seq, time */
#define NETID_LEN	8
#define RBUF		16384
#define SEND_QUEUE	1024	/* unsent messages a sender may hold */
#define NO_NETID	UINT64_MAX

/* Shared by all threads: written before a bench_sync(), read after. */
static struct {
	int		 senders;
	int		*sender_of;	/* connection index -> k, or -1 */
	uint64_t	*netid;		/* of sender k, NO_NETID if none */
	int		*worker;	/* of sender k */
	uint64_t	*sent;		/* by sender k, final after sync #2 */
	uint64_t	 sent_max;	/* no sender sends more: seq bound */
} chat;

struct chat_conn {
	struct bench_conn	 h_c;		/* first, for epoll data */
	int			 h_sender;	/* k, or -1 */
	int			 h_welcomed;
	int			 h_worker;
	uint64_t		 h_netid;
	uint64_t		 h_due;		/* sender: next send time */
	uint64_t		 h_seq;		/* sender: next seq */
	uint64_t		 h_total;	/* in-order deliveries */
	uint64_t		*h_next;	/* per sender: top seq + 1 */
	uint64_t		*h_seen;	/* per sender: seqs seen */
	uint64_t		*h_count;	/* per sender: delivered */
};

struct chat_thread {
	const struct bench_opts	*o;
	struct bench_result	*r;
	struct bench_pool	 pool;
	struct chat_conn	*conns;
	int			 n;
	int			 ep;
	int			 tfd;
	int			 timer_tag;	/* &timer_tag marks the timer */
	int			 welcoming;
	uint64_t		 end;
	uint64_t		 expected;	/* per receiver, after it */
	int			 waiting;	/* receivers still short */
	int			 draining;
};

int
bench_chat_setup(const struct bench_opts *o)
{
	int k, s = o->o_senders;

	chat.senders = s;
	chat.sender_of = malloc((size_t)o->o_conns * sizeof(int));
	chat.netid = calloc((size_t)s, sizeof(uint64_t));
	chat.worker = calloc((size_t)s, sizeof(int));
	chat.sent = calloc((size_t)s, sizeof(uint64_t));
	if (chat.sender_of == NULL || chat.netid == NULL ||
	    chat.worker == NULL || chat.sent == NULL)
		return -1;
	memset(chat.sender_of, 0xff, (size_t)o->o_conns * sizeof(int));
	/* Twice the schedule: a seq beyond it is garbage, not a gap. */
	chat.sent_max = (uint64_t)(2 * o->o_rate / s * o->o_seconds) + 16;
	/* Spread the senders over the connections (and so the threads). */
	for (k = 0; k < s; k++) {
		/* With --port2 odd connections are on the second node:
		 * every other sender is one of them. */
		chat.sender_of[(int)((int64_t)k * o->o_conns / s) +
		    (o->o_has_addr2 && o->o_conns / s > 1 ? k % 2 : 0)] = k;
		chat.netid[k] = NO_NETID;
	}
	return 0;
}

void
bench_chat_cleanup(void)
{
	free(chat.sender_of);
	free(chat.netid);
	free(chat.worker);
	free(chat.sent);
	memset(&chat, 0, sizeof(chat));
}

static void
drop(struct chat_thread *d, struct chat_conn *h)
{
	if (h->h_c.c_fd == -1)
		return;
	bench_conn_close(&h->h_c, d->ep);
	if (!h->h_welcomed)
		d->welcoming--;
	else if (d->draining && h->h_total < d->expected)
		d->waiting--;
}

static int
take_welcome(struct chat_thread *d, struct chat_conn *h,
    const struct bench_frame *f)
{
	unsigned long long netid;
	char text[64];
	int worker;

	if (f->f_len >= sizeof(text))
		return -1;
	memcpy(text, f->f_payload, f->f_len);
	text[f->f_len] = '\0';
	if (sscanf(text, "netid=%llu worker=%d", &netid, &worker) != 2)
		return -1;
	h->h_netid = netid;
	/* --port2 (two cluster nodes): "same" means the same node, whose
	 * id is in the netid's top 10 bits (shm/segment-t.h). */
	h->h_worker = d->o->o_has_addr2 ? (int)(netid >> 54) : worker;
	h->h_welcomed = 1;
	d->welcoming--;
	return 0;
}

/*
 * Per-sender order.  h_next[k] is one past the highest seq seen from k,
 * and bit i of h_seen[k] says whether seq h_next[k] - 1 - i arrived, so
 * a message overtaken by later ones is told apart from a duplicate:
 *
 *   seq >= next        new; the skipped ones are holes (lost unless
 *                      they come later)
 *   seq in a hole      late: reordered
 *   seq already seen   duplicate (-1: not a delivery)
 */
static int
take_seq(struct chat_conn *h, uint32_t k, uint64_t seq,
    struct bench_result *r)
{
	uint64_t shift, back;

	if (seq >= h->h_next[k]) {
		shift = seq - h->h_next[k] + 1;
		h->h_seen[k] = shift >= 64 ? 0 : h->h_seen[k] << shift;
		h->h_seen[k] |= 1;
		h->h_next[k] = seq + 1;
		return 0;
	}
	back = h->h_next[k] - 1 - seq;
	if (back < 64 && (h->h_seen[k] & (1ull << back))) {
		r->r_duplicates++;
		return -1;
	}
	if (back < 64)
		h->h_seen[k] |= 1ull << back;
	/* Further back than the window: taken as late, not repeated. */
	r->r_reordered++;
	return 0;
}

/* A type-1 frame: ours (checked and counted), or someone else's. */
static void
take_delivery(struct chat_thread *d, struct chat_conn *h,
    const struct bench_frame *f, uint64_t now)
{
	const uint8_t *body = f->f_payload + NETID_LEN;
	struct bench_result *r = d->r;
	uint64_t seq, at;
	uint32_t k;

	if (f->f_len < NETID_LEN + BODY_MIN ||
	    memcmp(body, MAGIC, 4) != 0) {
		r->r_foreign++;
		return;
	}
	k = bench_get32(body + 4);
	seq = bench_get64(body + 8);
	at = bench_get64(body + 16);
	if (k >= (uint32_t)chat.senders || seq >= chat.sent_max) {
		r->r_mismatches++;
		return;
	}
	if (take_seq(h, k, seq, r) == -1)
		return;
	/* Counted as arrived even if it is bad, so that one bad message is
	 * one error and not also a loss. */
	h->h_count[k]++;
	h->h_total++;
	if (f->f_len != NETID_LEN + d->o->o_payload ||
	    bench_get64(f->f_payload) != chat.netid[k] ||
	    !bench_pool_check(&d->pool, body + BODY_MIN,
	    d->o->o_payload - BODY_MIN, k, seq)) {
		r->r_mismatches++;
		goto counted;
	}
	r->r_replies++;
	if (now <= d->end) {
		r->r_msgs++;
		r->r_bytes += d->o->o_payload;
	}
	bench_hist_add(h->h_worker == chat.worker[k] ? &r->r_lat : &r->r_lat2,
	    now > at ? now - at : 0);
counted:
	if (d->draining && h->h_total == d->expected)
		d->waiting--;
}

static void
on_readable(struct chat_thread *d, struct chat_conn *h)
{
	struct bench_frame f;
	size_t off = 0;
	uint64_t now;
	int rv;

	if (bench_conn_read(&h->h_c) == -1) {
		d->r->r_resets++;
		drop(d, h);
		return;
	}
	now = bench_now();
	while ((rv = bench_frame_next(&h->h_c, &off, RBUF - BENCH_HDR,
	    &f)) == 1) {
		if (f.f_type == BENCH_TYPE_HEARTBEAT)
			d->r->r_heartbeats++;
		else if (!h->h_welcomed) {
			if (f.f_type != BENCH_TYPE_WELCOME ||
			    take_welcome(d, h, &f) == -1) {
				d->r->r_mismatches++;
				drop(d, h);
				return;
			}
		} else if (f.f_type == BENCH_TYPE_DATA)
			take_delivery(d, h, &f, now);
		else
			d->r->r_foreign++;
	}
	if (rv == -1) {
		d->r->r_mismatches++;
		drop(d, h);
		return;
	}
	bench_conn_consume(&h->h_c, off);
}

static void
flush(struct chat_thread *d, struct chat_conn *h)
{
	int rv;

	if ((rv = bench_conn_flush(&h->h_c)) == -1 ||
	    bench_conn_events(&h->h_c, d->ep,
	    rv == 0 ? EPOLLIN | EPOLLOUT : EPOLLIN, h) == -1) {
		d->r->r_resets++;
		drop(d, h);
	}
}

static void
send_message(struct chat_thread *d, struct chat_conn *h, uint64_t now)
{
	size_t len = d->o->o_payload;
	uint32_t k = (uint32_t)h->h_sender;
	uint8_t *p;

	if ((p = bench_conn_frame(&h->h_c, BENCH_TYPE_DATA, len)) == NULL) {
		/* The server stopped reading this sender: a timeout. */
		d->r->r_timeouts++;
		return;
	}
	memcpy(p, MAGIC, 4);
	bench_put32(p + 4, k);
	bench_put64(p + 8, h->h_seq);
	bench_put64(p + 16, now);
	bench_pool_fill(&d->pool, p + BODY_MIN, len - BODY_MIN, k, h->h_seq);
	h->h_seq++;
	d->r->r_sent++;
}

/* Send what is due; arm the timer for the next one. */
static void
send_due(struct chat_thread *d)
{
	struct itimerspec its;
	uint64_t now = bench_now(), next = d->end;
	uint64_t period = (uint64_t)(1e9 * chat.senders / d->o->o_rate);
	uint64_t junk;
	int i;

	if (read(d->tfd, &junk, sizeof(junk)) == -1 && errno != EAGAIN)
		perror("tao-bench: timerfd");
	memset(&its, 0, sizeof(its));
	if (now >= d->end) {
		/* Window over: disarm, or the past due time fires forever. */
		timerfd_settime(d->tfd, TFD_TIMER_ABSTIME, &its, NULL);
		return;
	}
	for (i = 0; i < d->n; i++) {
		struct chat_conn *h = &d->conns[i];

		if (h->h_sender < 0 || h->h_c.c_fd == -1)
			continue;
		if (h->h_due <= now) {
			while (h->h_due <= now) {
				send_message(d, h, now);
				h->h_due += period;
			}
			flush(d, h);
		}
		if (h->h_due < next)
			next = h->h_due;
	}
	its.it_value.tv_sec = (time_t)(next / 1000000000u);
	its.it_value.tv_nsec = (long)(next % 1000000000u);
	if (timerfd_settime(d->tfd, TFD_TIMER_ABSTIME, &its, NULL) == -1)
		perror("tao-bench: timerfd_settime");
}

static void
poll_once(struct chat_thread *d, int wait_ms)
{
	struct epoll_event evs[256];
	int i, nev;

	nev = epoll_wait(d->ep, evs, 256, wait_ms);
	if (nev == -1 && errno != EINTR)
		perror("tao-bench: epoll_wait");
	for (i = 0; i < nev; i++) {
		struct chat_conn *h = evs[i].data.ptr;

		if (evs[i].data.ptr == &d->timer_tag) {
			send_due(d);
			continue;
		}
		if (h->h_c.c_fd == -1)
			continue;
		if (evs[i].events & EPOLLOUT)
			flush(d, h);
		if (h->h_c.c_fd != -1 &&
		    (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			on_readable(d, h);
	}
}

static int
wait_until(struct chat_thread *d, uint64_t deadline, const int *count)
{
	uint64_t now;

	while (*count > 0 && (now = bench_now()) < deadline)
		poll_once(d, (int)((deadline - now) / 1000000) + 1);
	return *count;
}

/* Phase 1: welcomes.  Connections without one in time are dropped. */
static void
welcome_all(struct chat_thread *d)
{
	int i;

	for (i = 0; i < d->n; i++)
		if (d->conns[i].h_c.c_fd != -1)
			d->welcoming++;
	wait_until(d, bench_now() + (uint64_t)(d->o->o_timeout * 1e9),
	    &d->welcoming);
	for (i = 0; i < d->n; i++) {
		struct chat_conn *h = &d->conns[i];

		if (h->h_c.c_fd != -1 && !h->h_welcomed) {
			d->r->r_timeouts++;
			drop(d, h);
		}
		if (h->h_sender >= 0 && h->h_c.c_fd != -1) {
			chat.netid[h->h_sender] = h->h_netid;
			chat.worker[h->h_sender] = h->h_worker;
		}
	}
}

/* Phase 3: after the window, wait for every message sent. */
static void
drain(struct chat_thread *d)
{
	int i, k;

	for (k = 0; k < chat.senders; k++)
		d->expected += chat.sent[k];
	d->draining = 1;
	for (i = 0; i < d->n; i++)
		if (d->conns[i].h_c.c_fd != -1 &&
		    d->conns[i].h_total < d->expected)
			d->waiting++;
	wait_until(d, bench_now() + (uint64_t)(d->o->o_timeout * 1e9),
	    &d->waiting);
	for (i = 0; i < d->n; i++) {
		struct chat_conn *h = &d->conns[i];

		if (h->h_c.c_fd == -1)
			continue;
		d->r->r_open++;
		for (k = 0; k < chat.senders; k++)
			if (h->h_count[k] < chat.sent[k])
				d->r->r_missing += chat.sent[k] - h->h_count[k];
	}
}

static int
setup(struct chat_thread *d, struct bench_thread *t)
{
	const struct bench_opts *o = t->t_opts;
	size_t frame = BENCH_HDR + o->o_payload, s = (size_t)chat.senders;
	struct epoll_event ev;
	int i;

	memset(d, 0, sizeof(*d));
	d->o = o;
	d->r = &t->t_res;
	d->n = t->t_count;
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if ((d->conns = calloc((size_t)d->n, sizeof(*d->conns))) == NULL)
		return -1;
	for (i = 0; i < d->n; i++)
		d->conns[i].h_c.c_fd = -1;
	if (d->ep == -1 || d->tfd == -1 ||
	    bench_pool_init(&d->pool, o->o_payload, 0) == -1)
		return -1;
	ev.events = EPOLLIN;
	ev.data.ptr = &d->timer_tag;
	if (epoll_ctl(d->ep, EPOLL_CTL_ADD, d->tfd, &ev) == -1)
		return -1;
	for (i = 0; i < d->n; i++) {
		struct chat_conn *h = &d->conns[i];

		h->h_sender = chat.sender_of[t->t_first + i];
		if (bench_conn_alloc(&h->h_c, RBUF, h->h_sender >= 0 ?
		    SEND_QUEUE * frame : 64) == -1 ||
		    (h->h_next = calloc(s, sizeof(uint64_t))) == NULL ||
		    (h->h_seen = calloc(s, sizeof(uint64_t))) == NULL ||
		    (h->h_count = calloc(s, sizeof(uint64_t))) == NULL)
			return -1;
	}
	return 0;
}

static void
teardown(struct chat_thread *d)
{
	int i;

	for (i = 0; d->conns != NULL && i < d->n; i++) {
		bench_conn_free(&d->conns[i].h_c);
		free(d->conns[i].h_next);
		free(d->conns[i].h_seen);
		free(d->conns[i].h_count);
	}
	free(d->conns);
	bench_pool_free(&d->pool);
	if (d->tfd != -1)
		close(d->tfd);
	if (d->ep != -1)
		close(d->ep);
}

/* Scripts sample the server's CPU time at these lines, so that joins,
 * welcomes and the final drain are left out of the per-delivery cost. */
static void
window_mark(const char *what)
{
	fprintf(stderr, "tao-bench: window %s\n", what);
	fflush(stderr);
}

int
bench_chat_run(struct bench_thread *t)
{
	struct chat_thread d;
	uint64_t start, period;
	int i, ready = 0;

	if (setup(&d, t) == 0) {
		bench_connect_all(d.conns, sizeof(*d.conns), d.n, d.ep, d.o,
		    d.r);
		welcome_all(&d);
		ready = 1;
	} else
		perror("tao-bench: chat set-up");
	bench_sync();				/* #1: netids are known */
	if (t->t_id == 0)
		window_mark("start");
	start = bench_now();
	d.end = start + (uint64_t)(d.o->o_seconds * 1e9);
	d.r->r_start = start;
	d.r->r_end = d.end;
	period = (uint64_t)(1e9 * chat.senders / d.o->o_rate);
	for (i = 0; ready && i < d.n; i++) {
		struct chat_conn *h = &d.conns[i];

		if (h->h_sender >= 0)
			h->h_due = start + period / (uint64_t)chat.senders *
			    (uint64_t)h->h_sender;
	}
	if (ready) {
		send_due(&d);
		while (bench_now() < d.end)
			poll_once(&d, (int)((d.end - bench_now()) / 1000000)
			    + 1);
		for (i = 0; i < d.n; i++)
			if (d.conns[i].h_sender >= 0)
				chat.sent[d.conns[i].h_sender] =
				    d.conns[i].h_seq;
	}
	if (t->t_id == 0)
		window_mark("end");
	bench_sync();				/* #2: chat.sent is final */
	if (ready)
		drain(&d);
	teardown(&d);
	return ready ? 0 : -1;
}
