/*
 * t063-chat-max-connections - `max_connections 50` holds across 2 workers.
 *
 * 50 chat clients connect and each gets its welcome.  Every further
 * connection is accepted by the kernel and closed at once by whichever
 * worker takes it, without a welcome and without a "joined"
 * announcement; extras are opened until both workers have refused some,
 * and `refused` must count each.  After 5 clients leave, 5 new ones are
 * served again, and the 51st is again refused.  Then worker 0 is killed
 * with SIGKILL: the places its clients held come back to the limit, no
 * more and no fewer, once the master has respawned it.
 */
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/harness.h"
#include "tap.h"

#define LIMIT		50
#define MIN_EXTRA	6
#define MAX_EXTRA	40

static struct th_client cl[LIMIT];

/* 1 if the welcome came; its "worker=W" goes to c->tag. */
static int
welcomed(struct th_client *c, int ms)
{
	struct th_frame f;
	char text[64];
	unsigned long long netid;

	if (th_client_expect(c, 3, &f, ms) != 1 || f.len >= sizeof(text))
		return 0;
	memcpy(text, f.data, f.len);
	text[f.len] = '\0';
	return sscanf(text, "netid=%llu worker=%d", &netid, &c->tag) == 2;
}

/* Open a connection that must be refused: 1 if the server closed it
 * without sending anything, 0 otherwise. */
static int
refused(int port, int ms)
{
	struct th_client x;
	int closed, silent;

	if (th_client_open(&x, port) == -1)
		return 0;
	closed = th_client_wait_closed(&x, ms);
	silent = x.len == 0;
	th_client_close(&x);
	return closed && silent;
}

/* Poll stats until the total of `connections` is want. */
static int
connections_become(struct th_daemon *d, int want, int ms)
{
	uint64_t deadline = th_now_ms() + (uint64_t)ms;

	do {
		if (th_stat(d, -1, "connections") == want)
			return 1;
		th_sleep_ms(10);
	} while (th_now_ms() < deadline);
	return 0;
}

/* Presence frames the client gets within ms. */
static int
presences_within(struct th_client *c, int ms)
{
	uint64_t deadline = th_now_ms() + (uint64_t)ms, now;
	struct th_frame f;
	int n = 0;

	while ((now = th_now_ms()) < deadline)
		if (th_client_next(c, &f, (int)(deadline - now)) == 1)
			n += f.type == 4;
	return n;
}

/* Connections over the limit are closed at once and never announced. */
static void
test_over_limit(struct th_daemon *d, int ms)
{
	int ok_count = 0, extra = 0, all_closed = 1;
	long long r0 = 0, r1 = 0;

	for (int i = 0; i < LIMIT; i++) {
		if (th_client_open(&cl[i], d->port[0]) == -1)
			bail("connect failed");
		ok_count += welcomed(&cl[i], ms);
	}
	is_int(ok_count, LIMIT, "the first 50 connections are welcomed");
	ok(connections_become(d, LIMIT, ms), "the server counts 50");
	(void)presences_within(&cl[0], 100);	/* the 49 joins */

	/* Extras until both workers have refused at least one. */
	while (all_closed && extra < MAX_EXTRA &&
	    (extra < MIN_EXTRA || r0 == 0 || r1 == 0)) {
		all_closed &= refused(d->port[0], ms);
		extra++;
		r0 = th_stat(d, 0, "refused");
		r1 = th_stat(d, 1, "refused");
	}
	diag("%d extra connections: refused by worker 0: %lld, worker 1: %lld",
	    extra, r0, r1);
	ok(all_closed, "every connection over the limit is closed at once, "
	    "with nothing sent");
	ok(r0 > 0 && r1 > 0, "both workers refused some");
	is_int(th_stat(d, -1, "refused"), extra, "refused counts them all");
	is_int(th_stat(d, -1, "connections"), LIMIT,
	    "still 50 connections");
	is_int(presences_within(&cl[0], 200), 0,
	    "refused connections were never announced");
}

/* The 50 still chat, and 5 leaving make room for 5. */
static void
test_room_again(struct th_daemon *d, int ms)
{
	int ok_count = 0;

	/* The 50 still work: one broadcast reaches another client. */
	th_client_send(&cl[0], 1, "still alive", 11);
	{
		struct th_frame f;
		ok(th_client_expect(&cl[LIMIT - 1], 1, &f, ms) == 1 &&
		    f.len == 8 + 11 && memcmp(f.data + 8, "still alive", 11) ==
		    0, "the admitted clients still chat");
	}

	/* Room for 5 again after 5 leave. */
	for (int i = 0; i < 5; i++)
		th_client_close(&cl[i]);
	ok(connections_become(d, LIMIT - 5, ms), "5 closed: 45 remain");
	for (int i = 0; i < 5; i++) {
		if (th_client_open(&cl[i], d->port[0]) == -1)
			bail("connect failed");
		ok_count += welcomed(&cl[i], ms);
	}
	is_int(ok_count, 5, "5 new connections are welcomed again");
	ok(refused(d->port[0], ms), "and the 51st is refused again");
}

/* A crash gives back exactly the places its connections held. */
static void
test_crash_frees(struct th_daemon *d, int ms)
{
	pid_t pids[2] = { 0, 0 };
	int lost = 0, back = 0;

	pids[0] = th_worker_pid(d, 0);
	pids[1] = th_worker_pid(d, 1);
	if (pids[0] <= 0 || pids[1] <= 0)
		bail("no worker pids");
	for (int i = 0; i < LIMIT; i++)
		lost += cl[i].tag == 0;
	kill(pids[0], SIGKILL);
	ok(th_wait_respawn(d, 0, pids[0], ms) > 0 &&
	    connections_become(d, LIMIT - lost, ms),
	    "worker 0 killed and respawned: %d connections remain",
	    LIMIT - lost);
	for (int i = 0; i < LIMIT; i++) {
		if (cl[i].tag != 0)
			continue;
		th_client_close(&cl[i]);
		if (th_client_open(&cl[i], d->port[0]) == -1)
			bail("connect failed");
		back += welcomed(&cl[i], ms);
	}
	is_int(back, lost, "the %d places it held are free again", lost);
	ok(refused(d->port[0], ms), "and no more than those");
}

int
main(void)
{
	struct th_daemon *d;
	int ms = th_ms(2000);

	plan(15);
	th_init("t063-chat-max-connections", 60);
	if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp chat notices\n"
	    "workers 2\nmax_connections 50\n")) == NULL)
		bail("taod did not start");
	test_over_limit(d, ms);
	test_room_again(d, ms);
	test_crash_frees(d, ms);
	for (int i = 0; i < LIMIT; i++)
		th_client_close(&cl[i]);
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
