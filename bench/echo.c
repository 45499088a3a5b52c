/*
 * echo.c - modes echo and stream: a closed loop of verified echoes.
 *
 * Every connection keeps o_depth requests in flight.  Replies on one
 * connection come back in order, so the reply expected next is always
 * the oldest request; its send time sits in a ring of o_depth slots:
 *
 *   e_next_recv             e_next_send
 *        |  in flight (<= depth) |
 *   sent_at[seq % depth] = time request seq was queued
 *
 * Each reply is checked against the payload regenerated from (salt, seq),
 * then answered at once by the next request.  Set-up (connecting) is done
 * before the measurement window; after it, no new request is sent and the
 * ones in flight are drained (checked, not counted) for up to o_timeout.
 * Stream mode is the same loop with one connection and large frames.
 * With --tls the connections are set up (TCP and handshake) before the
 * window too, so the window measures TLS records, not handshakes.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define TICK_MS		100	/* how often timeouts are looked for */

struct echo_conn {
	struct bench_conn	 e_c;		/* first, for epoll data */
	uint64_t		 e_salt;
	uint64_t		 e_next_send;
	uint64_t		 e_next_recv;
	uint64_t		*e_sent_at;
};

struct echo {
	const struct bench_opts	*o;
	struct bench_result	*r;
	struct bench_pool	 pool;
	struct echo_conn	*conns;
	int			 n;
	int			 ep;
	int			 sending;
	uint64_t		 end;
	uint64_t		 timeout;	/* ns */
	uint64_t		 outstanding;
};

static void
kill_conn(struct echo *e, struct echo_conn *ec)
{
	if (ec->e_c.c_fd == -1)
		return;
	bench_conn_close(&ec->e_c, e->ep);
	e->outstanding -= ec->e_next_send - ec->e_next_recv;
	ec->e_next_recv = ec->e_next_send;
}

/* -1 when the write buffer, sized for o_depth requests, is full: the
 * server answered more than was asked. */
static int
queue_request(struct echo *e, struct echo_conn *ec, uint64_t now)
{
	uint64_t seq = ec->e_next_send;
	uint8_t *p;

	p = bench_conn_frame(&ec->e_c, BENCH_TYPE_DATA, e->o->o_payload);
	if (p == NULL)
		return -1;
	ec->e_next_send++;
	bench_pool_fill(&e->pool, p, e->o->o_payload, ec->e_salt, seq);
	ec->e_sent_at[seq % (uint64_t)e->o->o_depth] = now;
	e->outstanding++;
	e->r->r_sent++;
	return 0;
}

static void
flush(struct echo *e, struct echo_conn *ec)
{
	uint32_t want;
	int rv;

	if ((rv = bench_conn_flush(&ec->e_c)) == -1) {
		e->r->r_resets++;
		kill_conn(e, ec);
		return;
	}
	want = rv == 0 ? EPOLLIN | EPOLLOUT : EPOLLIN;
	if (bench_conn_events(&ec->e_c, e->ep, want, ec) == -1) {
		e->r->r_resets++;
		kill_conn(e, ec);
	}
}

/* One reply frame: 0 fine, -1 the connection must go. */
static int
take_reply(struct echo *e, struct echo_conn *ec, const struct bench_frame *f,
    uint64_t now)
{
	const struct bench_opts *o = e->o;
	struct bench_result *r = e->r;
	uint64_t seq = ec->e_next_recv;

	if (f->f_type == BENCH_TYPE_HEARTBEAT) {
		r->r_heartbeats++;
		return 0;
	}
	if (seq == ec->e_next_send || f->f_type != BENCH_TYPE_DATA ||
	    f->f_len != o->o_payload) {
		/* A frame nobody asked for, or framing we cannot follow. */
		r->r_mismatches++;
		return -1;
	}
	ec->e_next_recv++;
	e->outstanding--;
	if (!bench_pool_check(&e->pool, f->f_payload, f->f_len, ec->e_salt,
	    seq))
		r->r_mismatches++;
	else {
		r->r_replies++;
		if (now <= e->end) {
			bench_hist_add(&r->r_lat,
			    now - ec->e_sent_at[seq % (uint64_t)o->o_depth]);
			r->r_msgs++;
			r->r_bytes += f->f_len;
		}
	}
	if (e->sending && queue_request(e, ec, now) == -1) {
		r->r_mismatches++;
		return -1;
	}
	return 0;
}

/* One read and the frames it completed: 0, or -1 once the connection
 * is gone. */
static int
read_once(struct echo *e, struct echo_conn *ec)
{
	struct bench_frame f;
	size_t off = 0, max;
	uint64_t now;
	int rv;

	if (bench_conn_read(&ec->e_c) == -1) {
		e->r->r_resets++;
		kill_conn(e, ec);
		return -1;
	}
	now = bench_now();
	/* Heartbeats from the server may be longer than tiny payloads. */
	max = e->o->o_payload > 64 ? e->o->o_payload : 64;
	while ((rv = bench_frame_next(&ec->e_c, &off, max, &f)) == 1)
		if (take_reply(e, ec, &f, now) == -1) {
			kill_conn(e, ec);
			return -1;
		}
	if (rv == -1) {
		e->r->r_mismatches++;
		kill_conn(e, ec);
		return -1;
	}
	bench_conn_consume(&ec->e_c, off);
	return 0;
}

static void
on_readable(struct echo *e, struct echo_conn *ec)
{
	/* --tls: OpenSSL may hold decrypted replies epoll cannot see. */
	do {
		if (read_once(e, ec) == -1)
			return;
	} while (bench_conn_pending(&ec->e_c));
	if (ec->e_c.c_wlen > 0)
		flush(e, ec);
}

/* Requests older than the timeout: give up on their connection. */
static void
check_timeouts(struct echo *e, uint64_t now)
{
	struct echo_conn *ec;
	uint64_t lost;
	int i;

	for (i = 0; i < e->n; i++) {
		ec = &e->conns[i];
		if (ec->e_c.c_fd == -1 || ec->e_next_recv == ec->e_next_send)
			continue;
		if (now - ec->e_sent_at[ec->e_next_recv %
		    (uint64_t)e->o->o_depth] < e->timeout)
			continue;
		lost = ec->e_next_send - ec->e_next_recv;
		e->r->r_timeouts += lost;
		kill_conn(e, ec);
	}
}

static void
run_loop(struct echo *e)
{
	struct epoll_event evs[256];
	uint64_t now, last_tick, hard_end;
	int i, nev, wait_ms;

	now = last_tick = bench_now();
	hard_end = e->end + e->timeout + 1000000000ull;
	for (;;) {
		if (e->sending && now >= e->end)
			e->sending = 0;
		if (!e->sending && e->outstanding == 0)
			break;
		if (now >= hard_end) {
			e->r->r_timeouts += e->outstanding;
			break;
		}
		wait_ms = TICK_MS;
		if (e->sending && (e->end - now) / 1000000 < TICK_MS)
			wait_ms = (int)((e->end - now) / 1000000) + 1;
		nev = epoll_wait(e->ep, evs, 256, wait_ms);
		if (nev == -1 && errno != EINTR) {
			perror("tao-bench: epoll_wait");
			break;
		}
		for (i = 0; i < nev; i++) {
			struct echo_conn *ec = evs[i].data.ptr;

			if (ec->e_c.c_fd == -1)
				continue;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				on_readable(e, ec);
			else if (evs[i].events & EPOLLOUT)
				flush(e, ec);
		}
		now = bench_now();
		if (now - last_tick >= TICK_MS * 1000000ull) {
			check_timeouts(e, now);
			last_tick = now;
		}
	}
}

static int
setup(struct echo *e, struct bench_thread *t)
{
	const struct bench_opts *o = t->t_opts;
	size_t frame = BENCH_HDR + o->o_payload, rcap;
	int i;

	memset(e, 0, sizeof(*e));
	e->o = o;
	e->r = &t->t_res;
	e->n = t->t_count;
	e->timeout = (uint64_t)(o->o_timeout * 1e9);
	if ((e->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	if (bench_pool_init(&e->pool, o->o_payload, (uint64_t)t->t_id) == -1)
		return -1;
	if ((e->conns = calloc((size_t)e->n, sizeof(*e->conns))) == NULL)
		return -1;
	for (i = 0; i < e->n; i++)
		e->conns[i].e_c.c_fd = -1;
	rcap = 4 * frame > 65536 ? 4 * frame : 65536;
	for (i = 0; i < e->n; i++) {
		struct echo_conn *ec = &e->conns[i];

		ec->e_salt = (uint64_t)(t->t_first + i);
		if (bench_conn_alloc(&ec->e_c, rcap,
		    frame * (size_t)o->o_depth) == -1)
			return -1;
		ec->e_sent_at = calloc((size_t)o->o_depth, sizeof(uint64_t));
		if (ec->e_sent_at == NULL)
			return -1;
	}
	return 0;
}

static void
teardown(struct echo *e)
{
	int i;

	for (i = 0; e->conns != NULL && i < e->n; i++) {
		bench_conn_free(&e->conns[i].e_c);
		free(e->conns[i].e_sent_at);
	}
	free(e->conns);
	bench_pool_free(&e->pool);
	if (e->ep > 0)
		close(e->ep);
}

int
bench_echo_run(struct bench_thread *t)
{
	struct echo e;
	uint64_t now;
	int i, rv = -1, ready = 0;

	if (setup(&e, t) == -1)
		perror("tao-bench: echo set-up");
	else {
		bench_connect_all(e.conns, sizeof(*e.conns), e.n, e.ep, e.o,
		    e.r);
		ready = 1;
	}
	/* Every thread passes here once, ready or not, or the others hang. */
	bench_sync();
	now = bench_now();
	e.r->r_start = now;
	e.end = e.r->r_end = now + (uint64_t)(e.o->o_seconds * 1e9);
	if (ready) {
		e.sending = 1;
		for (i = 0; i < e.n; i++) {
			struct echo_conn *ec = &e.conns[i];
			int k;

			if (ec->e_c.c_fd == -1)
				continue;
			for (k = 0; k < e.o->o_depth; k++)
				(void)queue_request(&e, ec, now);
			flush(&e, ec);
		}
		run_loop(&e);
		rv = 0;
	}
	teardown(&e);
	return rv;
}
