/*
 * tls.c - `tao-bench --tls`: the bench's connections over TLS (OpenSSL 3).
 *
 * One SSL_CTX for the whole run (SSL_new on it is thread-safe), one SSL
 * object per connection, driven non-blocking from the modes' epoll loops:
 * net.c calls these from bench_conn_read/flush when c_ssl is set, and
 * bench_connect_all / burst.c drive the handshake after the TCP connect.
 * No session is ever reused: every connection costs a full handshake, so
 * burst mode measures what a storm of new TLS clients costs the server.
 *
 * Verification happens only with --ca FILE (then the chain, and the host
 * given with -h as a name or an IP address); without it any certificate
 * is accepted: a load generator usually points at a test certificate.
 */
#include <sys/epoll.h>

#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bench.h"

static SSL_CTX		*ctx;
static const char	*verify_host;	/* NULL: no verification */
static int		 host_is_ip;

static void
print_errors(const char *what)
{
	unsigned long code = ERR_get_error();
	char buf[256];

	if (code == 0) {
		fprintf(stderr, "tao-bench: %s failed\n", what);
		return;
	}
	ERR_error_string_n(code, buf, sizeof(buf));
	fprintf(stderr, "tao-bench: %s: %s\n", what, buf);
	ERR_clear_error();
}

int
bench_tls_init(const struct bench_opts *o)
{
	struct in6_addr a6;
	struct in_addr a4;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		print_errors("SSL_CTX_new");
		return -1;
	}
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (o->o_ca_file == NULL)
		return 0;
	if (!SSL_CTX_load_verify_locations(ctx, o->o_ca_file, NULL)) {
		print_errors(o->o_ca_file);
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	verify_host = o->o_host;
	host_is_ip = inet_pton(AF_INET, o->o_host, &a4) == 1 ||
	    inet_pton(AF_INET6, o->o_host, &a6) == 1;
	return 0;
}

void
bench_tls_cleanup(void)
{
	SSL_CTX_free(ctx);
	ctx = NULL;
}

int
bench_tls_start(struct bench_conn *c)
{
	SSL *ssl;

	if ((ssl = SSL_new(ctx)) == NULL || !SSL_set_fd(ssl, c->c_fd))
		goto fail;
	if (verify_host != NULL && host_is_ip &&
	    !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), verify_host))
		goto fail;
	if (verify_host != NULL && !host_is_ip &&
	    (!SSL_set_tlsext_host_name(ssl, verify_host) ||
	    !SSL_set1_host(ssl, verify_host)))
		goto fail;
	SSL_set_connect_state(ssl);
	c->c_ssl = ssl;
	return 0;
fail:
	SSL_free(ssl);
	ERR_clear_error();
	return -1;
}

/* After a failed call: 0 with *want for a retry, -1 for an error. */
static int
retry(struct bench_conn *c, int ret, uint32_t *want)
{
	switch (SSL_get_error(c->c_ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		*want = EPOLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*want = EPOLLOUT;
		return 0;
	default:
		return -1;
	}
}

int
bench_tls_handshake(struct bench_conn *c, uint32_t *want)
{
	long vr;
	int ret;

	ERR_clear_error();
	if ((ret = SSL_do_handshake(c->c_ssl)) == 1)
		return 1;
	if (retry(c, ret, want) == 0)
		return 0;
	/* Say why once: a bad certificate fails every connection alike. */
	vr = SSL_get_verify_result(c->c_ssl);
	if (vr != X509_V_OK) {
		static int told;

		if (!told++)
			fprintf(stderr, "tao-bench: certificate verify failed: "
			    "%s\n", X509_verify_cert_error_string(vr));
	}
	ERR_clear_error();
	return -1;
}

ssize_t
bench_tls_read(struct bench_conn *c, void *buf, size_t len)
{
	uint32_t want;
	size_t n = 0;
	int ret;

	ERR_clear_error();
	if ((ret = SSL_read_ex(c->c_ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	if (SSL_get_error(c->c_ssl, ret) == SSL_ERROR_ZERO_RETURN) {
		errno = 0;			/* EOF */
		return -1;
	}
	if (retry(c, ret, &want) == 0)
		return 0;
	ERR_clear_error();
	if (errno == 0)
		errno = EPROTO;
	return -1;
}

ssize_t
bench_tls_write(struct bench_conn *c, const void *buf, size_t len)
{
	uint32_t want;
	size_t n = 0;
	int ret;

	ERR_clear_error();
	if ((ret = SSL_write_ex(c->c_ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	if (retry(c, ret, &want) == 0)
		return 0;
	ERR_clear_error();
	if (errno == 0)
		errno = EPROTO;
	return -1;
}

int
bench_tls_pending(const struct bench_conn *c)
{
	return c->c_ssl != NULL && SSL_pending(c->c_ssl) > 0;
}

void
bench_tls_free(struct bench_conn *c)
{
	SSL_free(c->c_ssl);
	c->c_ssl = NULL;
}
