/*
 * t273-access-rules: per-listener allow/deny, first match wins, no match
 * allows, judged on the real peer: directly connected IPv4 and IPv6
 * clients, and clients named by a PROXY header (v1 and v2, IPv4, IPv6,
 * IPv4-mapped IPv6 judged as IPv4, UNKNOWN judged on the socket's own
 * address).  Refusals are counted in `denied` and logged at most once a
 * second.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "tap.h"
#include "lib/harness.h"
#include "lib/proxyhdr.h"

static struct th_daemon *d;
static int ndenied;

static int
connect6(int port)
{
	struct sockaddr_in6 s6;
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	s6.sin6_port = htons((uint16_t)port);
	s6.sin6_addr = in6addr_loopback;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&s6, sizeof(s6)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Connected fd (header already sent): 1 served, 0 closed. */
static int
served(int fd)
{
	char peer[64];

	if (fd < 0)
		return -1;
	int rc = th_ask_peer(fd, peer, sizeof(peer)) == 0 ? 1 :
	    th_wait_closed(fd, th_ms(3000)) == 0 ? 0 : -1;
	close(fd);
	return rc;
}

static void
expect(int got, int want, const char *what)
{
	if (want == 0)
		ndenied++;
	ok(got == want, "%s: %s", what, want ? "allowed" : "denied");
}

static void
proxied(const char *what, int v2, int fam, const char *src, int want)
{
	uint8_t h[256];
	size_t n;
	int fd = th_connect(d->port[4]);

	if (fam == 0)
		n = v2 ? th_proxy_v2(h, sizeof(h), 1, 0, NULL, NULL, 0, 0,
		    NULL, 0) : th_proxy_v1((char *)h, sizeof(h), "UNKNOWN",
		    NULL, NULL, 0, 0);
	else if (v2)
		n = th_proxy_v2(h, sizeof(h), 0, fam, src, fam == 4 ?
		    "10.0.0.1" : "2001:db8::ff", 1111, 7000, NULL, 0);
	else
		n = th_proxy_v1((char *)h, sizeof(h), fam == 4 ? "TCP4" :
		    "TCP6", src, fam == 4 ? "10.0.0.1" : "2001:db8::ff", 1111,
		    7000);
	if (fd >= 0 && th_write_all(fd, h, n) == -1) {
		close(fd);
		fd = -1;
	}
	expect(served(fd), want, what);
}

static const char config[] =
    "workers 2\n"
    "listen 127.0.0.1:0 tlv\n"		/* 0: direct v4, denied */
    "deny 127.0.0.1\n"
    "allow all\n"
    "listen 127.0.0.1:0 tlv\n"		/* 1: direct v4, allowed */
    "allow 127.0.0.0/8\n"
    "deny all\n"
    "listen [::1]:0 tlv\n"		/* 2: direct v6, allowed */
    "deny 2001:db8::/32\n"
    "allow ::1\n"
    "deny all\n"
    "listen [::1]:0 tlv\n"		/* 3: direct v6, denied */
    "allow 127.0.0.1\n"			/* an IPv4 rule: no match */
    "deny ::1/128\n"
    "listen 127.0.0.1:0 tlv proxy\n"	/* 4: the header's client */
    "allow 192.0.2.1\n"
    "deny 192.0.2.0/24\n"
    "allow 2001:db8::1\n"
    "deny 2001:db8::/32\n"
    "allow 10.0.0.0/8\n"
    "allow ::ffff:198.51.100.0/120\n"	/* the IPv4 rule 198.51.100.0/24 */
    "deny all\n"
    "listen 127.0.0.1:0 tlv\n"		/* 5: no rules: everyone */
    "listen 127.0.0.1:0 tlv\n"		/* 6: no rule matches: allowed */
    "deny 10.0.0.0/8\n"
    "deny ::/0\n";

int
main(void)
{
	double t0;
	int lines;

	plan(24);
	th_init("t273-access-rules", 60);
	if ((d = th_daemon_fork(config, th_peer_server, NULL)) == NULL ||
	    d->nports != 7)
		bail("server did not start");
	t0 = th_now_ms();
	expect(served(th_connect(d->port[0])), 0, "direct 127.0.0.1, "
	    "deny 127.0.0.1 first");
	expect(served(th_connect(d->port[1])), 1, "direct 127.0.0.1, "
	    "allow 127.0.0.0/8 first");
	expect(served(connect6(d->port[2])), 1, "direct ::1, allow ::1");
	expect(served(connect6(d->port[3])), 0, "direct ::1, an IPv4 rule "
	    "skipped, deny ::1/128");
	expect(served(th_connect(d->port[5])), 1, "no rules");
	expect(served(th_connect(d->port[6])), 1, "no rule matches "
	    "127.0.0.1 (deny 10.0.0.0/8, deny ::/0)");
	proxied("v1 192.0.2.1 (allowed before its /24 is denied)", 0, 4,
	    "192.0.2.1", 1);
	proxied("v1 192.0.2.2", 0, 4, "192.0.2.2", 0);
	proxied("v2 192.0.2.1", 1, 4, "192.0.2.1", 1);
	proxied("v2 192.0.2.200", 1, 4, "192.0.2.200", 0);
	proxied("v1 2001:db8::1", 0, 6, "2001:db8::1", 1);
	proxied("v2 2001:db8::2", 1, 6, "2001:db8::2", 0);
	proxied("v2 10.20.30.40", 1, 4, "10.20.30.40", 1);
	proxied("v2 ::ffff:10.1.2.3 as IPv4", 1, 6, "::ffff:10.1.2.3", 1);
	proxied("v2 ::ffff:192.0.2.2 as IPv4", 1, 6, "::ffff:192.0.2.2", 0);
	proxied("v1 198.51.100.5 (rule in mapped form)", 0, 4,
	    "198.51.100.5", 1);
	proxied("v2 203.0.113.1 (deny all)", 1, 4, "203.0.113.1", 0);
	proxied("v2 2001:db9::1 (deny all)", 1, 6, "2001:db9::1", 0);
	proxied("v1 UNKNOWN: the socket's 127.0.0.1 (deny all)", 0, 0, NULL,
	    0);
	proxied("v2 LOCAL: the socket's 127.0.0.1 (deny all)", 1, 0, NULL, 0);
	/* A burst of refusals logs at most a line a second per worker. */
	for (int i = 0; i < 20; i++)
		(void)served(th_connect(d->port[0]));
	ndenied += 20;
	is_int(th_stat(d, -1, "denied"), ndenied, "denied counts every "
	    "refusal (%d)", ndenied);
	lines = th_daemon_log_count(d, "denied by the listener");
	double secs = (th_now_ms() - t0) / 1000;
	ok(lines >= 1 && lines <= 2 * ((int)secs + 1), "refusals logged %d "
	    "times in %.1f s (at most once a second per worker)", lines, secs);
	is_int(th_stat(d, -1, "refused"), 0, "  none counted as refused");
	ok(th_daemon_stop_clean(d) == 0, "server stops cleanly");
	return th_exit(done_testing());
}
