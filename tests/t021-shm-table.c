/*
 * t021-shm-table - shm/table.c: insert, update, state, remove, read,
 * iterate and find; a partition full; the 64-byte packed row (v4 and v6
 * peers, connected_ms and state round-trip, counters saturate at 2^48 - 1
 * instead of wrapping, pid/generation/lslot come from the islot); the
 * seqlock under a writer process hammering rows while a reader process
 * checks every copy for self-consistency; reclaim of a partition whose writer was SIGKILLed with
 * a row's sequence left odd.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shm/segment.h"
#include "shm/row.h"
#include "shm/table.h"
#include "tap.h"
#include "lib/harness.h"
#include "lib/kids.h"


_Static_assert(sizeof(struct tao_shm_row) == 64, "a row is 64 bytes");

/* "a.b.c.d:port" or "[v6]:port" into a row's binary peer; anything else
 * is no peer. */
static struct tao_row_peer
peer_parse(const char *text)
{
	struct tao_row_peer p;
	char host[64];
	unsigned port;

	memset(&p, 0, sizeof(p));
	if (sscanf(text, "[%63[^]]]:%u", host, &port) == 2 &&
	    inet_pton(AF_INET6, host, p.rp_addr) == 1)
		p.rp_family = TAO_ROW_PEER_V6;
	else if (sscanf(text, "%63[0-9.]:%u", host, &port) == 2 &&
	    inet_pton(AF_INET, host, p.rp_addr) == 1)
		p.rp_family = TAO_ROW_PEER_V4;
	else
		return p;
	p.rp_port = (uint16_t)port;
	return p;
}

/* The peer back as text, as taoctl conns prints it. */
static const char *
peer_text(const struct tao_row_peer *p)
{
	static char out[64];
	char host[INET6_ADDRSTRLEN];

	if (p->rp_family == TAO_ROW_PEER_NONE)
		return "?";
	inet_ntop(p->rp_family == TAO_ROW_PEER_V6 ? AF_INET6 : AF_INET,
	    p->rp_addr, host, sizeof(host));
	snprintf(out, sizeof(out), p->rp_family == TAO_ROW_PEER_V6 ?
	    "[%s]:%u" : "%s:%u", host, (unsigned)p->rp_port);
	return out;
}

static struct tao_conn_row
row_make(uint64_t netid, const char *peer)
{
	struct tao_conn_row r;

	memset(&r, 0, sizeof(r));
	r.cr_netid = netid;
	r.cr_connected_ms = 1700000000000 + (int64_t)netid;
	r.cr_pid = 99;			/* not stored: the islot's */
	r.cr_generation = 98;
	r.cr_lslot = 97;
	r.cr_islot = 999;
	r.cr_peer = peer_parse(peer);
	return r;
}

/* ---- single process ---- */

/* One row of partition 1: insert, read, counters, state. */
static void
basic_one_row(struct tao_shm *shm)
{
	struct tao_conn_row in, out;
	int a;

	tao__shm_islot_assign(shm, 1, 1234, 1, 2);
	in = row_make(11, "[::1]:12345");
	a = tao__table_insert(shm, 1, &in);
	is_int(a, 0, "first insert gets row 0");
	is_int(tao__table_read(shm, 1, a, &out), 0, "read it back");
	ok(out.cr_netid == 11 && out.cr_connected_ms == 1700000000011 &&
	    out.cr_pid == 1234 && out.cr_generation == 2 &&
	    out.cr_lslot == 1 && out.cr_islot == 1 &&
	    out.cr_state == TAO_ROW_OPEN && out.cr_msgs_in == 0,
	    "fields copied, pid/generation/lslot/islot from the islot, "
	    "state OPEN");
	is_str(peer_text(&out.cr_peer), "[::1]:12345", "peer");
	tao__table_update_counters(shm, 1, a, 5, 6, 700, 800);
	tao__table_read(shm, 1, a, &out);
	ok(out.cr_msgs_in == 5 && out.cr_msgs_out == 6 &&
	    out.cr_bytes_in == 700 && out.cr_bytes_out == 800 &&
	    out.cr_netid == 11, "update_counters");
	tao__table_set_state(shm, 1, a, TAO_ROW_CLOSING);
	tao__table_read(shm, 1, a, &out);
	ok(out.cr_state == TAO_ROW_CLOSING && out.cr_lslot == 1 &&
	    out.cr_islot == 1, "set_state CLOSING keeps its neighbours");
}

/* Partition 1 fills up, a removed row is freed once, other islots. */
static void
basic_fill(struct tao_shm *shm)
{
	struct tao_conn_row in, out;
	int b, c, d, e;

	in = row_make(12, "127.0.0.1:1");
	b = tao__table_insert(shm, 1, &in);
	in = row_make(13, "127.0.0.1:2");
	c = tao__table_insert(shm, 1, &in);
	in = row_make(14, "127.0.0.1:3");
	d = tao__table_insert(shm, 1, &in);
	ok(b == 1 && c == 2 && d == 3, "rows 1, 2, 3");
	in = row_make(15, "x");
	errno = 0;
	ok(tao__table_insert(shm, 1, &in) == -1 && errno == ENOSPC,
	    "max_connections rows in a partition, then ENOSPC");
	ok(tao__table_insert(shm, 3, &in) == -1 && errno == EINVAL,
	    "islot out of range: EINVAL");
	tao__table_remove(shm, 1, b);
	errno = 0;
	ok(tao__table_read(shm, 1, b, &out) == -1 && errno == ENOENT,
	    "a removed row reads ENOENT");
	ok(tao__table_read(shm, 1, 4, &out) == -1 && errno == ENOENT &&
	    tao__table_read(shm, 7, 0, &out) == -1,
	    "out of range reads ENOENT");
	tao__table_remove(shm, 1, b);		/* twice: ignored */
	tao__table_remove(shm, 1, 99);		/* out of range: ignored */
	e = tao__table_insert(shm, 1, &in);
	is_int(e, b, "the freed row is reused");
	ok(tao__table_insert(shm, 1, &in) == -1 && errno == ENOSPC,
	    "a double remove did not free the row twice");
	in = row_make(21, "10.0.0.1:80");
	is_int(tao__table_insert(shm, 0, &in), 0, "islot 0 has its own rows");
	in = row_make(31, "10.0.0.2:80");
	is_int(tao__table_insert(shm, 2, &in), 0, "islot 2 too");
}

static void
test_basic(void)
{
	struct tao_shm_params p = { 3, 4, 4096 };
	struct tao_shm *shm = tao__shm_create(&p);

	if (shm == NULL)
		bail("tao__shm_create");
	basic_one_row(shm);
	basic_fill(shm);
	tao__shm_destroy(shm);
}

static void
test_iterate_find(void)
{
	struct tao_shm_params p = { 4, 50, 4096 };
	struct tao_shm *shm = tao__shm_create(&p);
	struct tao_table_iter it = { 0 };
	struct tao_conn_row in, out;
	uint64_t seen = 0, sum = 0;
	unsigned i, isl, row, n = 0, order = 1, last = 0;
	char peer[32];

	if (shm == NULL)
		bail("tao__shm_create");
	/* 40 rows over islots 0, 1, 3; every third removed again */
	for (i = 1; i <= 40; i++) {
		snprintf(peer, sizeof(peer), "127.0.0.1:%u", i);
		in = row_make(1000 + i, peer);
		isl = i % 3 == 0 ? 3 : i % 3 - 1;
		row = (unsigned)tao__table_insert(shm, isl, &in);
		if (i % 4 == 0)
			tao__table_remove(shm, isl, row);
		else {
			seen++;
			sum += 1000 + i;
		}
	}
	while (tao__table_next(shm, &it, &out) == 1) {
		n++;
		sum -= out.cr_netid;
		if (out.cr_islot < last)
			order = 0;
		last = out.cr_islot;
		if (out.cr_state != TAO_ROW_OPEN)
			order = 0;
	}
	is_int(n, seen, "iterator returns every live row once (%u)", n);
	ok(sum == 0 && order, "exactly the live netids, in islot order");
	is_int(tao__table_next(shm, &it, &out), 0, "and stays at the end");
	ok(tao__table_find_netid(shm, 1039, &isl, &row) == 0 && isl == 3,
	    "find_netid: 1039 in islot 3");
	ok(tao__table_read(shm, isl, row, &out) == 0 && out.cr_netid == 1039,
	    "its row reads back");
	errno = 0;
	ok(tao__table_find_netid(shm, 1040, &isl, &row) == -1 &&
	    errno == ENOENT, "a removed netid: ENOENT");
	ok(tao__table_find_netid(shm, 0, &isl, &row) == -1,
	    "netid 0: ENOENT");
	ok(tao__table_find_netid(shm, 424242, &isl, &row) == -1,
	    "unknown netid: ENOENT");
	tao__shm_destroy(shm);
}

/* ---- the packed row ---- */

static void
packing_size_peers(struct tao_shm *shm)
{
	struct tao_conn_row in, out;
	int a;

	is_int(sizeof(struct tao_shm_row), 64, "a shm row is 64 bytes");
	in = row_make(41, "192.0.2.200:65535");
	in.cr_connected_ms = TAO_ROW_MS_MAX;	/* the year 2527 */
	a = tao__table_insert(shm, 0, &in);
	ok(tao__table_read(shm, 0, a, &out) == 0 &&
	    out.cr_peer.rp_family == TAO_ROW_PEER_V4 &&
	    out.cr_peer.rp_port == 65535 &&
	    memcmp(out.cr_peer.rp_addr, in.cr_peer.rp_addr, 16) == 0,
	    "a v4 peer round-trips");
	is_str(peer_text(&out.cr_peer), "192.0.2.200:65535", "as text too");
	ok(out.cr_connected_ms == TAO_ROW_MS_MAX && out.cr_netid == 41,
	    "connected_ms 2^44 - 1 round-trips");
	in = row_make(42, "[2001:db8:ffff::1:fffe]:1");
	in.cr_connected_ms = 1765000000123;
	in.cr_state = TAO_ROW_CLOSING;
	a = tao__table_insert(shm, 0, &in);
	ok(tao__table_read(shm, 0, a, &out) == 0 &&
	    out.cr_peer.rp_family == TAO_ROW_PEER_V6 &&
	    out.cr_peer.rp_port == 1 &&
	    memcmp(out.cr_peer.rp_addr, in.cr_peer.rp_addr, 16) == 0 &&
	    out.cr_connected_ms == 1765000000123, "a v6 peer and "
	    "connected_ms round-trip");
	is_str(peer_text(&out.cr_peer), "[2001:db8:ffff::1:fffe]:1",
	    "as text too");
	ok(out.cr_state == TAO_ROW_CLOSING, "state CLOSING round-trips");
	tao__table_set_state(shm, 0, a, TAO_ROW_OPEN);
	ok(tao__table_read(shm, 0, a, &out) == 0 &&
	    out.cr_state == TAO_ROW_OPEN && out.cr_netid == 42 &&
	    out.cr_connected_ms == 1765000000123 &&
	    out.cr_peer.rp_port == 1, "set_state OPEN keeps its word "
	    "neighbours");
	in.cr_peer = peer_parse("10.1.2.3:8080");
	tao__table_set_peer(shm, 0, a, &in.cr_peer);
	ok(tao__table_read(shm, 0, a, &out) == 0 &&
	    strcmp(peer_text(&out.cr_peer), "10.1.2.3:8080") == 0 &&
	    out.cr_state == TAO_ROW_OPEN &&
	    out.cr_connected_ms == 1765000000123, "set_peer, v6 to v4");
	in = row_make(43, "x");
	in.cr_connected_ms = -5;
	a = tao__table_insert(shm, 0, &in);
	ok(tao__table_read(shm, 0, a, &out) == 0 &&
	    out.cr_peer.rp_family == TAO_ROW_PEER_NONE &&
	    strcmp(peer_text(&out.cr_peer), "?") == 0 &&
	    out.cr_connected_ms == 0, "no peer; a negative time reads 0");
}

static void
packing_saturate(struct tao_shm *shm)
{
	const uint64_t max = TAO_ROW_COUNTER_MAX;
	struct tao_conn_row in, out;
	int a;

	in = row_make(51, "127.0.0.1:51");
	in.cr_msgs_in = max - 1;
	in.cr_msgs_out = 1;
	in.cr_bytes_in = max;
	in.cr_bytes_out = UINT64_MAX;
	a = tao__table_insert(shm, 0, &in);
	ok(tao__table_read(shm, 0, a, &out) == 0 && out.cr_msgs_in == max - 1 &&
	    out.cr_msgs_out == 1 && out.cr_bytes_in == max &&
	    out.cr_bytes_out == max, "48-bit counters: insert keeps them, "
	    "clamps 2^64 - 1 to 2^48 - 1");
	tao__table_add_counters(shm, 0, a, 5, (UINT64_C(1) << 47), 1,
	    UINT64_MAX);
	tao__table_read(shm, 0, a, &out);
	ok(out.cr_msgs_in == max && out.cr_bytes_in == max &&
	    out.cr_bytes_out == max, "add_counters saturates at 2^48 - 1, "
	    "never wraps");
	is_int(out.cr_msgs_out, (UINT64_C(1) << 47) + 1,
	    "a neighbour counter is not disturbed");
	tao__table_add_counters(shm, 0, a, 1, 0, 1, 1);
	tao__table_read(shm, 0, a, &out);
	ok(out.cr_msgs_in == max && out.cr_bytes_in == max,
	    "and stays there");
	tao__table_update_counters(shm, 0, a, UINT64_MAX, max + 1, 7,
	    max - 7);
	tao__table_read(shm, 0, a, &out);
	ok(out.cr_msgs_in == max && out.cr_msgs_out == max &&
	    out.cr_bytes_in == 7 && out.cr_bytes_out == max - 7 &&
	    out.cr_netid == 51 && out.cr_peer.rp_port == 51,
	    "update_counters saturates too, neighbours intact");
}

static void
test_packing(void)
{
	struct tao_shm_params p = { 1, 8, 4096 };
	struct tao_shm *shm = tao__shm_create(&p);

	if (shm == NULL)
		bail("tao__shm_create");
	packing_size_peers(shm);
	packing_saturate(shm);
	tao__shm_destroy(shm);
}

/* ---- seqlock: a writer process against a reader process ---- */

#define SQ_ROWS		8

struct sq_board {
	_Atomic int		go, stop;
	_Atomic uint64_t	writes, reads, torn, busy, free_seen;
};

struct sq_job {
	struct tao_shm	*shm;
	struct sq_board	*b;
};

/* Every version of a row has its four counters equal, and netid equal to
 * connected_ms, to its peer port and to both halves of its peer address,
 * so any mix of two versions shows. */
static struct tao_row_peer
sq_peer(uint64_t v)
{
	struct tao_row_peer p;
	uint64_t half = ~v;

	memset(&p, 0, sizeof(p));
	p.rp_family = TAO_ROW_PEER_V6;
	p.rp_port = (uint16_t)v;
	memcpy(p.rp_addr, &v, 8);
	memcpy(p.rp_addr + 8, &half, 8);
	return p;
}

static struct tao_conn_row
sq_row(uint64_t v)
{
	struct tao_conn_row r;

	memset(&r, 0, sizeof(r));
	r.cr_netid = v;
	r.cr_connected_ms = (int64_t)v;
	r.cr_peer = sq_peer(v);
	return r;
}

/*
 * A writer that takes its time inside the write section, as a worker
 * preempted mid-update would: the same protocol as table.c (odd, release
 * fence, words, even), with a pause after every word.
 */
static void
slow_write(struct tao_shm_row *sr, const struct tao_conn_row *img)
{
	uint64_t w[TAO_ROW_WORDS];
	uint32_t s;
	volatile unsigned spin;
	size_t i;

	tao__row_encode(img, w);
	s = atomic_load_explicit(&sr->sr_seq, memory_order_relaxed) | 1;
	atomic_store_explicit(&sr->sr_seq, s, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (i = 0; i < TAO_ROW_WORDS; i++) {
		atomic_store_explicit(&sr->sr_word[i], w[i],
		    memory_order_relaxed);
		for (spin = 0; spin < 30; spin++)
			;
	}
	atomic_store_explicit(&sr->sr_seq, s + 1, memory_order_release);
}

/* Rows 0-3 through the API: odd rounds replace the row (remove, insert:
 * every word changes), even rounds move the four counters.  Rows 4-7 are
 * rewritten whole by slow_write. */
static int
sq_writer(void *arg)
{
	struct sq_job *j = arg;
	struct tao_conn_row r;
	unsigned rows[SQ_ROWS], i;
	uint64_t v = 1;
	int k;

	for (i = 0; i < SQ_ROWS; i++) {
		r = sq_row(v);
		r.cr_msgs_in = r.cr_msgs_out = r.cr_bytes_in =
		    r.cr_bytes_out = v;
		rows[i] = (unsigned)tao__table_insert(j->shm, 0, &r);
	}
	atomic_store(&j->b->go, 1);
	while (!atomic_load_explicit(&j->b->stop, memory_order_relaxed)) {
		for (i = 0; i < SQ_ROWS; i++, v++) {
			r = sq_row(v);
			r.cr_state = TAO_ROW_OPEN;
			r.cr_islot = 0;
			r.cr_msgs_in = r.cr_msgs_out = r.cr_bytes_in =
			    r.cr_bytes_out = v;
			if (i >= SQ_ROWS / 2)
				slow_write(tao__shm_row(j->shm, 0, rows[i]),
				    &r);
			else if (v % 2 == 1) {
				tao__table_remove(j->shm, 0, rows[i]);
				if ((k = tao__table_insert(j->shm, 0, &r)) < 0)
					return 2;
				rows[i] = (unsigned)k;
			} else
				tao__table_update_counters(j->shm, 0, rows[i],
				    v, v, v, v);
		}
		atomic_fetch_add_explicit(&j->b->writes, SQ_ROWS,
		    memory_order_relaxed);
	}
	return 0;
}

static int
sq_consistent(const struct tao_conn_row *r)
{
	struct tao_row_peer want = sq_peer(r->cr_netid);

	return r->cr_msgs_out == r->cr_msgs_in &&
	    r->cr_bytes_in == r->cr_msgs_in && r->cr_bytes_out == r->cr_msgs_in &&
	    r->cr_connected_ms == (int64_t)r->cr_netid &&
	    r->cr_state == TAO_ROW_OPEN &&
	    r->cr_peer.rp_family == want.rp_family &&
	    r->cr_peer.rp_port == want.rp_port &&
	    memcmp(r->cr_peer.rp_addr, want.rp_addr, 16) == 0;
}

static int
sq_reader(void *arg)
{
	struct sq_job *j = arg;
	struct tao_conn_row r;
	unsigned i;

	while (!atomic_load(&j->b->go))
		;
	while (!atomic_load_explicit(&j->b->stop, memory_order_relaxed)) {
		for (i = 0; i < SQ_ROWS; i++) {
			if (tao__table_read(j->shm, 0, i, &r) == -1) {
				if (errno == EAGAIN)
					atomic_fetch_add(&j->b->busy, 1);
				else
					atomic_fetch_add(&j->b->free_seen, 1);
				continue;
			}
			if (!sq_consistent(&r))
				atomic_fetch_add(&j->b->torn, 1);
			atomic_fetch_add_explicit(&j->b->reads, 1,
			    memory_order_relaxed);
		}
	}
	return 0;
}

static void
test_seqlock(void)
{
	struct tao_shm_params p = { 1, SQ_ROWS + 1, 4096 };
	struct tao_shm *shm = tao__shm_create(&p);
	struct sq_job job;
	pid_t w, r;
	double t0;
	int rw, rr;

	if (shm == NULL)
		bail("tao__shm_create");
	job.shm = shm;
	job.b = kids_shared_alloc(sizeof(*job.b));
	w = kids_spawn(sq_writer, &job);
	r = kids_spawn(sq_reader, &job);
	t0 = kids_now_s();
	while (kids_now_s() - t0 < 1.0)	/* the scenario: run for 1 s */
		usleep(10000);
	atomic_store(&job.b->stop, 1);
	rw = kids_reap(w, 5000);
	rr = kids_reap(r, 5000);
	ok(rw == 0 && rr == 0, "writer and reader ran ~1 s and exited");
	diag("writes %llu, reads %llu, busy %llu, free %llu",
	    (unsigned long long)atomic_load(&job.b->writes),
	    (unsigned long long)atomic_load(&job.b->reads),
	    (unsigned long long)atomic_load(&job.b->busy),
	    (unsigned long long)atomic_load(&job.b->free_seen));
	ok(atomic_load(&job.b->writes) > 1000 &&
	    atomic_load(&job.b->reads) > 1000, "both made progress");
	ok(atomic_load(&job.b->busy) < atomic_load(&job.b->reads) / 20,
	    "readers rarely gave up on a row being rewritten non-stop");
	is_int(atomic_load(&job.b->torn), 0,
	    "no row read was a mix of two versions");
	munmap(job.b, sizeof(*job.b));
	tao__shm_destroy(shm);
}

/* ---- reclaim after a writer died with a row mid-update ---- */

struct die_job {
	struct tao_shm	*shm;
	unsigned	 islot;
};

static int
die_mid_update(void *arg)
{
	struct die_job *j = arg;
	struct tao_conn_row r;
	struct tao_shm_row *row;
	unsigned i;

	for (i = 0; i < 3; i++) {
		r = row_make(500 + i, "127.0.0.1:500");
		if (tao__shm_conn_acquire(j->shm, j->islot) == -1 ||
		    tao__table_insert(j->shm, j->islot, &r) != (int)i)
			return 2;
	}
	/* what a worker killed inside an update leaves behind */
	row = tao__shm_row(j->shm, j->islot, 1);
	atomic_store(&row->sr_seq, atomic_load(&row->sr_seq) + 1);
	atomic_store(&row->sr_word[2], 0xdeadbeef);
	raise(SIGKILL);
	return 3;
}

/* A writer dies inside an update of row 1 of islot 1: readers cope. */
static void
reclaim_odd_stuck(struct tao_shm *shm)
{
	struct tao_table_iter it = { 0 };
	struct tao_conn_row r;
	struct die_job job;
	unsigned n = 0;
	double t0, took;
	int rc;

	r = row_make(77, "127.0.0.1:77");
	tao__table_insert(shm, 0, &r);
	job.shm = shm;
	job.islot = 1;
	rc = kids_reap(kids_spawn(die_mid_update, &job), 5000);
	is_int(rc, 128 + SIGKILL, "writer SIGKILLed with row 1 odd");
	ok(atomic_load(&tao__shm_row(shm, 1, 1)->sr_seq) & 1,
	    "its sequence is odd");
	t0 = kids_now_s();
	errno = 0;
	rc = tao__table_read(shm, 1, 1, &r);
	took = kids_now_s() - t0;
	ok(rc == -1 && errno == EAGAIN, "reading it gives up with EAGAIN");
	/* about 5 ms of patience; more only when this machine is loaded */
	ok(took < 0.5 * th_timeout_scale(), "after a bounded wait (%.1f ms)",
	    took * 1000);
	ok(tao__table_read(shm, 1, 0, &r) == 0 && r.cr_netid == 500 &&
	    tao__table_read(shm, 1, 2, &r) == 0 && r.cr_netid == 502,
	    "its other rows read fine");
	while (tao__table_next(shm, &it, &r) == 1)
		n++;
	is_int(n, 3, "the iterator skips the stuck row (1 + 2 rows)");
	is_int(tao__shm_conn_count(shm), 3, "the dead islot holds 3 units");
}

/* Reclaiming the islot frees every row and unit, and the islot works. */
static void
reclaim_odd_reclaimed(struct tao_shm *shm)
{
	struct tao_table_iter it = { 0 };
	struct tao_conn_row r;
	unsigned isl, row, j, n = 0, even = 1;

	tao__shm_islot_reclaim(shm, 1);
	for (j = 0; j < 8; j++)
		if (atomic_load(&tao__shm_row(shm, 1, j)->sr_seq) & 1)
			even = 0;
	ok(even, "after reclaim every sequence is even");
	errno = 0;
	ok(tao__table_read(shm, 1, 1, &r) == -1 && errno == ENOENT &&
	    tao__table_read(shm, 1, 0, &r) == -1 && errno == ENOENT,
	    "and every row of the islot is free");
	ok(tao__table_find_netid(shm, 500, &isl, &row) == -1,
	    "its netids are gone");
	ok(tao__table_find_netid(shm, 77, &isl, &row) == 0 && isl == 0,
	    "the other islot's row is still there");
	is_int(tao__shm_conn_count(shm), 0, "its limit units came back");
	it.ti_islot = it.ti_row = 0;
	n = 0;
	while (tao__table_next(shm, &it, &r) == 1)
		n++;
	is_int(n, 1, "iterator: one live row left");
	r = row_make(600, "127.0.0.1:600");
	is_int(tao__table_insert(shm, 1, &r), 0,
	    "a new worker in the islot starts at row 0");
	tao__table_update_counters(shm, 1, 0, 1, 2, 3, 4);
	ok(tao__table_read(shm, 1, 0, &r) == 0 && r.cr_netid == 600 &&
	    r.cr_bytes_out == 4, "and its rows work");
}

static void
test_reclaim_odd(void)
{
	struct tao_shm_params p = { 2, 8, 4096 };
	struct tao_shm *shm = tao__shm_create(&p);

	if (shm == NULL)
		bail("tao__shm_create");
	reclaim_odd_stuck(shm);
	reclaim_odd_reclaimed(shm);
	tao__shm_destroy(shm);
}

int
main(void)
{
	atexit(kids_kill_all);
	plan(0);
	test_basic();
	test_iterate_find();
	test_packing();
	test_seqlock();
	test_reclaim_odd();
	return done_testing();
}
