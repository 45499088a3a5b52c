/*
 * t074-conn-heartbeat-stall: a worker that falls behind must not close
 * connections whose heartbeats are already waiting in their sockets.
 * 50 clients send a heartbeat every 300 ms to `heartbeat_ms 1000` (closed
 * after 2 s of silence); the worker is stopped for 2.5 s while the
 * heartbeats pile up unread, then continued: none may be closed as a
 * heartbeat timeout.  A client that really went silent still is.
 */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "lib/harness.h"

#define NCONNS	50

/* Send a heartbeat on every connection; drain replies; count the open. */
static int
beat(const int *fds, int n)
{
	char hdr[8], junk[4096];
	int open = 0;

	th_put_header(hdr, 0, 0);
	for (int i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		if (send(fds[i], hdr, 8, MSG_NOSIGNAL) != 8) {
			continue;
		}
		ssize_t r = recv(fds[i], junk, sizeof(junk), MSG_DONTWAIT);
		if (r == 0 || (r == -1 && errno != EAGAIN))
			continue;	/* closed by the server */
		open++;
	}
	return open;
}

int
main(void)
{
	struct th_daemon *d;
	pid_t kids[2];
	int fds[NCONNS], silent, open = 0;

	th_init("t074-conn-heartbeat-stall", 60);
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 1\n"
	    "heartbeat_ms 1000\n");
	if (d == NULL || th_children(d->pid, kids, 2) != 1)
		bail("taod did not start with one worker");
	for (int i = 0; i < NCONNS; i++)
		if ((fds[i] = th_connect(d->port[0])) < 0)
			bail("connect");
	silent = th_connect(d->port[0]);
	/* The 300 ms sleeps below are the clients' heartbeat pace: part of
	 * the scenario, not waits for the server. */
	for (int i = 0; i < 3; i++) {
		beat(fds, NCONNS);
		th_sleep_ms(300);
	}
	ok(kill(kids[0], SIGSTOP) == 0, "worker stopped");
	for (int i = 0; i < 9; i++) {		/* 2.7 s of piling up */
		beat(fds, NCONNS);
		th_sleep_ms(300);
	}
	ok(kill(kids[0], SIGCONT) == 0, "worker continued");
	for (int i = 0; i < 4; i++) {
		th_sleep_ms(300);
		open = beat(fds, NCONNS);
	}
	is_int(open, NCONNS, "every heartbeating client is still connected");
	is_int(th_stat(d, -1, "timeouts"), 1,
	    "only the silent client timed out");
	ok(silent >= 0 && th_wait_closed(silent, th_ms(1000)) == 0,
	    "  and it was closed");
	for (int i = 0; i < NCONNS; i++)
		close(fds[i]);
	if (silent >= 0)
		close(silent);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	return th_exit(done_testing());
}
