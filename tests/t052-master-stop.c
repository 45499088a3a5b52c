/*
 * t052-master-stop - stopping under load.  `taoctl stop` while 100
 * clients keep 4 requests each in flight: every request written before
 * the stop gets its reply, taoctl returns once taod has exited, the exit
 * code is 0, and no taod process is left.  SIGTERM stops the same way;
 * SIGQUIT (fast stop) ends taod quickly too.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

#define CONNS	100

struct run {
	struct th_daemon *d;
	struct th_load	*l;
	pid_t		 pids[16];	/* master, then its workers */
	int		 npids;
};

static void
start(struct run *r, int conns)
{
	struct th_load_opts o = {
		.conns = conns, .depth = 4, .max_size = 16 * 1024,
	};

	r->d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 2\npidfile @DIR@/taod.pid\n");
	if (r->d == NULL)
		bail("taod did not start");
	o.port = r->d->port[0];
	o.seed = th_rand();
	if ((r->l = th_load_start(&o)) == NULL)
		bail("th_load_start");
	ok(th_load_wait_replies(r->l, 20 * conns, th_ms(10000)) == 0,
	    "%d clients echo", conns);
	r->pids[0] = r->d->pid;
	r->npids = 1 + th_children(r->d->pid, r->pids + 1, 15);
	th_load_mark(r->l);
}

/* After taod has gone: its clients, its processes, its files. */
static void
check_after(struct run *r, const char *how, int all_replies)
{
	struct th_load_totals t;
	pid_t kids[64];
	char pidfile[300];
	int left = 0, n;

	th_load_stop(r->l, &t);
	th_load_diag(how, &t);
	if (all_replies)
		is_int(t.lost_before_mark, 0, "%s: every request sent before "
		    "the stop got its reply", how);
	is_int(t.bad, 0, "%s: no wrong reply", how);
	is_int(t.open + t.timeout, 0, "%s: every connection was closed",
	    how);
	th_load_free(r->l);
	for (int i = 0; i < r->npids; i++)
		left += th_pid_alive(r->pids[i]);
	n = th_children(getpid(), kids, 64);
	for (int i = 0; i < n; i++)
		left += th_pid_alive(kids[i]);
	is_int(left, 0, "%s: no taod process is left (of %d)", how,
	    r->npids);
	snprintf(pidfile, sizeof(pidfile), "%s/taod.pid", r->d->dir);
	ok(access(pidfile, F_OK) == -1 && access(r->d->ctl, F_OK) == -1,
	    "%s: the pidfile and control socket are gone", how);
}

int
main(void)
{
	struct run r;
	char out[4096], pidfile[300];
	int gone;
	double t0;
	int rc;

	th_init("t052-master-stop", 60);
	plan(0);

	start(&r, CONNS);
	t0 = th_now_ms();
	rc = th_ctl(r.d, out, sizeof(out), "stop", NULL);
	is_int(rc, 0, "taoctl stop exits 0");
	diag("taoctl stop took %.0f ms: %s", th_now_ms() - t0, out);
	snprintf(pidfile, sizeof(pidfile), "%s/taod.pid", r.d->dir);
	gone = access(pidfile, F_OK) == -1;
	/* taoctl returns when the kernel closes the control socket in
	 * taod's exit; the pid lingers a moment until the exit completes. */
	for (int i = 0; i < 100 && th_pid_alive(r.d->pid); i++)
		th_sleep_ms(5);
	ok(!th_pid_alive(r.d->pid), "taod has exited when taoctl returns "
	    "(within 0.5 s)");
	ok(gone, "  its pidfile is gone by then");
	is_int(th_daemon_wait(r.d, th_ms(5000)), 0, "taod's exit code is 0");
	check_after(&r, "taoctl stop", 1);

	start(&r, CONNS);
	t0 = th_now_ms();
	kill(r.d->pid, SIGTERM);
	is_int(th_daemon_wait(r.d, th_ms(10000)), 0, "SIGTERM: exit 0");
	diag("SIGTERM stop took %.0f ms", th_now_ms() - t0);
	check_after(&r, "SIGTERM", 1);

	start(&r, CONNS);
	t0 = th_now_ms();
	kill(r.d->pid, SIGQUIT);
	rc = th_daemon_wait(r.d, th_ms(3000));
	diag("SIGQUIT stop took %.0f ms, exit code %d", th_now_ms() - t0, rc);
	ok(rc != -1 && rc < 128, "SIGQUIT: taod exits within 3 s, not by a "
	    "signal (%d)", rc);
	check_after(&r, "SIGQUIT", 0);
	return th_exit(done_testing());
}
