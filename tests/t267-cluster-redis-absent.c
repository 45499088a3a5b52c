/*
 * t267-cluster-redis-absent - Redis down when the nodes start: they
 * serve at once, local broadcasts and unicasts work, every message for
 * the other node is counted as dropped (none queued without bound), the
 * bridges keep retrying with back-off; when Redis comes up the nodes link
 * (logged once, as a first link, not a reconnect) and remote delivery
 * works.
 *
 * Two nodes of two workers, 20 TLV clients on each, 2 senders per node.
 */
#include <stdio.h>
#include <string.h>

#include "tests/lib/cluster.h"
#include "tests/tap.h"

#define NNODES		2
#define NCLIENTS	40
#define NSENDERS	4
#define NMSGS		25

static struct th_daemon *d[NNODES];
static struct th_fan f;

/* Every sender sends NMSGS from k on; 1 if every client of node `node`
 * (or all when -1) then has them all from the senders of `from` (-1:
 * every sender). */
static int
burst_and_check(int k, int node, int from)
{
	int complete = 0, want = 0;

	for (int j = k; j < k + NMSGS; j++)
		for (int s = 0; s < NSENDERS; s++)
			(void)th_fan_send(&f, s, j);
	double deadline = th_now_ms() + th_ms(10000);
	do {
		(void)th_fan_drain(&f, 20);
		complete = want = 0;
		for (int i = 0; i < f.n; i++) {
			int all = 1;
			if (node >= 0 && f.c[i].tag != node)
				continue;
			want++;
			for (int s = 0; s < NSENDERS; s++)
				if (from < 0 || f.c[f.sender[s]].tag == from)
					all &= f.t[i].next[s] == k + NMSGS;
			complete += all;
		}
	} while (complete < want && th_now_ms() < deadline);
	return complete == want;
}

int
main(void)
{
	struct th_redis r;
	int port;

	plan(9);
	th_init("t267-cluster-redis-absent", 90);
	if (th_redis_start(&r, 0) == -1)
		bail("redis-server did not start");
	port = r.port;
	th_redis_kill(&r);		/* a port where nothing listens */
	for (int i = 0; i < NNODES; i++)
		if ((d[i] = th_cluster_node(&r, i + 1, 2, NULL, 0)) == NULL)
			bail("node %d did not start", i + 1);
	ok(th_cluster_state_is(d[0], "connecting"), "node 1 serves, its "
	    "link is connecting");
	if (th_fan_open(&f, d, NNODES, NCLIENTS, NSENDERS) == -1)
		bail("clients");
	(void)th_fan_drain(&f, 300);
	ok(burst_and_check(0, 0, 0) && burst_and_check(NMSGS, 1, 1),
	    "local broadcasts reach every local client");
	/* The bridge counts a drop when it reads the ring, which may be a
	 * moment after the local clients got the message (loaded machine). */
	long long drop;
	double until = th_now_ms() + th_ms(5000);
	while ((drop = th_cluster_stat(d[0], "dropped")) < NMSGS * 2 * 2 &&
	    th_now_ms() < until)
		th_sleep_ms(20);
	ok(drop >= NMSGS * 2 * 2, "node 1 counted its messages as dropped "
	    "(%lld)", drop);
	ok(th_cluster_stat(d[0], "queued") == 0, "and queued none");
	if (th_redis_start(&r, port) == -1)
		bail("redis did not start");
	ok(th_cluster_wait_state(d[0], "up", th_ms(10000)) == 0 &&
	    th_cluster_wait_state(d[1], "up", th_ms(10000)) == 0,
	    "both link when redis comes up");
	is_int(th_daemon_log_count(d[0], "linked to redis"), 1,
	    "the first link is logged once");
	ok(th_cluster_stat(d[0], "reconnects") == 0, "and is no reconnect");
	/* Remote messages from now on: check node 2's clients get node 1's
	 * senders' new messages (its earlier ones were dropped). */
	int k = 2 * NMSGS;
	for (int i = 0; i < f.n; i++)
		for (int s = 0; s < NSENDERS; s++)
			f.t[i].next[s] = k;
	ok(burst_and_check(k, -1, -1), "remote delivery works");
	th_fan_close(&f);
	int clean = 0;
	for (int i = 0; i < NNODES; i++)
		clean += th_daemon_stop_clean(d[i]) == 0;
	is_int(clean, NNODES, "every node stops cleanly, no sanitizer report");
	th_redis_stop(&r);
	return th_exit(done_testing());
}
