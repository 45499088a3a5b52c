/*
 * t104-fault-disconnect - a disconnect storm.
 *
 * For 10 s, 5 000 clients (paced evenly) connect, send half a frame (a
 * header announcing 100 bytes and 50 of them) and reset the connection
 * (SO_LINGER 0), against taod with 2 workers.  A long-lived client
 * echoes every 500 ms throughout.  Afterwards:
 *  - each worker's /proc/PID/fd count returns to its baseline;
 *  - taod's RSS returns near its baseline (+8 MiB; +24 MiB under ASan,
 *    whose quarantine holds freed memory);
 *  - accepted and closed grew by the same amount, at most the storm's
 *    size; the gauge is back to the one long-lived client; no frame
 *    timeout fired;
 *  - taod still echoes, on the old connection and on a new one.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness-fault.h"
#include "tests/tap.h"

#define STORM_MS	10000
#define TARGET		5000

/* Connect, send half a frame, reset: 0, or -1 (errno). */
static int
hit_and_reset(int port, uint32_t seed)
{
	struct linger lg = { 1, 0 };
	uint8_t msg[TH_HEADER + 50];
	struct sockaddr_in sin;
	int fd, rc = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	th_put_header(msg, 3, 100);
	th_fill(msg + TH_HEADER, 50, seed);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    th_write_all(fd, msg, sizeof(msg)) == 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0)
		rc = 0;
	close(fd);
	return rc;
}

static int
workers(struct th_daemon *d, pid_t pid[2])
{
	struct th_status st;

	return th_status(d, &st) == 0 &&
	    th_status_serving(&st, 0, &pid[0]) == 1 &&
	    th_status_serving(&st, 1, &pid[1]) == 1 ? 0 : -1;
}

/* What the steps of the scenario share. */
struct storm {
	struct th_daemon *d;
	pid_t w[2];
	struct th_counters c0;
	long rss0;
	int fd0[2];
	int keeper;
	int done;		/* connect-send-reset cycles that worked */
};

/* taod with 2 workers, a long-lived client, a warm-up, the baselines. */
static void
storm_setup(struct storm *s)
{
	s->d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n");
	if (s->d == NULL)
		bail("taod did not start");
	if (workers(s->d, s->w) == -1)
		bail("2 workers do not serve");
	s->keeper = th_connect(s->d->port[0]);
	ok(s->keeper != -1 && th_echo_once(s->keeper, 1, 100, 1) == 0, "a "
	    "long-lived client echoes");
	/* Warm up: the first resets touch pools and buffers once. */
	for (int i = 0; i < 200; i++)
		(void)hit_and_reset(s->d->port[0], (uint32_t)i);
	{
		double end = th_now_ms() + th_ms(3000);
		while (th_stat(s->d, -1, "connections") != 1 &&
		    th_now_ms() < end)
			th_sleep_ms(10);
	}
	/* Settle: descriptors and buffers are released after the close
	 * that the counter shows; nothing observable marks the end. */
	th_sleep_ms(100);
	for (int i = 0; i < 2; i++)
		s->fd0[i] = th_fd_count(s->w[i]);
	s->rss0 = th_tree_rss_kb(s->d->pid);
	if (th_counters(s->d, &s->c0) == -1)
		bail("stats");
}

/* The storm, paced evenly, with an echo on the keeper every 500 ms. */
static void
storm_run(struct storm *s)
{
	double t0, next_echo;
	int failed = 0, first_err = 0, echoes = 0, echo_failed = 0;

	t0 = th_now_ms();
	next_echo = t0 + 500;
	while (th_now_ms() - t0 < STORM_MS && s->done + failed < TARGET) {
		double due = t0 + (double)(s->done + failed) * STORM_MS /
		    TARGET;

		if (th_now_ms() < due)
			th_sleep_ms((int)(due - th_now_ms()) + 1);
		if (hit_and_reset(s->d->port[0], (uint32_t)s->done) == 0)
			s->done++;
		else if (failed++ == 0)
			first_err = errno;
		if (th_now_ms() >= next_echo) {
			next_echo += 500;
			echoes++;
			if (th_echo_once(s->keeper, 2, 1000,
			    (uint32_t)echoes))
				echo_failed++;
		}
	}
	diag("%d connect-send-reset cycles in %.1f s, %d failed%s%s", s->done,
	    (th_now_ms() - t0) / 1000, failed, failed ? ": " : "",
	    failed ? strerror(first_err) : "");
	ok(s->done >= TARGET * 9 / 10 && failed == 0, "the storm ran (%d "
	    "clients)", s->done);
	is_int(echo_failed, 0, "the long-lived client echoed throughout (%d "
	    "echoes)", echoes);
}

/* Descriptors and RSS come back to their baselines. */
static void
storm_check_resources(struct storm *s)
{
	int fd1[2];
	long rss1, slack;

	{
		double end = th_now_ms() + th_ms(5000);
		for (;;) {
			for (int i = 0; i < 2; i++)
				fd1[i] = th_fd_count(s->w[i]);
			if ((fd1[0] == s->fd0[0] && fd1[1] == s->fd0[1]) ||
			    th_now_ms() >= end)
				break;
			th_sleep_ms(20);
		}
	}
	diag("descriptors: worker 0 %d -> %d, worker 1 %d -> %d", s->fd0[0],
	    fd1[0], s->fd0[1], fd1[1]);
	ok(fd1[0] == s->fd0[0] && fd1[1] == s->fd0[1], "each worker's "
	    "descriptor count returns to its baseline");

	slack = th_sanitized() ? 24 * 1024 : 8 * 1024;
	{
		double end = th_now_ms() + th_ms(5000);
		while ((rss1 = th_tree_rss_kb(s->d->pid)) > s->rss0 + slack &&
		    th_now_ms() < end)
			th_sleep_ms(50);
	}
	diag("RSS of taod: %ld KiB before, %ld KiB after (%+ld KiB)", s->rss0,
	    rss1, rss1 - s->rss0);
	ok(rss1 <= s->rss0 + slack, "RSS returns near its baseline (+%ld MiB "
	    "at most)", slack / 1024);
}

/* accepted, closed, errors and timeouts grew as the storm says. */
static void
storm_check_counters(struct storm *s)
{
	struct th_counters c1;
	const struct th_counters *c0 = &s->c0;
	int acc, clo, err, tmo;

	{
		double end = th_now_ms() + th_ms(3000);
		while (th_counters(s->d, &c1) == 0 &&
		    c1.total_connections != 1 && th_now_ms() < end)
			th_sleep_ms(20);
	}
	acc = th_counter_index("accepted");
	clo = th_counter_index("closed");
	err = th_counter_index("errors");
	tmo = th_counter_index("timeouts");
	diag("during the storm: accepted +%lld, closed +%lld, errors +%lld, "
	    "timeouts +%lld; connections now %lld",
	    c1.total[acc] - c0->total[acc], c1.total[clo] - c0->total[clo],
	    c1.total[err] - c0->total[err], c1.total[tmo] - c0->total[tmo],
	    c1.total_connections);
	is_int(c1.total_connections, 1, "the gauge is back to the long-lived "
	    "client");
	is_int(c1.total[acc] - c0->total[acc], c1.total[clo] - c0->total[clo],
	    "closed grew as much as accepted");
	ok(c1.total[acc] - c0->total[acc] <= s->done &&
	    c1.total[acc] - c0->total[acc] >= s->done * 9 / 10, "accepted "
	    "grew by (about) the storm's size");
	ok(c1.total[err] - c0->total[err] <= c1.total[acc] - c0->total[acc],
	    "errors: at most one per connection");
	is_int(c1.total[tmo] - c0->total[tmo], 0, "no frame timeout fired");
}

/* The same workers still echo, on the old connection and a new one. */
static void
storm_check_serving(struct storm *s)
{
	pid_t w_after[2];
	int fresh;

	ok(workers(s->d, w_after) == 0 && w_after[0] == s->w[0] &&
	    w_after[1] == s->w[1], "the same workers serve");
	ok(th_echo_once(s->keeper, 4, 5000, 4) == 0, "the long-lived client "
	    "still echoes");
	fresh = th_connect(s->d->port[0]);
	ok(fresh != -1 && th_echo_once(fresh, 5, 100, 5) == 0, "a new "
	    "client echoes");
	if (fresh != -1)
		close(fresh);
	close(s->keeper);
}

int
main(void)
{
	struct storm s = { 0 };

	th_init("t104-fault-disconnect", 90);
	plan(0);
	storm_setup(&s);
	storm_run(&s);
	storm_check_resources(&s);
	storm_check_counters(&s);
	storm_check_serving(&s);
	is_int(th_daemon_stop(s.d), 0, "taod stops with exit 0");
	is_int(th_sanitizer_reports(s.d), 0, "no sanitizer report in the log");
	return th_exit(done_testing());
}
