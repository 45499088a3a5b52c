/*
 * t051-master-crash - kill -9 one of 2 workers while 100 clients echo
 * without pause and a connect storm runs.  The clients of the other
 * worker get every reply; only connections of the dead worker break
 * (their owners are looked up in `taoctl conns --json` before the kill);
 * new connections succeed throughout; the slot serves again with a new
 * pid within 1 s; restarts counts 1 and the log names the signal.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

#define CONNS	100

static pid_t
owner(const struct th_conn_info *ci, int n, int port)
{
	for (int i = 0; i < n; i++)
		if (ci[i].peer_port == port)
			return ci[i].pid;
	return -1;
}

int
main(void)
{
	struct th_load_opts o = {
		.conns = CONNS, .depth = 1, .max_size = 4096,
	};
	struct th_conn_info ci[CONNS + 16];
	struct th_load_totals t;
	struct th_storm_totals s;
	struct th_status st;
	struct th_daemon *d;
	struct th_load *l;
	struct th_storm *storm;
	pid_t victim = -1, survivor = -1, fresh = -1, who[CONNS];
	double t_kill, t_gone = 0, t_back = 0;
	int n, on_victim = 0, unknown = 0, broke_victim = 0, broke_other = 0;
	int late_fail = 0, fd;
	long long other_after = 0;

	th_init("t051-master-crash", 60);
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n");
	if (d == NULL)
		bail("taod did not start");
	o.port = d->port[0];
	o.seed = th_rand();
	if ((l = th_load_start(&o)) == NULL)
		bail("th_load_start");
	ok(th_load_wait_replies(l, 10 * CONNS, th_ms(10000)) == 0 &&
	    th_load_connected(l) == CONNS, "%d clients echo", CONNS);

	/* Who serves whom, before the kill. */
	n = th_conns(d, ci, CONNS + 16);
	if (th_status(d, &st) == -1 || th_status_serving(&st, 0,
	    &victim) != 1 || th_status_serving(&st, 1, &survivor) != 1)
		bail("status does not show 2 serving workers");
	for (int i = 0; i < CONNS; i++) {
		who[i] = owner(ci, n, th_load_conn(l, i)->port);
		on_victim += who[i] == victim;
		unknown += who[i] != victim && who[i] != survivor;
	}
	diag("worker 0 (pid %d) has %d clients, worker 1 (pid %d) %d",
	    (int)victim, on_victim, (int)survivor, CONNS - on_victim - unknown);
	is_int(unknown, 0, "taoctl conns knows every client's worker");
	ok(on_victim > 0 && on_victim < CONNS, "both workers have clients");

	if ((storm = th_storm_start(d->port[0])) == NULL)
		bail("th_storm_start");
	if (th_storm_wait(storm, 50, th_ms(5000)) == -1)
		diag("the connect storm does not get going");
	th_load_mark(l);
	t_kill = th_now_ms();
	ok(kill(victim, SIGKILL) == 0, "kill -9 worker 0 (pid %d)",
	    (int)victim);
	while (th_now_ms() - t_kill < th_ms(5000)) {
		if (t_gone == 0 && !th_pid_alive(victim))
			t_gone = th_now_ms();
		if (t_gone != 0 && th_status(d, &st) == 0 &&
		    th_status_serving(&st, 0, &fresh) == 1 &&
		    fresh != victim) {
			t_back = th_now_ms();
			break;
		}
		th_sleep_ms(t_gone == 0 ? 1 : 10);
	}
	diag("worker 0 gone after %.1f ms, a new one (pid %d) serves after "
	    "%.0f ms", t_gone - t_kill, (int)fresh, t_back - t_kill);
	ok(t_back != 0 && t_back - t_kill <= th_ms(1000),
	    "slot 0 serves again with a new pid within 1 s");
	th_sleep_ms(500);	/* the survivors and the storm go on */
	th_storm_stop(storm, &s);
	th_load_stop(l, &t);
	th_load_diag("100 clients", &t);
	th_storm_diag("connect storm", &s);

	for (int i = 0; i < CONNS; i++) {
		const struct th_load_conn *c = th_load_conn(l, i);

		if (c->state != TH_CONN_OPEN) {
			broke_victim += who[i] == victim;
			broke_other += who[i] != victim;
		} else if (who[i] == survivor && c->replies_after_mark > 0)
			other_after++;
	}
	is_int(broke_other, 0, "no client of the surviving worker broke");
	is_int(other_after, CONNS - on_victim, "each of them kept getting "
	    "replies after the kill");
	is_int(t.bad + t.timeout, 0, "no wrong or missing reply");
	is_int(broke_victim, on_victim, "the dead worker's clients saw "
	    "their connections close");

	is_int(s.connect_failed, 0, "no connect failed during the crash");
	for (int i = 0; i < s.nfail; i++) {
		diag("storm failure %d began %+.1f ms from the kill", i,
		    s.fail_at[i] - t_kill);
		late_fail += s.fail_at[i] >= t_gone;
	}
	ok(s.ok > 0 && late_fail == 0, "every connection opened after the "
	    "worker died was served (%lld ok)", s.ok);

	is_int(th_stat(d, -1, "restarts"), 1, "stats: restarts 1");
	ok(th_status(d, &st) == 0, "status");
	for (int i = 0; i < st.nslots; i++)
		if (st.slot[i].slot == 0 && st.slot[i].pid == fresh)
			is_int(st.slot[i].restarts, 1, "status: slot 0 "
			    "restarts 1");
	ok(th_daemon_log_count(d, "killed by signal KILL") == 1,
	    "the log names the signal");
	fd = th_connect(d->port[0]);
	ok(fd != -1 && th_echo_once(fd, 1, 100, 1) == 0, "taod echoes");
	if (fd != -1)
		close(fd);
	th_load_free(l);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	return th_exit(done_testing());
}
