/*
 * burst.c - mode burst: open every connection at once, send one message
 * on each as soon as it is connected, and time until the last verified
 * reply.  This measures how a server copes with a storm of accepts (the
 * listen backlog, accept batching, the cost of setting a connection up)
 * rather than steady throughput.
 *
 *   CONNECTING --EPOLLOUT, ok--> SENT --reply--> DONE (closed)
 *        \--error------------------ \--EOF, bad reply, timeout--> failed
 *
 * With --tls a HANDSHAKE state sits between CONNECTING and SENT, and the
 * time per connection includes a full handshake (no session is reused):
 * connections/s of a burst is then new TLS handshakes per second.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

enum { B_CONNECTING, B_HANDSHAKE, B_SENT, B_DONE, B_FAILED };

struct burst_conn {
	struct bench_conn	 b_c;		/* first, for epoll data */
	int			 b_state;
	uint64_t		 b_salt;
	uint64_t		 b_started;
};

struct burst {
	const struct bench_opts	*o;
	struct bench_result	*r;
	struct bench_pool	 pool;
	struct burst_conn	*conns;
	int			 n;
	int			 ep;
	int			 pending;	/* neither done nor failed */
	uint64_t		 last;		/* time of the last reply */
};

static void
finish(struct burst *b, struct burst_conn *bc, int state)
{
	bench_conn_close(&bc->b_c, b->ep);
	bc->b_state = state;
	b->pending--;
}

static void
send_request(struct burst *b, struct burst_conn *bc)
{
	const struct bench_opts *o = b->o;
	uint8_t *p;
	int rv;

	b->r->r_connected++;
	p = bench_conn_frame(&bc->b_c, BENCH_TYPE_DATA, o->o_payload);
	bench_pool_fill(&b->pool, p, o->o_payload, bc->b_salt, 0);
	b->r->r_sent++;
	bc->b_state = B_SENT;
	if ((rv = bench_conn_flush(&bc->b_c)) == -1 ||
	    bench_conn_events(&bc->b_c, b->ep,
	    rv == 0 ? EPOLLIN | EPOLLOUT : EPOLLIN, bc) == -1) {
		b->r->r_resets++;
		finish(b, bc, B_FAILED);
	}
}

static void
handshake(struct burst *b, struct burst_conn *bc)
{
	int rv = bench_conn_handshake(&bc->b_c, b->ep, bc);

	if (rv == 1)
		send_request(b, bc);
	else if (rv == -1) {
		b->r->r_connect_failures++;
		finish(b, bc, B_FAILED);
	}
}

static void
on_connected(struct burst *b, struct burst_conn *bc)
{
	if (bench_conn_check(&bc->b_c) == -1) {
		b->r->r_connect_failures++;
		finish(b, bc, B_FAILED);
		return;
	}
	if (b->o->o_tls) {
		bc->b_state = B_HANDSHAKE;
		handshake(b, bc);
	} else
		send_request(b, bc);
}

static void
on_reply(struct burst *b, struct burst_conn *bc, uint64_t now)
{
	const struct bench_opts *o = b->o;
	struct bench_frame f;
	size_t off = 0;
	int rv;

again:
	if (bench_conn_read(&bc->b_c) == -1) {
		b->r->r_resets++;
		finish(b, bc, B_FAILED);
		return;
	}
	while ((rv = bench_frame_next(&bc->b_c, &off,
	    o->o_payload > 64 ? o->o_payload : 64, &f)) == 1) {
		if (f.f_type == BENCH_TYPE_HEARTBEAT) {
			b->r->r_heartbeats++;
			continue;
		}
		if (f.f_type != BENCH_TYPE_DATA || f.f_len != o->o_payload ||
		    !bench_pool_check(&b->pool, f.f_payload, f.f_len,
		    bc->b_salt, 0)) {
			b->r->r_mismatches++;
			finish(b, bc, B_FAILED);
			return;
		}
		b->r->r_replies++;
		bench_hist_add(&b->r->r_lat, now - bc->b_started);
		b->last = now;
		finish(b, bc, B_DONE);
		return;
	}
	if (rv == -1) {
		b->r->r_mismatches++;
		finish(b, bc, B_FAILED);
		return;
	}
	bench_conn_consume(&bc->b_c, off);
	if (bench_conn_pending(&bc->b_c)) {	/* --tls: held by OpenSSL */
		off = 0;
		goto again;
	}
}

static void
on_event(struct burst *b, struct burst_conn *bc, uint32_t events,
    uint64_t now)
{
	if (bc->b_state == B_CONNECTING) {
		on_connected(b, bc);
		return;
	}
	if (bc->b_state == B_HANDSHAKE) {
		handshake(b, bc);
		return;
	}
	if (bc->b_state != B_SENT)
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		on_reply(b, bc, now);
	else if (events & EPOLLOUT) {
		int rv = bench_conn_flush(&bc->b_c);

		if (rv == -1 || (rv == 1 &&
		    bench_conn_events(&bc->b_c, b->ep, EPOLLIN, bc) == -1)) {
			b->r->r_resets++;
			finish(b, bc, B_FAILED);
		}
	}
}

static void
run_loop(struct burst *b, uint64_t start)
{
	struct epoll_event evs[256];
	uint64_t now, deadline = start + (uint64_t)(b->o->o_timeout * 1e9);
	int i, nev;

	now = bench_now();
	while (b->pending > 0 && now < deadline) {
		nev = epoll_wait(b->ep, evs, 256,
		    (int)((deadline - now) / 1000000) + 1);
		if (nev == -1 && errno != EINTR) {
			perror("tao-bench: epoll_wait");
			break;
		}
		now = bench_now();
		for (i = 0; i < nev; i++)
			on_event(b, evs[i].data.ptr, evs[i].events, now);
	}
	/* What is left timed out: never connected, or never answered. */
	for (i = 0; i < b->n; i++) {
		struct burst_conn *bc = &b->conns[i];

		if (bc->b_state == B_CONNECTING || bc->b_state == B_HANDSHAKE)
			b->r->r_connect_failures++;
		else if (bc->b_state == B_SENT)
			b->r->r_missing++;
		else
			continue;
		finish(b, bc, B_FAILED);
	}
	b->r->r_end = b->last == 0 ? now : b->last;
}

int
bench_burst_run(struct bench_thread *t)
{
	const struct bench_opts *o = t->t_opts;
	struct burst b;
	size_t frame = BENCH_HDR + o->o_payload;
	uint64_t start;
	int i, rv = -1, ready = 0;

	memset(&b, 0, sizeof(b));
	b.o = o;
	b.r = &t->t_res;
	b.n = t->t_count;
	b.ep = epoll_create1(EPOLL_CLOEXEC);
	if ((b.conns = calloc((size_t)b.n, sizeof(*b.conns))) != NULL)
		for (i = 0; i < b.n; i++)
			b.conns[i].b_c.c_fd = -1;
	if (b.ep != -1 && b.conns != NULL &&
	    bench_pool_init(&b.pool, o->o_payload, (uint64_t)t->t_id) == 0) {
		for (i = 0; i < b.n; i++)
			if (bench_conn_alloc(&b.conns[i].b_c,
			    frame + 64 > 4096 ? frame + 64 : 4096, frame) == -1)
				break;
		ready = i == b.n;
	}
	if (!ready)
		perror("tao-bench: burst set-up");
	bench_sync();
	start = bench_now();
	t->t_res.r_start = t->t_res.r_end = start;
	if (ready) {
		for (i = 0; i < b.n; i++) {
			struct burst_conn *bc = &b.conns[i];

			bc->b_salt = (uint64_t)(t->t_first + i);
			bc->b_started = bench_now();
			bc->b_state = B_CONNECTING;
			b.pending++;
			if (bench_conn_start(&bc->b_c, b.ep, &o->o_addr,
			    EPOLLOUT, bc) == -1) {
				b.r->r_connect_failures++;
				finish(&b, bc, B_FAILED);
			}
		}
		run_loop(&b, start);
		rv = 0;
	}
	for (i = 0; b.conns != NULL && i < b.n; i++)
		bench_conn_free(&b.conns[i].b_c);
	free(b.conns);
	bench_pool_free(&b.pool);
	if (b.ep != -1)
		close(b.ep);
	return rv;
}
