/*
 * t270-proxy-peer: on a `listen ... proxy` listener the PROXY header's
 * client becomes the connection's peer everywhere: tao_conn_peer() in a
 * handler and the row `taoctl conns` shows.  v1 TCP4, TCP6 and UNKNOWN,
 * v2 TCP4 with TLVs, TCP6, LOCAL; the header and the first frame in one
 * write (the frame must not be lost behind the header), and a v2 header
 * with TLVs written one byte at a time.  A plain listener next to it is
 * unaffected.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "tap.h"
#include "lib/harness.h"
#include "lib/proxyhdr.h"

static struct th_daemon *d;

/* conns --json holds "peer":"<want>". */
static int
conns_have(const char *want)
{
	char out[65536], needle[128];

	snprintf(needle, sizeof(needle), "\"peer\":\"%s\"", want);
	for (int i = 0; i < 100; i++) {
		if (th_ctl(d, out, sizeof(out), "conns", "--json", NULL) == 0 &&
		    strstr(out, needle) != NULL)
			return 1;
		th_sleep_ms(20);
	}
	diag("conns: %s", out);
	return 0;
}

/* Connect, send hdr (and a first frame in the same write), check the
 * peer the handler and taoctl see. */
static void
check(const char *what, const void *hdr, size_t len, const char *want)
{
	uint8_t buf[512];
	char peer[128], local[64];
	int fd;

	if ((fd = th_connect(d->port[0])) == -1)
		bail("connect");
	if (want == NULL) {	/* the socket's own: 127.0.0.1:our port */
		snprintf(local, sizeof(local), "127.0.0.1:%d",
		    th_local_port(fd));
		want = local;
	}
	memcpy(buf, hdr, len);
	th_put_header(buf + len, TH_PEER_ECHO, 3);
	memcpy(buf + len + TH_HEADER, "abc", 3);
	int32_t type;
	uint32_t n;
	char got[8] = "";
	ok(th_write_all(fd, buf, len + TH_HEADER + 3) == 0 &&
	    th_recv_frame(fd, &type, got, sizeof(got), &n, th_ms(5000)) == 0 &&
	    type == TH_PEER_ECHO && n == 3 && memcmp(got, "abc", 3) == 0,
	    "%s: the frame written with the header is answered", what);
	ok(th_ask_peer(fd, peer, sizeof(peer)) == 0 && strcmp(peer, want) == 0,
	    "%s: tao_conn_peer is %s (got %s)", what, want, peer);
	ok(conns_have(want), "%s: taoctl conns shows %s", what, want);
	close(fd);
}

static void
v2_cases(void)
{
	uint8_t h[512], tlv[64];
	size_t n, tl = 0;

	/* ALPN "h2", an authority, a NOOP with 5 bytes: skipped. */
	memcpy(tlv + tl, "\x01\x00\x02h2", 5), tl += 5;
	memcpy(tlv + tl, "\x02\x00\x0b" "example.com", 14), tl += 14;
	memcpy(tlv + tl, "\x04\x00\x05zzzzz", 8), tl += 8;
	n = th_proxy_v2(h, sizeof(h), 0, 4, "203.0.113.9", "10.0.0.1", 40000,
	    7000, tlv, tl);
	check("v2 TCP4 + TLVs", h, n, "203.0.113.9:40000");
	n = th_proxy_v2(h, sizeof(h), 0, 6, "2001:db8::42", "2001:db8::1",
	    1234, 7000, NULL, 0);
	check("v2 TCP6", h, n, "[2001:db8::42]:1234");
	n = th_proxy_v2(h, sizeof(h), 1, 0, NULL, NULL, 0, 0, NULL, 0);
	check("v2 LOCAL", h, n, NULL);
}

/* A v2 header with TLVs (or a v1 line), then a frame, one byte per
 * write. */
static void
byte_by_byte(int v1)
{
	uint8_t h[512], tlv[] = { 0x04, 0x00, 0x03, 'a', 'b', 'c' };
	char peer[128];
	size_t n = v1 ? th_proxy_v1((char *)h, sizeof(h), "TCP4",
	    "198.51.100.77", "10.0.0.1", 555, 7000) : th_proxy_v2(h,
	    sizeof(h), 0, 4, "198.51.100.77", "10.0.0.1", 555, 7000, tlv,
	    sizeof(tlv));
	int fd = th_connect(d->port[0]), okw = fd >= 0;

	th_put_header(h + n, TH_PEER_ASK, 0);
	for (size_t i = 0; okw && i < n + TH_HEADER; i++) {
		okw = th_write_all(fd, h + i, 1) == 0;
		th_sleep_ms(2);
	}
	int32_t type;
	uint32_t len;
	ok(okw && th_recv_frame(fd, &type, peer, sizeof(peer) - 1, &len,
	    th_ms(5000)) == 0 && type == TH_PEER_ASK &&
	    (peer[len] = '\0', strcmp(peer, "198.51.100.77:555") == 0),
	    "%s header and frame split byte by byte: peer %s",
	    v1 ? "v1" : "v2", okw ? peer : "?");
	if (fd >= 0)
		close(fd);
}

int
main(void)
{
	char h[256], peer[64];
	size_t n;
	int fd;

	plan(23);
	th_init("t270-proxy-peer", 60);
	d = th_daemon_fork("workers 1\nlisten 127.0.0.1:0 tlv proxy\n"
	    "listen 127.0.0.1:0 tlv\n", th_peer_server, NULL);
	if (d == NULL || d->nports != 2)
		bail("server did not start");
	n = th_proxy_v1(h, sizeof(h), "TCP4", "192.0.2.1", "198.51.100.7",
	    56324, 443);
	check("v1 TCP4", h, n, "192.0.2.1:56324");
	n = th_proxy_v1(h, sizeof(h), "TCP6", "2001:db8::1", "2001:db8::2",
	    4000, 443);
	check("v1 TCP6", h, n, "[2001:db8::1]:4000");
	n = th_proxy_v1(h, sizeof(h), "UNKNOWN", NULL, NULL, 0, 0);
	check("v1 UNKNOWN", h, n, NULL);
	v2_cases();
	byte_by_byte(0);
	byte_by_byte(1);
	/* The plain listener takes no header. */
	fd = th_connect(d->port[1]);
	char want[64];
	snprintf(want, sizeof(want), "127.0.0.1:%d", fd >= 0 ?
	    th_local_port(fd) : 0);
	ok(fd >= 0 && th_ask_peer(fd, peer, sizeof(peer)) == 0 &&
	    strcmp(peer, want) == 0, "plain listener: peer %s", want);
	if (fd >= 0)
		close(fd);
	is_int(th_stat(d, -1, "proxy_errors"), 0, "no proxy_errors counted");
	ok(th_daemon_stop_clean(d) == 0, "server stops cleanly");
	return th_exit(done_testing());
}
