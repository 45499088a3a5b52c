/*
 * t268-cluster-redis-hang - a Redis that stops answering for good (here
 * SIGSTOPped for 13 s) while PUBLISHes wait: after 10 s without a reply
 * the bridge drops the connection (logged), counts the unanswered
 * messages as dropped and reconnects with back-off; local delivery goes
 * on; once Redis answers again the link is restored and remote delivery
 * resumes.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tests/lib/cluster.h"
#include "tests/tap.h"

static struct th_daemon *d[2];
static struct th_fan f;

int
main(void)
{
	struct th_redis r;
	int k = 0;

	plan(7);
	th_init("t268-cluster-redis-hang", 90);
	if (th_redis_start(&r, 0) == -1)
		bail("redis-server did not start");
	for (int i = 0; i < 2; i++)
		if ((d[i] = th_cluster_node(&r, i + 1, 1, NULL, 1)) == NULL)
			bail("node %d did not start", i + 1);
	if (th_fan_open(&f, d, 2, 4, 2) == -1)
		bail("clients");
	(void)th_fan_drain(&f, 300);
	ok(th_redis_signal(&r, SIGSTOP) == 0, "redis SIGSTOPped");
	for (; k < 5; k++)
		(void)th_fan_send(&f, 0, k);	/* sender 0 is on node 1 */
	ok(th_daemon_wait_log(d[0], "has not answered", 1, th_ms(15000)) ==
	    0, "after 10 s the bridge gives up on the connection");
	ok(th_cluster_stat(d[0], "dropped") >= 5 &&
	    th_cluster_stat(d[0], "queued") == 0,
	    "the unanswered messages count as dropped, none queued");
	(void)th_fan_drain(&f, 100);
	ok(f.t[2].next[0] == k, "local delivery went on meanwhile");
	th_sleep_ms(2000);
	th_redis_signal(&r, SIGCONT);
	ok(th_cluster_wait_state(d[0], "up", th_ms(10000)) == 0,
	    "linked again once redis answers");
	for (int j = 0; j < 5; j++, k++)
		(void)th_fan_send(&f, 0, k);
	double deadline = th_now_ms() + th_ms(5000);
	while (th_now_ms() < deadline && f.t[1].next[0] != k)
		(void)th_fan_drain(&f, 50);
	ok(f.t[1].next[0] == k, "remote delivery resumed");
	th_fan_close(&f);
	int clean = 0;
	for (int i = 0; i < 2; i++)
		clean += th_daemon_stop_clean(d[i]) == 0;
	is_int(clean, 2, "every node stops cleanly, no sanitizer report");
	th_redis_stop(&r);
	return th_exit(done_testing());
}
