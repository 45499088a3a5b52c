/*
 * t272-proxy-tls: `listen ... tls proxy` reads the PROXY header before
 * the TLS handshake: a v1 header then the handshake, a v2 header with
 * the ClientHello in the same segment (TCP_CORK holds both), the peer
 * in tao_conn_peer and taoctl conns is the header's client; a TLS
 * client that sends no header is closed and counted.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tao.h"
#include "tap.h"
#include "lib/harness.h"
#include "lib/proxyhdr.h"
#include "lib/tlsclient.h"

static struct th_daemon *d;
static SSL_CTX *ctx;

static int
ask(struct tlsc *t, char *peer, size_t cap)
{
	int32_t type;
	uint32_t len;

	if (tlsc_request(t, TH_PEER_ASK, NULL, 0, &type, peer, cap - 1, &len)
	    == -1 || type != TH_PEER_ASK)
		return -1;
	peer[len] = '\0';
	return 0;
}

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
	return 0;
}

/* v2 header and ClientHello in one segment: cork, write the header,
 * let SSL_connect add its hello; the kernel sends both together. */
static void
corked(void)
{
	struct tlsc t;
	uint8_t h[128];
	char peer[64] = "";
	size_t n = th_proxy_v2(h, sizeof(h), 0, 6, "2001:db8::7", "::1", 9999,
	    443, (const uint8_t *)"\x04\x00\x01z", 4);
	int one = 1, fd = th_connect(d->port[0]);

	memset(&t, 0, sizeof(t));
	t.fd = fd;
	if (fd < 0 || setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one,
	    sizeof(one)) == -1 || th_write_all(fd, h, n) == -1 ||
	    (t.ssl = SSL_new(ctx)) == NULL || SSL_set_fd(t.ssl, fd) != 1 ||
	    SSL_set1_host(t.ssl, "localhost") != 1 ||
	    SSL_connect(t.ssl) != 1) {
		ok(0, "v2 + ClientHello in one segment: handshake");
		ok(0, "  peer");
	} else {
		ok(1, "v2 + ClientHello in one segment: handshake");
		one = 0;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof(one));
		ok(ask(&t, peer, sizeof(peer)) == 0 &&
		    strcmp(peer, "[2001:db8::7]:9999") == 0, "  peer %s", peer);
	}
	tlsc_close(&t);
}

int
main(void)
{
	char cfg[1024], h[128], peer[64] = "";
	struct tlsc t;
	size_t n;

	plan(8);
	th_init("t272-proxy-tls", 60);
	tlsc_make_certs();
	snprintf(cfg, sizeof(cfg), "workers 1\nlisten 127.0.0.1:0 tlv tls "
	    "proxy\ntls_cert %s/srv.pem\ntls_key %s/srv.key\n", th_dir(),
	    th_dir());
	if ((d = th_daemon_fork(cfg, th_peer_server, NULL)) == NULL)
		bail("server did not start");
	snprintf(cfg, sizeof(cfg), "%s/trust.pem", th_dir());
	ctx = tlsc_ctx(cfg, NULL, NULL);
	n = th_proxy_v1(h, sizeof(h), "TCP4", "192.0.2.9", "10.1.1.1", 3333,
	    443);
	ok(tlsc_open_after(&t, ctx, d->port[0], h, n) == 0, "v1 header, then "
	    "the handshake (%s)", t.err);
	ok(ask(&t, peer, sizeof(peer)) == 0 &&
	    strcmp(peer, "192.0.2.9:3333") == 0, "  tao_conn_peer %s", peer);
	ok(conns_have("192.0.2.9:3333"), "  taoctl conns shows it");
	tlsc_close(&t);
	corked();
	ok(tlsc_open(&t, ctx, d->port[0]) == -1, "TLS without a header: "
	    "refused");
	tlsc_close(&t);
	is_int(th_stat(d, -1, "proxy_errors"), 1, "  counted in proxy_errors");
	ok(th_daemon_stop_clean(d) == 0, "server stops cleanly");
	SSL_CTX_free(ctx);
	return th_exit(done_testing());
}
