/*
 * t271-proxy-errors: on a proxy listener a missing, malformed or slow
 * header closes that connection only, and each is counted in
 * proxy_errors (taoctl stats and the Prometheus metrics): garbage text,
 * a TLV frame without a header, a v2 header whose TLV overruns it, a v1
 * line with no CRLF in 107 bytes, a header cut by EOF, and a header that
 * stops coming: closed after frame_timeout_ms (not before), while a
 * connection that sent its header goes on being served throughout.
 * With frame_timeout_ms 0 the header is still bounded (10 s).
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "tap.h"
#include "lib/harness.h"
#include "lib/http.h"
#include "lib/proxyhdr.h"

static struct th_daemon *d;

/* Send bytes, expect the server to close without answering. */
static void
closes(const char *what, const void *bytes, size_t len)
{
	int fd = th_connect(d->port[0]);

	ok(fd >= 0 && th_write_all(fd, bytes, len) == 0 &&
	    th_wait_closed(fd, th_ms(3000)) == 0, "%s: closed", what);
	if (fd >= 0)
		close(fd);
}

/* A connection that passed its header and is echoed. */
static int
good_conn(void)
{
	char h[128], peer[64];
	size_t n = th_proxy_v1(h, sizeof(h), "TCP4", "192.0.2.50", "10.0.0.1",
	    1000, 7000);
	int fd = th_connect(d->port[0]);

	if (fd < 0 || th_write_all(fd, h, n) == -1 ||
	    th_ask_peer(fd, peer, sizeof(peer)) == -1 ||
	    strcmp(peer, "192.0.2.50:1000") != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void
malformed(void)
{
	uint8_t h[256], frame[TH_HEADER];
	uint8_t bad_tlv[] = { 0x04, 0x00, 0x09, 'x' };	/* says 9, has 1 */
	char line[200];
	size_t n;

	closes("garbage (an HTTP request)", "GET / HTTP/1.0\r\n\r\n", 18);
	th_put_header(frame, TH_PEER_ASK, 0);
	closes("a TLV frame without a header", frame, sizeof(frame));
	n = th_proxy_v2(h, sizeof(h), 0, 4, "192.0.2.1", "10.0.0.1", 1, 2,
	    bad_tlv, sizeof(bad_tlv));
	closes("v2 with a TLV longer than the header", h, n);
	memset(line, 'a', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	closes("v1 without CRLF in 107 bytes", line, sizeof(line));
	closes("v1 with a bad address",
	    "PROXY TCP4 300.1.1.1 10.0.0.1 1 2\r\n", 35);
	/* EOF in the middle of a header. */
	int fd = th_connect(d->port[0]);
	ok(fd >= 0 && th_write_all(fd, "PROXY TCP4 1.2", 14) == 0 &&
	    shutdown(fd, SHUT_WR) == 0 && th_wait_closed(fd, th_ms(3000)) == 0,
	    "header cut by EOF: closed");
	if (fd >= 0)
		close(fd);
}

static void
slow(int frame_ms)
{
	int fd = th_connect(d->port[0]), good = good_conn();
	struct timeval none = { 0, 0 };
	double t0 = th_now_ms(), t;
	char peer[64];

	/* th_wait_closed has its own deadline; no 5 s receive timeout. */
	if (fd >= 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none,
		    sizeof(none));

	ok(fd >= 0 && good >= 0 && th_write_all(fd, "PROXY TCP4 ", 11) == 0,
	    "slow header started, another connection served");
	/* The good one keeps working while the slow one waits. */
	ok(th_ask_peer(good, peer, sizeof(peer)) == 0, "  the other is "
	    "served meanwhile");
	ok(fd >= 0 && th_wait_closed(fd, th_ms(frame_ms + 3000)) == 0,
	    "slow header: closed");
	t = th_now_ms() - t0;
	ok(t >= frame_ms - 5, "  not before frame_timeout_ms (%.0f ms >= %d)",
	    t, frame_ms);
	ok(th_ask_peer(good, peer, sizeof(peer)) == 0 &&
	    strcmp(peer, "192.0.2.50:1000") == 0, "  the other is unaffected");
	if (fd >= 0)
		close(fd);
	if (good >= 0)
		close(good);
}

int
main(void)
{
	char cfg[256], out[65536];
	int mport;

	plan(21);
	th_init("t271-proxy-errors", 90);
	d = th_daemon_fork("workers 2\nlisten 127.0.0.1:0 tlv proxy\n"
	    "frame_timeout_ms 400\nmetrics 127.0.0.1:0\n", th_peer_server,
	    NULL);
	if (d == NULL)
		bail("taod did not start");
	malformed();
	slow(400);
	is_int(th_stat(d, -1, "proxy_errors"), 7, "proxy_errors: 7");
	is_int(th_stat(d, -1, "timeouts"), 0, "  not counted as timeouts");
	mport = th_metrics_port(d, th_ms(5000));
	long long sum = 0;
	if (mport > 0 && th_scrape(mport, out, sizeof(out)) == 200)
		for (int i = 0; i < 2; i++) {
			char series[64];
			snprintf(series, sizeof(series),
			    "tao_proxy_errors_total{worker=\"%d\"}", i);
			sum += th_metric(out, series);
		}
	is_int(sum, 7, "metrics: tao_proxy_errors_total sums to 7");
	/* frame_timeout_ms 0: still bounded. */
	snprintf(cfg, sizeof(cfg), "workers 2\nlisten 127.0.0.1:0 tlv proxy\n"
	    "frame_timeout_ms 0\n");
	ok(th_daemon_config(d, cfg) == 0 &&
	    th_ctl(d, out, sizeof(out), "reload", NULL) == 0, "reload with "
	    "frame_timeout_ms 0");
	th_sleep_ms(th_ms(300));
	slow(10000);
	ok(th_daemon_stop_clean(d) == 0, "taod stops cleanly");
	return th_exit(done_testing());
}
