/*
 * t121-reload-handoff-stalled - the new worker stops reading its channel
 * while the old one hands over more connections than the master may
 * queue for it.
 *
 * One worker holds CONNS long-lived echoing connections, more than the
 * master's queue for one worker holds (TAO_CHAN_QUEUE_MAX, 4 096) plus
 * what the channels themselves buffer plus what the new worker adopts in
 * the moment between `taoctl reload` returning and the SIGSTOP (5 000
 * left too small a margin for the last: under ASan on a loaded machine
 * the old worker handed everything over, and exited, in 12 % of runs of
 * main and 36 % once adopting got cheaper; 7 000: none in 12).  A reload, and the new worker is
 * stopped (SIGSTOP) from the moment taoctl reload returns, for STALL_MS,
 * as a machine in trouble may stall it.  The old worker hands over as
 * fast as it can meanwhile.  The master must not drop what it cannot
 * pass on: it stops taking connections from the old worker while the
 * new one's queue is long (the old worker keeps them and serves them),
 * and goes on once the queue drains.  0 resets, 0 closed, 0 lost.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

#define CONNS		7000
#define STALL_MS	1000

int
main(void)
{
	struct th_load_opts o = { .conns = CONNS, .depth = 1,
	    .max_size = 64, .timeout_ms = 0 };
	struct th_daemon *d;
	struct th_load_totals t;
	struct th_load *l;
	char out[4096];
	pid_t old, new;
	int rc, old_alive;

	th_init("t121-reload-handoff-stalled", 120);
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 1\n"
	    "max_connections 20000\n");
	if (d == NULL)
		bail("taod did not start");
	o.port = d->port[0];
	o.seed = th_rand();
	if ((l = th_load_start(&o)) == NULL)
		bail("th_load_start");
	if (th_load_wait_replies(l, 2 * CONNS, th_ms(30000)) == -1)
		diag("the load does not get going");
	old = th_worker_pid(d, 0);
	rc = th_ctl(d, out, sizeof(out), "reload", NULL);
	new = th_worker_pid(d, 0);
	if (new > 0 && new != old)
		(void)kill(new, SIGSTOP);
	th_sleep_ms(STALL_MS);	/* the stall is the scenario, not a wait */
	old_alive = th_pid_alive(old);
	if (new > 0 && new != old)
		(void)kill(new, SIGCONT);
	is_int(rc, 0, "the reload succeeds");
	ok(new > 0 && new != old, "a new worker serves (%ld, was %ld)",
	    (long)new, (long)old);
	/* It cannot have handed everything over to a stopped worker
	 * without the master queueing (or dropping) the rest. */
	ok(old_alive, "while the new worker was stopped, the old one kept "
	    "what the master did not take");
	(void)th_load_wait_replies(l, th_load_replies(l) + 2 * CONNS,
	    th_ms(30000));
	th_load_stop(l, &t);
	th_load_diag("connections across the reload", &t);
	is_int(t.reset, 0, "0 resets");
	is_int(t.closed, 0, "0 closed by taod");
	is_int(t.lost, 0, "0 lost replies");
	is_int(t.open, CONNS, "all %d connections kept working", CONNS);
	th_load_free(l);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	return th_exit(done_testing());
}
