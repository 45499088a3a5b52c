/*
 * t113-master-ready-timeout - a worker that never reports READY (here: its
 * on_worker_start hook hangs, as an app's start-up call to a database
 * might) is killed after reload_timeout_ms instead of holding its slot
 * forever.
 *
 * - On reload: the reload is refused, the hung new worker is gone, and
 *   the old generation keeps serving.
 * - On a respawn after a crash: the master logs the missed READY, kills
 *   the replacement and retries with back-off; once start-up works again
 *   the slot serves.  (Before the fix the hung replacement kept the slot
 *   dead for good.)
 *
 * The hook hangs while the file "hang" exists in the test's directory.
 */
#include <sys/types.h>

#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "tap.h"
#include "lib/harness.h"

#define T_ECHO	1

static char hang_path[512];

static void
echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)arg;
	tao_conn_send(c, m->type, m->data, m->len);
}

/* Runs before the worker says READY.  Bounded (60 s) so that nothing can
 * outlive the test even if the master never kills it. */
static void
worker_start(struct tao_server *s, int slot, void *arg)
{
	(void)s;
	(void)slot;
	(void)arg;
	for (int i = 0; i < 600 && access(hang_path, F_OK) == 0; i++)
		usleep(100 * 1000);
}

static int
run(const char *conf, void *arg)
{
	struct tao_server *server;
	char dir[512];

	(void)arg;
	snprintf(dir, sizeof(dir), "%s", conf);
	snprintf(hang_path, sizeof(hang_path), "%s/hang", dirname(dir));
	if ((server = tao_server_new()) == NULL ||
	    tao_server_config(server, conf) < 0)
		return 1;
	tao_server_register(server, T_ECHO, NULL, echo, NULL);
	tao_server_on_worker_start(server, worker_start, NULL);
	return tao_server_run(server) < 0;
}

static int
echoes(struct th_daemon *d)
{
	int fd = th_connect(d->port[0]), rc;

	if (fd < 0)
		return 0;
	rc = th_echo_once(fd, T_ECHO, 100, th_rand()) == 0;
	close(fd);
	return rc;
}

/* The pid serving slot 0, or -1. */
static pid_t
serving_pid(struct th_daemon *d)
{
	struct th_status st;
	pid_t pid = -1;

	if (th_status(d, &st) == 0 && th_status_serving(&st, 0, &pid) > 0)
		return pid;
	return -1;
}

static void
set_hang(int on)
{
	int fd;

	if (!on) {
		(void)unlink(hang_path);
		return;
	}
	if ((fd = open(hang_path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) == -1)
		bail("cannot create the hang file");
	close(fd);
}

static void
reload_with_hung_worker(struct th_daemon *d, pid_t old)
{
	char out[2048];
	pid_t kids[16];
	int rc, n = 0;
	double t0;

	set_hang(1);
	rc = th_ctl(d, out, sizeof(out), "reload", NULL);
	ok(rc != 0, "a reload whose new worker never reports READY is "
	    "refused: %.*s", (int)strcspn(out, "\n"), out);
	for (t0 = th_now_ms(); th_now_ms() - t0 < th_ms(5000);
	    th_sleep_ms(20))
		if ((n = th_children(d->pid, kids, 16)) == 1)
			break;
	is_int(n, 1, "the hung new worker is gone; one worker is left");
	is_int(serving_pid(d), old, "the old worker still serves slot 0");
	ok(echoes(d), "and still echoes");
}

static void
respawn_with_hung_worker(struct th_daemon *d, pid_t old)
{
	pid_t now = -1;
	double t0;

	(void)kill(old, SIGKILL);
	ok(th_daemon_wait_log(d, "did not report READY within", 1, th_ms(8000)) == 0,
	    "the replacement that hangs before READY is killed after "
	    "reload_timeout_ms (logged)");
	ok(th_pid_alive(d->pid), "the master lives");
	set_hang(0);
	for (t0 = th_now_ms(); th_now_ms() - t0 < th_ms(15000);
	    th_sleep_ms(50))
		if ((now = serving_pid(d)) > 0 && now != old)
			break;
	ok(now > 0 && now != old, "once start-up works again, a new worker "
	    "serves slot 0 (pid %ld)", (long)now);
	ok(echoes(d), "and echoes");
}

int
main(void)
{
	struct th_daemon *d;
	pid_t first;

	th_init("t113-master-ready-timeout", 90);
	plan(0);
	d = th_daemon_fork("workers 1\nlisten 127.0.0.1:0 tlv\n"
	    "reload_timeout_ms 1000\n", run, NULL);
	if (d == NULL)
		bail("the test server did not start");
	snprintf(hang_path, sizeof(hang_path), "%s/hang", d->dir);
	first = serving_pid(d);
	ok(first > 0 && echoes(d), "the server serves (worker %ld)",
	    (long)first);
	reload_with_hung_worker(d, first);
	respawn_with_hung_worker(d, first);
	set_hang(0);
	is_int(th_daemon_stop(d), 0, "the server stops with exit 0");
	return th_exit(done_testing());
}
