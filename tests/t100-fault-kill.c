/*
 * t100-fault-kill - workers killed with SIGKILL at random moments under
 * a mixed load, then a consistency check of the books.
 *
 * Two taod, 2 workers each: an echo one under two echo loads (6 clients
 * with frames up to 1 MiB, 40 with frames up to 4 KiB) and a chat one
 * with 16 clients broadcasting every 20 ms.  Every client reconnects
 * when its connection breaks.  5 to 10 times, 100 to 500 ms apart, a
 * random worker of one of them (in turn) is killed with SIGKILL.  Just
 * before each kill `taoctl conns --json` says which worker serves which
 * client, so every break is attributed:
 *  - each client's connection broke exactly as many times as it sat on
 *    a killed worker: clients of the surviving workers saw 0 errors;
 *  - no echo was wrong or late, no chat frame garbled.
 * Afterwards, on both daemons:
 *  - totals.connections of `taoctl stats --json` == the rows of `taoctl
 *    conns --json` == the connections the clients hold open;
 *  - accepted - closed == connections, in the totals and per slot: the
 *    counters of the killed workers were folded in without losing the
 *    connections they died with;
 *  - restarts == the kills, and the log names each;
 *  - a new broadcast reaches every connected chat client (the rings of
 *    the respawned slots flow again).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness-fault.h"
#include "tests/tap.h"

#define BIG		6
#define SMALL		40
#define CHATS		16
#define MAXROWS		512

enum { ECHO, CHAT };

/* One client place of a load, as the kills saw it. */
struct place {
	int	 expect;	/* times it sat on a killed worker */
	int	 unknown;	/* kills whose moment found it unplaced */
};

static struct th_load	*big, *small;
static struct th_chat	*chat;
static struct place	 pl_big[BIG], pl_small[SMALL], pl_chat[CHATS];

static int
place_port(int kind, int i)
{
	if (kind == 0)
		return th_load_conn(big, i)->port;
	if (kind == 1)
		return th_load_conn(small, i)->port;
	return __atomic_load_n(&th_chat_conn(chat, i)->port,
	    __ATOMIC_RELAXED);
}

static struct place *
place(int kind, int i)
{
	return kind == 0 ? &pl_big[i] : kind == 1 ? &pl_small[i] :
	    &pl_chat[i];
}

/* Both slots serving: their pids.  0, or -1 on timeout. */
static int
serving(struct th_daemon *d, pid_t pid[2])
{
	double end = th_now_ms() + th_ms(8000);
	struct th_status st;

	while (th_now_ms() < end) {
		if (th_status(d, &st) == 0 &&
		    th_status_serving(&st, 0, &pid[0]) == 1 &&
		    th_status_serving(&st, 1, &pid[1]) == 1)
			return 0;
		th_sleep_ms(10);
	}
	return -1;
}

/*
 * Kill one worker of d (whose clients are the places of kinds k0..k1)
 * once `taoctl conns` places every one of them; count the places that
 * were on it.  Returns the number of clients on the victim.
 */
static int
kill_one(struct th_daemon *d, int k0, int k1, int slot, pid_t *victim)
{
	static struct th_conn_info ci[MAXROWS];
	pid_t pid[2];
	int n = 0, unplaced = 0, on = 0, counts[3] = { BIG, SMALL, CHATS };

	if (serving(d, pid) == -1)
		bail("the workers do not come back");
	/* Reconnected clients show up in `taoctl conns` once their worker has
	 * accepted them; a loaded machine can take a few seconds (3 s was
	 * too few under a parallel `make check`: test 6 failed). */
	for (double end = th_now_ms() + th_ms(10000); th_now_ms() < end;) {
		if ((n = th_conns(d, ci, MAXROWS)) < 0)
			bail("taoctl conns");
		unplaced = 0;
		for (int k = k0; k <= k1; k++)
			for (int i = 0; i < counts[k]; i++) {
				pid_t o = th_conn_owner(ci, n,
				    place_port(k, i));
				unplaced += o != pid[0] && o != pid[1];
			}
		if (unplaced == 0)
			break;
		th_sleep_ms(10);
	}
	*victim = pid[slot];
	if (kill(*victim, SIGKILL) == -1)
		bail("kill");
	for (int k = k0; k <= k1; k++)
		for (int i = 0; i < counts[k]; i++) {
			pid_t o = th_conn_owner(ci, n, place_port(k, i));
			if (o == *victim) {
				place(k, i)->expect++;
				on++;
			} else if (o != pid[0] && o != pid[1])
				place(k, i)->unknown++;
		}
	if (unplaced > 0)
		diag("  %d clients were not placed by taoctl conns", unplaced);
	return on;
}

/* Breaks that do not match the kills, over the places of kind k. */
static int
misattributed(int k, int count, int *unknown)
{
	int bad = 0, breaks;

	for (int i = 0; i < count; i++) {
		breaks = k == 0 ? th_load_conn(big, i)->breaks :
		    k == 1 ? th_load_conn(small, i)->breaks :
		    th_chat_conn(chat, i)->breaks;
		if (place(k, i)->unknown > 0) {
			(*unknown)++;
			continue;
		}
		if (breaks != place(k, i)->expect) {
			if (bad++ < 5)
				diag("  client %d of kind %d: %d breaks, %d "
				    "kills under it", i, k, breaks,
				    place(k, i)->expect);
		}
	}
	return bad;
}

/* Gauge, rows and the clients' count agree (bounded poll). */
static void
books(struct th_daemon *d, const char *name, int held)
{
	static struct th_conn_info ci[MAXROWS];
	struct th_counters c;
	double end = th_now_ms() + th_ms(3000);
	int rows = -1, per_slot = 1, acc, clo, con;

	memset(&c, 0, sizeof(c));
	while (th_now_ms() < end) {
		rows = th_conns(d, ci, MAXROWS);
		if (th_counters(d, &c) == 0 && rows == held &&
		    c.total_connections == held)
			break;
		th_sleep_ms(20);
	}
	diag("%s: totals.connections %lld, conns rows %d, clients hold %d",
	    name, c.total_connections, rows, held);
	ok(c.total_connections == held && rows == held, "%s: connections "
	    "gauge == conns rows == connections the clients hold (%d)", name,
	    held);
	acc = th_counter_index("accepted");
	clo = th_counter_index("closed");
	con = (int)c.total_connections;
	diag("%s: accepted %lld, closed %lld, accepted - closed %lld, "
	    "connections %d", name, c.total[acc], c.total[clo],
	    c.total[acc] - c.total[clo], con);
	is_int(c.total[acc] - c.total[clo], con, "%s: totals: accepted - "
	    "closed == connections", name);
	for (int s = 0; s < c.nslots; s++) {
		long long diff = c.slot[s][acc] - c.slot[s][clo];
		if (diff != c.slot_connections[s]) {
			per_slot = 0;
			diag("%s: slot %d: accepted %lld - closed %lld = %lld, "
			    "connections %lld", name, s, c.slot[s][acc],
			    c.slot[s][clo], diff, c.slot_connections[s]);
		}
	}
	ok(per_slot && c.nslots == 2, "%s: per slot too", name);
}

/* Two taods, echo and chat, each with its loads busy. */
static void
start_loads(struct th_daemon *d[2])
{
	struct th_load_opts ob = { .conns = BIG, .depth = 1,
	    .max_size = 1 << 20, .reconnect = 1 };
	struct th_load_opts os = { .conns = SMALL, .depth = 2,
	    .max_size = 4096, .reconnect = 1 };
	struct th_chat_opts oc = { .conns = CHATS, .interval_ms = 20,
	    .size = 64, .reconnect = 1 };

	d[ECHO] = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 2\n");
	d[CHAT] = th_daemon_start("listen 127.0.0.1:0 tlv\napp chat notices\n"
	    "workers 2\n");
	if (d[ECHO] == NULL || d[CHAT] == NULL)
		bail("taod did not start");
	ob.port = os.port = d[ECHO]->port[0];
	oc.port = d[CHAT]->port[0];
	ob.seed = th_rand();
	os.seed = th_rand();
	if ((big = th_load_start(&ob)) == NULL ||
	    (small = th_load_start(&os)) == NULL ||
	    (chat = th_chat_start(&oc)) == NULL)
		bail("cannot start the loads");
	ok(th_load_wait_replies(big, 2 * BIG, th_ms(10000)) == 0 &&
	    th_load_wait_replies(small, 10 * SMALL, th_ms(10000)) == 0 &&
	    th_chat_wait_ready(chat, th_ms(10000)) == 0,
	    "echo (1 MiB and 4 KiB frames) and chat clients are busy");
}

/* 5 to 10 kills, alternating between the taods; kills[] counts them. */
static void
kill_workers(struct th_daemon *d[2], int kills[2])
{
	int nkills, first;
	pid_t victim;

	nkills = 5 + (int)(th_rand() % 6);
	first = (int)(th_rand() % 2);
	for (int k = 0; k < nkills; k++) {
		int which = (first + k) % 2, slot = (int)(th_rand() % 2), on;

		th_sleep_ms(100 + (int)(th_rand() % 401));	/* pacing */
		on = which == ECHO ? kill_one(d[ECHO], 0, 1, slot, &victim) :
		    kill_one(d[CHAT], 2, 2, slot, &victim);
		kills[which]++;
		diag("kill %d: %s worker %d (pid %d), %d clients on it",
		    k + 1, which == ECHO ? "echo" : "chat", slot, (int)victim,
		    on);
	}
	{
		pid_t pid[2];
		ok(serving(d[ECHO], pid) == 0 && serving(d[CHAT], pid) == 0,
		    "%d kills (%d echo, %d chat): every slot serves again",
		    nkills, kills[ECHO], kills[CHAT]);
	}
}

/* The loads stop; only the killed workers' clients broke. */
static void
check_loads(struct th_daemon *d[2])
{
	struct th_load_totals tb, ts;
	struct th_chat_totals tc;
	int unknown = 0, bad, open, got;

	th_sleep_ms(500);	/* the survivors and the new workers go on */
	th_load_stop(big, &tb);
	th_load_stop(small, &ts);
	th_chat_stop(chat, &tc);
	th_load_diag("echo, frames up to 1 MiB", &tb);
	th_load_diag("echo, frames up to 4 KiB", &ts);
	th_chat_diag("chat", &tc);

	is_int(tb.bad + tb.timeout + ts.bad + ts.timeout, 0, "no echo was "
	    "wrong or stuck");
	is_int(tc.bad, 0, "no chat frame was garbled");
	bad = misattributed(0, BIG, &unknown) + misattributed(1, SMALL,
	    &unknown) + misattributed(2, CHATS, &unknown);
	diag("%d clients left out: not placed at the moment of a kill",
	    unknown);
	is_int(bad, 0, "every client broke exactly as often as its worker "
	    "was killed under it: the survivors' clients saw 0 errors");
	ok(unknown <= (BIG + SMALL + CHATS) / 10, "almost every client was "
	    "placed");
	ok(tb.replies > 0 && ts.replies > 0 && tc.received > 0, "the loads "
	    "made progress (%lld + %lld echoes, %lld chat deliveries)",
	    tb.replies, ts.replies, tc.received);

	books(d[ECHO], "echo", tb.open + ts.open);
	books(d[CHAT], "chat", tc.open);

	got = th_chat_probe(chat, &open, th_ms(3000));
	is_int(got, open, "a new broadcast reaches every connected chat "
	    "client (%d)", open);
}

int
main(void)
{
	struct th_daemon *d[2];
	int kills[2] = { 0, 0 };
	char needle[64];

	th_init("t100-fault-kill", 60);
	plan(0);
	start_loads(d);
	kill_workers(d, kills);
	check_loads(d);
	for (int i = 0; i < 2; i++) {
		const char *name = i == ECHO ? "echo" : "chat";

		is_int(th_stat(d[i], -1, "restarts"), kills[i], "%s: restarts "
		    "== kills", name);
		snprintf(needle, sizeof(needle), "killed by signal KILL");
		is_int(th_daemon_log_count(d[i], needle), kills[i], "%s: the "
		    "log names each kill", name);
	}
	th_load_free(big);
	th_load_free(small);
	th_chat_free(chat);
	is_int(th_daemon_stop(d[ECHO]), 0, "echo taod stops with exit 0");
	is_int(th_daemon_stop(d[CHAT]), 0, "chat taod stops with exit 0");
	is_int(th_sanitizer_reports(d[ECHO]) + th_sanitizer_reports(d[CHAT]),
	    0, "no sanitizer report in the logs");
	return th_exit(done_testing());
}
