/*
 * t281-upgrade-fail - issue 15, binary upgrade: when the new binary does
 * not take over, the running master goes on unchanged and says why.
 *
 * taod runs from a copy of the binary, with 50 echo connections open
 * the whole time (no reconnects).  `taoctl upgrade` with, in place of
 * the binary:
 *  1. nothing (removed): exit 1, "cannot execute ...: No such file";
 *  2. a copy without the execute bit: "Permission denied";
 *  3. a script that exits 3 at once: "exited with code 3 before READY";
 *  4. a script that never says READY, started by SIGUSR2: while it
 *     waits, taoctl status answers from the old master, `taoctl reload`
 *     and a second `taoctl upgrade` are refused ("a binary upgrade is in
 *     progress"); after reload_timeout_ms + 2 s the log says "not READY
 *     within" and the script is killed;
 * after each: the same master pid in taoctl status and in the pidfile,
 * the same two workers and no other child, a new connection echoes.
 *  5. an upgrade while a reload is in progress (the new workers are
 *     held before READY by the slowstart test module): refused, "a
 *     reload is in progress"; the reload then completes.
 *  6. the real binary again: the upgrade succeeds, by SIGUSR2 too;
 *     the 50 connections never saw a thing.
 */
#include <sys/stat.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

#define CONNS	50

static char	bin[300], pidfile[300], slowfile[300];
static pid_t	master0, workers0[2];

static int
write_file(const char *path, const char *text, int mode)
{
	FILE *fp = fopen(path, "we");

	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) == EOF)
		return -1;
	return chmod(path, (mode_t)mode);
}

/* The master, its pidfile, its 2 workers and nothing else, serving. */
static void
check_unchanged(struct th_daemon *d, const char *what)
{
	struct th_status st;
	pid_t w0 = 0, w1 = 0, kids[16];
	double end = th_now_ms() + th_ms(5000);
	int fd, ok_echo;

	/* A failed child is killed and reaped at once; give it the time. */
	while (th_children(master0, kids, 16) != 2 && th_now_ms() < end)
		th_sleep_ms(10);

	ok(th_status(d, &st) == 0 && st.pid == master0 &&
	    th_pidfile_pid(pidfile) == master0, "%s: taoctl status and the "
	    "pidfile still name master %ld", what, (long)master0);
	th_status_serving(&st, 0, &w0);
	th_status_serving(&st, 1, &w1);
	ok(w0 == workers0[0] && w1 == workers0[1] &&
	    th_children(master0, kids, 16) == 2, "  the same 2 workers, no "
	    "other child");
	fd = th_connect(d->port[0]);
	ok_echo = fd != -1 && th_echo_once(fd, 1, 100, 7) == 0;
	ok(ok_echo, "  a new connection echoes");
	if (fd != -1)
		close(fd);
}

static void
refused(struct th_daemon *d, const char *what, const char *reason)
{
	char out[4096];
	int rc = th_ctl(d, out, sizeof(out), "upgrade", NULL);

	ok(rc != 0 && strstr(out, reason) != NULL, "%s: taoctl upgrade exits "
	    "%d and says \"%s\"", what, rc, reason);
	diag("  %.*s", (int)strcspn(out, "\n"), out);
}

/* 4: started by SIGUSR2, a "binary" that never says READY. */
static void
never_ready(struct th_daemon *d)
{
	char out[4096];
	struct th_status st;

	if (write_file(bin, "#!/bin/sh\nexec sleep 30\n", 0755) == -1)
		bail("cannot write %s", bin);
	kill(d->pid, SIGUSR2);
	if (th_daemon_wait_log(d, "upgrade: started", 2, th_ms(5000)) == -1)
		diag("SIGUSR2 started nothing");
	ok(th_status(d, &st) == 0 && st.pid == master0, "during an upgrade "
	    "taoctl status answers from the running master");
	ok(th_ctl(d, out, sizeof(out), "reload", NULL) != 0 &&
	    strstr(out, "a binary upgrade is in progress") != NULL,
	    "  taoctl reload is refused: %.*s", (int)strcspn(out, "\n"), out);
	ok(th_ctl(d, out, sizeof(out), "upgrade", NULL) != 0 &&
	    strstr(out, "a binary upgrade is in progress") != NULL,
	    "  a second taoctl upgrade is refused");
	ok(th_daemon_wait_log(d, "not READY within", 1, th_ms(10000)) == 0,
	    "after reload_timeout_ms + 2 s the upgrade fails: not READY");
	check_unchanged(d, "never READY");
}

/* 5: refused while a reload's new workers are not READY yet. */
static void
during_reload(struct th_daemon *d)
{
	if (write_file(slowfile, "1000\n", 0644) == -1)
		bail("cannot write %s", slowfile);
	kill(d->pid, SIGHUP);
	if (th_daemon_wait_log(d, "reload: starting", 1, th_ms(5000)) == -1)
		diag("the reload did not start");
	refused(d, "during a reload", "a reload is in progress");
	ok(th_daemon_wait_log(d, "reload: generation 2 serving", 1,
	    th_ms(10000)) == 0, "  and the reload completes");
	unlink(slowfile);
}

/* 6: the real binary, by taoctl and by SIGUSR2. */
static void
succeed(struct th_daemon *d)
{
	struct th_status st;
	char out[4096];
	pid_t pid, old;
	double end;

	if (th_copy_file(th_bin("taod"), bin, 0755) == -1)
		bail("cannot copy taod");
	pid = th_upgrade(d, out, sizeof(out));
	ok(pid > 0 && th_pidfile_pid(pidfile) == pid, "with the binary back "
	    "the upgrade succeeds (%.*s)", (int)strcspn(out, "\n"), out);
	old = d->pid;
	kill(d->pid, SIGUSR2);
	end = th_now_ms() + th_ms(10000);
	while (th_now_ms() < end && ((pid = th_pidfile_pid(pidfile)) == old ||
	    pid <= 0))
		th_sleep_ms(20);
	ok(pid > 0 && pid != old && th_daemon_wait(d, th_ms(10000)) == 0,
	    "SIGUSR2: the pidfile names a new master, the old one exited 0");
	d->pid = pid;
	d->status = 0;
	ok(th_status(d, &st) == 0 && st.pid == pid, "taoctl status answers "
	    "from it");
}

int
main(void)
{
	struct th_load_opts o = { .conns = CONNS, .depth = 1, .max_size = 512 };
	struct th_load_totals t;
	struct th_status st;
	struct th_daemon *d;
	struct th_load *l;
	char conf[1024];

	th_init("t281-upgrade-fail", 180);
	snprintf(bin, sizeof(bin), "%s/taod-bin", th_dir());
	snprintf(slowfile, sizeof(slowfile), "%s/slow.ms", th_dir());
	if (th_copy_file(th_bin("taod"), bin, 0755) == -1)
		bail("cannot copy taod");
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv\nworkers 2\n"
	    "reload_timeout_ms 2000\npidfile @DIR@/taod.pid\nmodule_path %s\n"
	    "app slowstart %s\n", th_bin("tests/modules"), slowfile);
	if ((d = th_daemon_start_bin(bin, conf)) == NULL)
		bail("taod did not start");
	snprintf(pidfile, sizeof(pidfile), "%s/taod.pid", d->dir);
	master0 = d->pid;
	if (th_status(d, &st) == -1)
		bail("no status");
	th_status_serving(&st, 0, &workers0[0]);
	th_status_serving(&st, 1, &workers0[1]);
	o.port = d->port[0];
	o.seed = th_rand();
	if ((l = th_load_start(&o)) == NULL)
		bail("th_load_start");
	(void)th_load_wait_replies(l, 3 * CONNS, th_ms(10000));

	unlink(bin);
	refused(d, "binary missing", "No such file or directory");
	check_unchanged(d, "binary missing");
	if (th_copy_file(th_bin("taod"), bin, 0644) == -1)
		bail("cannot copy taod");
	refused(d, "not executable", "Permission denied");
	check_unchanged(d, "not executable");
	if (write_file(bin, "#!/bin/sh\nexit 3\n", 0755) == -1)
		bail("cannot write %s", bin);
	refused(d, "exits at once", "exited with code 3 before READY");
	check_unchanged(d, "exits at once");
	never_ready(d);
	(void)th_load_wait_replies(l, th_load_replies(l) + CONNS, th_ms(5000));
	th_load_stop(l, &t);
	th_load_diag("50 connections across the failed upgrades", &t);
	is_int(t.open, CONNS, "the %d connections open across the failed "
	    "upgrades all kept working", CONNS);
	is_int(t.lost + t.bad + t.reset + t.closed, 0, "  and lost nothing");
	th_load_free(l);
	during_reload(d);
	succeed(d);
	is_int(th_daemon_stop_clean(d), 0, "the last master stops clean");
	return th_exit(done_testing());
}
