/*
 * t062-chat-crash - kill -9 a chat worker during a broadcast storm.
 *
 * Four TLV clients on each of the 2 workers send type-1 messages "S/K"
 * as fast as they are read.  Part way through, worker VICTIM is killed
 * with SIGKILL.  Then:
 *  - its clients see their connections end;
 *  - every message the surviving clients send after the kill reaches
 *    every surviving client, in order (the surviving worker never waits
 *    on the dead one's ring cursor);
 *  - once the master has respawned the slot, `taoctl conns` holds no row
 *    of the dead worker's pid;
 *  - clients of the respawned worker get the survivors' broadcasts and
 *    the survivors get theirs (the ring of a reset slot flows again).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/chat.h"
#include "lib/harness.h"
#include "tap.h"

#define PER_WORKER	4
#define NCLIENTS	(2 * PER_WORKER)
#define VICTIM		1
#define MAXSEQ		3000	/* per sender: bounds the storm */
#define BEFORE_MS	500	/* storm before the kill ... */
#define AFTER_MS	1000	/* ... and after it */
#define TICK_MS		2	/* a message from every client per tick */

static struct th_client cl[NCLIENTS];
static int sent[NCLIENTS];		/* messages sent per sender */
static int kill_seq[NCLIENTS];		/* first sequence sent after the kill */
static uint8_t got[NCLIENTS][NCLIENTS][MAXSEQ];	/* [receiver][sender][seq] */
static int reorders;

/* Open a client whose welcome says it is on `slot`. */
static int
open_on(struct th_client *c, int port, int slot)
{
	return th_chat_open_on(c, port, 0, slot, 64);
}

static void
account(int r, const struct th_frame *f)
{
	char text[32];
	int s, k, last = -1;

	if (f->type != 1 || f->len < 8 || f->len - 8 >= sizeof(text))
		return;
	memcpy(text, f->data + 8, f->len - 8);
	text[f->len - 8] = '\0';
	if (sscanf(text, "%d/%d", &s, &k) != 2 || s < 0 || s >= NCLIENTS ||
	    k < 0 || k >= MAXSEQ || th_get_le64(f->data) != cl[s].netid)
		return;
	for (int j = k + 1; j < MAXSEQ && j <= sent[s]; j++)
		if (got[r][s][j])
			last = j;
	if (last != -1)
		reorders++;	/* a later message of s came first */
	got[r][s][k] = 1;
}

static void
drain(int timeout_ms)
{
	struct th_frame f;

	(void)th_clients_poll(cl, NCLIENTS, timeout_ms);
	for (int r = 0; r < NCLIENTS; r++)
		while (th_client_frame(&cl[r], &f))
			account(r, &f);
}

/* One round every TICK_MS: every live client sends its next message,
 * then reads until the next tick. */
static void
storm_round(void)
{
	uint64_t next = th_now_ms() + TICK_MS;
	char text[32];
	int n;

	for (int s = 0; s < NCLIENTS; s++) {
		if (cl[s].eof || sent[s] >= MAXSEQ)
			continue;
		n = snprintf(text, sizeof(text), "%d/%d", s, sent[s]);
		if (th_client_send(&cl[s], 1, text, (size_t)n) == 0)
			sent[s]++;
	}
	do
		drain(1);
	while (th_now_ms() < next);
}

/* Post-kill messages from survivors that some survivor has not got. */
static int
missing_after_kill(void)
{
	int missing = 0;

	for (int r = 0; r < NCLIENTS; r++)
		for (int s = 0; s < NCLIENTS; s++) {
			if (cl[r].tag == VICTIM || cl[s].tag == VICTIM)
				continue;
			for (int k = kill_seq[s]; k < sent[s]; k++)
				missing += !got[r][s][k];
		}
	return missing;
}

static int
victims_closed(int timeout_ms)
{
	uint64_t deadline = th_now_ms() + (uint64_t)timeout_ms;
	int open;

	do {
		open = 0;
		for (int i = 0; i < NCLIENTS; i++)
			open += cl[i].tag == VICTIM && !cl[i].eof;
		if (open == 0)
			return 1;
		drain(10);
	} while (th_now_ms() < deadline);
	return 0;
}

/* Rows of a `taoctl conns` table held by pid. */
static int
rows_of_pid(const struct th_conn_info *ci, int n, pid_t pid)
{
	int rows = 0;

	for (int i = 0; i < n; i++)
		rows += ci[i].pid == pid;
	return rows;
}

/* Wait for a type-1 frame from netid with payload text. */
static int
expect_msg(struct th_client *c, uint64_t from, const char *text, int ms)
{
	uint64_t deadline = th_now_ms() + (uint64_t)ms, now;
	struct th_frame f;
	size_t n = strlen(text);

	while ((now = th_now_ms()) < deadline) {
		if (th_client_expect(c, 1, &f, (int)(deadline - now)) != 1)
			return 0;
		if (th_get_le64(f.data) == from && f.len == 8 + n &&
		    memcmp(f.data + 8, text, n) == 0)
			return 1;
	}
	return 0;
}

/* A storm, kill -9 of worker VICTIM in it: the survivors lose nothing. */
static void
test_kill_in_storm(pid_t pids[2], int ms)
{
	uint64_t until, deadline;
	int missing, rows, survivors, ordered;

	until = th_now_ms() + BEFORE_MS;
	while (th_now_ms() < until)
		storm_round();
	ok(kill(pids[VICTIM], SIGKILL) == 0, "kill -9 worker %d (pid %d)",
	    VICTIM, (int)pids[VICTIM]);
	for (int s = 0; s < NCLIENTS; s++)
		kill_seq[s] = sent[s];
	until = th_now_ms() + AFTER_MS;
	while (th_now_ms() < until)
		storm_round();
	deadline = th_now_ms() + (uint64_t)ms;
	while ((missing = missing_after_kill()) > 0 &&
	    th_now_ms() < deadline)
		drain(50);
	survivors = rows = 0;
	for (int s = 0; s < NCLIENTS; s++) {
		rows += kill_seq[s];
		if (cl[s].tag != VICTIM)
			survivors += sent[s] - kill_seq[s];
	}
	diag("messages sent before the kill %d, by survivors after it %d",
	    rows, survivors);
	ok(survivors >= PER_WORKER * 10,
	    "survivors kept sending after the kill");
	is_int(missing, 0, "every survivor got every survivor's "
	    "post-kill message");
	ordered = 1;
	for (int s = 0; s < NCLIENTS; s++)
		if (cl[s].tag != VICTIM && cl[s].eof)
			ordered = 0;
	ok(ordered, "no surviving client was disconnected");
	ok(victims_closed(ms), "clients of the killed worker were closed");
}

/* The slot respawns and the table forgets the dead worker. */
static void
test_respawn(struct th_daemon *d, pid_t dead, int ms)
{
	struct th_conn_info conns[NCLIENTS + 4];
	pid_t newpid;
	int rows;

	newpid = th_wait_respawn(d, VICTIM, dead, ms);
	ok(newpid > 0, "slot %d respawned (pid %d)", VICTIM, (int)newpid);
	rows = th_conns(d, conns, NCLIENTS + 4);
	is_int(rows_of_pid(conns, rows, dead), 0,
	    "no connection row of the dead worker's pid after respawn");
	is_int(rows, PER_WORKER, "the table holds just the survivors");
	is_int(th_stat(d, -1, "restarts"), 1, "restarts counts 1");
}

/* The respawned slot's ring and cursors work in both directions. */
static void
test_respawned_ring(struct th_daemon *d, int ms)
{
	struct th_client fresh, fresh2;
	char text[64];
	int ordered;

	if (open_on(&fresh, d->port[0], VICTIM) == -1 ||
	    open_on(&fresh2, d->port[0], VICTIM) == -1)
		bail("no connection landed on the respawned worker");
	drain(50);
	th_client_send(&cl[0], 1, "to the newcomers", 16);
	ok(expect_msg(&fresh, cl[0].netid, "to the newcomers", ms) &&
	    expect_msg(&fresh2, cl[0].netid, "to the newcomers", ms),
	    "clients of the respawned worker get a survivor's broadcast");
	for (int k = 0; k < 50; k++) {
		snprintf(text, sizeof(text), "new %d", k);
		th_client_send(&fresh, 1, text, strlen(text));
	}
	ordered = 1;
	for (int k = 0; k < 50 && ordered; k++) {
		snprintf(text, sizeof(text), "new %d", k);
		ordered = expect_msg(&cl[1], fresh.netid, text, ms) &&
		    expect_msg(&fresh2, fresh.netid, text, ms);
	}
	ok(ordered, "50 broadcasts from the respawned worker reach a "
	    "survivor and a neighbour, in order");
	is_int(reorders, 0, "no message overtook an earlier one");

	for (int i = 0; i < NCLIENTS; i++)
		th_client_close(&cl[i]);
	th_client_close(&fresh);
	th_client_close(&fresh2);
}

int
main(void)
{
	struct th_daemon *d;
	pid_t pids[2] = { 0, 0 };
	int ms = th_ms(3000);

	plan(14);
	th_init("t062-chat-crash", 60);
	if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp chat notices\n"
	    "workers 2\n")) == NULL)
		bail("taod did not start");
	for (int i = 0; i < NCLIENTS; i++)
		if (open_on(&cl[i], d->port[0], i / PER_WORKER) == -1)
			bail("could not place 4 clients on each worker");
	pids[0] = th_worker_pid(d, 0);
	pids[1] = th_worker_pid(d, 1);
	ok(pids[0] > 0 && pids[1] > 0, "worker pids %d and %d",
	    (int)pids[0], (int)pids[1]);
	test_kill_in_storm(pids, ms);
	test_respawn(d, pids[VICTIM], ms);
	test_respawned_ring(d, ms);
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
