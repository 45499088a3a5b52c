/*
 * t234-blocking-latency - issue 16: a blocking handler does not stall
 * its worker.  One worker; one connection keeps the pool busy with
 * frames whose handler sleeps 200 ms (tao_server_register_blocking),
 * while 100 other connections of the same worker echo through a normal
 * handler: their round trips stay short (p99 under 40 ms, scaled by
 * th_ms for slow and sanitized builds: a fifth of one sleep, so a stall
 * of the loop cannot pass, while a machine loaded by a parallel
 * `make check` can, which 5 ms did not), and the sleeping frames still
 * come back, in order, each after its 200 ms.  The same sleep in a
 * normal handler would hold every echo for 200 ms: the test shows it
 * once (its p99 is far over the bound), so the measurement can fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tao.h"
#include "tests/lib/harness.h"
#include "tests/tap.h"

#define NCONNS		100
#define SLEEP_TYPE	10	/* blocking: sleeps 200 ms, echoes */
#define STALL_TYPE	11	/* normal: sleeps 200 ms, echoes */
#define ECHO_TYPE	1

static void
sleepy(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	struct timespec ts = { 0, 200 * 1000 * 1000 };

	(void)arg;
	nanosleep(&ts, NULL);
	tao_conn_send(c, m->type, m->data, m->len);
}

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
	    tao_server_register_blocking(s, SLEEP_TYPE, NULL, sleepy, NULL) < 0
	    || tao_server_register(s, STALL_TYPE, NULL, sleepy, NULL) < 0 ||
	    tao_server_register(s, ECHO_TYPE, NULL, echo, NULL) < 0)
		return 1;
	return tao_server_run(s) < 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Rounds of one echo on each of the 100 connections, until `until_ms`:
 * every round trip into rtt (at most max); the count, or -1 on a lost
 * echo.
 */
static int
echo_rounds(struct th_client *cs, double until_ms, double *rtt, int max)
{
	struct th_frame f;
	int n = 0;

	while (th_now_ms() < until_ms && n + NCONNS <= max) {
		double sent[NCONNS];
		int got = 0, done[NCONNS] = { 0 };

		for (int i = 0; i < NCONNS; i++) {
			sent[i] = th_now_ms();
			if (th_client_send(&cs[i], ECHO_TYPE, "ping", 4) == -1)
				return -1;
		}
		while (got < NCONNS) {
			if (th_clients_poll(cs, NCONNS, th_ms(2000)) == 0)
				return -1;
			for (int i = 0; i < NCONNS; i++)
				while (!done[i] && th_client_frame(&cs[i], &f)
				    == 1) {
					rtt[n++] = th_now_ms() - sent[i];
					done[i] = 1;
					got++;
				}
		}
	}
	return n;
}

static double
p99(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[(n * 99) / 100];
}

/*
 * Five sleeping frames on the sleeper (one second of pool work on one
 * connection, its frames one at a time), echo rounds meanwhile: the
 * echoes' p99, or 1e9 if they or the sleeping replies went wrong.
 */
static double
while_sleeping(struct th_client *cs, struct th_client *sleeper,
    double *rtt, int max)
{
	struct th_frame f;
	double start, p, took;
	int n, back = 0;

	for (uint8_t i = 0; i < 5; i++)
		th_client_send(sleeper, SLEEP_TYPE, &i, 1);
	start = th_now_ms();
	n = echo_rounds(cs, start + 900, rtt, max);
	p = n >= NCONNS * 5 ? p99(rtt, n) : 1e9;
	diag("echo p99 %.2f ms, max %.2f ms over %d round trips while a "
	    "handler sleeps", p, n > 0 ? rtt[n - 1] : 0.0, n);
	for (int i = 0; i < 5; i++)
		if (th_client_next(sleeper, &f, th_ms(3000)) == 1 &&
		    f.type == SLEEP_TYPE && f.len == 1 && f.data[0] == i)
			back++;
	took = th_now_ms() - start;
	if (back != 5 || took < 1000 - 50) {
		diag("sleeping frames: %d of 5 back in order, %.0f ms for "
		    "five 200 ms sleeps (one at a time: >= 1000)", back, took);
		return 1e9;
	}
	return p;
}

/* The control: the same sleep on the loop stalls everyone. */
static void
control(struct th_client *cs, struct th_client *sleeper, double *rtt)
{
	struct th_frame f;
	double p;
	int n;

	th_client_send(sleeper, STALL_TYPE, "s", 1);
	th_sleep_ms(20);
	n = echo_rounds(cs, th_now_ms() + 100, rtt, NCONNS * 2);
	p = n > 0 ? p99(rtt, n) : 1e9;
	ok(p > 100, "control: a sleep in a normal handler delays the echoes "
	    "(p99 %.1f ms)", p);
	is_int(th_client_next(sleeper, &f, th_ms(3000)), 1,
	    "and its reply comes");
}

int
main(void)
{
	static struct th_client cs[NCONNS], sleeper;
	static double rtt[200000];
	struct th_daemon *d;
	double bound = th_ms(40), p = 1e9;

	th_init("t234-blocking-latency", 120);
	d = th_daemon_fork("workers 1\nblocking_threads 2\n"
	    "listen 127.0.0.1:0 tlv\n", run, NULL);
	if (d == NULL)
		bail("server did not start");
	for (int i = 0; i < NCONNS; i++)
		if (th_client_open(&cs[i], d->port[0]) == -1)
			bail("connect %d", i);
	if (th_client_open(&sleeper, d->port[0]) == -1)
		bail("connect sleeper");
	/* Warm up: every connection accepted and answering. */
	if (echo_rounds(cs, th_now_ms() + 1, rtt, NCONNS) != NCONNS)
		bail("warm-up echoes");
	/* Up to three tries: a loaded test machine may stall a round now
	 * and then, a worker stalled by the sleeping handler does in each. */
	for (int try = 0; try < 3 && p >= bound; try++)
		p = while_sleeping(cs, &sleeper, rtt, (int)(sizeof(rtt) /
		    sizeof(rtt[0])));
	ok(p < bound, "100 connections' echo p99 stays under %.1f ms while "
	    "a handler sleeps on the same worker, and the sleeping frames "
	    "come back in order, one at a time: %.2f ms", bound, p);
	control(cs, &sleeper, rtt);
	for (int i = 0; i < NCONNS; i++)
		th_client_close(&cs[i]);
	th_client_close(&sleeper);
	is_int(th_daemon_stop_clean(d), 0, "stops cleanly");
	return th_exit(done_testing());
}
