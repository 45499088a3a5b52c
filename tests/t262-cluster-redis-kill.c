/*
 * t262-cluster-redis-kill - Redis SIGKILLed in the middle of a run and
 * restarted: local delivery never stops, remote delivery resumes, and
 * the counters say exactly what was lost.
 *
 * Two nodes of two workers, 40 TLV clients on each, 4 senders (two per
 * node) sending a message each per round, every 20 ms.  After 1 s Redis
 * is killed; 1.5 s later it is restarted on the same port; the rounds go
 * on until both links are up again and 1 s more.  Then:
 *   - every client got every message of the senders of its own node,
 *     with no gap (the local ring never waited for Redis);
 *   - every client got the last messages of the other node's senders
 *     (remote delivery resumed);
 *   - what each client of node X missed from the other node is exactly
 *     the bridge of X's `lost` counter (the sequence numbers of the
 *     cluster messages count what did not arrive), and that is > 0;
 *   - both bridges counted dropped messages while Redis was gone, and
 *     one reconnect each.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tests/lib/cluster.h"
#include "tests/tap.h"

#define NNODES		2
#define NCLIENTS	80
#define NSENDERS	4
#define ROUND_MS	20

static struct th_daemon *d[NNODES];
static struct th_fan f;
static int rounds;

static void
round_once(void)
{
	double next = th_now_ms() + ROUND_MS;

	for (int s = 0; s < NSENDERS; s++)
		(void)th_fan_send(&f, s, rounds);
	rounds++;
	while (th_now_ms() < next)
		(void)th_fan_drain(&f, (int)(next - th_now_ms()) + 1);
}

static void
rounds_for(int ms)
{
	double end = th_now_ms() + ms;

	while (th_now_ms() < end)
		round_once();
}

/* Clients that have every local sender's messages up to a few rounds
 * ago: local delivery goes on while Redis is gone. */
static int
local_current(void)
{
	int n = 0;

	for (int i = 0; i < f.n; i++) {
		int cur = 1;
		for (int s = 0; s < NSENDERS; s++)
			if (f.c[f.sender[s]].tag == f.c[i].tag)
				cur &= f.t[i].next[s] >= rounds - 5;
		n += cur;
	}
	return n;
}

/* Each client: the local senders' messages all there, the remote ones'
 * last message there, and the remote misses equal to its node's lost. */
static void
check(void)
{
	int local_ok = 0, tail_ok = 0, exact = 0;
	long long lost[NNODES];

	for (int n = 0; n < NNODES; n++)
		lost[n] = th_cluster_stat(d[n], "lost");
	for (int i = 0; i < f.n; i++) {
		int node = f.c[i].tag, l = 1, t = 1;
		long missed = 0;
		for (int s = 0; s < NSENDERS; s++) {
			int snode = f.c[f.sender[s]].tag;
			if (snode == node)
				l &= f.t[i].next[s] == rounds &&
				    f.t[i].missed[s] == 0;
			else {
				t &= f.t[i].next[s] == rounds;
				missed += f.t[i].missed[s];
			}
		}
		local_ok += l;
		tail_ok += t;
		exact += missed == lost[node];
	}
	diag("rounds %d; lost: node 1 %lld, node 2 %lld", rounds, lost[0],
	    lost[1]);
	is_int(local_ok, f.n, "every client got every local message");
	is_int(tail_ok, f.n, "remote delivery resumed for every client");
	ok(lost[0] > 0 && lost[1] > 0, "both nodes lost remote messages");
	is_int(exact, f.n, "each client missed exactly its node's `lost`");
	is_int(th_fan_sum(&f, -1, "dups"), 0, "nothing delivered twice");
}

int
main(void)
{
	struct th_redis r;

	plan(13);
	th_init("t262-cluster-redis-kill", 120);
	if (th_redis_start(&r, 0) == -1)
		bail("redis-server did not start");
	for (int i = 0; i < NNODES; i++)
		if ((d[i] = th_cluster_node(&r, i + 1, 2, NULL, 1)) == NULL)
			bail("node %d did not start", i + 1);
	if (th_fan_open(&f, d, NNODES, NCLIENTS, NSENDERS) == -1)
		bail("clients");
	(void)th_fan_drain(&f, 300);
	rounds_for(1000);
	ok(th_redis_kill(&r) == 0, "redis SIGKILLed after %d rounds", rounds);
	rounds_for(1500);
	ok(th_cluster_state_is(d[0], "down") && th_cluster_state_is(d[1],
	    "down"), "both links down");
	is_int(local_current(), f.n, "while redis is down, every client is "
	    "current with its own node's senders");
	if (th_redis_start(&r, r.port) == -1)
		bail("redis did not restart");
	double deadline = th_now_ms() + th_ms(15000);
	while (th_now_ms() < deadline && !(th_cluster_state_is(d[0], "up") &&
	    th_cluster_state_is(d[1], "up")))
		round_once();
	ok(th_cluster_state_is(d[0], "up") && th_cluster_state_is(d[1], "up"),
	    "both links up again (%d rounds)", rounds);
	rounds_for(1000);
	(void)th_fan_wait(&f, (long)NSENDERS * rounds, th_ms(5000));
	(void)th_fan_drain(&f, 200);
	check();
	ok(th_cluster_stat(d[0], "dropped") > 0 && th_cluster_stat(d[1],
	    "dropped") > 0, "both bridges counted what they could not publish");
	ok(th_cluster_stat(d[0], "reconnects") == 1 &&
	    th_cluster_stat(d[1], "reconnects") == 1, "one reconnect each");
	if (th_cluster_stat(d[0], "reconnects") != 1)
		th_daemon_dump_log(d[0]);
	is_int(th_daemon_log_count(d[0], "subscriptions restored"), 1,
	    "the return is logged once");
	th_fan_close(&f);
	int clean = 0;
	for (int i = 0; i < NNODES; i++)
		clean += th_daemon_stop_clean(d[i]) == 0;
	is_int(clean, NNODES, "every node stops cleanly, no sanitizer report");
	th_redis_stop(&r);
	return th_exit(done_testing());
}
