/*
 * t291-conn-size.c - what an idle connection costs in the worker's heap
 * and in shared memory.
 *
 * struct tao_conn is allocated with calloc from jemalloc, whose size
 * classes near it are 128, 160, 192 and 224 bytes: one byte over 160
 * costs 32 per connection (bench/RESULTS.md, idle).  A field added to the
 * struct must find room in its holes, go to the cold part (allocated only
 * when a connection needs it: TLS, a timer, a blocking job) or pay for
 * itself elsewhere.  Its shared-memory table row is 64 bytes.  The
 * 16-bit message and 32-bit byte counters that made room are published
 * before they could wrap: that path is checked here too, and so is the
 * wrap of the 32-bit millisecond stamps.
 */
#include <stdint.h>

#include "tap.h"
#include "shm/table-t.h"
#include "worker/conn.h"

static void
sizes(void)
{
	ok(sizeof(struct tao_conn) <= 160, "struct tao_conn is %zu bytes "
	    "(at most 160, a jemalloc size class)", sizeof(struct tao_conn));
	is_int(sizeof(struct tao_shm_row), 64, "a shm table row is 64 bytes");
	ok(sizeof(struct tao_conn_cold) <= 32, "the cold part is %zu bytes "
	    "(at most 32)", sizeof(struct tao_conn_cold));
}

static void
counters(struct tao_conn *c)
{
	c->c_row = -1;			/* no table row: publish only zeroes */
	c->c_bytes_in = UINT32_MAX - 10;
	c->c_msgs_in = 7;
	tao__conn_count(c, &c->c_bytes_in, 10);
	ok(c->c_bytes_in == UINT32_MAX && c->c_msgs_in == 7,
	    "a count up to the limit is kept");
	tao__conn_count(c, &c->c_bytes_in, 100);
	ok(c->c_bytes_in == 100 && c->c_msgs_in == 0,
	    "a count that would wrap publishes first (all four counters)");
	tao__conn_count_msg(c, &c->c_msgs_out);
	ok(c->c_msgs_out == 1 && c->c_bytes_in == 100, "plain message count");
	c->c_msgs_in = UINT16_MAX - 1;
	tao__conn_count_msg(c, &c->c_msgs_in);
	ok(c->c_msgs_in == UINT16_MAX && c->c_bytes_in == 100,
	    "a 16-bit message count up to the limit is kept");
	tao__conn_count_msg(c, &c->c_msgs_in);
	ok(c->c_msgs_in == 1 && c->c_msgs_out == 0 && c->c_bytes_in == 0,
	    "the message that would wrap it publishes first");
}

static void
stamps(struct tao_conn *c)
{
	uint64_t now = (UINT64_C(7) << 32) + 5;	/* just past a wrap */
	uint32_t s = tao__conn_stamp(now - 10);

	ok(tao__conn_stamp_ms(s, now) == now - 10,
	    "a stamp taken before the 32-bit wrap reads back exactly");
	s = tao__conn_stamp(now + 3);
	ok(tao__conn_stamp_ms(s, now) == now,
	    "one from a later clock read reads as now");
	s = tao__conn_stamp(now - (UINT64_C(3) << 29));	/* 18 days */
	tao__conn_stamp_age(&s, now);
	ok(tao__conn_stamp_ms(s, now) == now - TAO_CONN_STAMP_OLD,
	    "an old stamp is aged to TAO_CONN_STAMP_OLD");
	tao__conn_frame_begin(c, 0);
	ok((c->c_flags & TAO_CONN_IN_FRAME) && c->c_frame_start_ms == 0,
	    "a frame started at a stamp of 0 is still a frame");
	tao__conn_frame_end(c);
	ok(!(c->c_flags & TAO_CONN_IN_FRAME), "between frames again");
}

int
main(void)
{
	struct tao_worker w = { 0 };
	struct tao_conn c = { 0 };

	plan(14);
	sizes();
	tao__worker_self = &w;		/* this process's one worker */
	ok(tao__conn_worker(&c) == &w && tao__conn_tls(&c) == NULL &&
	    tao__conn_job(&c) == NULL && tao__conn_timeout_id(&c) == -1 &&
	    tao__conn_timers(&c) == NULL && c.c_cold == NULL,
	    "a fresh connection has no cold part");
	counters(&c);
	stamps(&c);
	return done_testing();
}
