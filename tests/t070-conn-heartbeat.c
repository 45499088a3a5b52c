/*
 * t070-conn-heartbeat - `heartbeat_ms 200`: silent connections are closed after
 * two periods, heartbeats (and any other frame) keep one alive, and
 * every heartbeat is answered once unless `heartbeat_reply off`.
 *
 * Three echo clients start together: S says nothing, H sends an empty
 * type-0 frame every 100 ms, E sends a type-1 frame every 150 ms.  S must
 * be closed between 350 ms and 1 s (scaled) after it connected, H and E
 * must still be open after 2 s, H must get exactly one empty type-0
 * reply per heartbeat, and `timeouts` must count S.  When H falls
 * silent it is closed ~400 ms later too.  Then: with `heartbeat_reply
 * off` heartbeats are not answered; and bytes of a frame that never
 * completes are not a heartbeat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/harness.h"
#include "tap.h"

#define HB_MS		200
#define RUN_MS		2000

enum { S, H, E, N };

/* Count the empty type-0 frames buffered on c; other frames in *other. */
static int
count_replies(struct th_client *c, int *other)
{
	struct th_frame f;
	int n = 0;

	while (th_client_frame(c, &f)) {
		if (f.type == 0 && f.len == 0)
			n++;
		else
			(*other)++;
	}
	return n;
}

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

/* With heartbeat_reply off: heartbeats keep the connection but get no
 * answer. */
static void
no_reply_case(void)
{
	struct th_daemon *d;
	struct th_client c;
	uint64_t end;
	int replies = 0, other = 0;

	if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 1\nheartbeat_ms 200\nheartbeat_reply off\n")) == NULL)
		bail("taod did not start");
	if (th_client_open(&c, d->port[0]) == -1)
		bail("connect failed");
	end = th_now_ms() + 800;
	while (th_now_ms() < end) {
		th_client_send(&c, 0, NULL, 0);
		(void)th_clients_poll(&c, 1, 100);
		replies += count_replies(&c, &other);
	}
	(void)th_clients_poll(&c, 1, 100);
	replies += count_replies(&c, &other);
	ok(!c.eof, "heartbeat_reply off: heartbeats still keep it open");
	is_int(replies + other, 0, "heartbeat_reply off: nothing is answered");
	th_client_close(&c);
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
}

/*
 * Only frames count as signs of life (issue 5: "every received frame
 * refreshes the connection's last-seen time"): a client that drips the
 * bytes of a frame it never completes is silent, and the heartbeat must
 * close it long before the default frame_timeout_ms of 30 s would.
 */
static void
drip_case(void)
{
	static const uint8_t head[8] = { 1, 0, 0, 0, 100, 0, 0, 0 };
	struct th_daemon *d;
	struct th_client c;
	uint64_t t0, now, next, deadline;
	int sent = 0;
	long elapsed;

	if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 1\nheartbeat_ms 200\n")) == NULL)
		bail("taod did not start");
	if (th_client_open(&c, d->port[0]) == -1)
		bail("connect failed");
	t0 = next = th_now_ms();
	deadline = t0 + (uint64_t)th_ms(1500);
	while (!c.eof && (now = th_now_ms()) < deadline) {
		if (now >= next) {
			uint8_t b = sent < 8 ? head[sent] : 'x';

			if (th_client_write(&c, &b, 1) == -1)
				break;
			sent++;
			next += 100;
			continue;
		}
		(void)th_client_wait_closed(&c, (int)(next - now));
	}
	elapsed = (long)(th_now_ms() - t0);
	diag("byte-dripping client: %s after %ld ms, %d bytes sent",
	    c.eof ? "closed" : "still open", elapsed, sent);
	ok(c.eof && elapsed >= 350 && elapsed <= th_ms(1000),
	    "a client dripping bytes of an unfinished frame is closed by "
	    "the heartbeat (350 ms - 1 s)");
	th_client_close(&c);
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
}

/* What the clients did and saw over RUN_MS. */
struct hb_run {
	uint64_t t0, closed_at, last_hb;
	int hb_sent, replies, other, e_sent, e_back;
	int lost_h, lost_e;
	long long timeouts_mid;	/* the counter while H and E were busy */
};

/* S stays silent, H sends heartbeats, E other frames, for RUN_MS. */
static void
hb_run(struct th_daemon *d, struct th_client *c, struct hb_run *r)
{
	uint64_t end, next_hb, next_e;

	r->t0 = next_hb = next_e = th_now_ms();
	end = r->t0 + RUN_MS;
	while (th_now_ms() < end) {
		uint64_t now = th_now_ms(), wake;
		struct th_frame f;

		if (now >= next_hb && !c[H].eof) {
			if (th_client_send(&c[H], 0, NULL, 0) == 0) {
				r->hb_sent++;
				r->last_hb = th_now_ms();
			}
			next_hb += 100;
		}
		if (now >= next_e && !c[E].eof) {
			if (th_client_send(&c[E], 1, "ping", 4) == 0)
				r->e_sent++;
			next_e += 150;
		}
		wake = next_hb < next_e ? next_hb : next_e;
		now = th_now_ms();
		(void)th_clients_poll(c, N,
		    wake > now ? (int)(wake - now) : 0);
		if (c[S].eof && r->closed_at == 0)
			r->closed_at = th_now_ms();
		r->replies += count_replies(&c[H], &r->other);
		while (th_client_frame(&c[E], &f))
			r->e_back += f.type == 1 && f.len == 4;
		r->lost_h |= c[H].eof;
		r->lost_e |= c[E].eof;
		/* Once, while H and E are still busy: only S timed out. */
		if (r->timeouts_mid < 0 && th_now_ms() >= r->t0 + RUN_MS - 500)
			r->timeouts_mid = th_stat(d, -1, "timeouts");
	}
	/* The last replies may still be on their way. */
	(void)th_clients_poll(c, N, 50);
	r->replies += count_replies(&c[H], &r->other);
}

/* Only the silent client was closed, on time; the others were served. */
static void
hb_check(const struct th_client *c, const struct hb_run *r)
{
	long elapsed = r->closed_at ? (long)(r->closed_at - r->t0) : -1;

	diag("silent client closed after %ld ms", elapsed);
	ok(r->closed_at != 0, "the silent client was closed");
	ok(elapsed >= 350, "not before 350 ms");
	ok(elapsed <= th_ms(1000), "within 1 s");
	ok(c[S].len == 0, "the silent client was sent nothing");
	ok(!r->lost_h && !c[H].eof, "the heartbeating client is open after "
	    "2 s");
	ok(!r->lost_e && !c[E].eof, "a client sending other frames is open "
	    "too");
	ok(r->hb_sent >= 15, "%d heartbeats sent", r->hb_sent);
	is_int(r->replies, r->hb_sent, "one empty type-0 reply per heartbeat");
	is_int(r->other, 0, "and nothing else");
	is_int(r->e_back, r->e_sent, "the other frames were echoed");
	is_int(r->timeouts_mid, 1, "timeouts counted the silent client");
}

int
main(void)
{
	struct hb_run r = { .timeouts_mid = -1 };
	struct th_daemon *d;
	struct th_client c[N];
	long elapsed;
	int closed;

	plan(19);
	th_init("t070-conn-heartbeat", 40);
	if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 2\nheartbeat_ms 200\n")) == NULL)
		bail("taod did not start");

	for (int i = 0; i < N; i++)
		if (th_client_open(&c[i], d->port[0]) == -1)
			bail("connect failed");
	hb_run(d, c, &r);
	hb_check(c, &r);

	/* H and E fall silent: both are closed about 400 ms later. */
	closed = th_client_wait_closed(&c[H], th_ms(1500));
	elapsed = (long)(th_now_ms() - r.last_hb);
	ok(closed && elapsed >= 350, "the heartbeating client is closed "
	    "%ld ms after its last heartbeat", elapsed);
	ok(poll_timeouts(d, 3, th_ms(1500)), "timeouts counts 3");

	for (int i = 0; i < N; i++)
		th_client_close(&c[i]);
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");

	no_reply_case();
	drip_case();
	return th_exit(done_testing());
}
