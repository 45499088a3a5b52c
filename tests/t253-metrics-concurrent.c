/*
 * t253-metrics-concurrent - 20 scrapers at once all get a whole reply.
 *
 * 20 connections to the metrics port are opened and each sends its GET
 * before any reply is read (the master holds all 20 at once); then every
 * one must read a 200 whose body is exactly Content-Length bytes and
 * ends with the last family (tao_start_time_seconds).  Repeated 5 times,
 * with 200 open echo connections on the workers; then taod stops clean.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/http.h"
#include "tests/tap.h"

#define SCRAPERS	20
#define ROUNDS		5
#define ECHO_CONNS	200

struct scraper {
	int	 fd;
	char	 buf[1 << 16];
	size_t	 len;
	int	 done;
};

static struct scraper sc[SCRAPERS];

/* Read every scraper to EOF; how many finished within the time. */
static int
read_all(void)
{
	double deadline = th_now_ms() + th_ms(10000);
	int done = 0;

	while (done < SCRAPERS && th_now_ms() < deadline) {
		struct pollfd p[SCRAPERS];
		for (int i = 0; i < SCRAPERS; i++)
			p[i] = (struct pollfd){ .fd = sc[i].done ? -1 :
			    sc[i].fd, .events = POLLIN };
		if (poll(p, SCRAPERS, 100) <= 0)
			continue;
		for (int i = 0; i < SCRAPERS; i++) {
			ssize_t n;
			if (sc[i].done || p[i].revents == 0)
				continue;
			n = read(sc[i].fd, sc[i].buf + sc[i].len,
			    sizeof(sc[i].buf) - 1 - sc[i].len);
			if (n > 0) {
				sc[i].len += (size_t)n;
				continue;
			}
			sc[i].buf[sc[i].len] = '\0';
			sc[i].done = 1;
			done++;
		}
	}
	return done;
}

/* A whole 200: the body has Content-Length bytes and the last family. */
static int
whole(const struct scraper *s)
{
	const char *cl = strstr(s->buf, "\r\nContent-Length: ");
	const char *body = th_http_body(s->buf);

	return th_http_status(s->buf) == 200 && cl != NULL && body != NULL &&
	    strtoul(cl + 18, NULL, 10) == strlen(body) &&
	    strstr(body, "\ntao_start_time_seconds ") != NULL;
}

static int
round_ok(int port)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	int good = 0;

	for (int i = 0; i < SCRAPERS; i++) {
		memset(&sc[i], 0, sizeof(sc[i]));
		if ((sc[i].fd = th_connect(port)) == -1)
			bail("connect scraper %d", i);
	}
	for (int i = 0; i < SCRAPERS; i++)
		if (th_write_all(sc[i].fd, req, sizeof(req) - 1) == -1)
			bail("write scraper %d", i);
	if (read_all() != SCRAPERS)
		diag("not every scraper got to EOF");
	for (int i = 0; i < SCRAPERS; i++) {
		good += whole(&sc[i]);
		close(sc[i].fd);
	}
	return good;
}

int
main(void)
{
	static int echo[ECHO_CONNS];
	struct th_daemon *d;
	double t0;
	int port;

	th_init("t253-metrics-concurrent", 60);
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n"
	    "metrics 127.0.0.1:0\n");
	if (d == NULL)
		bail("taod did not start");
	if ((port = th_metrics_port(d, th_ms(5000))) <= 0)
		bail("no metrics port");
	for (int i = 0; i < ECHO_CONNS; i++)
		if ((echo[i] = th_connect(d->port[0])) == -1 ||
		    th_echo_once(echo[i], 1, 16, (uint32_t)i) != 0)
			bail("echo connection %d", i);
	for (int r = 0; r < ROUNDS; r++) {
		t0 = th_now_ms();
		is_int(round_ok(port), SCRAPERS, "round %d: %d concurrent "
		    "scrapers got a whole 200 (%.1f ms)", r + 1, SCRAPERS,
		    th_now_ms() - t0);
	}
	for (int i = 0; i < ECHO_CONNS; i++)
		close(echo[i]);
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
