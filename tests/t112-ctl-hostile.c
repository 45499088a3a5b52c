/*
 * t112-ctl-hostile - control clients that misbehave must not cost the
 * master CPU or time, and the control path is only ever replaced or
 * removed when it is our socket (issue 12, defects 4, 5 and 11).
 *
 *   - a client that asks `stop` and hangs up while the stop is pending
 *     (the worker is SIGSTOPped) does not make the master spin;
 *   - 3 clients ask `conns --json` with 3 000 connections open and never
 *     read: a 4th client's `status` still answers within 1 s; the 3 are
 *     dropped after the control timeout (10 s), and so is a client that
 *     never sends a request;
 *   - a regular file at the control path is left alone and taod refuses
 *     to start, saying why; a stale socket there is replaced;
 *   - a reload that changes `control` moves the socket (mode 0660); at
 *     exit taod does not unlink a file that replaced its socket.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness-fault.h"
#include "tests/tap.h"

#define CONNS		3000
#define HOSTILE		3
#define CTL_TIMEOUT_MS	10000

static int
ctl_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
ctl_request(const char *path, const char *req)
{
	int fd = ctl_connect(path);

	if (fd != -1 && th_write_all(fd, req, strlen(req)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
is_socket(const char *path, mode_t *mode)
{
	struct stat st;

	if (lstat(path, &st) == -1 || !S_ISSOCK(st.st_mode))
		return 0;
	if (mode != NULL)
		*mode = st.st_mode & 07777;
	return 1;
}

static int
file_says(const char *path, const char *text)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY), n;

	if (fd == -1)
		return 0;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 && strncmp(buf, text, strlen(text)) == 0;
}

static void
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		bail("cannot write a file in the test dir");
	close(fd);
}

/* Stop pending (the worker stopped), the asking client gone. */
static void
stop_and_hang_up(void)
{
	struct th_daemon *d;
	struct th_status st;
	char reply[32];
	pid_t w = -1;
	long t0, t1;
	int fd;

	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 1\n"
	    "drain_timeout_ms 4000\n");
	if (d == NULL)
		bail("taod did not start");
	if (th_status(d, &st) == -1 || th_status_serving(&st, 0, &w) != 1)
		bail("no serving worker");
	kill(w, SIGSTOP);
	fd = ctl_request(d->ctl, "TAO/2 stop\n");
	ok(fd != -1 && th_read_exact(fd, reply, 18, th_ms(5000)) == 0 &&
	    memcmp(reply, "TAO/2 ok\nstopping\n", 18) == 0, "stop: the "
	    "master answers \"stopping\"");
	if (fd != -1)
		close(fd);	/* and hangs up while the stop is pending */
	t0 = th_cpu_ticks(d->pid);
	th_sleep_ms(1000);	/* the measurement window */
	t1 = th_cpu_ticks(d->pid);
	diag("master CPU over 1 s with the stop pending: %ld ticks", t1 - t0);
	ok(t0 >= 0 && t1 >= 0 && t1 - t0 <= 10, "the master does not spin "
	    "on the gone client (%ld ticks in 1 s)", t1 - t0);
	kill(w, SIGCONT);
	is_int(th_daemon_wait(d, th_ms(15000)), 0, "taod stops with exit 0");
	is_int(th_sanitizer_reports(d), 0, "no sanitizer report");
}

static int
open_conns(int port, int *fds, int n)
{
	int opened = 0;

	for (int i = 0; i < n; i++)
		if ((fds[i] = th_connect(port)) != -1)
			opened++;
	return opened;
}

/* Wait until `taoctl conns` counts want rows. */
static int
wait_conns(struct th_daemon *d, int want)
{
	static struct th_conn_info ci[CONNS + 64];
	double t0 = th_now_ms();
	int n = -1;

	while (th_now_ms() - t0 < th_ms(20000)) {
		if ((n = th_conns(d, ci, CONNS + 64)) >= want)
			return n;
		th_sleep_ms(100);
	}
	return n;
}

static void
slow_readers(void)
{
	static int fds[CONNS];
	struct th_daemon *d;
	char out[8192];
	int hostile[HOSTILE], idle, rc, opened, closed = 0;
	double t0, t_status, t_idle;

	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n"
	    "max_connections 4000\n");
	if (d == NULL)
		bail("taod did not start");
	opened = open_conns(d->port[0], fds, CONNS);
	is_int(opened, CONNS, "%d connections open", CONNS);
	ok(wait_conns(d, CONNS) >= CONNS, "taoctl conns lists them");
	idle = ctl_connect(d->ctl);
	t_idle = th_now_ms();
	for (int i = 0; i < HOSTILE; i++)
		hostile[i] = ctl_request(d->ctl, "TAO/2 conns --json\n");
	t0 = th_now_ms();
	rc = th_ctl(d, out, sizeof(out), "status", NULL);
	t_status = th_now_ms() - t0;
	diag("status with %d clients not reading: %.0f ms", HOSTILE,
	    t_status);
	ok(rc == 0 && t_status <= th_ms(1000), "a 4th client's status "
	    "answers within 1 s (%.0f ms)", t_status);
	ok(idle != -1 && th_wait_closed(idle, th_ms(CTL_TIMEOUT_MS + 8000))
	    == 0, "a client that sends nothing is disconnected");
	t_idle = th_now_ms() - t_idle;
	ok(t_idle >= CTL_TIMEOUT_MS - 1000, "... after the timeout "
	    "(%.0f ms)", t_idle);
	for (int i = 0; i < HOSTILE; i++)
		closed += hostile[i] != -1 && th_wait_closed(hostile[i],
		    th_ms(CTL_TIMEOUT_MS)) == 0;
	is_int(closed, HOSTILE, "the clients that never read are dropped");
	for (int i = 0; i < HOSTILE; i++)
		if (hostile[i] != -1)
			close(hostile[i]);
	if (idle != -1)
		close(idle);
	for (int i = 0; i < CONNS; i++)
		if (fds[i] != -1)
			close(fds[i]);
	ok(th_ctl(d, out, sizeof(out), "status", NULL) == 0, "status still "
	    "works");
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	is_int(th_sanitizer_reports(d), 0, "no sanitizer report");
}

static void
regular_file(int index)
{
	char path[300], conf[600], log[300];
	struct th_daemon *d;
	int fd;

	snprintf(path, sizeof(path), "%s/not-a-socket", th_dir());
	write_file(path, "precious\n");
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 1\ncontrol %s\n", path);
	d = th_daemon_start(conf);
	ok(d == NULL, "taod refuses to start on a regular file at the control "
	    "path");
	ok(file_says(path, "precious"), "the file is still there, unchanged");
	snprintf(log, sizeof(log), "%s/taod%d/taod.log", th_dir(), index);
	fd = open(log, O_RDONLY);
	if (fd != -1) {
		char buf[8192] = "";
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		(void)n;
		close(fd);
		ok(strstr(buf, "is not a socket") != NULL, "and says why");
	} else
		ok(0, "and says why (no log %s)", log);
}

static void
make_stale_socket(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if (fd == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		bail("cannot make a stale socket");
	close(fd);	/* bound, nobody listening: what a crash leaves */
}

static void
move_control(void)
{
	char a[300], b[300], conf[800], out[4096];
	struct th_daemon *d;
	mode_t mode = 0;
	int sock;

	snprintf(a, sizeof(a), "%s/a.sock", th_dir());
	snprintf(b, sizeof(b), "%s/b.sock", th_dir());
	make_stale_socket(a);
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 1\ncontrol %s\n", a);
	if ((d = th_daemon_start(conf)) == NULL)
		bail("taod did not start on a stale socket");
	ok(1, "a stale socket at the control path is replaced");
	strlcpy(d->ctl, a, sizeof(d->ctl));
	sock = is_socket(a, &mode);
	ok(sock && mode == 0660, "control socket mode %04o", (unsigned)mode);
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 1\ncontrol %s\n", b);
	if (th_daemon_config(d, conf) == -1)
		bail("rewrite config");
	is_int(th_ctl(d, out, sizeof(out), "reload", NULL), 0, "reload "
	    "moving the control socket: %s", out);
	sock = is_socket(b, &mode);
	ok(sock && mode == 0660, "the new socket exists (mode %04o)",
	    (unsigned)mode);
	ok(access(a, F_OK) == -1 && errno == ENOENT, "the old one is gone");
	strlcpy(d->ctl, b, sizeof(d->ctl));
	is_int(th_ctl(d, out, sizeof(out), "status", NULL), 0, "taoctl "
	    "works on the new path");
	/* Someone puts a file where our socket was: it is not ours. */
	unlink(b);
	write_file(b, "precious\n");
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	ok(file_says(b, "precious"), "taod did not unlink a file that "
	    "replaced its socket");
	is_int(th_sanitizer_reports(d), 0, "no sanitizer report");
}

int
main(void)
{
	th_init("t112-ctl-hostile", 240);
	plan(0);
	stop_and_hang_up();	/* daemon 0 */
	slow_readers();		/* daemon 1 */
	regular_file(2);	/* daemon 2 */
	move_control();		/* daemon 3 */
	return th_exit(done_testing());
}
