/*
 * t211-unicast-one-copy - a private message to a connection on another
 * worker is copied out of the ring by that worker only.  Chat app, three
 * workers, A on worker 0, B on 1, C on 2: A sends NMSG private messages
 * to B.  B gets them all, C none, and the per-worker ring_reads counter
 * (records a worker copied out of other workers' rings) grows by NMSG on
 * worker 1 and not at all on workers 0 and 2.  Before, every other
 * worker copied every unicast record and looked the netid up.  A
 * broadcast from A after the private messages, once C has it, proves
 * worker 2 has read A's ring past them (it copies that one record).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/chat.h"
#include "lib/harness.h"
#include "tap.h"

#define TRIES	48
#define NMSG	20

static int
open_on(struct th_client *c, int port, int want)
{
	return th_chat_open_on(c, port, 0, want, TRIES);
}

static int
expect_type(struct th_client *c, int32_t type, int ms)
{
	struct th_frame f;

	return th_client_expect(c, type, &f, ms) == 1;
}

static int
privates(struct th_client *c, int want, int ms)
{
	uint64_t deadline = (uint64_t)th_now_ms() + (uint64_t)ms, now;
	struct th_frame f;
	int n = 0, rc;

	while (n < want && (now = (uint64_t)th_now_ms()) < deadline) {
		rc = th_client_next(c, &f, (int)(deadline - now));
		if (rc == -1)
			break;
		n += rc == 1 && f.type == 2;
	}
	return n;
}

/* ring_reads of the three workers once they stop moving (join and
 * leave notices of the placement above are broadcasts still in flight):
 * two samples 300 ms apart that agree.  0, or -1 if they never settle. */
static int
settled(struct th_daemon *d, long long *v)
{
	uint64_t deadline = (uint64_t)th_now_ms() + (uint64_t)th_ms(10000);
	long long prev[3] = { -2, -2, -2 };

	do {
		int same = 1;
		for (int s = 0; s < 3; s++) {
			v[s] = th_stat(d, s, "ring_reads");
			same &= v[s] == prev[s] && v[s] >= 0;
			prev[s] = v[s];
		}
		if (same)
			return 0;
		th_sleep_ms(300);
	} while ((uint64_t)th_now_ms() < deadline);
	return -1;
}

int
main(void)
{
	struct th_daemon *d;
	struct th_client a, b, c;
	long long before[3], after[3];
	uint8_t buf[64];

	plan(9);
	th_init("t211-unicast-one-copy", 90);
	if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp chat notices\n"
	    "workers 3\n")) == NULL)
		bail("taod did not start");
	if (open_on(&a, d->port[0], 0) == -1 ||
	    open_on(&b, d->port[0], 1) == -1 ||
	    open_on(&c, d->port[0], 2) == -1)
		bail("could not place a client on each of the 3 workers");
	diag("A %" PRIu64 " on 0, B %" PRIu64 " on 1, C %" PRIu64 " on 2",
	    a.netid, b.netid, c.netid);
	ok(settled(d, before) == 0, "stats has ring_reads per worker, and "
	    "it settles");

	for (int i = 0; i < NMSG; i++) {
		int n = snprintf((char *)buf + 8, sizeof(buf) - 8, "m%d", i);
		th_put_le64(buf, b.netid);
		th_client_send(&a, 2, buf, 8 + (size_t)n);
	}
	is_int(privates(&b, NMSG, th_ms(5000)), NMSG,
	    "B (worker 1) gets every private message");
	is_int(privates(&c, 1, 300), 0, "C (worker 2) gets none");
	is_int(privates(&a, 1, 1), 0, "nor does the sender");
	th_client_send(&a, 1, "after", 5);
	ok(expect_type(&c, 1, th_ms(5000)) && expect_type(&b, 1,
	    th_ms(5000)), "a broadcast after them reaches B and C");

	if (settled(d, after) == -1)
		diag("ring_reads did not settle");
	diag("ring_reads delta: worker 0 %lld, 1 %lld, 2 %lld",
	    after[0] - before[0], after[1] - before[1], after[2] - before[2]);
	is_int(after[1] - before[1], NMSG + 1,
	    "worker 1 copied exactly the records addressed to it (and the "
	    "broadcast)");
	is_int(after[2] - before[2], 1,
	    "worker 2 copied none of them (only the broadcast)");
	is_int(after[0] - before[0], 0,
	    "the sender's worker copied none (it reads no ring of its own)");

	th_client_close(&a);
	th_client_close(&b);
	th_client_close(&c);
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
