/*
 * t254-metrics-monotonic - no Prometheus counter ever goes backwards
 * (HAProxy issue #843: counters reset when a process is replaced).
 *
 * taod (echo, 2 workers, metrics) under 40 reconnecting echo clients and
 * a connect storm is scraped 100 times; between scrapes 10 reloads and
 * 5 SIGKILLs of a worker happen.  For every *_total series of every
 * scrape, the value is >= its value in every earlier scrape, and no
 * series that appeared ever disappears.  The counters must also move
 * (accepted and msgs_in grow) and tao_restarts_total counts the kills.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness-fault.h"
#include "tests/lib/http.h"
#include "tests/tap.h"

#define SCRAPES		100
#define CONNS		40
#define MAX_SERIES	256

struct series {
	char		 name[96];
	long long	 value;
};

static struct series seen[MAX_SERIES];
static int nseen, down, vanished;

static struct series *
find(const char *name)
{
	for (int i = 0; i < nseen; i++)
		if (strcmp(seen[i].name, name) == 0)
			return &seen[i];
	if (nseen == MAX_SERIES)
		bail("more than %d series", MAX_SERIES);
	strlcpy(seen[nseen].name, name, sizeof(seen[nseen].name));
	seen[nseen].value = -1;
	return &seen[nseen++];
}

/* Fold one scrape's counters into seen[]; the number of *_total samples. */
static int
check_scrape(int n, const char *body)
{
	static int shown;
	char present[MAX_SERIES] = { 0 };
	const char *line = body;
	int samples = 0;

	for (; line != NULL && *line; line = strchr(line, '\n'),
	    line = line != NULL ? line + 1 : NULL) {
		char name[96];
		long long v;
		struct series *s;

		if (*line == '#' || sscanf(line, "%95s %lld", name, &v) != 2 ||
		    strstr(name, "_total") == NULL)
			continue;
		s = find(name);
		present[s - seen] = 1;
		samples++;
		if (v < s->value) {
			down++;
			if (shown++ < 10)
				diag("scrape %d: %s %lld -> %lld", n, name,
				    s->value, v);
		}
		s->value = v;
	}
	for (int i = 0; i < nseen; i++)
		if (!present[i] && seen[i].value >= 0) {
			vanished++;
			if (shown++ < 10)
				diag("scrape %d: %s vanished", n, seen[i].name);
		}
	return samples;
}

static int
serving(struct th_daemon *d, pid_t pid[2])
{
	return th_wait_serving(d, 2, pid, th_ms(8000));
}

static int
reload(struct th_daemon *d)
{
	char out[4096];

	return th_reload_retry(d, out, sizeof(out), NULL);
}

static long long
sum2(const char *body, const char *name)
{
	char s[96];
	long long t = 0;

	for (int w = 0; w < 2; w++) {
		snprintf(s, sizeof(s), "%s{worker=\"%d\"}", name, w);
		t += th_metric(body, s);
	}
	return t;
}

struct run {
	int	 port, failed, reloads, reload_failed, kills, few;
};

/* SCRAPES scrapes with reloads and kills in between; the last scrape in
 * resp, the first in first. */
static void
scrape_loop(struct th_daemon *d, struct run *r, char *resp, char *first,
    size_t len)
{
	pid_t pid[2];

	for (int i = 0; i < SCRAPES; i++) {
		if (th_scrape(r->port, resp, len) != 200) {
			r->failed++;
			continue;
		}
		if (i == 0)
			memcpy(first, resp, len);
		r->few += check_scrape(i, th_http_body(resp)) < 2 * 12;
		if (i % 10 == 5) {
			if (serving(d, pid) == -1)
				bail("the workers do not come back");
			r->reloads++;
			r->reload_failed += reload(d) != 0;
		}
		if (i % 20 == 15) {
			if (serving(d, pid) == -1)
				bail("the workers do not come back");
			r->kills += kill(pid[th_rand() % 2], SIGKILL) == 0;
		}
	}
}

int
main(void)
{
	struct th_load_opts o = { .conns = CONNS, .depth = 2,
	    .max_size = 4096, .reconnect = 1 };
	static char resp[1 << 18], first[1 << 18];
	struct th_storm_totals s;
	struct th_load_totals t;
	struct th_daemon *d;
	struct th_storm *storm;
	struct th_load *l;
	struct run r = { 0 };

	th_init("t254-metrics-monotonic", 120);
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n"
	    "metrics 127.0.0.1:0\n");
	if (d == NULL || (r.port = th_metrics_port(d, th_ms(5000))) <= 0)
		bail("taod did not start with metrics");
	o.port = d->port[0];
	o.seed = th_rand();
	if ((l = th_load_start(&o)) == NULL ||
	    (storm = th_storm_start(d->port[0])) == NULL)
		bail("load");
	ok(th_load_wait_replies(l, 10 * CONNS, th_ms(10000)) == 0,
	    "%d clients echo, a connect storm runs", CONNS);
	scrape_loop(d, &r, resp, first, sizeof(resp));
	{
		/* One more once both slots serve: the last kill is reaped. */
		pid_t pid[2];
		if (serving(d, pid) == -1 || th_scrape(r.port, resp,
		    sizeof(resp)) != 200)
			bail("no final scrape");
		r.few += check_scrape(SCRAPES, th_http_body(resp)) < 2 * 12;
	}
	is_int(r.failed, 0, "all %d scrapes answered 200", SCRAPES);
	is_int(r.few, 0, "every scrape had >= 24 counter samples (%d series)",
	    nseen);
	is_int(r.reloads - r.reload_failed, 10, "10 reloads succeeded");
	is_int(r.kills, 5, "5 workers were killed");
	is_int(down, 0, "no counter series ever decreased");
	is_int(vanished, 0, "no counter series disappeared");
	ok(sum2(resp, "tao_accepted_total") > sum2(first, "tao_accepted_total")
	    && sum2(resp, "tao_msgs_in_total") > sum2(first,
	    "tao_msgs_in_total"), "the counters moved (accepted %lld -> %lld)",
	    sum2(first, "tao_accepted_total"), sum2(resp, "tao_accepted_total"));
	is_int((int)sum2(resp, "tao_restarts_total"), r.kills,
	    "tao_restarts_total counts the kills");
	is_int((int)th_metric(th_http_body(resp), "tao_generation"),
	    1 + r.reloads - r.reload_failed, "tao_generation counts the reloads");
	th_storm_stop(storm, &s);
	th_load_stop(l, &t);
	is_int(t.bad + s.bad, 0, "no wrong echo");
	th_load_free(l);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	is_int(th_sanitizer_reports(d), 0, "no sanitizer report in the log");
	return th_exit(done_testing());
}
