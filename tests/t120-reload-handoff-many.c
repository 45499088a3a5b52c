/*
 * t120-reload-handoff-many - a reload hands over more connections than
 * the master reads from a channel in one wake-up, and the old worker
 * exits before the master has read them.
 *
 * One worker holds CONNS long-lived echoing connections.  A reload makes
 * it pass all of them to the master, one channel record each, and exit
 * once the last has left.  The master reads a channel at most 64 records
 * per wake-up (relay.c), so when it is late - here it is stopped with
 * SIGSTOP from the moment taoctl reload returns until the old worker has
 * exited, as a loaded machine may do to it - the worker's exit finds
 * most of the records still in the channel.  Every one of them is a
 * connection (its socket, and the request waiting in it): each must
 * reach the new worker.  0 resets, 0 closed, 0 lost replies.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

#define CONNS		200
#define ROUNDS		3

static struct th_load *
start_load(struct th_daemon *d)
{
	struct th_load_opts o = {
		.port = d->port[0], .conns = CONNS, .depth = 1,
		.max_size = 256, .seed = th_rand(),
	};
	struct th_load *l = th_load_start(&o);

	if (l == NULL)
		bail("th_load_start");
	if (th_load_wait_replies(l, 3 * CONNS, th_ms(10000)) == -1)
		diag("the load does not get going");
	return l;
}

/* Until pid has exited (a zombie of the stopped master): 0, or -1. */
static int
wait_exited(pid_t pid, int ms)
{
	double end = th_now_ms() + ms;

	while (th_pid_alive(pid)) {
		if (th_now_ms() > end)
			return -1;
		th_sleep_ms(2);
	}
	return 0;
}

/* One reload with the master stopped while the old worker hands over. */
static int
late_master_reload(struct th_daemon *d, int round, int *late)
{
	char out[4096];
	pid_t old = th_worker_pid(d, 0);
	int rc, exited;

	rc = th_ctl(d, out, sizeof(out), "reload", NULL);
	(void)kill(d->pid, SIGSTOP);
	exited = wait_exited(old, th_ms(5000));
	(void)kill(d->pid, SIGCONT);
	if (rc != 0)
		diag("reload %d: %s", round, out);
	if (exited == -1)
		diag("reload %d: the old worker %ld did not exit while the "
		    "master was stopped", round, (long)old);
	*late += exited == 0;
	return rc;
}

int
main(void)
{
	struct th_daemon *d;
	struct th_load_totals t;
	struct th_load *l;
	int failed = 0, late = 0;

	th_init("t120-reload-handoff-many", 60);
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 1\n");
	if (d == NULL)
		bail("taod did not start");
	l = start_load(d);
	for (int i = 1; i <= ROUNDS; i++) {
		failed += late_master_reload(d, i, &late) != 0;
		(void)th_load_wait_replies(l, th_load_replies(l) + 3 * CONNS,
		    th_ms(5000));
	}
	th_load_stop(l, &t);
	is_int(failed, 0, "%d reloads succeed", ROUNDS);
	/* Or the case this test is about did not happen. */
	is_int(late, ROUNDS, "each time the old worker handed everything "
	    "over and exited while the master was stopped");
	th_load_diag("connections across the reloads", &t);
	is_int(t.reset, 0, "0 resets");
	is_int(t.closed, 0, "0 closed by taod");
	is_int(t.lost, 0, "0 lost replies");
	is_int(t.open, CONNS, "all %d connections kept working", CONNS);
	th_load_free(l);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	return th_exit(done_testing());
}
