/*
 * t264-cluster-node-kill - a node that dies (every process of it
 * SIGKILLed at once, as a machine that loses power) does not stop the
 * others: they keep delivering among themselves, nothing lost.  A
 * bridge that dies is respawned by its master and the node is linked
 * again; local delivery does not notice.
 *
 * Three nodes of two workers, 30 TLV clients on each, 6 senders.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/lib/cluster.h"
#include "tests/tap.h"

#define NNODES		3
#define NCLIENTS	90
#define NSENDERS	6
#define NMSGS		20

static struct th_daemon *d[NNODES];
static struct th_fan f;
static int base;	/* message numbers sent so far per sender */

/* Senders not on node index `skip` send NMSGS each; every client not on
 * `skip` must get them all: the count of clients that did. */
static int
round_trip(int skip)
{
	long want = 0;
	int complete = 0;

	for (int k = base; k < base + NMSGS; k++)
		for (int s = 0; s < NSENDERS; s++)
			if (f.c[f.sender[s]].tag != skip)
				(void)th_fan_send(&f, s, k);
	base += NMSGS;
	double deadline = th_now_ms() + th_ms(10000);
	for (;;) {
		complete = 0;
		(void)th_fan_drain(&f, 20);
		for (int i = 0; i < f.n; i++) {
			int all = 1;
			if (f.c[i].tag == skip)
				continue;
			for (int s = 0; s < NSENDERS; s++)
				if (f.c[f.sender[s]].tag != skip)
					all &= f.t[i].next[s] == base;
			complete += all;
		}
		if (complete == f.n - f.n / NNODES * (skip >= 0) ||
		    th_now_ms() > deadline)
			break;
	}
	(void)want;
	return complete;
}

static void
kill_node(struct th_daemon *n)
{
	pid_t kids[16];
	int k;

	kill(n->pid, SIGSTOP);
	k = th_children(n->pid, kids, 16);
	for (int i = 0; i < k; i++)
		kill(kids[i], SIGKILL);
	kill(n->pid, SIGKILL);
	(void)th_daemon_wait(n, th_ms(5000));
}

int
main(void)
{
	struct th_redis r;
	long long lost = 0, dropped = 0;
	pid_t bridge;

	plan(9);
	th_init("t264-cluster-node-kill", 120);
	if (th_redis_start(&r, 0) == -1)
		bail("redis-server did not start");
	for (int i = 0; i < NNODES; i++)
		if ((d[i] = th_cluster_node(&r, i + 1, 2, NULL, 1)) == NULL)
			bail("node %d did not start", i + 1);
	if (th_fan_open(&f, d, NNODES, NCLIENTS, NSENDERS) == -1)
		bail("clients");
	(void)th_fan_drain(&f, 300);
	is_int(round_trip(-1), NCLIENTS, "3 nodes: every client got all");
	kill_node(d[1]);
	ok(!th_pid_alive(d[1]->pid), "node 2 is gone (SIGKILL, all at once)");
	is_int(round_trip(1), NCLIENTS - NCLIENTS / NNODES,
	    "nodes 1 and 3 keep delivering among themselves");
	for (int i = 0; i < NNODES; i += 2) {
		lost += th_cluster_stat(d[i], "lost");
		dropped += th_cluster_stat(d[i], "dropped") +
		    th_cluster_stat(d[i], "dropped_in");
	}
	is_int(lost + dropped, 0, "nothing lost or dropped between them");

	bridge = (pid_t)th_cluster_stat(d[0], "pid");
	ok(bridge > 0 && kill(bridge, SIGKILL) == 0, "node 1's bridge "
	    "SIGKILLed");
	double deadline = th_now_ms() + th_ms(10000);
	while (th_now_ms() < deadline && (th_cluster_stat(d[0], "restarts") != 1
	    || !th_cluster_state_is(d[0], "up")))
		th_sleep_ms(50);
	ok(th_cluster_stat(d[0], "restarts") == 1 &&
	    th_cluster_stat(d[0], "pid") != bridge &&
	    th_cluster_state_is(d[0], "up"), "respawned and linked again");
	/* The new bridge subscribes before it is up; its cursors start at
	 * the rings' heads. */
	is_int(round_trip(1), NCLIENTS - NCLIENTS / NNODES,
	    "nodes 1 and 3 deliver to each other again");
	is_int(th_fan_sum(&f, -1, "dups"), 0, "nothing delivered twice");
	th_fan_close(&f);
	ok(th_daemon_stop_clean(d[0]) == 0 && th_daemon_stop_clean(d[2]) == 0,
	    "the two nodes stop cleanly, no sanitizer report");
	th_redis_stop(&r);
	return th_exit(done_testing());
}
