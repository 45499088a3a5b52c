/*
 * t132-send-timeout: a peer that never reads its output is closed after
 * send_timeout_ms and counted as a timeout; a slow reader that keeps
 * taking bytes is not.  Before send_timeout_ms, a client that sent
 * requests and never read the echoes pinned write_queue_max (plus its
 * socket buffers) in the worker for ever.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "lib/harness.h"

#define FRAME		(64 * 1024)
#define SEND_TIMEOUT	1000

static uint8_t frame[TH_HEADER + FRAME];

/* Write frames without reading until the server stops taking them (it
 * has paused reading us: its queue is over write_queue_max). */
static long long
flood(int fd, long long max)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	long long total = 0;
	size_t off = 0;
	ssize_t n;

	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (total < max) {
		n = write(fd, frame + off, sizeof(frame) - off);
		if (n > 0) {
			total += n;
			off = (off + (size_t)n) % sizeof(frame);
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			break;
		/* Stuck for 300 ms: the server has stopped reading. */
		if (poll(&p, 1, 300) == 0)
			break;
	}
	return total;
}

static long long
timeouts(struct th_daemon *d)
{
	return th_stat(d, -1, "timeouts");
}

/* A client that never reads. */
static void
deaf_client(struct th_daemon *d)
{
	int deaf, small = 4096;
	long long sent;
	double t0, end;

	if ((deaf = th_connect(d->port[0])) < 0)
		bail("connect");
	(void)setsockopt(deaf, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	sent = flood(deaf, 64LL << 20);
	t0 = th_now_ms();
	ok(sent > (4LL << 20), "a client that never reads sent %lld bytes "
	    "until the server stopped reading it", sent);
	end = th_now_ms() + th_ms(8000);
	while (timeouts(d) < 1 && th_now_ms() < end)
		th_sleep_ms(50);
	is_int(timeouts(d), 1, "it is closed as a timeout (after %.0f ms, "
	    "send_timeout_ms %d)", th_now_ms() - t0, SEND_TIMEOUT);
	ok(th_wait_closed(deaf, th_ms(5000)) == 0, "  its connection is gone");
	close(deaf);
}

/* A slow reader: it takes 64 KiB every 100 ms, for three times the
 * timeout, and stays connected. */
static void
slow_reader(struct th_daemon *d)
{
	int slow, lost = 0;
	long long sent, got = 0;
	double end;

	if ((slow = th_connect(d->port[0])) < 0)
		bail("connect");
	sent = flood(slow, 16LL << 20);
	ok(sent > (4LL << 20), "a slow reader has %lld bytes of echoes "
	    "pending", sent);
	end = th_now_ms() + 3 * SEND_TIMEOUT;
	while (th_now_ms() < end) {
		struct pollfd p = { .fd = slow, .events = POLLIN };
		static uint8_t buf[FRAME];
		ssize_t n;

		if (poll(&p, 1, 100) == 1) {
			n = read(slow, buf, sizeof(buf));
			if (n <= 0 && !(n == -1 && errno == EAGAIN)) {
				lost = 1;
				break;
			}
			if (n > 0)
				got += n;
		}
		th_sleep_ms(100);	/* the pace under test, not a wait */
	}
	ok(got > 0 && got < sent, "  it read %lld bytes in %d ms", got,
	    3 * SEND_TIMEOUT);
	is_int(timeouts(d), 1, "  and was not closed as a timeout");
	ok(!lost, "  its connection stayed open");
	close(slow);
}

int
main(void)
{
	struct th_daemon *d;

	th_init("t132-send-timeout", 90);
	plan(0);
	d = th_daemon_start("workers 1\nlisten 127.0.0.1:0 tlv\napp echo\n"
	    "send_timeout_ms 1000\n");
	if (d == NULL)
		bail("taod did not start");
	th_put_header(frame, 1, FRAME);
	th_fill(frame + TH_HEADER, FRAME, 132);
	deaf_client(d);
	slow_reader(d);
	is_int(th_daemon_stop(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
