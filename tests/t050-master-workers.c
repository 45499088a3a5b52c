/*
 * t050-master-workers - a master with 2 workers: the process titles are
 * visible in ps, both workers accept connections (per-worker "accepted"
 * in taoctl stats), taoctl status shows both serving; the pidfile holds
 * the master's pid and a second taod on it refuses to start; a stop
 * removes the pidfile and the control socket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

static void
title(pid_t pid, char *buf, size_t len)
{
	char spid[16];
	const char *argv[] = { "ps", "-o", "cmd=", "-p", spid, NULL };

	snprintf(spid, sizeof(spid), "%d", (int)pid);
	if (th_run(buf, len, th_ms(5000), argv) != 0)
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static void
test_titles(struct th_daemon *d, pid_t *kids)
{
	char buf[256], want[64];
	int seen[2] = { 0, 0 };

	title(d->pid, buf, sizeof(buf));
	/* libbsd may leave one byte of the original command line after a
	 * title shorter than it ("taod: master process ."): match the
	 * title itself. */
	ok(strncmp(buf, "taod: master process", 20) == 0,
	    "ps shows the master's title");
	if (strncmp(buf, "taod: master process", 20) != 0)
		diag("  got '%s'", buf);
	for (int i = 0; i < 2; i++) {
		title(kids[i], buf, sizeof(buf));
		for (int slot = 0; slot < 2; slot++) {
			snprintf(want, sizeof(want), "taod: worker process %d",
			    slot);
			/* same libbsd leftover as above: match the title */
			if (strncmp(buf, want, strlen(want)) == 0 &&
			    (buf[strlen(want)] == '\0' ||
			    buf[strlen(want)] == ' '))
				seen[slot]++;
		}
		diag("pid %d: %s", (int)kids[i], buf);
	}
	ok(seen[0] == 1 && seen[1] == 1, "ps shows 'taod: worker process 0' "
	    "and '... 1'");
}

static void
test_accept(struct th_daemon *d)
{
	struct th_load_opts o = {
		.port = d->port[0], .conns = 40, .depth = 1, .max_size = 100,
		.msgs = 5, .seed = th_rand(),
	};
	struct th_load_totals t;
	struct th_load *l = th_load_start(&o);
	char json[16384];
	long long a0, a1;

	if (l == NULL)
		bail("th_load_start");
	ok(th_load_wait(l, th_ms(10000)) == 0, "40 connections echo");
	th_load_stop(l, &t);
	is_int(t.replies, 40 * 5, "every reply came");
	th_load_free(l);
	if (th_ctl(d, json, sizeof(json), "stats", "--json", NULL) != 0)
		diag("taoctl stats --json: %s", json);
	a0 = th_stats_get(json, 0, "accepted");
	a1 = th_stats_get(json, 1, "accepted");
	diag("accepted: worker 0 %lld, worker 1 %lld", a0, a1);
	ok(a0 > 0 && a1 > 0, "both workers accepted connections");
	is_int(th_stats_get(json, -1, "accepted"), a0 + a1,
	    "the totals add up");
}

static void
test_status(struct th_daemon *d, pid_t *kids)
{
	struct th_status st;
	pid_t p0 = 0, p1 = 0;

	ok(th_status(d, &st) == 0, "taoctl status");
	is_int(st.pid, d->pid, "status: the master's pid");
	is_int(st.workers, 2, "status: workers 2");
	is_int(st.generation, 1, "status: generation 1");
	is_int(th_status_serving(&st, -1, NULL), 2, "status: 2 serving");
	ok(th_status_serving(&st, 0, &p0) == 1 &&
	    th_status_serving(&st, 1, &p1) == 1, "status: slots 0 and 1");
	ok((p0 == kids[0] && p1 == kids[1]) || (p0 == kids[1] &&
	    p1 == kids[0]), "status: the pids are the master's children");
}

static void
test_pidfile(struct th_daemon *d)
{
	char path[300], conf[300], text[1024], out[4096];
	struct th_status st;
	const char *argv[4];
	FILE *fp;
	long pid = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/taod.pid", d->dir);
	if ((fp = fopen(path, "r")) != NULL) {
		if (fscanf(fp, "%ld", &pid) != 1)
			pid = 0;
		fclose(fp);
	}
	is_int(pid, d->pid, "the pidfile holds the master's pid");

	snprintf(conf, sizeof(conf), "%s/second.conf", th_dir());
	snprintf(text, sizeof(text), "listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 1\npidfile %s\ncontrol %s/second.sock\n", path,
	    th_dir());
	if ((fp = fopen(conf, "w")) == NULL || fputs(text, fp) == EOF ||
	    fclose(fp) == EOF)
		bail("cannot write second.conf");
	argv[0] = th_bin("taod");
	argv[1] = "-c";
	argv[2] = conf;
	argv[3] = NULL;
	rc = th_run(out, sizeof(out), th_ms(5000), argv);
	ok(rc > 0, "a second taod on the same pidfile exits non-zero "
	    "(%d)", rc);
	ok(strstr(out, "already running") != NULL && strstr(out, path),
	    "  saying it is already running, and the pidfile");
	diag("  it says: %.*s", (int)strcspn(out, "\n"), out);
	ok(th_pid_alive(d->pid) && th_status(d, &st) == 0 &&
	    th_status_serving(&st, -1, NULL) == 2,
	    "the first taod still serves with 2 workers");
	if ((fp = fopen(path, "r")) != NULL) {
		if (fscanf(fp, "%ld", &pid) != 1)
			pid = 0;
		fclose(fp);
	}
	is_int(pid, d->pid, "and its pidfile is untouched");
}

int
main(void)
{
	struct th_daemon *d;
	char path[300];
	pid_t kids[8];
	int fd;

	th_init("t050-master-workers", 60);
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n"
	    "pidfile @DIR@/taod.pid\n");
	if (d == NULL)
		bail("taod did not start");
	is_int(th_children(d->pid, kids, 8), 2, "the master has 2 children");
	test_titles(d, kids);
	test_accept(d);
	test_status(d, kids);
	test_pidfile(d);
	fd = th_connect(d->port[0]);
	ok(fd != -1 && th_echo_once(fd, 1, 10, 1) == 0, "taod still echoes");
	if (fd != -1)
		close(fd);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	snprintf(path, sizeof(path), "%s/taod.pid", d->dir);
	ok(access(path, F_OK) == -1, "the pidfile is gone");
	ok(access(d->ctl, F_OK) == -1, "the control socket is gone");
	ok(!th_pid_alive(kids[0]) && !th_pid_alive(kids[1]),
	    "the workers are gone");
	return th_exit(done_testing());
}
