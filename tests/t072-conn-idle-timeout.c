/*
 * t072-conn-idle-timeout - `idle_timeout_ms 300` closes a connection with no
 * traffic either way, and only that one.
 *
 * Two echo clients start together: I says nothing, A sends a frame every
 * 100 ms and reads its echo.  I must be closed between 300 ms and 1 s
 * (scaled) after it connected, A must still be open after 1.5 s with
 * every echo back; `timeouts` counts I, and A once it falls quiet.
 * Traffic the other way counts too: in the chat app, a client that never
 * sends but receives a broadcast every 100 ms stays open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/harness.h"
#include "tap.h"

#define IDLE_MS		300
#define RUN_MS		1500

static int
poll_timeouts(struct th_daemon *d, long long want, int ms)
{
	uint64_t deadline = th_now_ms() + (uint64_t)ms;

	do {
		if (th_stat(d, -1, "timeouts") == want)
			return 1;
		th_sleep_ms(10);
	} while (th_now_ms() < deadline);
	return 0;
}

/* Chat: R never sends, A broadcasts every 100 ms; R must survive. */
static void
receive_only_case(void)
{
	struct th_daemon *d;
	struct th_client c[2];	/* 0: R, receives only; 1: A, broadcasts */
	uint64_t end, next, now;
	int got = 0, sent = 0;

	if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp chat\n"
	    "workers 2\nidle_timeout_ms 300\n")) == NULL)
		bail("taod did not start");
	for (int i = 0; i < 2; i++)
		if (th_client_open(&c[i], d->port[0]) == -1)
			bail("connect failed");
	next = th_now_ms();
	end = next + RUN_MS;
	while ((now = th_now_ms()) < end) {
		struct th_frame f;

		if (now >= next) {
			sent += th_client_send(&c[1], 1, "hi", 2) == 0;
			next += 100;
		}
		now = th_now_ms();
		(void)th_clients_poll(c, 2,
		    next > now ? (int)(next - now) : 0);
		while (th_client_frame(&c[0], &f))
			got += f.type == 1;
		c[1].off = c[1].len;
	}
	ok(!c[0].eof, "chat: a client that only receives stays open 1.5 s");
	ok(got >= sent - 1 && sent >= 14, "it got the broadcasts (%d of %d)",
	    got, sent);
	for (int i = 0; i < 2; i++)
		th_client_close(&c[i]);
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
}

/* What the two clients saw over RUN_MS. */
struct idle_run {
	uint64_t t0, idle_closed, last_rx;
	int sent, back, bad;
};

/* c[0] stays idle while c[1] sends a frame every 100 ms for RUN_MS. */
static void
idle_run(struct th_client *c, struct idle_run *r)
{
	uint64_t end, next, now;

	r->t0 = next = th_now_ms();
	end = r->t0 + RUN_MS;
	while ((now = th_now_ms()) < end) {
		struct th_frame f;
		char text[16];
		int n;

		if (now >= next) {
			n = snprintf(text, sizeof(text), "tick %d", r->sent);
			if (th_client_send(&c[1], 1, text, (size_t)n) == 0)
				r->sent++;
			next += 100;
		}
		now = th_now_ms();
		(void)th_clients_poll(c, 2,
		    next > now ? (int)(next - now) : 0);
		if (c[0].eof && r->idle_closed == 0)
			r->idle_closed = th_now_ms();
		while (th_client_frame(&c[1], &f)) {
			n = snprintf(text, sizeof(text), "tick %d", r->back);
			if (f.type != 1 || f.len != (uint32_t)n ||
			    memcmp(f.data, text, (size_t)n) != 0)
				r->bad++;
			r->back++;
			r->last_rx = th_now_ms();
		}
	}
}

int
main(void)
{
	struct idle_run r = { 0 };
	struct th_daemon *d;
	struct th_client c[2];	/* 0: idle, 1: active */
	int closed;
	long elapsed;

	plan(15);
	th_init("t072-conn-idle-timeout", 30);
	if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 2\nidle_timeout_ms 300\n")) == NULL)
		bail("taod did not start");
	for (int i = 0; i < 2; i++)
		if (th_client_open(&c[i], d->port[0]) == -1)
			bail("connect failed");
	idle_run(c, &r);
	elapsed = r.idle_closed ? (long)(r.idle_closed - r.t0) : -1;
	diag("idle client closed after %ld ms", elapsed);
	ok(r.idle_closed != 0, "the idle client was closed");
	ok(elapsed >= IDLE_MS - 10, "not before 300 ms");
	ok(elapsed <= th_ms(1000), "within 1 s");
	ok(c[0].len == 0, "the idle client was sent nothing");
	ok(!c[1].eof, "the active client is open after 1.5 s");
	ok(r.sent >= 14, "%d messages sent by the active client", r.sent);
	is_int(r.back, r.sent, "all echoed");
	is_int(r.bad, 0, "intact and in order");
	ok(poll_timeouts(d, 1, th_ms(1000)), "timeouts counts 1");

	closed = th_client_wait_closed(&c[1], th_ms(1500));
	elapsed = (long)(th_now_ms() - r.last_rx);
	ok(closed && elapsed >= IDLE_MS - 10, "the active client is closed "
	    "%ld ms after falling quiet", elapsed);
	ok(poll_timeouts(d, 2, th_ms(1000)), "timeouts counts 2");

	for (int i = 0; i < 2; i++)
		th_client_close(&c[i]);
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");

	receive_only_case();
	return th_exit(done_testing());
}
