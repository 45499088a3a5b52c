/*
 * t213-conns-publish - `taoctl conns` counters follow the traffic within
 * about a second.  Workers no longer write a connection's table row on
 * every event; they publish every open connection's counters once a
 * second.  Echo app, one worker, one client: after NMSG echoes the row
 * shows msgs_in = msgs_out = NMSG within 2.5 s, and again after a second
 * batch; the row of an idle client keeps its values.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/itest.h"
#include "tap.h"

#define NMSG	50

/* msgs_in and msgs_out of the row for netid-less single client. */
static int
row_counts(struct itest_taod *d, long long *in, long long *out)
{
	char buf[65536];
	const char *p;

	if (itest_conns(d, buf, sizeof(buf)) != 1)
		return -1;
	if ((p = strstr(buf, "\"msgs_in\":")) == NULL ||
	    sscanf(p, "\"msgs_in\":%lld,\"msgs_out\":%lld", in, out) != 2)
		return -1;
	return 0;
}

/* ms until the row shows want both ways, or -1 after limit_ms. */
static long
wait_counts(struct itest_taod *d, long long want, int limit_ms)
{
	uint64_t t0 = itest_now_ms(), deadline = t0 + (uint64_t)limit_ms;
	long long in = -1, out = -1;

	do {
		if (row_counts(d, &in, &out) == 0 && in == want &&
		    out == want)
			return (long)(itest_now_ms() - t0);
		itest_sleep_ms(20);
	} while (itest_now_ms() < deadline);
	diag("row shows msgs_in %lld msgs_out %lld, want %lld", in, out,
	    want);
	return -1;
}

static int
echo_batch(struct itest_conn *c, int n)
{
	struct itest_frame f;

	for (int i = 0; i < n; i++)
		if (itest_conn_send(c, 7, "ping", 4) == -1)
			return -1;
	for (int i = 0; i < n; i++)
		if (itest_conn_expect(c, 7, &f, itest_ms(5000)) != 1)
			return -1;
	return 0;
}

int
main(void)
{
	struct itest_taod d;
	struct itest_conn c;
	long long in, out;
	long ms;

	plan(6);
	itest_watchdog(60);
	if (itest_taod_start(&d, "listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 1\n") == -1)
		bail("taod did not start");
	if (itest_conn_open(&c, d.ports[0]) == -1)
		bail("connect");
	is_int(echo_batch(&c, NMSG), 0, "%d echoes", NMSG);
	ms = wait_counts(&d, NMSG, itest_ms(2500));
	ok(ms >= 0, "taoctl conns shows them within 2.5 s (%ld ms)", ms);
	is_int(echo_batch(&c, NMSG), 0, "%d more", NMSG);
	ms = wait_counts(&d, 2 * NMSG, itest_ms(2500));
	ok(ms >= 0, "and those within 2.5 s too (%ld ms)", ms);
	itest_sleep_ms(1200);	/* a publish tick with nothing new */
	ok(row_counts(&d, &in, &out) == 0 && in == 2 * NMSG &&
	    out == 2 * NMSG, "an idle connection's row keeps its counters");
	itest_conn_close(&c);
	is_int(itest_taod_stop(&d), 0, "taod stops cleanly");
	return done_testing();
}
