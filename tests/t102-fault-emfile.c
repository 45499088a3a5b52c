/*
 * t102-fault-emfile - descriptor exhaustion.
 *
 * taod runs with its open-file limit lowered to 200 (the soft limit this
 * test hands down through posix_spawn), 1 worker.  A flood of 400
 * connections makes accept fail with EMFILE.  Then:
 *  - taod says so ("accept (pausing N ms)") at most about once a second;
 *  - the worker does not spin (CPU over 1 s while paused < 30 ticks);
 *  - a connection opened before the flood keeps echoing;
 * and once the flood is closed:
 *  - a new connection echoes within 2 s;
 *  - the worker's descriptors and taod's connection gauge come back.
 */
#include <sys/resource.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness-fault.h"
#include "tests/tap.h"

#define LIMIT	200
#define FLOOD	400
#define NEEDLE	"accept (pausing"

static int flood[FLOOD];

/* One echo with a deadline: 0, or -1. */
static int
echo_within(int fd, int ms, uint32_t seed)
{
	uint8_t out[100], in[100];
	uint32_t len;
	int32_t type;

	th_fill(out, sizeof(out), seed);
	if (th_send_frame(fd, 5, out, sizeof(out)) == -1 ||
	    th_recv_frame(fd, &type, in, sizeof(in), &len, ms) != 0)
		return -1;
	return type == 5 && len == sizeof(out) && memcmp(in, out, len) == 0 ?
	    0 : -1;
}

/* What the steps of the scenario share. */
struct emfile {
	struct th_daemon *d;
	pid_t w;
	int old, fresh;
	int base_fd;
	double t_first;		/* when taod first said it is pausing */
};

/* taod starts under a low descriptor limit, which its worker inherits. */
static void
emfile_start(struct emfile *e)
{
	struct rlimit saved, low;
	struct th_status st;

	/* The soft limit is inherited through posix_spawn and fork; taod
	 * does not raise it.  Ours goes back up at once. */
	if (getrlimit(RLIMIT_NOFILE, &saved) == -1)
		bail("getrlimit");
	low = saved;
	low.rlim_cur = LIMIT;
	if (setrlimit(RLIMIT_NOFILE, &low) == -1)
		bail("setrlimit");
	e->d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 1\n");
	if (setrlimit(RLIMIT_NOFILE, &saved) == -1)
		bail("setrlimit back");
	if (e->d == NULL)
		bail("taod did not start");
	if (th_status(e->d, &st) == -1 ||
	    th_status_serving(&st, 0, &e->w) != 1)
		bail("no worker serves");
	{
		char path[64], line[256];
		FILE *fp;
		snprintf(path, sizeof(path), "/proc/%d/limits", (int)e->w);
		if ((fp = fopen(path, "re")) != NULL) {
			while (fgets(line, sizeof(line), fp) != NULL)
				if (strncmp(line, "Max open files", 14) == 0)
					diag("worker %d: %.*s", (int)e->w,
					    (int)strcspn(line, "\n"), line);
			fclose(fp);
		}
	}
}

/* The flood: more connections than the worker may hold. */
static void
emfile_flood(struct emfile *e)
{
	int n = 0;

	e->old = th_connect(e->d->port[0]);
	ok(e->old != -1 && echo_within(e->old, th_ms(2000), 1) == 0, "a "
	    "client echoes before the flood");
	e->base_fd = th_fd_count(e->w);

	for (int i = 0; i < FLOOD; i++)
		if ((flood[i] = th_connect(e->d->port[0])) != -1)
			n++;
	is_int(n, FLOOD, "%d connections opened (the kernel's backlog holds "
	    "what the worker cannot take)", FLOOD);
	ok(th_daemon_wait_log(e->d, NEEDLE, 1, th_ms(3000)) == 0, "accept "
	    "fails and taod says it is pausing");
	e->t_first = th_now_ms();
	diag("worker descriptors: %d before, %d in the flood (limit %d)",
	    e->base_fd, th_fd_count(e->w), LIMIT);
}

/* While paused the worker does not spin, logs rarely and still echoes. */
static void
emfile_paused(struct emfile *e)
{
	long cpu0, cpu1;
	double t_end, t0;
	int lines, echoes = 0;

	cpu0 = th_cpu_ticks(e->w);
	t0 = th_now_ms();
	while (th_now_ms() - t0 < 1000) {
		echoes += echo_within(e->old, th_ms(1000),
		    (uint32_t)echoes) == 0;
		th_sleep_ms(100);	/* pacing of the old client's echoes */
	}
	cpu1 = th_cpu_ticks(e->w);
	diag("worker CPU while paused: %ld ticks in %.0f ms", cpu1 - cpu0,
	    th_now_ms() - t0);
	ok(cpu1 - cpu0 < 30, "the paused worker does not spin");
	ok(echoes >= 5, "the old client keeps echoing in the flood (%d "
	    "echoes)", echoes);
	th_sleep_ms(1000);	/* the window the log rate is measured over */
	t_end = th_now_ms();
	lines = th_daemon_log_count(e->d, NEEDLE);
	diag("%d \"%s\" lines in %.1f s", lines, NEEDLE,
	    (t_end - e->t_first) / 1000);
	ok(lines <= 3 + (int)((t_end - e->t_first) / 1000), "logged at most "
	    "about once a second");
	ok(echo_within(e->old, th_ms(2000), 99) == 0, "the old client still "
	    "echoes");
}

/* The flood closes: taod accepts again and its counts add up. */
static void
emfile_recover(struct emfile *e)
{
	struct th_daemon *d = e->d;
	double t0;
	int fds;

	for (int i = 0; i < FLOOD; i++)
		if (flood[i] != -1)
			close(flood[i]);
	t0 = th_now_ms();
	e->fresh = th_connect(d->port[0]);
	ok(e->fresh != -1 && echo_within(e->fresh, th_ms(2000), 7) == 0,
	    "after the flood is closed a new connection echoes within 2 s "
	    "(%.0f ms)", th_now_ms() - t0);
	{
		double end = th_now_ms() + th_ms(3000);
		while ((fds = th_fd_count(e->w)) > e->base_fd + 1 &&
		    th_now_ms() < end)
			th_sleep_ms(20);
	}
	is_int(fds, e->base_fd + 1, "the worker's descriptors come back "
	    "(baseline %d + the new client)", e->base_fd);
	{
		/* The backlog's closed connections are accepted (and
		 * closed) after the fresh one may have been. */
		double end = th_now_ms() + th_ms(3000);
		while ((th_stat(d, -1, "accepted") != FLOOD + 2 ||
		    th_stat(d, -1, "connections") != 2) && th_now_ms() < end)
			th_sleep_ms(20);
	}
	diag("accepted %lld, closed %lld, errors %lld, refused %lld, "
	    "connections %lld", th_stat(d, -1, "accepted"),
	    th_stat(d, -1, "closed"), th_stat(d, -1, "errors"),
	    th_stat(d, -1, "refused"), th_stat(d, -1, "connections"));
	is_int(th_stat(d, -1, "connections"), 2, "connections gauge: 2");
	is_int(th_stat(d, -1, "accepted"), FLOOD + 2, "accepted counts "
	    "every connection of the flood");
}

int
main(void)
{
	struct emfile e = { .w = -1 };

	th_init("t102-fault-emfile", 60);
	plan(0);
	emfile_start(&e);
	emfile_flood(&e);
	emfile_paused(&e);
	emfile_recover(&e);
	if (e.old != -1)
		close(e.old);
	if (e.fresh != -1)
		close(e.fresh);
	is_int(th_daemon_stop(e.d), 0, "taod stops with exit 0");
	is_int(th_sanitizer_reports(e.d), 0, "no sanitizer report in the log");
	return th_exit(done_testing());
}
