/*
 * t053-master-reload - reloads under load.
 *
 *  1. An invalid config (that would also ask for 3 workers and a short
 *     reload_timeout_ms): taoctl reload exits 1 with FILE:LINE, and for
 *     longer than that timeout nothing starts - no "reload: starting"
 *     line, never a third child - then generation, worker count and
 *     pids are unchanged and 100 echoing clients saw nothing.
 *  2. A valid reload: the generation goes up, new pids serve, and the
 *     connections open across it keep working (the old workers hand
 *     them to the new generation).
 *  3. The bar of issue 3: a client opening and closing connections as
 *     fast as it can, plus 100 long-lived connections echoing, while 20
 *     reloads run in a row: 0 failed connects, 0 resets, 0 lost replies,
 *     for the storm and for the long-lived connections (whose figures
 *     are printed too).
 *  4. workers 2 -> 1 -> 3 by reload, with a connect storm and 100
 *     long-lived connections running each time.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

#define CONNS		100
#define RELOADS		20

static char conf_text[512];

static const char *
conf(int workers)
{
	snprintf(conf_text, sizeof(conf_text), "listen 127.0.0.1:0 tlv\n"
	    "app echo\nworkers %d\n", workers);
	return conf_text;
}

static struct th_load *
start_load(struct th_daemon *d, int reconnect)
{
	struct th_load_opts o = {
		.port = d->port[0], .conns = CONNS, .depth = 1,
		.max_size = 4096, .reconnect = reconnect, .seed = th_rand(),
	};
	struct th_load *l = th_load_start(&o);

	if (l == NULL)
		bail("th_load_start");
	if (th_load_wait_replies(l, 5 * CONNS, th_ms(10000)) == -1)
		diag("the load does not get going");
	return l;
}

static int
reload(struct th_daemon *d, char *out, size_t outlen, int *waits)
{
	return th_reload_retry(d, out, outlen, waits);
}

/* Wait until exactly n workers serve and the master has n children. */
static int
settle(struct th_daemon *d, int n, struct th_status *st)
{
	double end = th_now_ms() + th_ms(10000);
	pid_t kids[64];

	while (th_now_ms() < end) {
		if (th_status(d, st) == 0 && st->workers == n &&
		    th_status_serving(st, -1, NULL) == n &&
		    th_children(d->pid, kids, 64) == n)
			return 0;
		th_sleep_ms(20);
	}
	return -1;
}

static const char *
state_name(enum th_conn_state st)
{
	switch (st) {
	case TH_CONN_CLOSED:	return "closed by taod";
	case TH_CONN_RESET:	return "reset";
	case TH_CONN_BAD:	return "bad reply";
	case TH_CONN_TIMEOUT:	return "timed out";
	default:		return "?";
	}
}

/*
 * Which long-lived connection broke, how, and when: relative to the
 * reloads (start[i], end[i]: when taoctl reload i + 1 was run and when
 * it returned), so that a failure says which step of a reload it
 * follows.  The local port finds the connection in taod's log.
 */
static void
diag_breaks(struct th_load *l, const double *start, const double *end,
    int n)
{
	const struct th_load_break *b;
	int total, kept = th_load_breaks(l, &b, &total), i;

	for (int k = 0; k < kept; k++) {
		for (i = n - 1; i > 0 && start[i] > b[k].at_ms; i--)
			;
		diag("  break %d: connection %d (port %d) %s (%s) after %lld "
		    "replies, %d lost; at %+.1f ms from the start of reload "
		    "%d (which took %.1f ms)", k + 1, b[k].conn, b[k].port,
		    state_name(b[k].state), b[k].err ? strerror(b[k].err) :
		    "-", b[k].replies, b[k].lost, b[k].at_ms - start[i], i + 1,
		    end[i] - start[i]);
	}
	if (total > kept)
		diag("  and %d more breaks", total - kept);
}

#define BAD_RELOAD_MS	300	/* reload_timeout_ms of the invalid config */

/*
 * Watch the master for ms: 1 if it kept exactly n children and logged no
 * reload start the whole time.  A refused reload that had partly applied
 * would fork a worker of the new generation at once and would have
 * served or failed within its reload_timeout_ms, so the window is that
 * timeout and more; it is the length of a negative check, not a wait.
 */
static int
master_quiet_for(struct th_daemon *d, int n, int ms)
{
	double end = th_now_ms() + ms;
	pid_t kids[64];

	do {
		if (th_children(d->pid, kids, 64) != n ||
		    th_daemon_log_count(d, "reload: starting") != 0)
			return 0;
		th_sleep_ms(10);
	} while (th_now_ms() < end);
	return 1;
}

static void
test_invalid(struct th_daemon *d)
{
	struct th_status before, after;
	struct th_load_totals t;
	struct th_load *l = start_load(d, 0);
	char out[4096], want[300];
	int same = 1;

	th_status(d, &before);
	if (th_daemon_config(d, "listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 3\nreload_timeout_ms 300\nbogus_directive 1\n") == -1)
		bail("cannot write the config");
	is_int(th_ctl(d, out, sizeof(out), "reload", NULL), 1,
	    "reload of an invalid config: taoctl exits 1");
	snprintf(want, sizeof(want), "%s:5: ", d->conf);
	ok(strstr(out, want) != NULL, "  and says %s...", want);
	diag("  %.*s", (int)strcspn(out, "\n"), out);
	ok(master_quiet_for(d, 2, th_ms(BAD_RELOAD_MS) + 200), "for longer "
	    "than its reload_timeout_ms no reload starts and the master "
	    "keeps 2 children");
	th_status(d, &after);
	ok(after.generation == before.generation && after.workers == 2,
	    "generation (%d) and worker count (%d) are unchanged",
	    after.generation, after.workers);
	for (int i = 0; i < 2; i++) {
		pid_t a = 0, b = 0;
		th_status_serving(&before, i, &a);
		th_status_serving(&after, i, &b);
		same &= a == b && a > 0;
	}
	ok(same && th_status_serving(&after, -1, NULL) == 2,
	    "the same 2 workers serve");
	th_load_stop(l, &t);
	th_load_diag("clients across the invalid reload", &t);
	is_int(t.closed + t.reset + t.bad + t.timeout + t.lost, 0,
	    "the clients saw nothing");
	th_load_free(l);
	if (th_daemon_config(d, conf(2)) == -1)
		bail("cannot write the config");
}

static void
test_valid(struct th_daemon *d)
{
	struct th_status before, after;
	struct th_load_totals t;
	struct th_load *l = start_load(d, 0);
	char out[4096];
	pid_t old[2] = { 0, 0 }, new[2] = { 0, 0 };
	int waits = 0, fd;

	th_status(d, &before);
	th_status_serving(&before, 0, &old[0]);
	th_status_serving(&before, 1, &old[1]);
	th_load_mark(l);
	is_int(reload(d, out, sizeof(out), &waits), 0, "a valid reload: "
	    "taoctl exits 0");
	ok(settle(d, 2, &after) == 0, "2 workers serve after it");
	is_int(after.generation, before.generation + 1, "the generation "
	    "went up");
	th_status_serving(&after, 0, &new[0]);
	th_status_serving(&after, 1, &new[1]);
	ok(new[0] > 0 && new[1] > 0 && new[0] != old[0] && new[0] != old[1] &&
	    new[1] != old[0] && new[1] != old[1], "with new pids");
	fd = th_connect(d->port[0]);
	ok(fd != -1 && th_echo_once(fd, 1, 100, 1) == 0, "a new connection "
	    "echoes");
	if (fd != -1)
		close(fd);
	/* Every one of the 100 gets a few more replies from the new
	 * generation before the load stops (bounded; the checks below
	 * say whether they did). */
	(void)th_load_wait_replies(l, th_load_replies(l) + 5 * CONNS,
	    th_ms(5000));
	th_load_stop(l, &t);
	th_load_diag("100 connections open across one reload", &t);
	is_int(t.bad, 0, "  no wrong reply");
	diag("  %d of %d kept working, %d closed, %d reset, %lld replies "
	    "lost (%lld sent before the reload)", t.open, CONNS, t.closed,
	    t.reset, t.lost, t.lost_before_mark);
	is_int(t.open, CONNS, "  all %d connections open across it kept "
	    "working (handed to the new generation)", CONNS);
	is_int(t.lost, 0, "  and lost no reply");
	th_load_free(l);
}

static void
test_bar(struct th_daemon *d)
{
	struct th_storm_totals s;
	struct th_load_totals t;
	struct th_status st;
	struct th_storm *storm;
	struct th_load *l = start_load(d, 1);
	char out[4096];
	int failed = 0, waits = 0, gen0, settled;
	double t0, start[RELOADS], end[RELOADS];

	th_status(d, &st);
	gen0 = st.generation;
	if ((storm = th_storm_start(d->port[0])) == NULL)
		bail("th_storm_start");
	if (th_storm_wait(storm, 50, th_ms(5000)) == -1)
		diag("the connect storm does not get going");
	t0 = th_now_ms();
	for (int i = 0; i < RELOADS; i++) {
		start[i] = th_now_ms();
		if (reload(d, out, sizeof(out), &waits) != 0 && failed++ == 0)
			diag("reload %d failed: %s", i + 1, out);
		end[i] = th_now_ms();
	}
	diag("%d reloads in %.0f ms (%d waits for old generations)",
	    RELOADS, th_now_ms() - t0, waits);
	/* Storm and load go on against the last generation a little. */
	(void)th_storm_wait(storm, th_storm_attempts(storm) + 20, th_ms(5000));
	(void)th_load_wait_replies(l, th_load_replies(l) + 5 * CONNS,
	    th_ms(5000));
	th_storm_stop(storm, &s);
	th_load_stop(l, &t);
	is_int(failed, 0, "%d reloads in a row succeed", RELOADS);
	settled = settle(d, 2, &st) == 0;
	ok(settled && st.generation == gen0 + RELOADS, "generation %d "
	    "serves with 2 workers, the old ones are gone", st.generation);
	th_storm_diag("connect storm", &s);
	/* Slow builds (ASan, valgrind: a timeout scale above 1) connect
	 * less often; the storm still has to be a storm. */
	ok(s.attempts > (th_ms(1000) > 1000 ? 20 : 100),
	    "the storm made %lld connections", s.attempts);
	is_int(s.connect_failed, 0, "bar: 0 failed connects");
	is_int(s.reset, 0, "bar: 0 resets");
	is_int(s.no_reply + s.bad, 0, "bar: 0 lost replies");
	is_int(s.no_close, 0, "every storm connection was closed by taod "
	    "after our EOF");
	th_load_diag("100 long-lived connections", &t);
	diag("long-lived, over %d reloads: %d closed by taod, %d reset, "
	    "%lld replies lost, %d reconnects, %d connects failed", RELOADS,
	    t.closed, t.reset, t.lost, t.reconnects, t.connect_failed);
	diag_breaks(l, start, end, RELOADS);
	is_int(t.bad, 0, "long-lived: no wrong reply");
	is_int(t.reset, 0, "bar, long-lived: 0 resets");
	is_int(t.lost, 0, "bar, long-lived: 0 lost replies");
	is_int(t.closed + t.timeout + t.connect_failed, 0, "long-lived: "
	    "none was closed, stalled or failed to reconnect");
	th_load_free(l);
}

static void
test_workers(struct th_daemon *d, int n)
{
	struct th_storm_totals s;
	struct th_load_totals t;
	struct th_status st;
	struct th_storm *storm;
	struct th_load *l;
	char out[4096], json[16384];
	int waits = 0, fd, spread = 1, rc;

	if (th_daemon_config(d, conf(n)) == -1)
		bail("cannot write the config");
	l = start_load(d, 1);
	if ((storm = th_storm_start(d->port[0])) == NULL)
		bail("th_storm_start");
	if (th_storm_wait(storm, 20, th_ms(5000)) == -1)
		diag("the connect storm does not get going");
	rc = reload(d, out, sizeof(out), &waits);
	is_int(rc, 0, "reload to workers %d", n);
	if (rc != 0)
		diag("  %.*s", (int)strcspn(out, "\n"), out);
	ok(rc == 0 && settle(d, n, &st) == 0, "  %d workers serve, %d "
	    "processes", n, n);
	/* The storm goes on against the new workers before it stops. */
	if (th_storm_wait(storm, th_storm_attempts(storm) + 20,
	    th_ms(5000)) == -1)
		diag("the connect storm stalled after the reload");
	th_storm_stop(storm, &s);
	th_storm_diag("  connect storm", &s);
	is_int(s.connect_failed + s.reset + s.no_reply + s.bad, 0,
	    "  the storm lost nothing (%lld connections)", s.attempts);
	th_load_stop(l, &t);
	th_load_diag("  100 long-lived connections", &t);
	is_int(t.reset + t.lost + t.bad + t.timeout + t.connect_failed, 0,
	    "  the long-lived connections lost nothing");
	th_load_free(l);
	for (int i = 0; i < 30 * n; i++) {
		fd = th_connect(d->port[0]);
		if (fd == -1 || th_echo_once(fd, 2, 10, (uint32_t)i) != 0)
			spread = 0;
		if (fd != -1)
			close(fd);
	}
	ok(spread, "  %d new connections echo", 30 * n);
	th_ctl(d, json, sizeof(json), "stats", "--json", NULL);
	for (int slot = 0; slot < n; slot++)
		if (th_stats_get(json, slot, "accepted") <= 0)
			spread = 0;
	ok(spread, "  each of the %d slots accepted connections", n);
}

int
main(void)
{
	struct th_daemon *d;

	th_init("t053-master-reload", 90);
	plan(0);
	d = th_daemon_start(conf(2));
	if (d == NULL)
		bail("taod did not start");
	test_invalid(d);
	test_valid(d);
	test_bar(d);
	test_workers(d, 1);
	test_workers(d, 3);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	return th_exit(done_testing());
}
