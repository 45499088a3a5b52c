/*
 * t042-echo-backpressure - a client that sends 64 MiB of frames without
 * reading the echoes is throttled: with write_queue_max 4m taod stops
 * reading it, so the client's sends stall long before 64 MiB and the
 * server's memory (RSS of master + workers) grows far less than that.
 * Then the client reads: every frame comes back intact and in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

#define FRAME		(64 * 1024)		/* payload bytes */
#define NFRAMES		1024			/* 64 MiB of payload */
#define WIRE		(TH_HEADER + FRAME)
#define TOTAL		((size_t)NFRAMES * WIRE)
#define RSS_BOUND_KB	(32 * 1024)

struct stream {
	int		 fd;
	uint32_t	 seed;
	size_t		 sent;		/* bytes of the TOTAL written */
	size_t		 got;		/* bytes of the TOTAL read */
	uint8_t		 out[WIRE];	/* the frame being written */
	uint8_t		 in[WIRE];	/* the frame being read */
	uint8_t		 want[WIRE];
	int		 bad;		/* frames that were not as sent */
};

static void
make_frame(uint8_t *buf, uint32_t seed, size_t i)
{
	th_put_header(buf, (int32_t)(i + 1), FRAME);
	th_fill(buf + TH_HEADER, FRAME, th_hash(seed, (uint32_t)i));
}

/* Write what the socket takes; -1 on error. */
static int
pump_out(struct stream *s)
{
	size_t off, n;
	ssize_t w;

	while (s->sent < TOTAL) {
		off = s->sent % WIRE;
		if (off == 0)
			make_frame(s->out, s->seed, s->sent / WIRE);
		n = WIRE - off;
		w = send(s->fd, s->out + off, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		s->sent += (size_t)w;
	}
	return 0;
}

/* Read what is there, checking each whole frame; -1 on error or EOF. */
static int
pump_in(struct stream *s)
{
	size_t off;
	ssize_t r;

	for (;;) {
		off = s->got % WIRE;
		r = recv(s->fd, s->in + off, WIRE - off, MSG_DONTWAIT);
		if (r == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (r == 0)
			return -1;
		s->got += (size_t)r;
		if (s->got % WIRE == 0) {
			make_frame(s->want, s->seed, s->got / WIRE - 1);
			if (memcmp(s->in, s->want, WIRE) != 0 && s->bad++ == 0)
				diag("frame %zu differs", s->got / WIRE - 1);
		}
	}
}

/* taod's memory over the test. */
struct meter {
	long rss0, max_rss;
	double t0;		/* when the stream began */
};

/* taod with a 4 MiB write queue, warmed up by one big echo. */
static struct th_daemon *
start_taod(void)
{
	struct th_daemon *d;
	int fd;

	/* ASan keeps freed memory in quarantine (256 MiB by default), which
	 * would show as RSS growth; a small one keeps the bound meaningful.
	 * Appended: the last setting of an option wins. */
	if (th_sanitized()) {
		char opts[512];
		const char *was = getenv("ASAN_OPTIONS");

		snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=8",
		    was ? was : "", was && *was ? ":" : "");
		setenv("ASAN_OPTIONS", opts, 1);
	}
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 1\n"
	    "write_queue_max 4m\n");
	if (d == NULL)
		bail("taod did not start");
	/* Warm up: the worker's first big frame allocates its buffers. */
	if ((fd = th_connect(d->port[0])) == -1 ||
	    th_echo_once(fd, 1, FRAME, 1) != 0)
		bail("warm-up echo failed");
	close(fd);
	return d;
}

/* Phase 1: send without reading until the sends stall for 500 ms. */
static void
phase_stall(struct th_daemon *d, struct stream *s, struct meter *m)
{
	double last;
	long rss;

	m->t0 = th_now_ms();
	m->max_rss = m->rss0;
	for (last = th_now_ms(); th_now_ms() - last < th_ms(500);) {
		size_t before = s->sent;
		struct pollfd pfd = { s->fd, POLLOUT, 0 };

		if (pump_out(s) == -1 || s->sent == TOTAL)
			break;
		if (s->sent != before)
			last = th_now_ms();
		(void)poll(&pfd, 1, 50);
		if ((rss = th_tree_rss_kb(d->pid)) > m->max_rss)
			m->max_rss = rss;
	}
	rss = th_tree_rss_kb(d->pid);
	diag("stalled after %zu KiB in %.0f ms; taod RSS %ld KiB (+%ld)",
	    s->sent / 1024, th_now_ms() - m->t0, rss, rss - m->rss0);
	ok(s->sent < TOTAL / 2, "sends stall long before 64 MiB (at %zu KiB)",
	    s->sent / 1024);
	ok(rss - m->rss0 < RSS_BOUND_KB, "server RSS grew by %ld KiB "
	    "(< %d KiB)", rss - m->rss0, RSS_BOUND_KB);
}

/* Phase 2: read and write until every frame has come back. */
static void
phase_drain(struct th_daemon *d, struct stream *s, struct meter *m)
{
	double end = th_now_ms() + th_ms(30000);
	long rss;

	while (s->got < TOTAL && th_now_ms() < end) {
		struct pollfd pfd = { s->fd, POLLIN, 0 };

		if (s->sent < TOTAL)
			pfd.events |= POLLOUT;
		(void)poll(&pfd, 1, 50);
		if (pump_in(s) == -1 || pump_out(s) == -1) {
			diag("connection failed: %s", strerror(errno));
			break;
		}
		if ((rss = th_tree_rss_kb(d->pid)) > m->max_rss)
			m->max_rss = rss;
	}
	diag("all read back after %.0f ms; highest taod RSS %ld KiB (+%ld)",
	    th_now_ms() - m->t0, m->max_rss, m->max_rss - m->rss0);
	ok(s->sent == TOTAL, "all 64 MiB were sent");
	ok(s->got == TOTAL, "all 64 MiB came back (%zu KiB)", s->got / 1024);
	is_int(s->bad, 0, "every frame intact and in order");
	ok(m->max_rss - m->rss0 < RSS_BOUND_KB, "server RSS never grew by "
	    "%d KiB or more (at most +%ld)", RSS_BOUND_KB,
	    m->max_rss - m->rss0);
}

int
main(void)
{
	struct th_daemon *d;
	struct stream *s = calloc(1, sizeof(*s));
	struct meter m;

	th_init("t042-echo-backpressure", 60);
	plan(0);
	if (s == NULL)
		bail("taod did not start");
	d = start_taod();
	m.rss0 = th_tree_rss_kb(d->pid);
	diag("taod RSS before: %ld KiB", m.rss0);

	if ((s->fd = th_connect(d->port[0])) == -1)
		bail("connect");
	s->seed = th_rand();
	phase_stall(d, s, &m);
	phase_drain(d, s, &m);
	close(s->fd);
	is_int(th_stat(d, -1, "errors"), 0, "taod counted no errors");
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	free(s);
	return th_exit(done_testing());
}
