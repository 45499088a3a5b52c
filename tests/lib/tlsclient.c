/*
 * tlsclient.c - see tlsclient.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tests/lib/harness.h"
#include "tests/lib/tlsclient.h"
#include "tests/tap.h"

static const char cert_script[] =
    "set -e; cd \"$0\"\n"
    "K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1'\n"
    "S='-subj /CN=localhost -addext subjectAltName=DNS:localhost,"
    "IP:127.0.0.1'\n"
    "openssl req -x509 $K -keyout srv.key -out srv.pem $S 2>/dev/null\n"
    "openssl req -x509 $K -keyout srv2.key -out srv2.pem $S 2>/dev/null\n"
    "cat srv.pem srv2.pem > trust.pem\n"
    "openssl req -x509 $K -keyout cca.key -out cca.pem -subj /CN=cca"
    " 2>/dev/null\n"
    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    " -keyout cli.key -out cli.csr -subj /CN=client 2>/dev/null\n"
    "openssl x509 -req -in cli.csr -CA cca.pem -CAkey cca.key"
    " -set_serial 7 -days 1 -out cli.pem 2>/dev/null\n";

void
tlsc_make_certs(void)
{
	const char *argv[] = { "sh", "-c", cert_script, th_dir(), NULL };
	static char out[8192];

	if (th_run(out, sizeof(out), th_ms(20000), argv) != 0) {
		diag("%s", out);
		bail("cannot make the test certificates with openssl");
	}
}

struct ssl_ctx_st *
tlsc_ctx(const char *trust, const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL || SSL_CTX_load_verify_file(ctx, trust) != 1)
		bail("client context");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cert != NULL && (SSL_CTX_use_certificate_file(ctx, cert,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key,
	    SSL_FILETYPE_PEM) != 1))
		bail("client certificate");
	return ctx;
}

static void
set_error(struct tlsc *t, const char *what)
{
	unsigned long code = ERR_get_error();
	char buf[160] = "";

	if (code != 0)
		ERR_error_string_n(code, buf, sizeof(buf));
	snprintf(t->err, sizeof(t->err), "%s: %s", what, buf[0] ? buf :
	    strerror(errno));
	ERR_clear_error();
}

void
tlsc_close(struct tlsc *t)
{
	if (t->ssl != NULL) {
		SSL_set_quiet_shutdown(t->ssl, 1);
		(void)SSL_shutdown(t->ssl);
		SSL_free(t->ssl);
		ERR_clear_error();
	}
	if (t->fd != -1)
		close(t->fd);
	t->ssl = NULL;
	t->fd = -1;
}

int
tlsc_open(struct tlsc *t, struct ssl_ctx_st *ctx, int port)
{
	return tlsc_open_after(t, ctx, port, NULL, 0);
}

int
tlsc_open_after(struct tlsc *t, struct ssl_ctx_st *ctx, int port,
    const void *pre, size_t prelen)
{
	memset(t, 0, sizeof(*t));
	ERR_clear_error();
	if ((t->fd = th_connect(port)) == -1) {
		snprintf(t->err, sizeof(t->err), "connect: %s",
		    strerror(errno));
		return -1;
	}
	if (prelen > 0 && th_write_all(t->fd, pre, prelen) == -1) {
		snprintf(t->err, sizeof(t->err), "write: %s", strerror(errno));
		tlsc_close(t);
		return -1;
	}
	if ((t->ssl = SSL_new(ctx)) == NULL ||
	    SSL_set_fd(t->ssl, t->fd) != 1 ||
	    SSL_set_tlsext_host_name(t->ssl, "localhost") != 1 ||
	    SSL_set1_host(t->ssl, "localhost") != 1)
		bail("client SSL");
	if (SSL_connect(t->ssl) != 1) {
		set_error(t, "handshake");
		tlsc_close(t);
		return -1;
	}
	return 0;
}

static int
io_all(struct tlsc *t, void *buf, size_t len, int writing)
{
	size_t n;

	while (len > 0) {
		if ((writing ? SSL_write_ex(t->ssl, buf, len, &n) :
		    SSL_read_ex(t->ssl, buf, len, &n)) != 1) {
			set_error(t, writing ? "write" : "read");
			return -1;
		}
		buf = (char *)buf + n;
		len -= n;
	}
	return 0;
}

int
tlsc_request(struct tlsc *t, int32_t type, const void *data, size_t len,
    int32_t *rtype, void *out, size_t cap, uint32_t *rlen)
{
	uint8_t hdr[TH_HEADER];

	th_put_header(hdr, type, (uint32_t)len);
	if (io_all(t, hdr, sizeof(hdr), 1) == -1 || (len > 0 &&
	    io_all(t, (void *)(uintptr_t)data, len, 1) == -1) ||
	    io_all(t, hdr, sizeof(hdr), 0) == -1)
		return -1;
	th_get_header(hdr, rtype, rlen);
	if (*rlen > cap) {
		snprintf(t->err, sizeof(t->err), "reply of %u bytes", *rlen);
		return -1;
	}
	return *rlen > 0 ? io_all(t, out, *rlen, 0) : 0;
}

int
tlsc_echo(struct tlsc *t, int32_t type, size_t len, uint32_t seed)
{
	uint8_t *out = malloc(TH_HEADER + len), *in = malloc(TH_HEADER + len);
	int32_t got_type;
	uint32_t got_len;
	int rc = -1;

	if (out == NULL || in == NULL)
		bail("out of memory");
	th_put_header(out, type, (uint32_t)len);
	th_fill(out + TH_HEADER, len, seed);
	if (io_all(t, out, TH_HEADER + len, 1) == 0 &&
	    io_all(t, in, TH_HEADER, 0) == 0) {
		th_get_header(in, &got_type, &got_len);
		if (got_type == type && got_len == len &&
		    io_all(t, in + TH_HEADER, len, 0) == 0 &&
		    memcmp(in, out, TH_HEADER + len) == 0)
			rc = 0;
		else if (t->err[0] == '\0')
			snprintf(t->err, sizeof(t->err), "not an echo");
	}
	free(out);
	free(in);
	return rc;
}

int
tlsc_peer_is(struct tlsc *t, const char *pem_path)
{
	X509 *peer = SSL_get1_peer_certificate(t->ssl), *want = NULL;
	FILE *fp = fopen(pem_path, "r");
	int same = 0;

	if (fp != NULL) {
		want = PEM_read_X509(fp, NULL, NULL, NULL);
		fclose(fp);
	}
	if (peer != NULL && want != NULL)
		same = X509_cmp(peer, want) == 0;
	X509_free(peer);
	X509_free(want);
	return same;
}

int
tlsc_echoes(int port, struct ssl_ctx_st *ctx, int32_t type, size_t len,
    const char *want_cert, char *why, size_t whylen)
{
	struct tlsc t;
	int rc;

	if (tlsc_open(&t, ctx, port) == -1) {
		snprintf(why, whylen, "tls: %s", t.err);
		return 0;
	}
	rc = tlsc_echo(&t, type, len, th_rand()) == 0;
	if (!rc)
		snprintf(why, whylen, "tls echo: %s", t.err);
	if (rc && want_cert != NULL && !tlsc_peer_is(&t, want_cert)) {
		snprintf(why, whylen, "tls: the server presented another "
		    "certificate");
		rc = 0;
	}
	tlsc_close(&t);
	return rc;
}
