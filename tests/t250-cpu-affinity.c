/*
 * t250-cpu-affinity - worker_cpu_affinity pins worker slots to CPUs.
 *
 *  1. "auto" with 2 workers: each worker's Cpus_allowed_list in
 *     /proc/PID/status is its slot's CPU of this process's allowed set
 *     (slot i -> i-th CPU, modulo), and `taoctl status` shows it.
 *  2. A worker killed with SIGKILL is respawned on its slot's CPU.
 *  3. A reload to a list in the other order moves the new generation.
 *  4. A CPU outside the allowed set, or a word that is not a number, fails
 *     `taod -t` with FILE:LINE, and the same refuses a reload.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

static int cpus[CPU_SETSIZE], ncpus;

static void
read_allowed(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == -1)
		bail("sched_getaffinity");
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			cpus[ncpus++] = c;
}

/* Cpus_allowed_list of pid, or "" if it is gone. */
static void
allowed_list(pid_t pid, char *out, size_t outlen)
{
	char path[64], line[256];
	FILE *f;

	if (outlen < 256)
		bail("allowed_list: buffer too small");
	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Cpus_allowed_list: %255s", out) == 1)
			break;
	fclose(f);
}

/* The cpu column of pid's row in `taoctl status`, -2 if not found. */
static int
status_cpu(struct th_daemon *d, pid_t pid)
{
	char out[8192], *line, *save, cpu[16];
	int slot, p, gen, conns, restarts;
	char state[16];

	if (th_ctl(d, out, sizeof(out), "status", NULL) != 0)
		return -2;
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (sscanf(line, "%d %d %d %15s %d %d %15s", &slot, &p, &gen,
		    state, &conns, &restarts, cpu) == 7 && p == pid)
			return strcmp(cpu, "-") == 0 ? -1 : atoi(cpu);
	return -2;
}

/* Every slot's newest serving worker is on want[slot]. */
static void
check_pinning(struct th_daemon *d, const int *want, int nslots,
    const char *when)
{
	char have[256], expect[16];

	for (int s = 0; s < nslots; s++) {
		pid_t pid = th_worker_pid(d, s);
		allowed_list(pid, have, sizeof(have));
		snprintf(expect, sizeof(expect), "%d", want[s]);
		is_str(have, expect, "%s: worker %d (pid %d) may run on CPU "
		    "%d only", when, s, (int)pid, want[s]);
		is_int(status_cpu(d, pid), want[s], "%s: taoctl status shows "
		    "worker %d on CPU %d", when, s, want[s]);
	}
}

static int
check_file(const char *text, const char *needle)
{
	char path[512], out[4096];
	const char *argv[] = { th_bin("taod"), "-t", "-c", path, NULL };
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/bad.conf", th_dir());
	if ((f = fopen(path, "w")) == NULL)
		bail("fopen");
	fputs(text, f);
	fclose(f);
	rc = th_run(out, sizeof(out), th_ms(5000), argv);
	if (strstr(out, needle) == NULL)
		diag("taod -t said: %s", out);
	return rc == 1 && strstr(out, needle) != NULL;
}

/* taod -t reports bad values at their line. */
static void
bad_files(void)
{
	ok(check_file("app echo\nworkers 2\n\nworker_cpu_affinity 0 4095\n",
	    "bad.conf:4: worker_cpu_affinity: CPU 4095 is not in the set"),
	    "taod -t: a CPU outside the allowed set fails with FILE:LINE");
	ok(check_file("app echo\nworker_cpu_affinity 0,x\n",
	    "bad.conf:2: worker_cpu_affinity: 'x' is not a CPU number"),
	    "taod -t: a word that is not a CPU number fails with FILE:LINE");
	ok(check_file("app echo\nworker_cpu_affinity\n", "bad.conf:2:"),
	    "taod -t: worker_cpu_affinity without a value fails");
}

int
main(void)
{
	char conf[512], out[4096], bad[64];
	int want[2], gen;
	struct th_status st;
	struct th_daemon *d;
	pid_t victim, fresh;

	th_init("t250-cpu-affinity", 60);
	plan(0);
	read_allowed();
	diag("this process may run on %d CPUs", ncpus);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n"
	    "worker_cpu_affinity auto\n");
	if (d == NULL)
		bail("taod did not start");
	want[0] = cpus[0];
	want[1] = cpus[1 % ncpus];
	check_pinning(d, want, 2, "auto");

	victim = th_worker_pid(d, 1);
	ok(kill(victim, SIGKILL) == 0, "kill -9 worker 1 (pid %d)",
	    (int)victim);
	fresh = th_wait_respawn(d, 1, victim, th_ms(5000));
	ok(fresh > 0, "worker 1 is respawned (pid %d)", (int)fresh);
	check_pinning(d, want, 2, "after the respawn");

	/* The list in the other order: slot 0 gets the last CPU. */
	want[0] = cpus[ncpus - 1];
	want[1] = cpus[0];
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 2\nworker_cpu_affinity %d %d\n", want[0], want[1]);
	if (th_daemon_config(d, conf) == -1)
		bail("th_daemon_config");
	gen = th_status(d, &st) == 0 ? st.generation : -1;
	is_int(th_ctl(d, out, sizeof(out), "reload", NULL), 0,
	    "reload to worker_cpu_affinity %d %d", want[0], want[1]);
	ok(th_status(d, &st) == 0 && st.generation == gen + 1,
	    "the generation goes up");
	check_pinning(d, want, 2, "after the reload");
	th_ctl(d, out, sizeof(out), "config", NULL);
	snprintf(bad, sizeof(bad), "worker_cpu_affinity %d %d\n", want[0],
	    want[1]);
	ok(strstr(out, bad) != NULL, "taoctl config prints %.*s",
	    (int)strlen(bad) - 1, bad);

	bad_files();
	if (th_daemon_config(d, "listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n"
	    "worker_cpu_affinity 4095\n") == -1)
		bail("th_daemon_config");
	is_int(th_ctl(d, out, sizeof(out), "reload", NULL), 1,
	    "a reload to a CPU outside the set is refused");
	ok(strstr(out, ":4: worker_cpu_affinity") != NULL,
	    "with FILE:LINE (%s)", out);
	check_pinning(d, want, 2, "after the refused reload");
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
