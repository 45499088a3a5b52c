/*
 * t266-cluster-hostile - whatever is published on the cluster channels
 * by someone else is checked before use: garbage, truncated and
 * oversized messages, lying lengths, wrong kinds, messages on the wrong
 * channel or for another node's netid are counted (`invalid`) and
 * dropped; the bridge does not crash, restart or stall, and the nodes go
 * on delivering to each other.  A well-formed message claiming to come
 * from this node (another taod with the same node_id) is not delivered
 * and is logged once.
 *
 * Two nodes, max_frame 1k.  The bytes are published straight to Redis
 * (PUBLISH over a plain socket); the layout is proto/cluster.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/cluster.h"
#include "tests/tap.h"

#define HDR	40

static struct th_daemon *d[2];
static struct th_redis r;

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A header: kind, origin, type 1, len, dst, seq 0, nonce 77. */
static size_t
header(uint8_t *p, int version, int kind, int origin, uint32_t len,
    uint64_t dst)
{
	memset(p, 0, HDR);
	put32(p, 0x434f4154);
	p[4] = (uint8_t)version;
	p[5] = (uint8_t)kind;
	p[6] = (uint8_t)origin;
	th_put_le64(p + 8, 77);
	put32(p + 16, 1);
	put32(p + 20, len);
	th_put_le64(p + 24, dst);
	return HDR;
}

static int
pub(const char *chan, const void *data, size_t len)
{
	return th_redis_publish(&r, chan, data, len) >= 1 ? 0 : -1;
}

/* Garbage on tao:all and tao:node:1: how many were published. */
static int
garbage(uint64_t netid1, uint64_t netid2)
{
	uint8_t b[64];
	uint8_t *big;
	int n = 0;

	n += pub("tao:all", "", 0) == 0;
	n += pub("tao:node:1", "hello", 5) == 0;
	memset(b, 0, sizeof(b));
	n += pub("tao:all", b, HDR) == 0;			/* no magic */
	n += pub("tao:all", b, header(b, 2, 1, 9, 0, 0)) == 0;	/* version */
	header(b, 1, 1, 9, 100, 0);
	n += pub("tao:all", b, HDR + 10) == 0;			/* len lies */
	header(b, 1, 1, 9, 0xffffffffu, 0);
	n += pub("tao:all", b, HDR + 4) == 0;
	n += pub("tao:all", b, header(b, 1, 9, 9, 0, 0)) == 0;	/* kind */
	n += pub("tao:all", b, header(b, 1, 1, 9, 0, netid1)) == 0;
	n += pub("tao:all", b, header(b, 1, 2, 9, 0, netid1)) == 0;
	n += pub("tao:node:1", b, header(b, 1, 2, 9, 0, netid2)) == 0;
	n += pub("tao:node:1", b, header(b, 1, 1, 9, 0, 0)) == 0;
	if ((big = malloc(2u << 20)) == NULL)
		bail("malloc");
	header(big, 1, 1, 9, 2048, 0);				/* > max_frame */
	n += pub("tao:all", big, HDR + 2048) == 0;
	for (size_t i = 0; i < (2u << 20); i++)
		big[i] = (uint8_t)th_rand();
	n += pub("tao:node:1", big, 2u << 20) == 0;
	free(big);
	return n;
}

/* A valid broadcast "t/x" (from netid `from`), origin node `origin`. */
static int
forged(int origin, uint64_t from, const char *text)
{
	uint8_t b[128];
	size_t len = 8 + strlen(text);

	header(b, 1, 1, origin, (uint32_t)len, 0);
	th_put_le64(b + HDR, from);
	memcpy(b + HDR + 8, text, strlen(text));
	return pub("tao:all", b, HDR + len);
}

/* Well-formed messages with a forged origin. */
static void
forgeries(struct th_client *a)
{
	struct th_frame f;
	int got;

	/* A valid message from an unknown node 9 is delivered: Redis is
	 * trusted for content (protect it: cluster_password, bind). */
	got = 0;
	ok(forged(9, 42, "from nine") == 0, "forged valid message");
	while (!got && th_client_expect(a, 1, &f, th_ms(5000)) == 1)
		got = f.len == 17 && memcmp(f.data + 8, "from nine", 9) == 0;
	ok(got, "a well-formed message from another node id is delivered");
	(void)forged(1, 43, "as node one");
	got = 0;
	while (!got && th_client_expect(a, 1, &f, th_ms(500)) == 1)
		got = f.len == 19 && memcmp(f.data + 8, "as node one", 11) == 0;
	ok(!got && th_daemon_wait_log(d[0], "publishes as node 1", 1,
	    th_ms(5000)) == 0, "one claiming our node id is logged, not "
	    "delivered");
}

int
main(void)
{
	struct th_client a, c;
	struct th_frame f;
	long long inv0, inv1;
	int n, got;

	plan(10);
	th_init("t266-cluster-hostile", 90);
	if (th_redis_start(&r, 0) == -1)
		bail("redis-server did not start");
	for (int i = 0; i < 2; i++)
		if ((d[i] = th_cluster_node(&r, i + 1, 2, "max_frame 1k\n",
		    1)) == NULL)
			bail("node %d did not start", i + 1);
	if (th_client_open(&a, d[0]->port[0]) == -1 ||
	    th_client_expect(&a, 3, &f, th_ms(5000)) != 1 ||
	    th_client_open(&c, d[1]->port[0]) == -1 ||
	    th_client_expect(&c, 3, &f, th_ms(5000)) != 1)
		bail("clients");
	n = garbage((UINT64_C(1) << 54) | (1u << 20),
	    (UINT64_C(2) << 54) | (1u << 20));
	is_int(n, 13, "13 hostile messages published");
	double deadline = th_now_ms() + th_ms(5000);
	while (th_now_ms() < deadline && th_cluster_stat(d[0], "invalid") < 13)
		th_sleep_ms(20);
	inv0 = th_cluster_stat(d[0], "invalid");
	inv1 = th_cluster_stat(d[1], "invalid");
	diag("invalid: node 1 %lld, node 2 %lld", inv0, inv1);
	is_int(inv0, 13, "node 1 counted all 13 as invalid");
	is_int(inv1, 9, "node 2 the 9 on tao:all");
	ok(th_cluster_stat(d[0], "restarts") == 0 &&
	    th_cluster_state_is(d[0], "up") && th_cluster_state_is(d[1], "up"),
	    "bridges neither restarted nor unlinked");
	/* Normal traffic still flows both ways. */
	got = 0;
	ok(th_client_send(&a, 1, "after", 5) == 0, "client on node 1 sends");
	while (!got && th_client_expect(&c, 1, &f, th_ms(5000)) == 1)
		got = f.len == 13 && memcmp(f.data + 8, "after", 5) == 0;
	ok(got, "node 2 still gets node 1's messages");
	forgeries(&a);
	th_client_close(&a);
	th_client_close(&c);
	int clean = 0;
	for (int i = 0; i < 2; i++)
		clean += th_daemon_stop_clean(d[i]) == 0;
	is_int(clean, 2, "every node stops cleanly, no sanitizer report");
	th_redis_stop(&r);
	return th_exit(done_testing());
}
