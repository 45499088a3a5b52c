/*
 * tls.c - the client's TLS, with OpenSSL 3 (no deprecated API).
 *
 * One SSL_CTX per client, made in tao_client_connect so that a bad CA
 * file or key fails there, at once, not on every attempt.  One SSL object
 * per connection; the session the server sends (a TLS 1.3 ticket arrives
 * after the handshake, hence the new-session callback rather than
 * SSL_get1_session at the end) is offered again on the next connection,
 * so a reconnect resumes instead of doing a full handshake.
 *
 * Verification is on unless tls_no_verify: the chain against the CA file
 * (or the system's paths), then the name: SSL_set1_host for a DNS name
 * (also sent as SNI), the certificate's IP entries for an IP address.
 * Errors are turned into one line, "certificate verify failed:
 * certificate has expired", "hostname mismatch", "wrong version number",
 * from the verify result first (its reason is the precise one), then the
 * error queue.
 *
 * Writes go through a socket BIO whose write is send(MSG_NOSIGNAL):
 * OpenSSL's own socket BIO uses write(2), which raises SIGPIPE on a reset
 * connection.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "client/client.h"

static BIO_METHOD	*nosig_method;
static pthread_once_t	 nosig_once = PTHREAD_ONCE_INIT;

static int
nosig_write(BIO *b, const char *buf, int len)
{
	int fd = -1;
	ssize_t n;

	(void)BIO_get_fd(b, &fd);
	BIO_clear_retry_flags(b);
	n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
	if (n == -1 && BIO_sock_should_retry(-1))
		BIO_set_retry_write(b);
	return (int)n;
}

static int
nosig_puts(BIO *b, const char *s)
{
	return nosig_write(b, s, (int)strlen(s));
}

/* OpenSSL's socket BIO with our write; made once per process. */
static void
nosig_init(void)
{
	const BIO_METHOD *sock = BIO_s_socket();
	BIO_METHOD *m;

	m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
	    BIO_TYPE_DESCRIPTOR, "tao socket");
	if (m == NULL)
		return;
	if (!BIO_meth_set_write(m, nosig_write) ||
	    !BIO_meth_set_puts(m, nosig_puts) ||
	    !BIO_meth_set_read(m, BIO_meth_get_read(sock)) ||
	    !BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock)) ||
	    !BIO_meth_set_create(m, BIO_meth_get_create(sock)) ||
	    !BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock))) {
		BIO_meth_free(m);
		return;
	}
	nosig_method = m;
}

static int
new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct tao_client *c = SSL_get_app_data(ssl);

	if (c == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;	/* not kept: OpenSSL frees it */
	SSL_SESSION_free(c->c_session);
	c->c_session = sess;
	return 1;		/* the reference is ours now */
}

/*
 * The OpenSSL error queue as one reason, e.g. "wrong version number": the
 * newest entry names the failure best, except that a failed system call
 * (a CA file that cannot be opened) is told by its errno.
 */
static void
queue_error(char *err, size_t errlen, const char *otherwise)
{
	unsigned long code, last = 0, sys = 0;
	const char *reason;

	while ((code = ERR_get_error()) != 0) {
		if (ERR_SYSTEM_ERROR(code) && sys == 0)
			sys = code;
		last = code;
	}
	if (sys != 0)
		snprintf(err, errlen, "%s", strerror(ERR_GET_REASON(sys)));
	else if (last != 0 && (reason = ERR_reason_error_string(last)) != NULL)
		snprintf(err, errlen, "%s", reason);
	else if (last != 0)
		snprintf(err, errlen, "OpenSSL error %08lx", last);
	else
		snprintf(err, errlen, "%s", otherwise);
}

static int
setup_error(struct tao_client *c, const char *what, const char *path)
{
	char err[256];

	queue_error(err, sizeof(err), "failed");
	fprintf(stderr, "tao client %s: %s %s: %s\n", c->c_addr, what,
	    path ? path : "", err);
	errno = EPROTO;
	return -1;
}

int
tao__tls_ctx_new(struct tao_client *c)
{
	const struct tao_client_opts *o = &c->c_opts;
	SSL_CTX *ctx;

	ERR_clear_error();
	if (pthread_once(&nosig_once, nosig_init) != 0 || nosig_method == NULL)
		return setup_error(c, "TLS set-up", NULL);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return setup_error(c, "TLS set-up", NULL);
	c->c_ssl_ctx = ctx;
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* A server closing without close_notify is an ordinary EOF: frames
	 * carry their own lengths, a cut one is never delivered. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session);
	if (!o->tls_no_verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (o->tls_ca_file != NULL) {
			if (!SSL_CTX_load_verify_locations(ctx, o->tls_ca_file,
			    NULL))
				return setup_error(c, "CA file",
				    o->tls_ca_file);
		} else if (!SSL_CTX_set_default_verify_paths(ctx))
			return setup_error(c, "default CA paths", NULL);
	}
	if (o->tls_cert_file != NULL) {
		if (!SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert_file))
			return setup_error(c, "certificate", o->tls_cert_file);
		if (!SSL_CTX_use_PrivateKey_file(ctx, o->tls_key_file,
		    SSL_FILETYPE_PEM))
			return setup_error(c, "key", o->tls_key_file);
		if (!SSL_CTX_check_private_key(ctx))
			return setup_error(c, "key does not match",
			    o->tls_cert_file);
	}
	return 0;
}

void
tao__tls_ctx_free(struct tao_client *c)
{
	SSL_SESSION_free(c->c_session);
	c->c_session = NULL;
	SSL_CTX_free(c->c_ssl_ctx);
	c->c_ssl_ctx = NULL;
}

int
tao__tls_start(struct tao_client *c, char *err, size_t errlen)
{
	X509_VERIFY_PARAM *param;
	SSL *ssl;
	BIO *bio;

	ERR_clear_error();
	if ((ssl = SSL_new(c->c_ssl_ctx)) == NULL)
		goto fail;
	c->c_ssl = ssl;
	SSL_set_app_data(ssl, c);
	if ((bio = BIO_new(nosig_method)) == NULL)
		goto fail;
	BIO_set_fd(bio, c->c_w.lw_io.io_fd, BIO_NOCLOSE);
	SSL_set_bio(ssl, bio, bio);
	if (c->c_server_name != NULL) {
		if (!SSL_set_tlsext_host_name(ssl, c->c_server_name))
			goto fail;
		if (!c->c_opts.tls_no_verify &&
		    !SSL_set1_host(ssl, c->c_server_name))
			goto fail;
	} else if (!c->c_opts.tls_no_verify) {
		param = SSL_get0_param(ssl);
		if (!X509_VERIFY_PARAM_set1_ip_asc(param, c->c_host))
			goto fail;
	}
	if (c->c_session != NULL && !SSL_set_session(ssl, c->c_session))
		ERR_clear_error();	/* then a full handshake */
	SSL_set_connect_state(ssl);
	return 0;
fail:
	queue_error(err, errlen, "cannot set up TLS");
	return -1;
}

/* Why the handshake failed, in one line. */
static void
handshake_error(struct tao_client *c, int ret, char *err, size_t errlen)
{
	long vr = SSL_get_verify_result(c->c_ssl);
	int e = SSL_get_error(c->c_ssl, ret);

	if (vr != X509_V_OK) {
		snprintf(err, errlen, "certificate verify failed: %s",
		    X509_verify_cert_error_string(vr));
		ERR_clear_error();
	} else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		snprintf(err, errlen, "%s", errno != 0 ? strerror(errno) :
		    "the server closed the connection");
	else if (e == SSL_ERROR_ZERO_RETURN)
		snprintf(err, errlen, "the server closed the connection");
	else
		queue_error(err, errlen, "unknown error");
	ERR_clear_error();
}

int
tao__tls_handshake(struct tao_client *c, uint32_t *want, char *err,
    size_t errlen)
{
	int ret;

	ERR_clear_error();
	errno = 0;
	if ((ret = SSL_do_handshake(c->c_ssl)) == 1)
		return 1;
	switch (SSL_get_error(c->c_ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		*want = EPOLLIN;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*want = EPOLLOUT;
		return 0;
	default:
		handshake_error(c, ret, err, errlen);
		return -1;
	}
}

/* Shared by read and write: what an SSL_*_ex failure means. */
static ssize_t
io_error(struct tao_client *c, int ret, uint32_t *want, char *err,
    size_t errlen)
{
	switch (SSL_get_error(c->c_ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		*want = 0;		/* EPOLLIN is always asked for */
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*want = EPOLLOUT;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		err[0] = '\0';		/* close_notify, or a plain EOF */
		return -1;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			if (errno == 0)
				err[0] = '\0';
			else
				snprintf(err, errlen, "%s", strerror(errno));
			return -1;
		}
		/* FALLTHROUGH */
	default:
		queue_error(err, errlen, "unknown error");
		return -1;
	}
}

ssize_t
tao__tls_read(struct tao_client *c, void *buf, size_t len, uint32_t *want,
    char *err, size_t errlen)
{
	size_t n = 0;
	int ret;

	ERR_clear_error();
	errno = 0;
	if ((ret = SSL_read_ex(c->c_ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	return io_error(c, ret, want, err, errlen);
}

ssize_t
tao__tls_write(struct tao_client *c, const void *buf, size_t len,
    uint32_t *want, char *err, size_t errlen)
{
	size_t n = 0;
	int ret;

	ERR_clear_error();
	errno = 0;
	if ((ret = SSL_write_ex(c->c_ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	if (io_error(c, ret, want, err, errlen) == 0)
		return 0;
	if (err[0] == '\0')
		snprintf(err, errlen, "the server closed the connection");
	return -1;
}

/* Decrypted bytes waiting (not merely an unfinished record). */
int
tao__tls_pending(const struct tao_client *c)
{
	return SSL_pending(c->c_ssl) > 0;
}

void
tao__tls_end(struct tao_client *c, int clean)
{
	if (clean && SSL_is_init_finished(c->c_ssl))
		(void)SSL_shutdown(c->c_ssl);	/* close_notify, no wait */
	SSL_free(c->c_ssl);
	c->c_ssl = NULL;
	ERR_clear_error();
}
