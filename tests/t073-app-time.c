/*
 * t073-app-time - `app time`: every connection gets the server's UTC time
 * as a type-1 frame once a second, and nothing else.
 *
 * Two clients connect a moment apart.  Each must get its third frame
 * 2.5-3.6 s (upper bound scaled) after connecting, each frame an ISO 8601
 * time "YYYY-MM-DDTHH:MM:SS.mmmZ" close to our own clock, strictly
 * increasing, the first and third stamps 2 s apart (1.8-2.25 s).  Once
 * the clients have gone the server sends nothing more (their timers died
 * with them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/harness.h"
#include "tap.h"

#define NCLIENTS	2
#define NFRAMES		3

/* Seconds since the epoch from "YYYY-MM-DDTHH:MM:SS.mmmZ", or -1. */
static double
parse_time(const struct th_frame *f)
{
	char text[64], *end;
	struct tm tm;
	int ms;

	if (f->len != 24 || f->len >= sizeof(text))
		return -1;
	memcpy(text, f->data, f->len);
	text[f->len] = '\0';
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL ||
	    sscanf(end, ".%3dZ", &ms) != 1 || strcmp(end + 4, "Z") != 0)
		return -1;
	return (double)timegm(&tm) + ms / 1000.0;
}

static double
wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the clients received: when, and the time each frame said. */
struct readings {
	double t0[NCLIENTS];			/* when each connected */
	double at[NCLIENTS][NFRAMES];		/* arrival, from t0 */
	double stamp[NCLIENTS][NFRAMES];	/* the frame's time */
	int count[NCLIENTS];
	int other, badfmt, skew;
};

/* Read frames until each client has NFRAMES of them, or for 5 s. */
static void
collect(struct th_client *c, struct readings *r)
{
	uint64_t deadline = th_now_ms() + (uint64_t)th_ms(5000);

	while (th_now_ms() < deadline) {
		int done = 1;

		for (int i = 0; i < NCLIENTS; i++)
			done &= r->count[i] >= NFRAMES;
		if (done)
			break;
		(void)th_clients_poll(c, NCLIENTS, 50);
		for (int i = 0; i < NCLIENTS; i++) {
			struct th_frame f;

			while (th_client_frame(&c[i], &f)) {
				double t = parse_time(&f);

				if (f.type != 1) {
					r->other++;
					continue;
				}
				if (t < 0) {
					r->badfmt++;
					continue;
				}
				if (r->count[i] >= NFRAMES)
					continue;
				if (t < wall_now() - 2 || t > wall_now() + 0.1)
					r->skew++;
				r->at[i][r->count[i]] = (th_now_ms() / 1e3) -
				    r->t0[i];
				r->stamp[i][r->count[i]++] = t;
			}
		}
	}
}

/* Three frames each, on time, increasing, a second apart. */
static void
check_readings(const struct th_client *c, const struct readings *r)
{
	int monotonic = 1, spacing = 1, all = 1, timely = 1;
	double span;

	for (int i = 0; i < NCLIENTS; i++) {
		all &= r->count[i] == NFRAMES;
		if (r->count[i] != NFRAMES)
			continue;
		diag("client %d: frames at %.3f %.3f %.3f s", i, r->at[i][0],
		    r->at[i][1], r->at[i][2]);
		timely &= r->at[i][2] >= 2.5 &&
		    r->at[i][2] <= th_ms(3600) / 1e3;
		for (int k = 1; k < NFRAMES; k++)
			monotonic &= r->stamp[i][k] > r->stamp[i][k - 1];
		/* run_every keeps its schedule, so one late tick does not
		 * shift the next: the span of two periods stays near 2 s. */
		span = r->stamp[i][NFRAMES - 1] - r->stamp[i][0];
		spacing &= span >= 1.8 && span <= 2.25;
	}
	ok(all, "each client got 3 time frames");
	ok(timely, "the third 2.5-3.6 s after connecting");
	is_int(r->badfmt, 0, "every frame is an ISO 8601 UTC time with ms");
	ok(monotonic, "the times increase");
	ok(spacing, "a second apart: first to third stamp 1.8-2.25 s");
	is_int(r->skew, 0, "each close to our clock (within 2 s)");
	is_int(r->other, 0, "no other frames");
	ok(!c[0].eof && !c[1].eof, "the connections stay open");
}

int
main(void)
{
	static struct readings r;
	struct th_daemon *d;
	struct th_client c[NCLIENTS];
	uint64_t deadline;
	long long out0, out1;

	plan(11);
	th_init("t073-app-time", 30);
	if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp time\n"
	    "workers 2\n")) == NULL)
		bail("taod did not start");
	for (int i = 0; i < NCLIENTS; i++) {
		if (th_client_open(&c[i], d->port[0]) == -1)
			bail("connect failed");
		r.t0[i] = (th_now_ms() / 1e3);
		if (i + 1 < NCLIENTS)
			th_sleep_ms(300);	/* scenario: a moment apart */
	}
	collect(c, &r);
	check_readings(c, &r);

	for (int i = 0; i < NCLIENTS; i++)
		th_client_close(&c[i]);
	deadline = th_now_ms() + (uint64_t)th_ms(2000);
	while (th_stat(d, -1, "connections") != 0 &&
	    th_now_ms() < deadline)
		th_sleep_ms(10);
	out0 = th_stat(d, -1, "msgs_out");
	th_sleep_ms(1300);	/* a negative check: longer than a period */
	out1 = th_stat(d, -1, "msgs_out");
	ok(out0 >= NCLIENTS * NFRAMES && out0 == out1,
	    "nothing is sent once the clients are gone (msgs_out %lld, %lld)",
	    out0, out1);
	is_int(th_stat(d, -1, "errors"), 0, "no errors");
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
