/*
 * t261-cluster-unicast - a unicast reaches a connection on another node,
 * found from the node id in the netid's top bits with no lookup, and the
 * chat app works across nodes and codecs.
 *
 * Three nodes (two workers each) on one Redis:
 *   - TLV client A on node 1 sends a private message (type 2) to the
 *     netid of TLV client C on node 3: C gets it from A's netid, once;
 *     nobody else does.  C answers the same way.
 *   - Every netid carries its node id (bits 63..54).
 *   - A line client on node 1 and a TLV client on node 2 see each
 *     other's chat messages; "/to NETID" from the line client reaches
 *     the TLV client on node 2.
 *   - A private message to a netid of node 3 that is not open is
 *     counted as dropped_in by node 3's bridge and delivered to nobody.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tests/lib/cluster.h"
#include "tests/tap.h"

#define NNODES	3

static struct th_daemon *d[NNODES];

static int
welcome(struct th_client *c, int port)
{
	struct th_frame f;
	unsigned long long id;
	char text[64];

	if (th_client_open(c, port) == -1 ||
	    th_client_expect(c, 3, &f, th_ms(5000)) != 1 || f.len >= 64)
		return -1;
	memcpy(text, f.data, f.len);
	text[f.len] = '\0';
	if (sscanf(text, "netid=%llu", &id) != 1)
		return -1;
	c->netid = id;
	return 0;
}

static int
send_private(struct th_client *from, uint64_t to, const char *text)
{
	uint8_t buf[128];
	size_t n = strlen(text);

	th_put_le64(buf, to);
	memcpy(buf + 8, text, n);
	return th_client_send(from, 2, buf, 8 + n);
}

/* The next type-2 frame: 1 if it is from `from` with `text`. */
static int
got_private(struct th_client *c, uint64_t from, const char *text, int ms)
{
	struct th_frame f;

	if (th_client_expect(c, 2, &f, ms) != 1)
		return 0;
	return f.len == 8 + strlen(text) && th_get_le64(f.data) == from &&
	    memcmp(f.data + 8, text, strlen(text)) == 0;
}

/* A line client waits for a line containing needle: 1 or 0. */
static int
line_has(struct th_client *c, const char *needle, int ms)
{
	char line[512];
	double deadline = th_now_ms() + ms;

	while (th_now_ms() < deadline)
		if (th_client_next_line(c, line, sizeof(line), 100) == 1 &&
		    strstr(line, needle) != NULL)
			return 1;
	return 0;
}

static void
tlv_unicast(void)
{
	struct th_client a, c, b;

	if (welcome(&a, d[0]->port[0]) == -1 ||
	    welcome(&c, d[2]->port[0]) == -1 ||
	    welcome(&b, d[1]->port[0]) == -1)
		bail("clients");
	diag("A %" PRIu64 " (node 1), C %" PRIu64 " (node 3)", a.netid,
	    c.netid);
	is_int((int)(a.netid >> 54), 1, "A's netid carries node 1");
	is_int((int)(c.netid >> 54), 3, "C's netid carries node 3");
	ok(send_private(&a, c.netid, "psst from A") == 0, "A sends to C");
	ok(got_private(&c, a.netid, "psst from A", th_ms(5000)),
	    "C (node 3) got A's private message, from A's netid");
	ok(send_private(&c, a.netid, "hi A") == 0 &&
	    got_private(&a, c.netid, "hi A", th_ms(5000)),
	    "and A (node 1) got C's answer");
	ok(!got_private(&b, a.netid, "psst from A", th_ms(300)) &&
	    !got_private(&c, a.netid, "psst from A", th_ms(300)),
	    "nobody else got it, C not twice");
	/* A netid of node 3 that was never given out. */
	long long before = th_cluster_stat(d[2], "dropped_in");
	uint64_t ghost = c.netid ^ (UINT64_C(1) << 40);	/* node 3 still */
	ok(send_private(&a, ghost, "to nobody") == 0, "A sends to a ghost");
	double deadline = th_now_ms() + th_ms(5000);
	while (th_cluster_stat(d[2], "dropped_in") == before &&
	    th_now_ms() < deadline)
		th_sleep_ms(20);
	is_int(th_cluster_stat(d[2], "dropped_in"), before + 1,
	    "node 3 counted the ghost's message as dropped_in");
	ok(!got_private(&c, a.netid, "to nobody", th_ms(300)),
	    "and delivered it to nobody");
	th_client_close(&a);
	th_client_close(&b);
	th_client_close(&c);
}

static void
line_and_tlv(void)
{
	struct th_client l, t;
	struct th_frame f;
	char cmd[128];
	int got = 0;

	if (th_client_open(&l, d[0]->port[1]) == -1 ||
	    welcome(&t, d[1]->port[0]) == -1)
		bail("clients");
	ok(line_has(&l, "welcome", th_ms(5000)), "line client on node 1");
	ok(th_client_write(&l, "hello from line\n", 16) == 0, "line says hello");
	while (!got && th_client_expect(&t, 1, &f, th_ms(5000)) == 1)
		got = f.len == 8 + 15 && memcmp(f.data + 8,
		    "hello from line", 15) == 0;
	ok(got, "the TLV client on node 2 got the line client's message");
	ok(th_client_send(&t, 1, "hello from tlv", 14) == 0 &&
	    line_has(&l, ": hello from tlv", th_ms(5000)),
	    "the line client on node 1 got the TLV client's message");
	snprintf(cmd, sizeof(cmd), "/to %" PRIu64 " private line\n", t.netid);
	ok(th_client_write(&l, cmd, strlen(cmd)) == 0, "line sends /to");
	got = 0;
	while (!got && th_client_expect(&t, 2, &f, th_ms(5000)) == 1)
		got = f.len == 8 + 12 && memcmp(f.data + 8, "private line",
		    12) == 0;
	ok(got, "the TLV client on node 2 got the private line");
	th_client_close(&l);
	th_client_close(&t);
}

int
main(void)
{
	struct th_redis r;

	plan(16);
	th_init("t261-cluster-unicast", 90);
	if (th_redis_start(&r, 0) == -1)
		bail("redis-server did not start");
	for (int i = 0; i < NNODES; i++)
		if ((d[i] = th_cluster_node(&r, i + 1, 2, NULL, 1)) == NULL)
			bail("node %d did not start", i + 1);
	tlv_unicast();
	line_and_tlv();
	int clean = 0;
	for (int i = 0; i < NNODES; i++)
		clean += th_daemon_stop_clean(d[i]) == 0;
	is_int(clean, NNODES, "every node stops cleanly, no sanitizer report");
	th_redis_stop(&r);
	return th_exit(done_testing());
}
