/*
 * t105-fault-monotonic - counters never go backwards.
 *
 * taod (echo, 2 workers) under 40 echoing clients (reconnecting when
 * their worker dies) and a connect storm.  `taoctl stats --json` is
 * sampled 100 times while 10 reloads and 5 SIGKILLs of a worker happen
 * in between.  No counter (accepted, closed, msgs_in, msgs_out, bytes_in,
 * bytes_out, errors, refused, timeouts, ring_drops, dropped, restarts:
 * everything but the connections gauge) ever decreases from one sample
 * to the next, in the totals or in either slot.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness-fault.h"
#include "tests/tap.h"

#define SAMPLES		100
#define CONNS		40

static int
serving(struct th_daemon *d, pid_t pid[2])
{
	return th_wait_serving(d, 2, pid, th_ms(8000));
}

static int
reload(struct th_daemon *d, char *out, size_t outlen)
{
	return th_reload_retry(d, out, outlen, NULL);
}

/* Counters of cur below those of prev: each is printed (a few). */
static int
decreases(int sample, const struct th_counters *prev,
    const struct th_counters *cur)
{
	static int shown;
	int n = 0;

	for (int k = 0; k < TH_NCOUNTERS; k++) {
		if (cur->total[k] < prev->total[k]) {
			n++;
			if (shown++ < 10)
				diag("sample %d: totals.%s %lld -> %lld",
				    sample, th_counter_names[k],
				    prev->total[k], cur->total[k]);
		}
		for (int s = 0; s < prev->nslots && s < cur->nslots; s++)
			if (cur->slot[s][k] < prev->slot[s][k]) {
				n++;
				if (shown++ < 10)
					diag("sample %d: slot %d %s %lld -> "
					    "%lld", sample, s,
					    th_counter_names[k],
					    prev->slot[s][k], cur->slot[s][k]);
			}
	}
	return n;
}

/* What the sampling loop counts. */
struct sampling {
	int reloads, reload_failed, kills, down, failed, missing;
};

/* SAMPLES samples of the counters, a reload every 10 and a kill -9
 * every 20, into c[]. */
static void
sample_under_faults(struct th_daemon *d, struct th_counters *c,
    struct sampling *r)
{
	char out[4096];
	pid_t pid[2];
	double t0;

	t0 = th_now_ms();
	for (int i = 0; i < SAMPLES; i++) {
		if (th_counters(d, &c[i]) == -1) {
			r->failed++;
			c[i] = c[i > 0 ? i - 1 : 0];
			continue;
		}
		for (int k = 0; k < TH_NCOUNTERS; k++)
			r->missing += c[i].total[k] < 0;
		if (i > 0)
			r->down += decreases(i, &c[i - 1], &c[i]);
		if (i % 10 == 5) {
			if (serving(d, pid) == -1)
				bail("the workers do not come back");
			r->reloads++;
			if (reload(d, out, sizeof(out)) != 0 &&
			    r->reload_failed++ == 0)
				diag("reload %d: %.*s", r->reloads,
				    (int)strcspn(out, "\n"), out);
		}
		if (i % 20 == 15) {
			int slot = (int)(th_rand() % 2);
			if (serving(d, pid) == -1)
				bail("the workers do not come back");
			if (kill(pid[slot], SIGKILL) == 0)
				r->kills++;
		}
	}
	diag("%d samples, %d reloads, %d kills in %.1f s", SAMPLES, r->reloads,
	    r->kills, (th_now_ms() - t0) / 1000);
}

/* The samples: complete, never decreasing, moving. */
static void
check_samples(const struct th_counters *c, const struct sampling *r)
{
	const struct th_counters *last = &c[SAMPLES - 1];

	is_int(r->failed, 0, "every sample was taken");
	is_int(r->missing, 0, "every sample had every counter");
	is_int(r->reloads - r->reload_failed, 10, "10 reloads succeeded");
	is_int(r->kills, 5, "5 workers were killed");
	is_int(last->nslots, 2, "the stats show 2 slots");
	is_int(r->down, 0, "no counter ever decreased, in the totals or per "
	    "slot");
	ok(last->total[th_counter_index("accepted")] >
	    c[0].total[th_counter_index("accepted")] &&
	    last->total[th_counter_index("msgs_in")] >
	    c[0].total[th_counter_index("msgs_in")], "the counters moved "
	    "(accepted %lld -> %lld)",
	    c[0].total[th_counter_index("accepted")],
	    last->total[th_counter_index("accepted")]);
	is_int(last->total[th_counter_index("restarts")], r->kills,
	    "restarts counts the kills");
}

int
main(void)
{
	struct th_load_opts o = { .conns = CONNS, .depth = 2,
	    .max_size = 4096, .reconnect = 1 };
	static struct th_counters c[SAMPLES];
	struct sampling r = { 0 };
	struct th_storm_totals s;
	struct th_load_totals t;
	struct th_daemon *d;
	struct th_storm *storm;
	struct th_load *l;

	th_init("t105-fault-monotonic", 90);
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n");
	if (d == NULL)
		bail("taod did not start");
	o.port = d->port[0];
	o.seed = th_rand();
	if ((l = th_load_start(&o)) == NULL)
		bail("th_load_start");
	if ((storm = th_storm_start(d->port[0])) == NULL)
		bail("th_storm_start");
	ok(th_load_wait_replies(l, 10 * CONNS, th_ms(10000)) == 0,
	    "%d clients echo, a connect storm runs", CONNS);
	sample_under_faults(d, c, &r);
	check_samples(c, &r);
	th_storm_stop(storm, &s);
	th_load_stop(l, &t);
	th_storm_diag("connect storm", &s);
	th_load_diag("echo clients", &t);
	is_int(t.bad + s.bad, 0, "no wrong echo");
	th_load_free(l);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	is_int(th_sanitizer_reports(d), 0, "no sanitizer report in the log");
	return th_exit(done_testing());
}
