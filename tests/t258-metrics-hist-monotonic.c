/*
 * t258-metrics-hist-monotonic - no histogram sample ever goes backwards
 * across worker crashes, respawns and reloads.
 *
 * A libtao server (2 workers, metrics; type 1 echo, type 3 blocking
 * echo, on_message echo) runs under 20 reconnecting echo clients (their
 * random types land in "other"); between its 100 scrapes the test sends
 * frames of types 1 and 3 on a connection of its own, reloads 10 times
 * and SIGKILLs a worker 5 times.  For every tao_handler_seconds_* and
 * tao_write_queue_wait_seconds_* sample (_bucket per le, _sum, _count)
 * of every scrape, the value is >= the one of the scrape before, and no
 * series that appeared vanishes.  Each scrape is also well formed:
 * buckets cumulative in le and the +Inf bucket equal to _count.  The
 * counts must move: type 1 and 3 counts and the waits grow over the run.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "tests/lib/harness-fault.h"
#include "tests/lib/http.h"
#include "tests/tap.h"

#define SCRAPES		100
#define CONNS		20
#define MAX_SERIES	1024

struct series {
	char	 name[128];
	double	 value;
};

static struct series seen[MAX_SERIES];
static int nseen, down, vanished, malformed, shown;

static void
echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)arg;
	tao_conn_send(c, m->type, m->data, m->len);
}

static int
run(const char *conf, void *arg)
{
	struct tao_server *s = tao_server_new();

	(void)arg;
	if (s == NULL || tao_server_config(s, conf) < 0 ||
	    tao_server_register(s, 1, NULL, echo, NULL) < 0 ||
	    tao_server_register_blocking(s, 3, NULL, echo, NULL) < 0)
		return 1;
	tao_server_on_message(s, echo, NULL);
	return tao_server_run(s) < 0;
}

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

static int
is_hist(const char *name)
{
	return strncmp(name, "tao_handler_seconds_", 20) == 0 ||
	    strncmp(name, "tao_write_queue_wait_seconds_", 29) == 0;
}

/* Buckets of one series come in le order, then _sum, then _count. */
static void
shape(int n, const char *name, double v, double *cum)
{
	if (strstr(name, "_bucket{") != NULL) {
		if (strstr(name, "le=\"1e-06\"") != NULL ||
		    strstr(name, "le=\"0.000001\"") != NULL)
			*cum = 0;
		if (v < *cum && shown++ < 10)
			diag("scrape %d: %s %.0f under the bucket before", n,
			    name, v);
		malformed += v < *cum;
		*cum = v;
	} else if (strstr(name, "_count{") != NULL) {
		if (v != *cum && shown++ < 10)
			diag("scrape %d: %s %.0f, +Inf %.0f", n, name, v, *cum);
		malformed += v != *cum;
	}
}

/* Fold one scrape's histogram samples into seen[]; how many. */
static int
check_scrape(int n, const char *body)
{
	static char present[MAX_SERIES];
	const char *line = body;
	double cum = 0;
	int samples = 0;

	memset(present, 0, sizeof(present));
	for (; line != NULL && *line; line = strchr(line, '\n'),
	    line = line != NULL ? line + 1 : NULL) {
		char name[128];
		double v;
		struct series *s;

		if (*line == '#' || sscanf(line, "%127s %lf", name, &v) != 2 ||
		    !is_hist(name))
			continue;
		shape(n, name, v, &cum);
		s = find(name);
		present[s - seen] = 1;
		samples++;
		if (v < s->value) {
			down++;
			if (shown++ < 10)
				diag("scrape %d: %s %f -> %f", n, name,
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

/* Value of name{worker="0"...} + name{worker="1"...}; labels follow the
 * worker label. */
static double
sum2(const char *body, const char *name, const char *labels)
{
	char s[160];
	double t = 0;

	for (int w = 0; w < 2; w++) {
		const char *p;
		snprintf(s, sizeof(s), "\n%s{worker=\"%d\"%s} ", name, w,
		    labels);
		if ((p = strstr(body, s)) != NULL)
			t += strtod(p + strlen(s), NULL);
	}
	return t;
}

/* A few frames of types 1 and 3 on our own connection (reopened when a
 * kill or a reload took it). */
static void
typed_frames(struct th_daemon *d, int *fd)
{
	for (int k = 0; k < 4; k++) {
		if (*fd == -1 && (*fd = th_connect(d->port[0])) == -1)
			return;
		if (th_echo_once(*fd, k % 2 ? 3 : 1, 16, (uint32_t)k) == -1) {
			close(*fd);
			*fd = -1;
		}
	}
}

struct run {
	int	 port, failed, reloads, reload_failed, kills, few, fd;
};

static void
scrape_loop(struct th_daemon *d, struct run *r, char *resp, char *first,
    size_t len)
{
	pid_t pid[2];

	for (int i = 0; i < SCRAPES; i++) {
		typed_frames(d, &r->fd);
		if (th_scrape(r->port, resp, len) != 200) {
			r->failed++;
			continue;
		}
		if (i == 0)
			memcpy(first, resp, len);
		/* 2 workers x (types 1, 3, other) and the waits: 8 series
		 * of 28 samples */
		r->few += check_scrape(i, th_http_body(resp)) < 8 * 28;
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

static void
check_moved(const char *first, const char *last)
{
	const char *c1 = ",type=\"1\"", *c3 = ",type=\"3\"";

	ok(sum2(last, "tao_handler_seconds_count", c1) > sum2(first,
	    "tao_handler_seconds_count", c1) && sum2(last,
	    "tao_handler_seconds_count", c3) > sum2(first,
	    "tao_handler_seconds_count", c3), "type 1 and 3 counts grew "
	    "(type 3: %.0f -> %.0f)", sum2(first, "tao_handler_seconds_count",
	    c3), sum2(last, "tao_handler_seconds_count", c3));
	ok(sum2(last, "tao_write_queue_wait_seconds_count", "") > sum2(first,
	    "tao_write_queue_wait_seconds_count", "") && sum2(last,
	    "tao_handler_seconds_count", ",type=\"other\"") > sum2(first,
	    "tao_handler_seconds_count", ",type=\"other\""),
	    "the waits and \"other\" grew (waits %.0f -> %.0f)", sum2(first,
	    "tao_write_queue_wait_seconds_count", ""), sum2(last,
	    "tao_write_queue_wait_seconds_count", ""));
}

int
main(void)
{
	struct th_load_opts o = { .conns = CONNS, .depth = 2,
	    .max_size = 1024, .reconnect = 1 };
	static char resp[1 << 19], first[1 << 19];
	struct th_load_totals t;
	struct th_daemon *d;
	struct th_load *l;
	struct run r = { .fd = -1 };
	pid_t pid[2];

	th_init("t258-metrics-hist-monotonic", 150);
	plan(0);
	d = th_daemon_fork("listen 127.0.0.1:0 tlv\nworkers 2\n"
	    "metrics 127.0.0.1:0\n", run, NULL);
	if (d == NULL || (r.port = th_metrics_port(d, th_ms(5000))) <= 0)
		bail("server did not start with metrics");
	o.port = d->port[0];
	o.seed = th_rand();
	if ((l = th_load_start(&o)) == NULL)
		bail("load");
	ok(th_load_wait_replies(l, 10 * CONNS, th_ms(10000)) == 0,
	    "%d clients echo", CONNS);
	scrape_loop(d, &r, resp, first, sizeof(resp));
	/* One more once both slots serve: the last kill is reaped. */
	if (serving(d, pid) == -1 || th_scrape(r.port, resp, sizeof(resp)) !=
	    200)
		bail("no final scrape");
	r.few += check_scrape(SCRAPES, th_http_body(resp)) < 8 * 28;
	is_int(r.failed, 0, "all %d scrapes answered 200", SCRAPES);
	is_int(r.few, 0, "every scrape had >= 224 histogram samples (%d "
	    "series)", nseen);
	is_int(r.reloads - r.reload_failed, 10, "10 reloads succeeded");
	is_int(r.kills, 5, "5 workers were killed");
	is_int(down, 0, "no histogram sample ever decreased");
	is_int(vanished, 0, "no histogram series disappeared");
	is_int(malformed, 0, "buckets cumulative, +Inf equal to _count");
	check_moved(th_http_body(first), th_http_body(resp));
	th_load_stop(l, &t);
	is_int(t.bad, 0, "no wrong echo");
	th_load_free(l);
	if (r.fd != -1)
		close(r.fd);
	is_int(th_daemon_stop(d), 0, "server stops with exit 0");
	is_int(th_sanitizer_reports(d), 0, "no sanitizer report in the log");
	return th_exit(done_testing());
}
