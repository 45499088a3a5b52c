/*
 * proxyhdr.c - PROXY protocol headers for the tests, and the peer server.
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "tao.h"
#include "tests/lib/harness.h"
#include "tests/lib/proxyhdr.h"

static const uint8_t v2sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

size_t
th_proxy_v1(char *buf, size_t cap, const char *fam, const char *src,
    const char *dst, int sport, int dport)
{
	int n;

	if (strcmp(fam, "UNKNOWN") == 0)
		n = snprintf(buf, cap, "PROXY UNKNOWN\r\n");
	else
		n = snprintf(buf, cap, "PROXY %s %s %s %d %d\r\n", fam, src,
		    dst, sport, dport);
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t
th_proxy_v2(uint8_t *buf, size_t cap, int local, int family,
    const char *src, const char *dst, int sport, int dport,
    const uint8_t *tlvs, size_t tlvlen)
{
	size_t alen = local ? 0 : family == 4 ? 12 : 36, len = alen + tlvlen;
	uint8_t *p = buf + 16;
	uint16_t port;

	if (16 + len > cap)
		return 0;
	memcpy(buf, v2sig, 12);
	buf[12] = local ? 0x20 : 0x21;
	buf[13] = local ? 0x00 : family == 4 ? 0x11 : 0x21;
	buf[14] = (uint8_t)(len >> 8);
	buf[15] = (uint8_t)len;
	if (!local) {
		int af = family == 4 ? AF_INET : AF_INET6;
		size_t a = family == 4 ? 4 : 16;
		if (inet_pton(af, src, p) != 1 || inet_pton(af, dst, p + a)
		    != 1)
			return 0;
		port = htons((uint16_t)sport);
		memcpy(p + 2 * a, &port, 2);
		port = htons((uint16_t)dport);
		memcpy(p + 2 * a + 2, &port, 2);
	}
	if (tlvlen > 0)
		memcpy(p + alen, tlvs, tlvlen);
	return 16 + len;
}

static void
ask(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	char peer[TAO_CONN_PEER_MAX];
	int n;

	(void)m, (void)arg;
	if ((n = tao_conn_peer(c, peer, sizeof(peer))) < 0)
		n = snprintf(peer, sizeof(peer), "error %d", n);
	(void)tao_conn_send(c, TH_PEER_ASK, peer, (size_t)n);
}

static void
echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)arg;
	(void)tao_conn_send(c, m->type, m->data, m->len);
}

int
th_peer_server(const char *conf, void *arg)
{
	struct tao_server *s = tao_server_new();

	(void)arg;
	if (s == NULL || tao_server_config(s, conf) < 0 ||
	    tao_server_register(s, TH_PEER_ASK, NULL, ask, NULL) < 0 ||
	    tao_server_register(s, TH_PEER_ECHO, NULL, echo, NULL) < 0)
		return 1;
	return tao_server_run(s) < 0;
}

int
th_ask_peer(int fd, char *out, size_t cap)
{
	int32_t type;
	uint32_t len;

	if (th_send_frame(fd, TH_PEER_ASK, NULL, 0) == -1 ||
	    th_recv_frame(fd, &type, out, cap - 1, &len, th_ms(5000)) != 0 ||
	    type != TH_PEER_ASK)
		return -1;
	out[len] = '\0';
	return 0;
}
