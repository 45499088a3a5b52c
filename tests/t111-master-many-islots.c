/*
 * t111-master-many-islots - the forked worker's list of descriptors to
 * keep is sized from the real counts (issue 12, defect 3: a fixed
 * keep[16 + 4*64 + 2] on the child's stack held one eventfd per
 * shared-memory instance, up to 1 024: `workers 20` with
 * `max_old_generations 16` (378 instances) overflowed it and every worker
 * failed "worker setup: Bad file descriptor").  Such a daemon must start,
 * serve on all 20 slots, echo and reload.
 *
 * And nothing inherited leaks into a worker, however many descriptors
 * and however high: taod is started with 4 200 stray descriptors at
 * 3000..7199 (the old scan of /proc/self/fd stopped after 4 096 entries).
 */
#include <sys/resource.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness-fault.h"
#include "tests/tap.h"

#define WORKERS		20
#define STRAY_FIRST	3000
#define STRAY_COUNT	4200

static int
all_serving(struct th_daemon *d, int gen)
{
	struct th_status st;
	int n = 0;

	if (th_status(d, &st) == -1)
		return -1;
	for (int i = 0; i < st.nslots; i++)
		n += strcmp(st.slot[i].state, "serving") == 0 &&
		    st.slot[i].generation == gen;
	return n;
}

static int
wait_serving(struct th_daemon *d, int gen, int want, int timeout_ms)
{
	double t0 = th_now_ms();
	int n = -1;

	while (th_now_ms() - t0 < timeout_ms) {
		if ((n = all_serving(d, gen)) == want)
			return n;
		th_sleep_ms(50);
	}
	return n;
}

/* The highest descriptor number open in pid, -1 if none or gone. */
static int
max_fd(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int max = -1;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.' && atoi(de->d_name) > max)
			max = atoi(de->d_name);
	closedir(dir);
	return max;
}

static void
many_islots(void)
{
	struct th_daemon *d;
	char out[4096];
	int fd;

	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 20\n"
	    "max_old_generations 16\nring_size 65536\n"
	    "max_connections 256\n");
	ok(d != NULL, "workers 20 + max_old_generations 16: taod serves");
	if (d == NULL)
		return;
	is_int(wait_serving(d, 1, WORKERS, th_ms(10000)), WORKERS,
	    "all %d slots serve", WORKERS);
	fd = th_connect(d->port[0]);
	ok(fd != -1 && th_echo_once(fd, 1, 1000, 3) == 0, "taod echoes");
	if (fd != -1)
		close(fd);
	is_int(th_ctl(d, out, sizeof(out), "reload", NULL), 0, "reload: %s",
	    out);
	is_int(wait_serving(d, 2, WORKERS, th_ms(10000)), WORKERS,
	    "generation 2 serves on all %d slots", WORKERS);
	fd = th_connect(d->port[0]);
	ok(fd != -1 && th_echo_once(fd, 1, 1000, 4) == 0, "taod echoes after "
	    "the reload");
	if (fd != -1)
		close(fd);
	is_int(th_daemon_log_count(d, "worker setup"), 0, "no worker failed "
	    "its setup");
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	is_int(th_sanitizer_reports(d), 0, "no sanitizer report");
}

static void
stray_fds(void)
{
	struct th_daemon *d;
	struct th_status st;
	pid_t w = -1;
	int null, opened = 0, high;

	if ((null = open("/dev/null", O_RDONLY)) == -1)
		bail("/dev/null");
	for (int i = 0; i < STRAY_COUNT; i++)
		opened += dup2(null, STRAY_FIRST + i) != -1;
	close(null);
	is_int(opened, STRAY_COUNT, "%d stray descriptors at %d.. (not "
	    "close-on-exec)", STRAY_COUNT, STRAY_FIRST);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n");
	for (int i = 0; i < STRAY_COUNT; i++)
		close(STRAY_FIRST + i);
	if (d == NULL)
		bail("taod did not start");
	ok(th_status(d, &st) == 0 && th_status_serving(&st, 0, &w) == 1,
	    "worker 0 serves");
	high = max_fd(w);
	ok(high >= 0 && high < STRAY_FIRST, "no inherited descriptor left in "
	    "the worker (highest open: %d)", high);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
}

int
main(void)
{
	struct rlimit rl;

	th_init("t111-master-many-islots", 180);
	plan(0);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur <
	    STRAY_FIRST + STRAY_COUNT + 64) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >=
	    STRAY_FIRST + STRAY_COUNT + 64)
		stray_fds();
	else
		diag("RLIMIT_NOFILE too low for the stray descriptor check");
	many_islots();
	return th_exit(done_testing());
}
