/*
 * t060-chat-fanout - the chat app over 2 workers fans every broadcast out
 * to every connection exactly once, in per-sender order.
 *
 * 200 TLV clients connect (their welcome frames must show both workers
 * holding some), then each sends 10 type-1 messages "S/K" (sender index,
 * sequence).  Every client must receive all 2 000 as type 1 frames
 * carrying the sender's netid, each once, and from each sender in the
 * order sent.  Presence frames (type 4) are ignored.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/harness.h"
#include "tap.h"

#define NCLIENTS	200
#define NMSGS		10
#define NWORKERS	2

struct tally {
	int	 got;			/* type-1 frames accepted */
	int	 dups, reorders, foreign, unexpected;
	int8_t	 next[NCLIENTS];	/* next sequence expected per sender */
};

static struct th_client conns[NCLIENTS];
static struct tally tallies[NCLIENTS];

/* Parse "netid=N worker=W". */
static int
parse_welcome(const struct th_frame *f, uint64_t *netid, int *worker)
{
	char text[64];
	unsigned long long n;

	if (f->len >= sizeof(text))
		return -1;
	memcpy(text, f->data, f->len);
	text[f->len] = '\0';
	if (sscanf(text, "netid=%llu worker=%d", &n, worker) != 2)
		return -1;
	*netid = n;
	return 0;
}

static void
account(struct tally *t, const struct th_frame *f)
{
	char text[32];
	int s, k;

	if (f->type == 4)
		return;
	if (f->type != 1 || f->len < 8 || f->len - 8 >= sizeof(text)) {
		t->unexpected++;
		return;
	}
	memcpy(text, f->data + 8, f->len - 8);
	text[f->len - 8] = '\0';
	if (sscanf(text, "%d/%d", &s, &k) != 2 || s < 0 || s >= NCLIENTS ||
	    k < 0 || k >= NMSGS) {
		t->unexpected++;
		return;
	}
	if (th_get_le64(f->data) != conns[s].netid)
		t->foreign++;
	if (k < t->next[s])
		t->dups++;
	else {
		if (k > t->next[s])
			t->reorders++;
		t->next[s] = (int8_t)(k + 1);
		t->got++;
	}
}

/* Read what has arrived and account for every complete frame. */
static long
drain(int timeout_ms)
{
	struct th_frame f;
	long total = 0;

	(void)th_clients_poll(conns, NCLIENTS, timeout_ms);
	for (int i = 0; i < NCLIENTS; i++) {
		while (th_client_frame(&conns[i], &f))
			account(&tallies[i], &f);
		total += tallies[i].got;
	}
	return total;
}

/* NCLIENTS clients, each welcomed with its netid and worker. */
static void
open_clients(struct th_daemon *d)
{
	struct th_frame f;
	int per_worker[NWORKERS] = { 0 }, welcomed = 0;

	for (int i = 0; i < NCLIENTS; i++) {
		uint64_t netid;
		int w;

		if (th_client_open(&conns[i], d->port[0]) == -1)
			bail("connect failed");
		if (th_client_expect(&conns[i], 3, &f, th_ms(3000)) != 1 ||
		    parse_welcome(&f, &netid, &w) == -1 || w < 0 ||
		    w >= NWORKERS)
			continue;
		conns[i].netid = netid;
		conns[i].tag = w;
		per_worker[w]++;
		welcomed++;
	}
	is_int(welcomed, NCLIENTS, "every client got a welcome frame");
	diag("clients per worker: %d + %d", per_worker[0], per_worker[1]);
	ok(per_worker[0] > 0 && per_worker[1] > 0, "both workers hold clients");
}

/* Every client broadcasts NMSGS; returns the deliveries counted. */
static long
fan_out(long want)
{
	long total = 0;
	uint64_t deadline;
	double t0;
	int sent = 0;

	t0 = (th_now_ms() / 1e3);
	for (int k = 0; k < NMSGS; k++) {
		for (int i = 0; i < NCLIENTS; i++) {
			char text[32];
			int n = snprintf(text, sizeof(text), "%d/%d", i, k);

			if (th_client_send(&conns[i], 1, text, (size_t)n) == 0)
				sent++;
		}
		total = drain(0);
	}
	is_int(sent, NCLIENTS * NMSGS, "all 2000 messages sent");

	deadline = th_now_ms() + (uint64_t)th_ms(20000);
	while (total < want && th_now_ms() < deadline)
		total = drain(100);
	diag("%ld of %ld deliveries in %.2f s", total, want, (th_now_ms() / 1e3) - t0);
	/* Anything still in flight would be a duplicate or a stray. */
	return drain(200);
}

/* Each receiver got every message once, in order, and nothing else. */
static void
check_tallies(long total, long want)
{
	int complete = 0, dups = 0, reorders = 0, foreign = 0, unexpected = 0;

	for (int i = 0; i < NCLIENTS; i++) {
		complete += tallies[i].got == NCLIENTS * NMSGS;
		dups += tallies[i].dups;
		reorders += tallies[i].reorders;
		foreign += tallies[i].foreign;
		unexpected += tallies[i].unexpected;
	}
	is_int(total, want, "2000 messages x 200 receivers delivered");
	is_int(complete, NCLIENTS, "every client received all 2000");
	is_int(dups, 0, "no message received twice");
	is_int(reorders, 0, "per-sender order kept (no gaps or reordering)");
	is_int(foreign, 0, "every message carries its sender's netid");
	is_int(unexpected, 0, "no unexpected frames");
}

int
main(void)
{
	struct th_daemon *d;
	long want = (long)NCLIENTS * NCLIENTS * NMSGS, total;

	plan(11);
	th_init("t060-chat-fanout", 60);
	if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp chat notices\n"
	    "workers 2\n")) == NULL)
		bail("taod did not start");
	open_clients(d);
	total = fan_out(want);
	check_tallies(total, want);
	diag("server: msgs_in %lld ring_drops %lld dropped %lld",
	    th_stat(d, -1, "msgs_in"), th_stat(d, -1, "ring_drops"),
	    th_stat(d, -1, "dropped"));
	is_int(th_stat(d, -1, "msgs_in"), NCLIENTS * NMSGS,
	    "server counted 2000 messages in");

	for (int i = 0; i < NCLIENTS; i++)
		th_client_close(&conns[i]);
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
