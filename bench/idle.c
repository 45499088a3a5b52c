/*
 * idle.c - mode idle: hold many quiet connections and see which survive.
 *
 * Phases, per thread:
 *   1. connect every connection (bench_connect_all);
 *   2. one verified echo on each, so that the server has certainly
 *      accepted it and the connection is known to work;
 *   3. all threads meet; the first says "holding N connections" on
 *      stderr (scripts wait for that line before measuring the server);
 *   4. hold for -t seconds, sleeping in epoll_wait until the next
 *      heartbeat is due or the server says something.  Nothing spins.
 *
 * Heartbeats are spread evenly over the period: connection k of n is
 * first due at start + k * period / n, then every period, so the due
 * times keep their order and a cursor over the array is the whole
 * schedule.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define HB_PAYLOAD	8	/* Go Tao's heartbeat: int64 timestamp */
#define HB_QUEUE	16	/* unsent heartbeats before we skip some */

enum { I_PINGING, I_HELD, I_GONE };

struct idle_conn {
	struct bench_conn	 i_c;		/* first, for epoll data */
	int			 i_state;
	uint64_t		 i_next_hb;
};

struct idle {
	const struct bench_opts	*o;
	struct bench_result	*r;
	struct bench_pool	 pool;
	struct idle_conn	*conns;
	int			 n;
	int			 ep;
	int			 pinging;
};

static int held_total;		/* over all threads, for the message */

static void
gone(struct idle *d, struct idle_conn *ic)
{
	if (ic->i_state == I_PINGING)
		d->pinging--;
	bench_conn_close(&ic->i_c, d->ep);
	ic->i_state = I_GONE;
}

static int
flush(struct idle *d, struct idle_conn *ic)
{
	int rv;

	if ((rv = bench_conn_flush(&ic->i_c)) == -1 ||
	    bench_conn_events(&ic->i_c, d->ep,
	    rv == 0 ? EPOLLIN | EPOLLOUT : EPOLLIN, ic) == -1) {
		d->r->r_resets++;
		gone(d, ic);
		return -1;
	}
	return 0;
}

static void
on_frame(struct idle *d, struct idle_conn *ic, const struct bench_frame *f)
{
	if (f->f_type == BENCH_TYPE_HEARTBEAT) {
		d->r->r_heartbeats++;
		return;
	}
	if (ic->i_state != I_PINGING) {
		d->r->r_foreign++;
		return;
	}
	if (f->f_type != BENCH_TYPE_DATA || f->f_len != d->o->o_payload ||
	    !bench_pool_check(&d->pool, f->f_payload, f->f_len,
	    (uint64_t)(ic - d->conns), 0)) {
		d->r->r_mismatches++;
		gone(d, ic);
		return;
	}
	d->r->r_replies++;
	ic->i_state = I_HELD;
	d->pinging--;
}

static void
on_event(struct idle *d, struct idle_conn *ic, uint32_t events)
{
	struct bench_frame f;
	size_t off = 0;
	int rv;

	if (ic->i_state == I_GONE)
		return;
	if ((events & EPOLLOUT) && flush(d, ic) == -1)
		return;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (bench_conn_read(&ic->i_c) == -1) {
		/* Closed by the server: the thing this mode looks for. */
		d->r->r_resets++;
		gone(d, ic);
		return;
	}
	while ((rv = bench_frame_next(&ic->i_c, &off, 4096, &f)) == 1) {
		on_frame(d, ic, &f);
		if (ic->i_state == I_GONE)
			return;
	}
	if (rv == -1) {
		d->r->r_mismatches++;
		gone(d, ic);
		return;
	}
	bench_conn_consume(&ic->i_c, off);
}

static void
poll_once(struct idle *d, int wait_ms)
{
	struct epoll_event evs[256];
	int i, nev;

	nev = epoll_wait(d->ep, evs, 256, wait_ms);
	if (nev == -1 && errno != EINTR)
		perror("tao-bench: epoll_wait");
	for (i = 0; i < nev; i++)
		on_event(d, evs[i].data.ptr, evs[i].events);
}

/* Phase 2: one echo per connection; those without an answer in time
 * count as timeouts and are dropped. */
static void
ping_all(struct idle *d)
{
	uint64_t now, deadline;
	uint8_t *p;
	int i;

	for (i = 0; i < d->n; i++) {
		struct idle_conn *ic = &d->conns[i];

		if (ic->i_c.c_fd == -1) {
			ic->i_state = I_GONE;
			continue;
		}
		ic->i_state = I_PINGING;
		d->pinging++;
		p = bench_conn_frame(&ic->i_c, BENCH_TYPE_DATA,
		    d->o->o_payload);
		bench_pool_fill(&d->pool, p, d->o->o_payload, (uint64_t)i, 0);
		d->r->r_sent++;
		flush(d, ic);
	}
	deadline = bench_now() + (uint64_t)(d->o->o_timeout * 1e9);
	while (d->pinging > 0 && (now = bench_now()) < deadline)
		poll_once(d, (int)((deadline - now) / 1000000) + 1);
	for (i = 0; i < d->n; i++)
		if (d->conns[i].i_state == I_PINGING) {
			d->r->r_timeouts++;
			gone(d, &d->conns[i]);
		}
}

static void
send_heartbeat(struct idle *d, struct idle_conn *ic)
{
	struct timespec ts;
	uint8_t *p;

	/* NULL: a server that stopped reading; do not pile heartbeats up. */
	if ((p = bench_conn_frame(&ic->i_c, BENCH_TYPE_HEARTBEAT,
	    HB_PAYLOAD)) == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	bench_put64(p, (uint64_t)ts.tv_sec * 1000000000u +
	    (uint64_t)ts.tv_nsec);
	d->r->r_sent++;
	flush(d, ic);
}

/* Phase 4. */
static void
hold(struct idle *d, uint64_t start, uint64_t end)
{
	uint64_t now, wake, period = d->o->o_heartbeat_ms * 1000000ull;
	int i, k, cursor = 0;

	for (i = 0; i < d->n; i++)
		d->conns[i].i_next_hb = start +
		    (period ? (period / (uint64_t)d->n) * (uint64_t)i : 0);
	while ((now = bench_now()) < end) {
		/* At most one round of heartbeats per wake-up. */
		for (k = 0; period && k < d->n; k++) {
			struct idle_conn *ic = &d->conns[cursor];

			if (ic->i_next_hb > now)
				break;
			ic->i_next_hb += period;
			if (ic->i_state == I_HELD)
				send_heartbeat(d, ic);
			cursor = (cursor + 1) % d->n;
		}
		wake = end;
		if (period && d->conns[cursor].i_next_hb < wake)
			wake = d->conns[cursor].i_next_hb;
		now = bench_now();
		poll_once(d, wake > now ?
		    (int)((wake - now + 999999) / 1000000) : 0);
	}
}

static int
setup(struct idle *d, struct bench_thread *t)
{
	const struct bench_opts *o = t->t_opts;
	size_t frame = BENCH_HDR + o->o_payload;
	int i;

	memset(d, 0, sizeof(*d));
	d->o = o;
	d->r = &t->t_res;
	d->n = t->t_count;
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	if ((d->conns = calloc((size_t)d->n, sizeof(*d->conns))) == NULL)
		return -1;
	for (i = 0; i < d->n; i++)
		d->conns[i].i_c.c_fd = -1;
	if (d->ep == -1 ||
	    bench_pool_init(&d->pool, o->o_payload, (uint64_t)t->t_id) == -1)
		return -1;
	/* Small buffers: this mode is about many connections. */
	for (i = 0; i < d->n; i++)
		if (bench_conn_alloc(&d->conns[i].i_c, frame + 4096,
		    frame + HB_QUEUE * (BENCH_HDR + HB_PAYLOAD)) == -1)
			return -1;
	return 0;
}

int
bench_idle_run(struct bench_thread *t)
{
	struct idle d;
	uint64_t start, end;
	int i, ready = 0, rv = -1, held = 0;

	if (setup(&d, t) == 0) {
		bench_connect_all(d.conns, sizeof(*d.conns), d.n, d.ep, d.o,
		    d.r);
		ping_all(&d);
		for (i = 0; i < d.n; i++)
			held += d.conns[i].i_state == I_HELD;
		__atomic_add_fetch(&held_total, held, __ATOMIC_RELAXED);
		ready = 1;
	} else
		perror("tao-bench: idle set-up");
	bench_sync();
	if (t->t_id == 0) {
		fprintf(stderr, "tao-bench: holding %d connections\n",
		    __atomic_load_n(&held_total, __ATOMIC_RELAXED));
		fflush(stderr);
	}
	start = bench_now();
	end = start + (uint64_t)(d.o->o_seconds * 1e9);
	d.r->r_start = start;
	d.r->r_end = end;
	if (ready) {
		hold(&d, start, end);
		for (i = 0; i < d.n; i++)
			d.r->r_open += d.conns[i].i_state == I_HELD;
		rv = 0;
	}
	for (i = 0; d.conns != NULL && i < d.n; i++)
		bench_conn_free(&d.conns[i].i_c);
	free(d.conns);
	bench_pool_free(&d.pool);
	if (d.ep != -1)
		close(d.ep);
	return rv;
}
