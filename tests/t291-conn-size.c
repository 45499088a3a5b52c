/*
 * t291-conn-size.c - what an idle connection costs in the worker's heap.
 *
 * struct tao_conn is allocated with calloc from jemalloc, whose size
 * classes near it are 192, 224 and 256 bytes: one byte over 224 costs 32
 * per connection (bench/RESULTS.md, idle).  A field added to the struct
 * must find room in its holes or pay for itself elsewhere.  The 32-bit
 * counters that made room are published before they could wrap: that
 * path is checked here too.
 */
#include <stdint.h>

#include "tap.h"
#include "worker/conn.h"

int
main(void)
{
	struct tao_worker w = { 0 };
	struct tao_conn c = { 0 };

	plan(4);
	ok(sizeof(struct tao_conn) <= 224, "struct tao_conn is %zu bytes "
	    "(at most 224, a jemalloc size class)", sizeof(struct tao_conn));
	c.c_worker = &w;
	c.c_row = -1;			/* no table row: publish only zeroes */
	c.c_bytes_in = UINT32_MAX - 10;
	c.c_msgs_in = 7;
	tao__conn_count(&c, &c.c_bytes_in, 10);
	ok(c.c_bytes_in == UINT32_MAX && c.c_msgs_in == 7,
	    "a count up to the limit is kept");
	tao__conn_count(&c, &c.c_bytes_in, 100);
	ok(c.c_bytes_in == 100 && c.c_msgs_in == 0,
	    "a count that would wrap publishes first (all four counters)");
	tao__conn_count(&c, &c.c_msgs_out, 1);
	ok(c.c_msgs_out == 1 && c.c_bytes_in == 100, "plain count");
	return done_testing();
}
