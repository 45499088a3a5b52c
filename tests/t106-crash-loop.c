/*
 * t106-crash-loop - a worker that dies as it starts is restarted with
 * exponential back-off, not forked hot (issue 3); exit code 2 is not
 * restarted at all.
 *
 * This test is its own libtao server: run as `t106-crash-loop.t server
 * DIR` (exec'd by the test, so that none of the harness's atexit work
 * runs in the server's processes) it serves an echo handler on
 * 127.0.0.1:0 with 1 worker and a control socket in DIR, and its
 * on_worker_start callback calls abort() while DIR/abort exists and
 * _exit(2) while DIR/exit2 exists.
 *
 * Server A: create DIR/abort and kill the worker.  Over 3 s:
 *  - the slot crash-loops (>= 5 SIGABRTs: the marker works) but forks
 *    at most 12 workers, not hundreds;
 *  - the delays the master logs ("restarting in N ms") start at 10 ms
 *    and double (capped at 5 s), and each restart waits at least that;
 * then remove the marker: the slot comes back and echoes.
 * Server B: create DIR/exit2 and kill the worker: its replacement exits
 * with code 2, the master says "fatal configuration error" and forks no
 * other worker for that slot.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "include/tao.h"
#include "tests/lib/harness-fault.h"
#include "tests/tap.h"

#define OBSERVE_MS	3000
#define MAX_EVENTS	256

/* ---- the server side ------------------------------------------------ */

static char marker_abort[256], marker_exit2[256];

static void
on_worker_start(struct tao_server *s, int slot, void *arg)
{
	(void)s;
	(void)slot;
	(void)arg;
	if (access(marker_exit2, F_OK) == 0)
		_exit(2);
	if (access(marker_abort, F_OK) == 0)
		abort();
}

static void
echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)arg;
	(void)tao_conn_send(c, m->type, m->data, m->len);
}

static int
server_main(const char *dir)
{
	struct tao_server *s;
	char line[300];
	int rc;

	snprintf(marker_abort, sizeof(marker_abort), "%s/abort", dir);
	snprintf(marker_exit2, sizeof(marker_exit2), "%s/exit2", dir);
	snprintf(line, sizeof(line), "control %s/ctl.sock", dir);
	if ((s = tao_server_new()) == NULL)
		return 1;
	if (tao_server_config_line(s, "listen 127.0.0.1:0 tlv") < 0 ||
	    tao_server_config_line(s, "workers 1") < 0 ||
	    tao_server_config_line(s, line) < 0) {
		tao_server_free(s);
		return 1;
	}
	tao_server_on_message(s, echo, NULL);
	tao_server_on_worker_start(s, on_worker_start, NULL);
	rc = tao_server_run(s);
	tao_server_free(s);
	return rc == 0 ? 0 : 1;
}

/* ---- the test side -------------------------------------------------- */

/* Start `self server DIR` with its output in DIR/log. */
static int
start(struct th_daemon *d, const char *name)
{
	const char *argv[4];
	char self[512];
	ssize_t n;
	sigset_t none;
	int fd;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "%s/%s", th_dir(), name);
	snprintf(d->log, sizeof(d->log), "%s/log", d->dir);
	snprintf(d->ctl, sizeof(d->ctl), "%s/ctl.sock", d->dir);
	if (mkdir(d->dir, 0700) == -1 || (n = readlink("/proc/self/exe",
	    self, sizeof(self) - 1)) <= 0)
		return -1;
	self[n] = '\0';
	if ((fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
	    O_CLOEXEC, 0600)) == -1)
		return -1;
	argv[0] = self;
	argv[1] = "server";
	argv[2] = d->dir;
	argv[3] = NULL;
	fflush(stdout);
	if ((d->pid = fork()) == -1)
		return -1;
	if (d->pid == 0) {
		struct rlimit no_core = { 0, 0 };

		(void)setrlimit(RLIMIT_CORE, &no_core);
		(void)setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		dup2(fd, 1);
		dup2(fd, 2);
		/* The running file itself, even if a build has replaced
		 * the one at its path meanwhile. */
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	close(fd);
	return 0;
}

/* Wait for "serving with" and read the port of "listening on". */
static int
ready(struct th_daemon *d)
{
	char buf[4096], *p;
	FILE *fp;
	size_t n;

	if (th_daemon_wait_log(d, "serving with", 1, th_ms(10000)) == -1)
		return -1;
	if ((fp = fopen(d->log, "re")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	if ((p = strstr(buf, "listening on 127.0.0.1:")) == NULL)
		return -1;
	d->port[0] = atoi(p + strlen("listening on 127.0.0.1:"));
	d->nports = 1;
	return d->port[0] > 0 ? 0 : -1;
}

static int
touch(const char *dir, const char *name)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return -1;
	close(fd);
	return 0;
}

static pid_t
worker(struct th_daemon *d)
{
	struct th_status st;
	pid_t pid = -1;

	if (th_status(d, &st) == -1 || th_status_serving(&st, 0, &pid) != 1)
		return -1;
	return pid;
}

static int
echoes(struct th_daemon *d)
{
	int fd = th_connect(d->port[0]), rc;

	if (fd == -1)
		return 0;
	rc = th_echo_once(fd, 1, 100, 3) == 0;
	close(fd);
	return rc;
}

/* Milliseconds since the epoch of a log line's timestamp, -1 if none. */
static double
stamp(const char *line)
{
	struct tm tm;
	int ms;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(line, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm) * 1000 + ms;
}

struct events {
	int	 nabrt;
	double	 abrt[MAX_EVENTS];	/* when each SIGABRT was logged */
	int	 ndelay;
	long	 delay[MAX_EVENTS];	/* "restarting in N ms" */
	double	 delay_at[MAX_EVENTS];
};

static void
read_events(struct th_daemon *d, double until, struct events *ev)
{
	char line[1024], *p;
	double t;
	FILE *fp;

	memset(ev, 0, sizeof(*ev));
	if ((fp = fopen(d->log, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if ((t = stamp(line)) < 0 || t > until)
			continue;
		if (strstr(line, "killed by signal ABRT") != NULL &&
		    ev->nabrt < MAX_EVENTS)
			ev->abrt[ev->nabrt++] = t;
		else if ((p = strstr(line, "restarting in ")) != NULL &&
		    ev->ndelay < MAX_EVENTS) {
			ev->delay_at[ev->ndelay] = t;
			ev->delay[ev->ndelay++] = atol(p + 14);
		}
	}
	fclose(fp);
}

static double
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Each delay logged doubles the one before, and each restart waited it. */
static void
crash_loop_delays(const struct events *ev)
{
	int doubling = 1, waited = 1;

	for (int i = 1; i < ev->ndelay; i++) {
		long want = ev->delay[i - 1] * 2 > 5000 ? 5000 :
		    ev->delay[i - 1] * 2;
		doubling &= ev->delay[i] == want;
	}
	ok(doubling, "each next delay doubles (up to 5 s)");
	/* The abort that follows "restarting in N ms" comes at least N ms
	 * later (the line and the abort before it share a timestamp; log
	 * stamps have 1 ms resolution). */
	for (int i = 0; i < ev->ndelay; i++)
		for (int k = 0; k < ev->nabrt; k++) {
			if (ev->abrt[k] <= ev->delay_at[i])
				continue;
			if (ev->abrt[k] - ev->delay_at[i] < ev->delay[i] - 1) {
				waited = 0;
				diag("  restart %d came %.0f ms after "
				    "\"restarting in %ld ms\"", i,
				    ev->abrt[k] - ev->delay_at[i], ev->delay[i]);
			}
			break;
		}
	ok(waited, "every restart waited its delay");
}

static void
crash_loop(struct th_daemon *a)
{
	struct events ev;
	struct th_status st;
	char path[300];
	double t_kill, t_end, end;
	pid_t w0, w1 = -1;
	int back = 0, restarts = -1;

	w0 = worker(a);
	ok(w0 > 0 && touch(a->dir, "abort") == 0 && kill(w0, SIGKILL) == 0,
	    "server A: abort marker made, worker %d killed", (int)w0);
	t_kill = wall_ms();
	th_sleep_ms(OBSERVE_MS);	/* the window the crash loop is watched */
	t_end = wall_ms();
	read_events(a, t_end, &ev);
	diag("in %.0f ms: %d workers died of SIGABRT; delays logged:",
	    t_end - t_kill, ev.nabrt);
	for (int i = 0; i < ev.ndelay; i++)
		diag("  %+6.0f ms: restarting in %ld ms", ev.delay_at[i] -
		    t_kill, ev.delay[i]);
	ok(ev.nabrt >= 5, "the slot crash-loops (%d aborts)", ev.nabrt);
	ok(ev.nabrt <= 12, "at most 12 forks in 3 s, not hundreds (%d)",
	    ev.nabrt);
	ok(ev.ndelay >= 4 && ev.delay[0] == 10, "the first delay is 10 ms "
	    "(%ld)", ev.ndelay > 0 ? ev.delay[0] : -1);
	crash_loop_delays(&ev);

	snprintf(path, sizeof(path), "%s/abort", a->dir);
	ok(unlink(path) == 0, "abort marker removed");
	end = th_now_ms() + th_ms(8000);
	while (th_now_ms() < end && !back) {
		w1 = worker(a);
		back = w1 > 0 && echoes(a);
		if (!back)
			th_sleep_ms(20);
	}
	ok(back, "the slot comes back and echoes (worker %d)", (int)w1);
	if (th_status(a, &st) == 0 && st.nslots > 0)
		restarts = st.slot[0].restarts;
	diag("status: slot 0 restarts %d", restarts);
	ok(restarts >= ev.nabrt + 1, "restarts counts the kill and the "
	    "aborts");
}

static void
exit2(struct th_daemon *b)
{
	char out[4096];
	pid_t w0 = worker(b), kids[16];
	int failed = 0;

	ok(w0 > 0 && touch(b->dir, "exit2") == 0 && kill(w0, SIGKILL) == 0,
	    "server B: exit2 marker made, worker %d killed", (int)w0);
	ok(th_daemon_wait_log(b, "fatal configuration error", 1,
	    th_ms(5000)) == 0, "the master says \"fatal configuration "
	    "error\"");
	th_sleep_ms(1000);	/* a negative check: nothing more is forked */
	is_int(th_daemon_log_count(b, "exited with code 2"), 1, "one worker "
	    "exited with code 2");
	is_int(th_children(b->pid, kids, 16), 0, "and no other was forked "
	    "(1 s later)");
	/* The row of a slot without a worker reads "0  -  -  failed ...",
	 * which th_status() does not parse: look at the text. */
	if (th_ctl(b, out, sizeof(out), "status", NULL) == 0)
		for (char *l = strtok(out, "\n"); l != NULL;
		    l = strtok(NULL, "\n"))
			if (strncmp(l, "0 ", 2) == 0 &&
			    strstr(l, " failed ") != NULL)
				failed++;
	is_int(failed, 1, "taoctl status shows slot 0 as failed");
	ok(th_pid_alive(b->pid), "the master stays up");
}

int
main(int argc, char *argv[])
{
	struct th_daemon a, b;
	int ok_a, ok_b;

	if (argc == 3 && strcmp(argv[1], "server") == 0)
		return server_main(argv[2]);
	th_init("t106-crash-loop", 60);
	plan(0);
	if (start(&a, "a") == -1 || start(&b, "b") == -1)
		bail("cannot start the servers");
	ok_a = ready(&a) == 0;
	ok_b = ready(&b) == 0;
	if (!ok_a || !ok_b) {
		th_daemon_dump_log(&a);
		th_daemon_dump_log(&b);
		bail("the servers did not serve");
	}
	ok(echoes(&a) && echoes(&b), "two libtao servers echo (ports %d, "
	    "%d)", a.port[0], b.port[0]);
	crash_loop(&a);
	exit2(&b);
	is_int(th_daemon_stop(&a), 0, "server A stops with exit 0");
	is_int(th_daemon_stop(&b), 0, "server B stops with exit 0");
	is_int(th_sanitizer_reports(&a) + th_sanitizer_reports(&b), 0,
	    "no sanitizer report in the logs");
	if (tap_failed) {
		th_daemon_dump_log(&a);
		th_daemon_dump_log(&b);
	}
	return th_exit(done_testing());
}
