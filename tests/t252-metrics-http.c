/*
 * t252-metrics-http - the metrics listener answers only what it should,
 * bounds what it reads, and never holds up the master.
 *
 *  - GET /other: 404; POST /metrics: 405 with Allow; junk: 400;
 *    GET /metrics?x=1 and HEAD /metrics: 200 (HEAD without a body);
 *  - a head over 8 KiB: 431, the connection closed;
 *  - a client that sends half a request line and stops: closed within
 *    5 s (+ slack), not before 4 s; while it (and 63 more like it) hang,
 *    taoctl status answers at once and a 65th client gets 503; once
 *    they are gone a scrape works again;
 *  - the workers serve throughout, and taod stops cleanly.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/http.h"
#include "tests/tap.h"

#define HOLD	64

static char resp[1 << 18];

static int
status_of(int port, const char *request)
{
	if (th_http(port, request, resp, sizeof(resp), th_ms(5000)) == -1)
		return -1;
	return th_http_status(resp);
}

static void
requests(int port)
{
	is_int(status_of(port, "GET /other HTTP/1.1\r\n\r\n"), 404,
	    "GET /other: 404");
	is_int(status_of(port, "GET /metricsx HTTP/1.0\r\n\r\n"), 404,
	    "GET /metricsx: 404");
	is_int(status_of(port, "POST /metrics HTTP/1.1\r\nContent-Length: "
	    "0\r\n\r\n"), 405, "POST /metrics: 405");
	ok(strstr(resp, "\r\nAllow: GET, HEAD\r\n") != NULL, "with Allow");
	is_int(status_of(port, "hello there\r\n\r\n"), 400, "junk: 400");
	is_int(status_of(port, "GET /metrics?name[]=x HTTP/1.1\r\n\r\n"), 200,
	    "GET /metrics?query: 200");
	is_int(status_of(port, "HEAD /metrics HTTP/1.1\r\n\r\n"), 200,
	    "HEAD /metrics: 200");
	ok(th_http_body(resp) != NULL && *th_http_body(resp) == '\0',
	    "HEAD has no body");
}

static void
oversized(int port)
{
	static char big[20000];
	size_t n;

	n = (size_t)snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\n");
	while (n < 12000)
		n += (size_t)snprintf(big + n, sizeof(big) - n,
		    "X-Filler: %0100d\r\n", 0);
	snprintf(big + n, sizeof(big) - n, "\r\n");
	is_int(status_of(port, big), 431, "a 12 KB head: 431, then closed");
}

/*
 * Every slow client's first sign of life (data or EOF) is timed on its
 * own, all polled together: a client the master refused at once shows at
 * once, whatever its place.  Returns how many showed in time.
 */
static int
wait_closed(int *fds, int n, double t0, int *early)
{
	struct pollfd p[HOLD];
	int closed = 0;

	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	*early = 0;
	while (closed < n) {
		int left = (int)(t0 + th_ms(7000) - th_now_ms());
		if (left <= 0 || poll(p, (nfds_t)n, left) <= 0)
			break;
		for (int i = 0; i < n; i++) {
			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			closed++;
			*early += th_now_ms() - t0 < 4000;
			p[i].fd = -1;
		}
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	return closed;
}

/*
 * Half a request line, then nothing: closed in 5 s, not before 4.  The
 * clients of the earlier steps must be gone first, or one of the 64 takes
 * the 503 (seen under load: a lingering 431 client's FIN retransmitted
 * after the 200 ms minimum RTO); a lingering client is closed within
 * HTTP_LINGER_MS (1 s), so 1.2 s is enough.  The 65th is asked before
 * taoctl: the 64 hang only until their 5 s request deadline.
 */
static void
slow(int port, int ctlok(void *), void *arg)
{
	int fds[HOLD], closed_early, closed;
	double t0;

	th_sleep_ms(1200);
	t0 = th_now_ms();
	for (int i = 0; i < HOLD; i++)
		if ((fds[i] = th_connect(port)) == -1 ||
		    th_write_all(fds[i], "GET /met", 8) == -1)
			bail("slow client %d", i);
	th_sleep_ms(200);
	is_int(status_of(port, "GET /metrics HTTP/1.1\r\n\r\n"), 503,
	    "client %d: 503 (at most 64 at once; %.0f ms after the first)",
	    HOLD + 1, th_now_ms() - t0);
	ok(ctlok(arg), "taoctl status answers while %d clients hang", HOLD);
	closed = wait_closed(fds, HOLD, t0, &closed_early);
	is_int(closed, HOLD, "every slow client was closed in time");
	is_int(closed_early, 0, "none before 4 s (none of the 64 refused)");
	is_int(status_of(port, "GET /metrics HTTP/1.1\r\n\r\n"), 200,
	    "then a scrape works");
}

static int
ctl_ok(void *arg)
{
	char out[8192];
	double t0 = th_now_ms();
	int rc = th_ctl(arg, out, sizeof(out), "status", NULL);

	return rc == 0 && th_now_ms() - t0 < 1000;
}

int
main(void)
{
	struct th_daemon *d;
	int port, fd;

	th_init("t252-metrics-http", 90);
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n"
	    "metrics 127.0.0.1:0\n");
	if (d == NULL)
		bail("taod did not start");
	if ((port = th_metrics_port(d, th_ms(5000))) <= 0)
		bail("no metrics port");
	requests(port);
	oversized(port);
	slow(port, ctl_ok, d);
	fd = th_connect(d->port[0]);
	is_int(fd >= 0 ? th_echo_once(fd, 3, 1000, 1) : -1, 0,
	    "the workers still echo");
	if (fd >= 0)
		close(fd);
	is_int(th_daemon_log_count(d, "killed by signal"), 0,
	    "no worker died");
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
