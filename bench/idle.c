/*
 * idle.c - mode idle: hold many quiet connections and see which survive.
 *
 * One loop per thread, in two phases:
 *
 *   set-up  at most CONNECT_WINDOW connections are being set up at a
 *           time (more are started as those are answered); when one is
 *           connected it sends one echo request (CONNECTING -> PINGING),
 *           and the verified reply makes it HELD.  Set-up ends when no
 *           connection is left connecting or pinging, or after twice
 *           --timeout (what is left then counts as a connect failure or
 *           a timeout).  The thread then says it is ready and keeps
 *           looping until every thread is; the first thread prints
 *           "holding N connections" on stderr (scripts wait for that
 *           line before measuring the server).
 *   hold    -t seconds of nothing but heartbeats (--heartbeat MS) and
 *           whatever the server says, sleeping in epoll_wait until the
 *           next heartbeat is due.  Nothing spins.  SIGINT or SIGTERM
 *           ends the hold early (within HOLD_POLL_MS) and the results
 *           are printed as usual, so a script can hold connections for
 *           as long as its measurements take.
 *
 * Heartbeats are sent from the start of set-up on, to every connection
 * that is connected (PINGING or HELD) at its due time, and the longest
 * gap left between two frames on one connection is printed at the end
 * ("longest silence"), so that a server's heartbeat timeouts can be
 * told from the client's own lateness.  A server with a timeout must
 * not close the connections that were set up first while the last ones
 * are still connecting (with 16 000 connections on a busy machine that
 * takes seconds; a barrier between threads would stall them the same
 * way, so threads meet through a counter instead).  For the same reason
 * connections are set up through a window rather than all at once: the
 * kernel completes a handshake before the server accepts, so a client
 * that only waited for "connected" would run ahead of a busy server by
 * thousands of connections, which the server then accepts, reads and
 * times out in a burst.  Waiting for the echo paces set-up to what the
 * server really handles.
 *
 * The schedule is fixed when set-up starts: connection k of n is due at
 * start + k * period / n, then every period, so heartbeats are spread
 * evenly, the due times keep their order, and a cursor over the array is
 * the whole schedule.  A connection held at time t therefore sends its
 * first heartbeat before t + period.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define HB_PAYLOAD	8	/* Go Tao's heartbeat: int64 timestamp */
#define HB_QUEUE	16	/* unsent heartbeats before we skip some */
#define READY_POLL_MS	10	/* how often a ready thread looks at the others */
#define HOLD_POLL_MS	100	/* how often a holding thread looks at `stopping' */
#define CONNECT_WINDOW	256	/* connections being set up, per thread */

enum { I_CONNECTING, I_HANDSHAKE, I_PINGING, I_HELD, I_GONE };

struct idle_conn {
	struct bench_conn	 i_c;		/* first, for epoll data */
	int			 i_state;
	uint64_t		 i_next_hb;
	uint64_t		 i_last_tx;	/* when we last sent a frame */
};

struct idle {
	const struct bench_opts	*o;
	struct bench_result	*r;
	struct bench_pool	 pool;
	struct idle_conn	*conns;
	int			 n;
	int			 ep;
	int			 pending;	/* not started, connecting or pinging */
	int			 setting_up;	/* connecting or pinging */
	int			 next_start;	/* first connection not started */
	int			 cursor;	/* next heartbeat due */
	uint64_t		 period;	/* ns, 0 = no heartbeats */
	uint64_t		 max_silence;	/* ns between two frames sent */
};

/* Over all threads, for the "holding" message and the start of hold. */
static int held_total;
static int threads_ready;
static uint64_t max_silence;	/* ns, over all threads */

/* Set by SIGINT/SIGTERM: end the set-up or the hold now. */
static volatile sig_atomic_t stopping;
static pthread_once_t signals_once = PTHREAD_ONCE_INIT;

static void
on_stop_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void
catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void
gone(struct idle *d, struct idle_conn *ic)
{
	if (ic->i_state == I_CONNECTING || ic->i_state == I_HANDSHAKE ||
	    ic->i_state == I_PINGING) {
		d->setting_up--;
		d->pending--;
	}
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

/* Connected (and with --tls, the handshake done): send the one echo
 * request. */
static void
send_ping(struct idle *d, struct idle_conn *ic)
{
	uint8_t *p;

	d->r->r_connected++;
	ic->i_state = I_PINGING;
	p = bench_conn_frame(&ic->i_c, BENCH_TYPE_DATA, d->o->o_payload);
	bench_pool_fill(&d->pool, p, d->o->o_payload,
	    (uint64_t)(ic - d->conns), 0);
	d->r->r_sent++;
	ic->i_last_tx = bench_now();
	flush(d, ic);
}

/* --tls: drive the handshake; the ping follows it. */
static void
handshake(struct idle *d, struct idle_conn *ic)
{
	int rv = bench_conn_handshake(&ic->i_c, d->ep, ic);

	if (rv == 1)
		send_ping(d, ic);
	else if (rv == -1) {
		d->r->r_connect_failures++;
		gone(d, ic);
	}
}

/* EPOLLOUT on a connecting socket. */
static void
on_connected(struct idle *d, struct idle_conn *ic)
{
	if (bench_conn_check(&ic->i_c) == -1) {
		d->r->r_connect_failures++;
		gone(d, ic);
		return;
	}
	if (d->o->o_tls) {
		ic->i_state = I_HANDSHAKE;
		handshake(d, ic);
	} else
		send_ping(d, ic);
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
	d->setting_up--;
	d->pending--;
}

static void
on_event(struct idle *d, struct idle_conn *ic, uint32_t events)
{
	struct bench_frame f;
	size_t off = 0;
	int rv;

	if (ic->i_state == I_GONE)
		return;
	if (ic->i_state == I_CONNECTING) {
		on_connected(d, ic);
		return;
	}
	if (ic->i_state == I_HANDSHAKE) {
		handshake(d, ic);
		return;
	}
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
send_heartbeat(struct idle *d, struct idle_conn *ic, uint64_t now)
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
	if (now - ic->i_last_tx > d->max_silence)
		d->max_silence = now - ic->i_last_tx;
	ic->i_last_tx = now;
	flush(d, ic);
}

/* Send the heartbeats that are due (at most one round); return when the
 * next one is due, or UINT64_MAX when there are none. */
static uint64_t
heartbeats(struct idle *d, uint64_t now)
{
	int k;

	if (d->period == 0)
		return UINT64_MAX;
	for (k = 0; k < d->n; k++) {
		struct idle_conn *ic = &d->conns[d->cursor];

		if (ic->i_next_hb > now)
			break;
		ic->i_next_hb += d->period;
		/* A connection whose echo is still unanswered is connected
		 * too, and the server's clock runs for it. */
		if (ic->i_state == I_HELD || ic->i_state == I_PINGING)
			send_heartbeat(d, ic, now);
		d->cursor = (d->cursor + 1) % d->n;
	}
	return d->conns[d->cursor].i_next_hb;
}

/* One wake-up: heartbeats, then sleep in epoll_wait until the next one
 * is due, `until` or `cap_ms` from now, whichever comes first. */
static void
step(struct idle *d, uint64_t until, int cap_ms)
{
	struct epoll_event evs[256];
	uint64_t now, wake, ms;
	int i, nev, wait_ms;

	wake = heartbeats(d, bench_now());
	if (until < wake)
		wake = until;
	now = bench_now();
	/* wake may be UINT64_MAX (nothing due): keep the int positive. */
	ms = wake > now ? (wake - now) / 1000000 + 1 : 0;
	if (cap_ms >= 0 && ms > (uint64_t)cap_ms)
		ms = (uint64_t)cap_ms;
	wait_ms = ms > INT_MAX ? INT_MAX : (int)ms;
	nev = epoll_wait(d->ep, evs, 256, wait_ms);
	if (nev == -1 && errno != EINTR)
		perror("tao-bench: epoll_wait");
	for (i = 0; i < nev; i++)
		on_event(d, evs[i].data.ptr, evs[i].events);
}

/* Fold this thread's longest silence into the process's. */
static void
note_silence(struct idle *d)
{
	uint64_t cur = __atomic_load_n(&max_silence, __ATOMIC_RELAXED);

	while (d->max_silence > cur && !__atomic_compare_exchange_n(
	    &max_silence, &cur, d->max_silence, 0, __ATOMIC_RELAXED,
	    __ATOMIC_RELAXED))
		;
}

/* Start connects until CONNECT_WINDOW are being set up. */
static void
start_connects(struct idle *d)
{
	while (d->setting_up < CONNECT_WINDOW && d->next_start < d->n) {
		struct idle_conn *ic = &d->conns[d->next_start++];

		if (bench_conn_start(&ic->i_c, d->ep, &d->o->o_addr, EPOLLOUT,
		    ic) == -1) {
			d->r->r_connect_failures++;
			ic->i_state = I_GONE;
			d->pending--;
			continue;
		}
		ic->i_state = I_CONNECTING;
		d->setting_up++;
	}
}

/* The set-up phase; returns how many connections are held. */
static int
set_up(struct idle *d, uint64_t start)
{
	uint64_t deadline;
	int i, held = 0;

	for (i = 0; i < d->n; i++)
		d->conns[i].i_next_hb = start +
		    (d->period / (uint64_t)d->n) * (uint64_t)i;
	d->pending = d->n;
	deadline = start + 2 * (uint64_t)(d->o->o_timeout * 1e9);
	while (d->pending > 0 && bench_now() < deadline && !stopping) {
		start_connects(d);
		step(d, deadline, HOLD_POLL_MS);
	}
	for (i = 0; i < d->n; i++) {
		struct idle_conn *ic = &d->conns[i];

		if (i >= d->next_start || ic->i_state == I_CONNECTING ||
		    ic->i_state == I_HANDSHAKE)
			d->r->r_connect_failures++;
		else if (ic->i_state == I_PINGING)
			d->r->r_timeouts++;
		else if (ic->i_state == I_HELD)
			held++;
		if (ic->i_state == I_CONNECTING ||
		    ic->i_state == I_HANDSHAKE || ic->i_state == I_PINGING)
			gone(d, ic);
	}
	return held;
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
	d->period = o->o_heartbeat_ms * 1000000ull;
	d->ep = epoll_create1(EPOLL_CLOEXEC);
	if ((d->conns = calloc((size_t)d->n, sizeof(*d->conns))) == NULL)
		return -1;
	for (i = 0; i < d->n; i++) {
		d->conns[i].i_c.c_fd = -1;
		d->conns[i].i_state = I_GONE;
	}
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
	const struct bench_opts *o = t->t_opts;
	struct idle d;
	uint64_t start, end;
	int i, ok, rv = -1, held = 0;

	pthread_once(&signals_once, catch_stop_signals);
	ok = setup(&d, t) == 0;
	if (!ok)
		perror("tao-bench: idle set-up");
	else
		held = set_up(&d, bench_now());
	__atomic_add_fetch(&held_total, held, __ATOMIC_RELAXED);
	/* Ready: keep the held connections beating until all threads are. */
	__atomic_add_fetch(&threads_ready, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&threads_ready, __ATOMIC_ACQUIRE) <
	    o->o_threads && !stopping) {
		if (ok)
			step(&d, UINT64_MAX, READY_POLL_MS);
		else
			usleep(READY_POLL_MS * 1000);
	}
	if (ok)
		note_silence(&d);
	if (t->t_id == 0) {
		fprintf(stderr, "tao-bench: holding %d connections\n",
		    __atomic_load_n(&held_total, __ATOMIC_RELAXED));
		fflush(stderr);
	}
	start = bench_now();
	end = start + (uint64_t)(o->o_seconds * 1e9);
	d.r->r_start = start;
	d.r->r_end = end;
	if (ok) {
		while (bench_now() < end && !stopping)
			step(&d, end, HOLD_POLL_MS);
		if (stopping)
			d.r->r_end = bench_now();
		note_silence(&d);
		for (i = 0; i < d.n; i++)
			d.r->r_open += d.conns[i].i_state == I_HELD;
		rv = 0;
	}
	/* Every thread passes here once, ready or not. */
	bench_sync();
	if (t->t_id == 0 && o->o_heartbeat_ms > 0)
		fprintf(stderr, "tao-bench: longest silence on a connection: "
		    "%.1f ms (heartbeat every %llu ms)\n",
		    (double)__atomic_load_n(&max_silence, __ATOMIC_RELAXED) /
		    1e6, (unsigned long long)o->o_heartbeat_ms);
	for (i = 0; d.conns != NULL && i < d.n; i++)
		bench_conn_free(&d.conns[i].i_c);
	free(d.conns);
	bench_pool_free(&d.pool);
	if (d.ep != -1)
		close(d.ep);
	return rv;
}
