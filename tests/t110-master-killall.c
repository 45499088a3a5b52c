/*
 * t110-master-killall - SIGKILL every worker of 4 in the same instant,
 * round after round (issue 12, defect 1: one SIGCHLD reaped several
 * workers and freed them while their channel events were still pending
 * in the same epoll batch; the next event used a freed tao_proc).  The
 * master must live, every slot must serve again with a new pid after
 * every round, echo must work, and no sanitizer report may appear.
 *
 * 10 rounds, not more: the slots crash-loop on purpose here, so each
 * round waits for the respawn back-off (10 ms doubling to 5 s); rounds
 * past the tenth would each cost 5 s and test nothing new.
 */
#include <signal.h>
#include <unistd.h>

#include "tests/lib/harness-fault.h"
#include "tests/tap.h"

#define WORKERS	4
#define ROUNDS	10

/* The serving pid of each slot, all WORKERS of them: 0 or -1. */
static int
serving_pids(struct th_daemon *d, pid_t *pid)
{
	struct th_status st;

	if (th_status(d, &st) == -1)
		return -1;
	for (int i = 0; i < WORKERS; i++)
		if (th_status_serving(&st, i, &pid[i]) < 1 || pid[i] <= 0 ||
		    !th_pid_alive(pid[i]))
			return -1;
	return 0;
}

static int
is_old(pid_t p, const pid_t *old)
{
	for (int i = 0; i < WORKERS; i++)
		if (old[i] == p)
			return 1;
	return 0;
}

/* Wait until every slot serves with a pid that is none of old. */
static int
wait_respawned(struct th_daemon *d, const pid_t *old, int timeout_ms)
{
	double t0 = th_now_ms();
	pid_t now[WORKERS];

	while (th_now_ms() - t0 < timeout_ms) {
		int fresh = 0;

		if (!th_pid_alive(d->pid))
			return -1;
		if (serving_pids(d, now) == 0)
			for (int i = 0; i < WORKERS; i++)
				fresh += !is_old(now[i], old);
		if (fresh == WORKERS)
			return 0;
		th_sleep_ms(20);
	}
	return -1;
}

/* One round: kill all, wait for all to come back.  0 or -1. */
static int
round_killall(struct th_daemon *d, int round)
{
	pid_t old[WORKERS];

	if (serving_pids(d, old) == -1) {
		diag("round %d: not every slot serves", round);
		return -1;
	}
	for (int i = 0; i < WORKERS; i++)
		(void)kill(old[i], SIGKILL);
	if (wait_respawned(d, old, th_ms(20000)) == -1) {
		diag("round %d: master %s, slots not all respawned", round,
		    th_pid_alive(d->pid) ? "alive" : "DEAD");
		return -1;
	}
	return 0;
}

int
main(void)
{
	struct th_daemon *d;
	int done = 0, fd;

	th_init("t110-master-killall", 240);
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 4\n");
	if (d == NULL)
		bail("taod did not start");
	while (done < ROUNDS && round_killall(d, done) == 0)
		done++;
	is_int(done, ROUNDS, "%d rounds of SIGKILL to all %d workers at once: "
	    "every slot respawned each time", ROUNDS, WORKERS);
	ok(th_pid_alive(d->pid), "the master is alive");
	fd = th_connect(d->port[0]);
	ok(fd != -1 && th_echo_once(fd, 1, 1000, 7) == 0, "taod echoes");
	if (fd != -1)
		close(fd);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	is_int(th_sanitizer_reports(d), 0, "no sanitizer report in the log");
	return th_exit(done_testing());
}
