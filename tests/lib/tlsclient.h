/*
 * tlsclient.h - a small blocking TLS client for the reload tests
 * (t150, t151): connect, handshake verifying "localhost" against the
 * given trust file, TLV frames over it, the server's certificate, and
 * the probe made of them (tlsc_echoes).  Certificates are made with tlsc_make_certs().
 */
#ifndef TAO_TESTS_TLSCLIENT_H
#define TAO_TESTS_TLSCLIENT_H

#include <stddef.h>
#include <stdint.h>

struct ssl_st;
struct ssl_ctx_st;

struct tlsc {
	int		 fd;
	struct ssl_st	*ssl;
	char		 err[256];
};

/*
 * In th_dir(): srv.pem/srv.key and srv2.pem/srv2.key (self-signed,
 * CN=localhost, SAN DNS:localhost,IP:127.0.0.1), trust.pem (both),
 * cca.pem (a client CA) and cli.pem/cli.key (a client certificate it
 * signed).  Bails out if openssl fails.
 */
void		 tlsc_make_certs(void);
/* Trusting `trust`; presenting cert/key when not NULL. */
struct ssl_ctx_st *tlsc_ctx(const char *trust, const char *cert,
		    const char *key);
/* Connect to 127.0.0.1:port and handshake: 0, or -1 with t->err. */
int		 tlsc_open(struct tlsc *t, struct ssl_ctx_st *ctx, int port);
/* The same, writing pre[0..prelen) first (a PROXY header). */
int		 tlsc_open_after(struct tlsc *t, struct ssl_ctx_st *ctx,
		    int port, const void *pre, size_t prelen);
void		 tlsc_close(struct tlsc *t);
/* One TLV frame out, one back (payload into out, at most cap): 0/-1. */
int		 tlsc_request(struct tlsc *t, int32_t type, const void *data,
		    size_t len, int32_t *rtype, void *out, size_t cap,
		    uint32_t *rlen);
/* Send one TLV frame of len th_fill(seed) bytes and expect it back. */
int		 tlsc_echo(struct tlsc *t, int32_t type, size_t len,
		    uint32_t seed);
/* 1 if the peer's certificate is the one in pem_path, 0 if not. */
int		 tlsc_peer_is(struct tlsc *t, const char *pem_path);
/*
 * The probe of a tls listener: connect to port trusting ctx, handshake,
 * echo one TLV frame (type, len bytes of th_fill(th_rand()): main thread
 * only), and if want_cert is not NULL check that the server presented
 * the certificate in that file; close.  1 if all of it worked; 0 with
 * why set to "tls: ..." or "tls echo: ..." if not.
 */
int		 tlsc_echoes(int port, struct ssl_ctx_st *ctx, int32_t type,
		    size_t len, const char *want_cert, char *why,
		    size_t whylen);

#endif
