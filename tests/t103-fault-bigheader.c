/*
 * t103-fault-bigheader - memory pressure from frame headers that promise
 * a lot and deliver nothing.
 *
 * 1 000 clients each send a TLV header announcing max_frame (8 MiB)
 * bytes, then 10 bytes of it, then stall.  The worker must grow a frame's
 * buffer as bytes arrive, not reserve what the header promises:
 *  - taod's RSS grows by well under 1 000 x 8 MiB (assert < 200 MiB; the
 *    figure per client is printed, a few KiB is expected), and so does
 *    the worker's VmData (reserved, touched or not: < 1 GiB);
 *  - frame_timeout_ms 1000 closes every one of them, none before ~1 s
 *    and all within 2 s of its header;
 *  - the timeouts counter counts 1 000, the gauge returns to 0.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness-fault.h"
#include "tests/tap.h"

#define CLIENTS		1000
#define MAX_FRAME	(8u << 20)
#define PROMISED	10

static int	 fd[CLIENTS];
static double	 sent_at[CLIENTS], closed_at[CLIENTS];

/* Wait until every client is closed by taod or the deadline passes;
 * returns how many were closed. */
static int
wait_closed(double deadline)
{
	static struct pollfd pfd[CLIENTS];
	static int which[CLIENTS];
	char sink[256];
	int n, closed = 0;

	for (;;) {
		n = 0;
		closed = 0;
		for (int i = 0; i < CLIENTS; i++) {
			if (closed_at[i] != 0 || fd[i] == -1) {
				closed++;
				continue;
			}
			pfd[n].fd = fd[i];
			pfd[n].events = POLLIN;
			which[n++] = i;
		}
		if (n == 0 || th_now_ms() >= deadline)
			return closed;
		if (poll(pfd, (nfds_t)n, 10) <= 0)
			continue;
		for (int k = 0; k < n; k++)
			if (pfd[k].revents != 0 &&
			    recv(pfd[k].fd, sink, sizeof(sink),
			    MSG_DONTWAIT) <= 0)
				closed_at[which[k]] = th_now_ms();
	}
}

/* What the steps of the scenario share. */
struct bighdr {
	struct th_daemon *d;
	pid_t w;
	long rss0, data0;	/* before the headers */
	int opened;		/* clients that sent their header */
	double last;		/* when the last one did */
};

/* Each client sends a header announcing MAX_FRAME and PROMISED bytes. */
static void
send_headers(struct bighdr *b)
{
	uint8_t msg[TH_HEADER + PROMISED];

	th_put_header(msg, 1, MAX_FRAME);
	th_fill(msg + TH_HEADER, PROMISED, 1);
	for (int i = 0; i < CLIENTS; i++) {
		fd[i] = th_connect(b->d->port[0]);
		if (fd[i] == -1 || th_write_all(fd[i], msg, sizeof(msg)) ==
		    -1) {
			diag("client %d: %s", i, strerror(errno));
			if (fd[i] != -1)
				close(fd[i]);
			fd[i] = -1;
			continue;
		}
		b->last = sent_at[i] = th_now_ms();
		b->opened++;
	}
	is_int(b->opened, CLIENTS, "%d clients sent a header announcing %u "
	    "bytes and %d of them", CLIENTS, MAX_FRAME, PROMISED);
}

/* Once every byte is in, the partial frames cost little memory. */
static void
check_memory(struct bighdr *b)
{
	const long long sent = (long long)b->opened *
	    (long long)(TH_HEADER + PROMISED);
	long rss1, data1;
	double t_in;
	long long in;

	/* Every byte in: then each client holds its partial frame. */
	while ((in = th_stat(b->d, -1, "bytes_in")) < sent &&
	    th_now_ms() - b->last < th_ms(2000))
		th_sleep_ms(5);
	t_in = th_now_ms();
	rss1 = th_tree_rss_kb(b->d->pid);
	data1 = th_vmdata_kb(b->w);
	diag("all %lld bytes in %.0f ms after the last header", in,
	    t_in - b->last);
	diag("RSS of taod (master + worker): %ld -> %ld KiB, +%ld KiB = "
	    "%.1f KiB per client", b->rss0, rss1, rss1 - b->rss0,
	    (double)(rss1 - b->rss0) / CLIENTS);
	diag("VmData of the worker: %ld -> %ld KiB, +%ld KiB = %.1f KiB per "
	    "client (1 000 x 8 MiB would be %u MiB)", b->data0, data1,
	    data1 - b->data0, (double)(data1 - b->data0) / CLIENTS,
	    CLIENTS * (MAX_FRAME >> 20));
	ok(in >= sent, "taod read every byte the clients sent");
	ok(rss1 - b->rss0 < 200 * 1024, "RSS grew by less than 200 MiB");
	ok(data1 - b->data0 < 1024 * 1024, "the worker reserved less than "
	    "1 GiB (no buffer of max_frame up front)");
}

/* frame_timeout_ms closes every stalled client, none early. */
static void
check_timeouts(struct bighdr *b)
{
	double lo = 1e9, hi = 0;
	int closed;

	closed = wait_closed(b->last + th_ms(2000));
	for (int i = 0; i < CLIENTS; i++) {
		if (fd[i] == -1 || closed_at[i] == 0)
			continue;
		double age = closed_at[i] - sent_at[i];
		lo = age < lo ? age : lo;
		hi = age > hi ? age : hi;
	}
	diag("closed %d of %d; each %.0f .. %.0f ms after its header",
	    closed, b->opened, lo, hi);
	is_int(closed, CLIENTS, "frame_timeout_ms 1000 closed every stalled "
	    "client within 2 s");
	ok(lo >= 900, "none was closed before the timeout");
	{
		double end = th_now_ms() + th_ms(2000);
		long long timeouts, conns;
		while (((timeouts = th_stat(b->d, -1, "timeouts")) < CLIENTS ||
		    (conns = th_stat(b->d, -1, "connections")) != 0) &&
		    th_now_ms() < end)
			th_sleep_ms(10);
		conns = th_stat(b->d, -1, "connections");
		is_int(timeouts, CLIENTS, "the timeouts counter counts them");
		is_int(conns, 0, "the connections gauge is back to 0");
	}
}

int
main(void)
{
	struct bighdr b = { .w = -1 };
	struct th_status st;

	th_init("t103-fault-bigheader", 60);
	plan(0);
	b.d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 1\n"
	    "max_frame 8m\nframe_timeout_ms 1000\n");
	if (b.d == NULL)
		bail("taod did not start");
	if (th_status(b.d, &st) == -1 || th_status_serving(&st, 0, &b.w) != 1)
		bail("no worker serves");
	b.rss0 = th_tree_rss_kb(b.d->pid);
	b.data0 = th_vmdata_kb(b.w);
	send_headers(&b);
	check_memory(&b);
	check_timeouts(&b);
	diag("RSS after: %ld KiB", th_tree_rss_kb(b.d->pid));
	for (int i = 0; i < CLIENTS; i++)
		if (fd[i] != -1)
			close(fd[i]);
	is_int(th_daemon_stop(b.d), 0, "taod stops with exit 0");
	is_int(th_sanitizer_reports(b.d), 0, "no sanitizer report in the log");
	return th_exit(done_testing());
}
