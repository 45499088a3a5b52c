/*
 * t260-cluster-fanout - three taod nodes of two workers each on one
 * Redis: a broadcast from any worker of any node reaches every
 * connection of every node exactly once, in per-sender order.
 *
 * 300 TLV chat clients, 100 per node; 10 of them (spread over the nodes)
 * send NMSGS messages "s/k" each.  Every client must receive all
 * 10 x NMSGS type-1 frames carrying the sender's netid, none twice (a
 * node's own connections get a message through the local ring only,
 * never a second time from Redis), none out of order.  The bridges'
 * counters must agree: nothing dropped, lost or invalid, and every node
 * received what the other two published.
 */
#include <stdio.h>
#include <string.h>

#include "tests/lib/cluster.h"
#include "tests/tap.h"

#define NNODES		3
#define NCLIENTS	300
#define NSENDERS	10
#define NMSGS		30

static void
check_counters(struct th_daemon **d)
{
	long long pub = 0, rec = 0, bad = 0;

	for (int i = 0; i < NNODES; i++) {
		pub += th_cluster_stat(d[i], "published");
		rec += th_cluster_stat(d[i], "received");
		bad += th_cluster_stat(d[i], "dropped") +
		    th_cluster_stat(d[i], "dropped_in") +
		    th_cluster_stat(d[i], "lost") +
		    th_cluster_stat(d[i], "invalid");
	}
	diag("bridges: published %lld, received %lld", pub, rec);
	is_int(bad, 0, "no bridge dropped, lost or refused a message");
	/* Every published message reaches the two other nodes. */
	is_int(rec, 2 * pub, "received = 2 x published over the 3 nodes");
}

int
main(void)
{
	struct th_daemon *d[NNODES];
	struct th_redis r;
	struct th_fan f;
	long want = NSENDERS * NMSGS, total;
	int sent = 0;

	plan(12);
	th_init("t260-cluster-fanout", 120);
	if (th_redis_start(&r, 0) == -1)
		bail("redis-server did not start");
	for (int i = 0; i < NNODES; i++)
		if ((d[i] = th_cluster_node(&r, i + 1, 2, NULL, 1)) == NULL)
			bail("node %d did not start", i + 1);
	ok(1, "3 nodes linked to redis");
	if (th_fan_open(&f, d, NNODES, NCLIENTS, NSENDERS) == -1)
		bail("clients");
	ok(1, "300 clients welcomed over 3 nodes");
	/* Presence notices of the joins go by before we count. */
	(void)th_fan_drain(&f, 300);
	for (int k = 0; k < NMSGS; k++) {
		for (int s = 0; s < NSENDERS; s++)
			sent += th_fan_send(&f, s, k) == 0;
		(void)th_fan_drain(&f, 0);
	}
	is_int(sent, NSENDERS * NMSGS, "every message sent");
	total = th_fan_wait(&f, want, th_ms(30000));
	total = th_fan_drain(&f, 300);	/* late duplicates would show */
	is_int(total, want * NCLIENTS, "10 x 30 messages x 300 receivers");
	for (int n = 0; n < NNODES; n++)
		is_int(th_fan_sum(&f, n, "got"), want * (NCLIENTS / NNODES),
		    "node %d's clients got every message", n + 1);
	is_int(th_fan_sum(&f, -1, "dups"), 0, "none received twice");
	is_int(th_fan_sum(&f, -1, "reorders") + th_fan_sum(&f, -1, "foreign") +
	    th_fan_sum(&f, -1, "unexpected"), 0,
	    "per-sender order, sender netids, nothing unexpected");
	check_counters(d);
	th_fan_close(&f);
	int clean = 0;
	for (int i = 0; i < NNODES; i++)
		clean += th_daemon_stop_clean(d[i]) == 0;
	is_int(clean, NNODES, "every node stops cleanly, no sanitizer report");
	th_redis_stop(&r);
	return th_exit(done_testing());
}
