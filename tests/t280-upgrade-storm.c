/*
 * t280-upgrade-storm - issue 15, binary upgrade: the bar.
 *
 * taod runs from a copy of the binary in the test dir (a package
 * upgrade replaces that file by rename, so the running master's
 * /proc/self/exe names a deleted inode).  A client opens and closes
 * connections as fast as it can and 100 long-lived connections echo,
 * with no reconnects allowed, while 5 binary upgrades run in a row,
 * each after the binary was replaced on disk again (the running master's
 * /proc/PID/exe then says "(deleted)", checked):
 *  - every `taoctl upgrade` exits 0 and names the new master's pid;
 *  - the pidfile holds the new pid, the old master has exited 0, the new
 *    one answers taoctl status with its own pid and 2 serving workers;
 *  - 0 failed connects, 0 resets, 0 lost replies for the storm, and for
 *    the long-lived connections (all 100 open at the end: each was
 *    handed from master to master 5 times);
 *  - the listening port never changed and the last master stops clean.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

#define CONNS		100
#define UPGRADES	5

static struct th_load *
start_load(struct th_daemon *d)
{
	struct th_load_opts o = {
		.port = d->port[0], .conns = CONNS, .depth = 1,
		.max_size = 4096, .reconnect = 0, .seed = th_rand(),
	};
	struct th_load *l = th_load_start(&o);

	if (l == NULL)
		bail("th_load_start");
	if (th_load_wait_replies(l, 5 * CONNS, th_ms(10000)) == -1)
		diag("the load does not get going");
	return l;
}

/* One upgrade with its checks; 0 if all held. */
static int
one_upgrade(struct th_daemon *d, const char *bin, const char *pidfile, int i)
{
	struct th_status st;
	char out[4096], exe[512];
	pid_t old = d->pid, pid;
	ssize_t n;

	if (th_copy_file(th_bin("taod"), bin, 0755) == -1)
		bail("cannot replace %s", bin);
	/* As after a package upgrade: the running binary is unlinked. */
	snprintf(out, sizeof(out), "/proc/%ld/exe", (long)old);
	n = readlink(out, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	if (strstr(exe, " (deleted)") == NULL) {
		diag("upgrade %d: %s is \"%s\", not deleted", i, out, exe);
		return -1;
	}
	if ((pid = th_upgrade(d, out, sizeof(out))) == -1) {
		diag("upgrade %d: %s", i, out);
		return -1;
	}
	if (th_pidfile_pid(pidfile) != pid || th_pid_alive(old)) {
		diag("upgrade %d: pidfile %ld, old master %ld %s", i,
		    (long)th_pidfile_pid(pidfile), (long)old,
		    th_pid_alive(old) ? "alive" : "gone");
		return -1;
	}
	if (th_status(d, &st) == -1 || st.pid != pid ||
	    th_status_serving(&st, -1, NULL) < 2) {
		diag("upgrade %d: taoctl status does not show master %ld "
		    "serving", i, (long)pid);
		return -1;
	}
	return 0;
}

static void
check_storm(const struct th_storm_totals *s)
{
	th_storm_diag("connect storm", s);
	ok(s->attempts > (th_ms(1000) > 1000 ? 20 : 100),
	    "the storm made %lld connections", s->attempts);
	is_int(s->connect_failed, 0, "bar: 0 failed connects");
	is_int(s->reset, 0, "bar: 0 resets");
	is_int(s->no_reply + s->bad, 0, "bar: 0 lost replies");
	is_int(s->no_close, 0, "every storm connection was closed by taod "
	    "after our EOF");
}

static void
check_load(const struct th_load_totals *t)
{
	th_load_diag("100 long-lived connections", t);
	diag("long-lived, over %d upgrades: %d open, %d closed by taod, %d "
	    "reset, %lld replies lost, %lld replies", UPGRADES, t->open,
	    t->closed, t->reset, t->lost, t->replies);
	is_int(t->bad, 0, "long-lived: no wrong reply");
	is_int(t->reset, 0, "bar, long-lived: 0 resets");
	is_int(t->lost, 0, "bar, long-lived: 0 lost replies");
	is_int(t->open, CONNS, "all %d long-lived connections kept working "
	    "(handed over from master to master)", CONNS);
}

int
main(void)
{
	struct th_storm_totals s;
	struct th_load_totals t;
	struct th_daemon *d;
	struct th_storm *storm;
	struct th_load *l;
	char bin[300], pidfile[300];
	int failed = 0, port;
	double t0;

	th_init("t280-upgrade-storm", 240);
	snprintf(bin, sizeof(bin), "%s/taod-bin", th_dir());
	if (th_copy_file(th_bin("taod"), bin, 0755) == -1)
		bail("cannot copy taod");
	if ((d = th_daemon_start_bin(bin, "listen 127.0.0.1:0 tlv\n"
	    "app echo\nworkers 2\npidfile @DIR@/taod.pid\n")) == NULL)
		bail("taod did not start");
	snprintf(pidfile, sizeof(pidfile), "%s/taod.pid", d->dir);
	port = d->port[0];
	l = start_load(d);
	if ((storm = th_storm_start(port)) == NULL)
		bail("th_storm_start");
	if (th_storm_wait(storm, 50, th_ms(5000)) == -1)
		diag("the connect storm does not get going");
	t0 = th_now_ms();
	for (int i = 1; i <= UPGRADES; i++) {
		failed += one_upgrade(d, bin, pidfile, i) == -1;
		/* Both clients go on against each new master. */
		(void)th_storm_wait(storm, th_storm_attempts(storm) + 20,
		    th_ms(5000));
		(void)th_load_wait_replies(l, th_load_replies(l) + 2 * CONNS,
		    th_ms(5000));
	}
	diag("%d upgrades in %.0f ms", UPGRADES, th_now_ms() - t0);
	th_storm_stop(storm, &s);
	th_load_stop(l, &t);
	is_int(failed, 0, "%d upgrades in a row: taoctl exits 0, the pidfile "
	    "holds the new pid, the old master is gone, taoctl status "
	    "answers from the new one", UPGRADES);
	check_storm(&s);
	check_load(&t);
	th_load_free(l);
	ok(th_connect(port) != -1, "the port is still %d", port);
	is_int(th_daemon_stop_clean(d), 0, "the last master stops clean");
	return th_exit(done_testing());
}
