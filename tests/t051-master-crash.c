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

/* What the steps of the scenario share. */
struct crash {
	struct th_daemon *d;
	struct th_load *l;
	struct th_load_totals t;
	struct th_storm_totals s;
	pid_t victim, survivor, fresh, who[CONNS];
	double t_kill, t_gone;
	int on_victim;		/* clients the victim serves */
};

/* taod with 2 workers and 100 echoing clients; who serves whom. */
static void
crash_start(struct crash *c)
{
	struct th_load_opts o = {
		.conns = CONNS, .depth = 1, .max_size = 4096,
	};
	struct th_conn_info ci[CONNS + 16];
	struct th_status st;
	int n, unknown = 0;

	c->d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n");
	if (c->d == NULL)
		bail("taod did not start");
	o.port = c->d->port[0];
	o.seed = th_rand();
	if ((c->l = th_load_start(&o)) == NULL)
		bail("th_load_start");
	ok(th_load_wait_replies(c->l, 10 * CONNS, th_ms(10000)) == 0 &&
	    th_load_connected(c->l) == CONNS, "%d clients echo", CONNS);

	/* Who serves whom, before the kill. */
	n = th_conns(c->d, ci, CONNS + 16);
	if (th_status(c->d, &st) == -1 || th_status_serving(&st, 0,
	    &c->victim) != 1 || th_status_serving(&st, 1, &c->survivor) != 1)
		bail("status does not show 2 serving workers");
	for (int i = 0; i < CONNS; i++) {
		c->who[i] = owner(ci, n, th_load_conn(c->l, i)->port);
		c->on_victim += c->who[i] == c->victim;
		unknown += c->who[i] != c->victim && c->who[i] != c->survivor;
	}
	diag("worker 0 (pid %d) has %d clients, worker 1 (pid %d) %d",
	    (int)c->victim, c->on_victim, (int)c->survivor,
	    CONNS - c->on_victim - unknown);
	is_int(unknown, 0, "taoctl conns knows every client's worker");
	ok(c->on_victim > 0 && c->on_victim < CONNS, "both workers have "
	    "clients");
}

/* kill -9 worker 0 under a connect storm; the slot serves again. */
static void
crash_kill(struct crash *c)
{
	struct th_storm *storm;
	struct th_status st;
	double t_back = 0;

	if ((storm = th_storm_start(c->d->port[0])) == NULL)
		bail("th_storm_start");
	if (th_storm_wait(storm, 50, th_ms(5000)) == -1)
		diag("the connect storm does not get going");
	th_load_mark(c->l);
	c->t_kill = th_now_ms();
	ok(kill(c->victim, SIGKILL) == 0, "kill -9 worker 0 (pid %d)",
	    (int)c->victim);
	while (th_now_ms() - c->t_kill < th_ms(5000)) {
		if (c->t_gone == 0 && !th_pid_alive(c->victim))
			c->t_gone = th_now_ms();
		if (c->t_gone != 0 && th_status(c->d, &st) == 0 &&
		    th_status_serving(&st, 0, &c->fresh) == 1 &&
		    c->fresh != c->victim) {
			t_back = th_now_ms();
			break;
		}
		th_sleep_ms(c->t_gone == 0 ? 1 : 10);
	}
	diag("worker 0 gone after %.1f ms, a new one (pid %d) serves after "
	    "%.0f ms", c->t_gone - c->t_kill, (int)c->fresh,
	    t_back - c->t_kill);
	ok(t_back != 0 && t_back - c->t_kill <= th_ms(1000),
	    "slot 0 serves again with a new pid within 1 s");
	th_sleep_ms(500);	/* the survivors and the storm go on */
	th_storm_stop(storm, &c->s);
	th_load_stop(c->l, &c->t);
	th_load_diag("100 clients", &c->t);
	th_storm_diag("connect storm", &c->s);
}

/* Only the dead worker's clients broke; the storm was served. */
static void
crash_check_clients(struct crash *c)
{
	int broke_victim = 0, broke_other = 0, late_fail = 0;
	long long other_after = 0;

	for (int i = 0; i < CONNS; i++) {
		const struct th_load_conn *lc = th_load_conn(c->l, i);

		if (lc->state != TH_CONN_OPEN) {
			broke_victim += c->who[i] == c->victim;
			broke_other += c->who[i] != c->victim;
		} else if (c->who[i] == c->survivor &&
		    lc->replies_after_mark > 0)
			other_after++;
	}
	is_int(broke_other, 0, "no client of the surviving worker broke");
	is_int(other_after, CONNS - c->on_victim, "each of them kept getting "
	    "replies after the kill");
	is_int(c->t.bad + c->t.timeout, 0, "no wrong or missing reply");
	is_int(broke_victim, c->on_victim, "the dead worker's clients saw "
	    "their connections close");

	is_int(c->s.connect_failed, 0, "no connect failed during the crash");
	for (int i = 0; i < c->s.nfail; i++) {
		diag("storm failure %d began %+.1f ms from the kill", i,
		    c->s.fail_at[i] - c->t_kill);
		late_fail += c->s.fail_at[i] >= c->t_gone;
	}
	ok(c->s.ok > 0 && late_fail == 0, "every connection opened after the "
	    "worker died was served (%lld ok)", c->s.ok);
}

/* restarts counts 1, the log names the signal, taod echoes. */
static void
crash_check_daemon(struct crash *c)
{
	struct th_status st;
	int fd;

	is_int(th_stat(c->d, -1, "restarts"), 1, "stats: restarts 1");
	ok(th_status(c->d, &st) == 0, "status");
	for (int i = 0; i < st.nslots; i++)
		if (st.slot[i].slot == 0 && st.slot[i].pid == c->fresh)
			is_int(st.slot[i].restarts, 1, "status: slot 0 "
			    "restarts 1");
	ok(th_daemon_log_count(c->d, "killed by signal KILL") == 1,
	    "the log names the signal");
	fd = th_connect(c->d->port[0]);
	ok(fd != -1 && th_echo_once(fd, 1, 100, 1) == 0, "taod echoes");
	if (fd != -1)
		close(fd);
}

int
main(void)
{
	struct crash c = { .victim = -1, .survivor = -1, .fresh = -1 };

	th_init("t051-master-crash", 60);
	plan(0);
	crash_start(&c);
	crash_kill(&c);
	crash_check_clients(&c);
	crash_check_daemon(&c);
	th_load_free(c.l);
	is_int(th_daemon_stop(c.d), 0, "taod stops with exit 0");
	return th_exit(done_testing());
}
