/*
 * proxyhdr.h - PROXY protocol headers for the tests (t270-t279), and a
 * small libtao server that tells a client its peer as the server sees it.
 */
#ifndef TAO_TESTS_PROXYHDR_H
#define TAO_TESTS_PROXYHDR_H

#include <stddef.h>
#include <stdint.h>

#define TH_PEER_ASK	1	/* frame type: reply is tao_conn_peer() */
#define TH_PEER_ECHO	2	/* frame type: echoed */

/* "PROXY TCP4 src dst sport dport\r\n" (fam "TCP4", "TCP6", or
 * "UNKNOWN" with no addresses); its length. */
size_t	th_proxy_v1(char *buf, size_t cap, const char *fam, const char *src,
	    const char *dst, int sport, int dport);
/*
 * A v2 header: local 1 for LOCAL (no addresses), family 4 or 6, then
 * tlvlen bytes of TLVs (already encoded) appended; its length.
 */
size_t	th_proxy_v2(uint8_t *buf, size_t cap, int local, int family,
	    const char *src, const char *dst, int sport, int dport,
	    const uint8_t *tlvs, size_t tlvlen);
/* th_daemon_fork's run: a server answering TH_PEER_ASK and TH_PEER_ECHO
 * frames on the listeners of conf. */
int	th_peer_server(const char *conf, void *arg);
/* Ask over fd (the header already sent): 0 with out filled, -1. */
int	th_ask_peer(int fd, char *out, size_t cap);

#endif
