/*
 * t212-live-islots - the live-islot bitmap in shared memory (which ring
 * consumers and wake-ups walk) matches the workers the master holds,
 * through a kill -9 and respawn and through a reload whose old
 * generation exits.  `taoctl status` prints both: "instances live" read
 * from the bitmap, "instances held" from the master's process list.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/harness.h"
#include "tap.h"

#define WORKERS	2

struct inst {
	char	live[128];
	char	held[128];
	int	nlive;
};

static int
count_words(const char *s)
{
	int n = 0;

	for (const char *p = s; *p; p++)
		n += *p != ' ' && (p == s || p[-1] == ' ');
	return n;
}

static int
instances(struct th_daemon *d, struct inst *in)
{
	char out[8192], *p;

	memset(in, 0, sizeof(*in));
	if (th_ctl(d, out, sizeof(out), "status", NULL) != 0)
		return -1;
	if ((p = strstr(out, "instances live")) == NULL ||
	    sscanf(p, "instances live%127[ 0-9]", in->live) != 1)
		return -1;
	if ((p = strstr(out, "instances held")) == NULL ||
	    sscanf(p, "instances held%127[ 0-9]", in->held) != 1)
		return -1;
	in->nlive = count_words(in->live);
	return 0;
}

/* Wait until live == held with n instances (and, if not NULL, a set
 * other than `not`).  1, or 0 on timeout with the last sample in *in. */
static int
wait_instances(struct th_daemon *d, struct inst *in, int n,
    const char *not)
{
	uint64_t deadline = (uint64_t)th_now_ms() + (uint64_t)th_ms(10000);

	do {
		if (instances(d, in) == 0 && strcmp(in->live, in->held) == 0 &&
		    in->nlive == n && (not == NULL || strcmp(in->live, not)))
			return 1;
		th_sleep_ms(20);
	} while ((uint64_t)th_now_ms() < deadline);
	return 0;
}

int
main(void)
{
	struct th_daemon *d;
	struct inst in, first;
	pid_t pids[8] = { 0 }, fresh;
	char out[4096];
	int mismatches = 0;

	plan(7);
	th_init("t212-live-islots", 90);
	if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 2\n")) == NULL)
		bail("taod did not start");
	ok(wait_instances(d, &first, WORKERS, NULL), "at start: live "
	    "instances '%s' = held '%s'", first.live, first.held);

	for (int i = 0; i < WORKERS; i++)
		if ((pids[i] = th_worker_pid(d, i)) <= 0)
			bail("no worker pids");
	ok(kill(pids[1], SIGKILL) == 0, "kill -9 worker 1 (pid %d)",
	    (int)pids[1]);
	/* Every sample, also while the master reaps and respawns. */
	for (uint64_t end = (uint64_t)th_now_ms() + 300; (uint64_t)th_now_ms() < end;) {
		if (instances(d, &in) == 0 && strcmp(in.live, in.held) != 0)
			mismatches++;
		th_sleep_ms(5);
	}
	fresh = th_wait_respawn(d, 1, pids[1], th_ms(10000));
	ok(fresh > 0, "worker 1 respawned (pid %d)", (int)fresh);
	ok(wait_instances(d, &in, WORKERS, NULL) && mismatches == 0,
	    "after the respawn: live '%s' = held '%s' (%d bad samples)",
	    in.live, in.held, mismatches);

	is_int(th_ctl(d, out, sizeof(out), "reload", NULL), 0,
	    "taoctl reload");
	/* The new generation takes other instances; the old ones must
	 * leave the bitmap once their workers have exited. */
	ok(wait_instances(d, &in, WORKERS, first.live),
	    "after the reload: live '%s' = held '%s', not the old '%s'",
	    in.live, in.held, first.live);

	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
