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

#include "lib/harness.h"
#include "tap.h"

#define NMSG	50

/* msgs_in and msgs_out of the one row of `taoctl conns --json`. */
static int
row_counts(struct th_daemon *d, long long *in, long long *out)
{
	char buf[65536];
	const char *p;

	if (th_ctl(d, buf, sizeof(buf), "conns", "--json", NULL) != 0 ||
	    strstr(buf, "\"netid\"") == NULL ||
	    strstr(strstr(buf, "\"netid\"") + 1, "\"netid\"") != NULL)
		return -1;		/* not exactly one row */
	if ((p = strstr(buf, "\"msgs_in\":")) == NULL ||
	    sscanf(p, "\"msgs_in\":%lld,\"msgs_out\":%lld", in, out) != 2)
		return -1;
	return 0;
}

/* ms until the row shows want both ways, or -1 after limit_ms. */
static long
wait_counts(struct th_daemon *d, long long want, int limit_ms)
{
	uint64_t t0 = (uint64_t)th_now_ms(), deadline = t0 + (uint64_t)limit_ms;
	long long in = -1, out = -1;

	do {
		if (row_counts(d, &in, &out) == 0 && in == want &&
		    out == want)
			return (long)((uint64_t)th_now_ms() - t0);
		th_sleep_ms(20);
	} while ((uint64_t)th_now_ms() < deadline);
	diag("row shows msgs_in %lld msgs_out %lld, want %lld", in, out,
	    want);
	return -1;
}

static int
echo_batch(struct th_client *c, int n)
{
	struct th_frame f;

	for (int i = 0; i < n; i++)
		if (th_client_send(c, 7, "ping", 4) == -1)
			return -1;
	for (int i = 0; i < n; i++)
		if (th_client_expect(c, 7, &f, th_ms(5000)) != 1)
			return -1;
	return 0;
}

int
main(void)
{
	struct th_daemon *d;
	struct th_client c;
	long long in, out;
	long ms;

	plan(6);
	th_init("t213-conns-publish", 60);
	if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 1\n")) == NULL)
		bail("taod did not start");
	if (th_client_open(&c, d->port[0]) == -1)
		bail("connect");
	is_int(echo_batch(&c, NMSG), 0, "%d echoes", NMSG);
	ms = wait_counts(d, NMSG, th_ms(2500));
	ok(ms >= 0, "taoctl conns shows them within 2.5 s (%ld ms)", ms);
	is_int(echo_batch(&c, NMSG), 0, "%d more", NMSG);
	ms = wait_counts(d, 2 * NMSG, th_ms(2500));
	ok(ms >= 0, "and those within 2.5 s too (%ld ms)", ms);
	th_sleep_ms(1200);	/* a publish tick with nothing new */
	ok(row_counts(d, &in, &out) == 0 && in == 2 * NMSG &&
	    out == 2 * NMSG, "an idle connection's row keeps its counters");
	th_client_close(&c);
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
