/*
 * t274-per-ip-limit: max_connections_per_ip is exact across workers.
 * Two workers; bursts of 40 connections naming the same client in their
 * PROXY headers, all written at once: exactly N are served, the rest
 * closed and counted as refused, and both workers took part.  Units
 * come back on close (N more are served, not N + 1), another address is
 * unaffected, an IPv4-mapped IPv6 client counts as the IPv4 one, direct
 * (not proxied) clients count by their socket address, and after both
 * workers are SIGKILLed the master has given back what they held: a new
 * burst is served exactly N again.
 */
#include <sys/socket.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "tap.h"
#include "lib/harness.h"
#include "lib/proxyhdr.h"

#define N	5
#define BURST	40

static struct th_daemon *d;
static struct th_client cl[BURST];
static int served_mask[BURST];

/* Header (v1 or v2) naming src, then an ASK frame: one buffer. */
static size_t
request(uint8_t *buf, size_t cap, const char *src, int v2, int i)
{
	int fam = strchr(src, ':') != NULL ? 6 : 4;
	size_t n = v2 ? th_proxy_v2(buf, cap, 0, fam, src, fam == 4 ?
	    "10.0.0.1" : "2001:db8::1", 2000 + i, 7000, NULL, 0) :
	    th_proxy_v1((char *)buf, cap, fam == 4 ? "TCP4" : "TCP6", src,
	    fam == 4 ? "10.0.0.1" : "2001:db8::1", 2000 + i, 7000);

	th_put_header(buf + n, TH_PEER_ASK, 0);
	return n + TH_HEADER;
}

/* Open count clients to port, then write every request in one sweep;
 * returns how many were served (the others were closed). */
static int
burst(int port, const char *src, int count)
{
	uint8_t buf[256];
	struct th_frame f;
	int served = 0;

	for (int i = 0; i < count; i++)
		if (th_client_open(&cl[i], port) == -1)
			bail("connect %d", i);
	for (int i = 0; i < count; i++) {
		size_t n = port == d->port[0] ? request(buf, sizeof(buf), src,
		    i & 1, i) : (th_put_header(buf, TH_PEER_ASK, 0), TH_HEADER);
		(void)th_client_write(&cl[i], buf, n);
	}
	for (int i = 0; i < count; i++) {
		served_mask[i] = th_client_next(&cl[i], &f, th_ms(5000)) == 1;
		served += served_mask[i];
	}
	return served;
}

static void
close_all(int count)
{
	for (int i = 0; i < count; i++)
		th_client_close(&cl[i]);
}

/* One more client naming src: 1 served, 0 refused. */
static int
one(const char *src, int v2)
{
	struct th_client c;
	struct th_frame f;
	uint8_t buf[256];
	size_t n = request(buf, sizeof(buf), src, v2, 99);
	int rc;

	if (th_client_open(&c, d->port[0]) == -1)
		return -1;
	(void)th_client_write(&c, buf, n);
	rc = th_client_next(&c, &f, th_ms(5000)) == 1;
	th_client_close(&c);
	return rc;
}

/* Closing is asynchronous: retry until src is served, keeping that
 * connection open in *c.  1, or 0 if it never was. */
static int
wait_served(const char *src, struct th_client *c)
{
	struct th_frame f;
	uint8_t buf[256];
	size_t n = request(buf, sizeof(buf), src, 0, 98);

	for (int i = 0; i < 200; i++) {
		if (th_client_open(c, d->port[0]) == -1)
			return 0;
		(void)th_client_write(c, buf, n);
		if (th_client_next(c, &f, th_ms(5000)) == 1)
			return 1;
		th_client_close(c);
		th_sleep_ms(10);
	}
	return 0;
}

static void
releases(void)
{
	struct th_frame f;
	int closed = 0, got;

	struct th_client back;

	is_int(burst(d->port[0], "192.0.2.12", BURST), N, "burst 2: exactly %d "
	    "served", N);
	ok(one("192.0.2.11", 0) == 1, "another address is served meanwhile");
	ok(one("::ffff:192.0.2.12", 1) == 0, "::ffff:192.0.2.12 counts as "
	    "192.0.2.12: refused");
	for (int i = 0; i < BURST && closed < 2; i++)
		if (served_mask[i]) {
			th_client_close(&cl[i]);
			served_mask[i] = 0;
			closed++;
		}
	ok(wait_served("192.0.2.12", &back), "a unit comes back on close");
	/* 4 held now (back included): one more, not two. */
	struct th_client more[3];
	uint8_t buf[256];
	got = 0;
	for (int i = 0; i < 2; i++) {
		size_t n = request(buf, sizeof(buf), "192.0.2.12", 0, i);
		if (th_client_open(&more[i], d->port[0]) == -1)
			bail("connect");
		(void)th_client_write(&more[i], buf, n);
		got += th_client_next(&more[i], &f, th_ms(5000)) == 1;
	}
	is_int(got, 1, "after 2 closes: 2 more served in all, not 3");
	for (int i = 0; i < 2; i++)
		th_client_close(&more[i]);
	th_client_close(&back);
	close_all(BURST);
}

static void
crash(void)
{
	pid_t pids[2];

	is_int(burst(d->port[0], "192.0.2.20", BURST), N, "burst 3: exactly %d "
	    "served before the kill", N);
	for (int s = 0; s < 2; s++) {
		pids[s] = th_worker_pid(d, s);
		if (pids[s] > 0)
			kill(pids[s], SIGKILL);
	}
	ok(pids[0] > 0 && pids[1] > 0 && th_wait_respawn(d, 0, pids[0],
	    th_ms(10000)) > 0 && th_wait_respawn(d, 1, pids[1],
	    th_ms(10000)) > 0, "both workers SIGKILLed and respawned");
	close_all(BURST);	/* the kernel already reset them */
	is_int(burst(d->port[0], "192.0.2.20", BURST), N, "after the kill: "
	    "exactly %d served again (the master gave the units back)", N);
	close_all(BURST);
}

int
main(void)
{
	long long acc0, acc1;
	char cfg[256];

	plan(14);
	th_init("t274-per-ip-limit", 90);
	snprintf(cfg, sizeof(cfg), "workers 2\nlisten 127.0.0.1:0 tlv proxy\n"
	    "listen 127.0.0.1:0 tlv\nmax_connections_per_ip %d\n", N);
	if ((d = th_daemon_fork(cfg, th_peer_server, NULL)) == NULL)
		bail("server did not start");
	is_int(burst(d->port[0], "192.0.2.10", BURST), N, "burst 1: exactly %d "
	    "of %d served", N, BURST);
	acc0 = th_stat(d, 0, "accepted");
	acc1 = th_stat(d, 1, "accepted");
	ok(acc0 > 0 && acc1 > 0, "both workers accepted some (%lld, %lld)",
	    acc0, acc1);
	is_int(th_stat(d, -1, "refused"), BURST - N, "refused: %d", BURST - N);
	close_all(BURST);
	releases();
	is_int(burst(d->port[1], NULL, 12), N, "direct clients: %d of 12 "
	    "from 127.0.0.1 served", N);
	close_all(12);
	crash();
	ok(th_daemon_log_count(d, "max_connections_per_ip reached") >= 1,
	    "refusals are logged");
	ok(th_daemon_stop_clean(d) == 0, "server stops cleanly");
	return th_exit(done_testing());
}
