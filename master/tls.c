/*
 * tls.c - building the server's SSL_CTX from the configuration (see tls.h).
 *
 * Everything that can fail is done here, in the master, before any worker
 * exists: an unreadable file, a certificate OpenSSL cannot parse, a key
 * that does not belong to the certificate.  `taod -t` and `taoctl reload`
 * therefore report the problem while the running generation is untouched,
 * and a worker never meets a half-loaded context.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "master/config.h"
#include "master/tls.h"

/* Sessions of different servers must not mix; the value is arbitrary. */
static const unsigned char session_context[] = "taod";

int
tao__mtls_needed(const struct tao_config *cf)
{
	for (int i = 0; i < cf->cf_nlistens; i++)
		if (cf->cf_listens[i].lc_tls)
			return 1;
	return 0;
}

/* Encrypted keys are not supported: refuse instead of prompting on a
 * terminal (a daemon has none; `taod -t` would hang). */
static int
no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return 0;
}

static const char *
conf_name(const struct tao_config *cf)
{
	return cf->cf_file[0] != '\0' ? cf->cf_file : "config";
}

/* Can we read path at all?  strerror beats OpenSSL's "system lib". */
static int
readable(const struct tao_config *cf, const char *what, const char *path,
    char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd == -1 || fstat(fd, &st) == -1)
		rc = -1;
	else if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		rc = -1;
	}
	if (rc == -1)
		snprintf(err, errlen, "%s: %s %s: %s", conf_name(cf), what,
		    path, strerror(errno));
	if (fd != -1)
		close(fd);
	return rc;
}

/*
 * "CONF: what PATH: problem (OpenSSL: reason)", the error queue emptied.
 * The first error queued is the root cause ("no start line"); the last
 * one only says which call failed ("PEM lib").
 */
static int
openssl_failed(const struct tao_config *cf, const char *what,
    const char *path, const char *problem, char *err, size_t errlen)
{
	unsigned long e = ERR_peek_error();
	const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;

	snprintf(err, errlen, "%s: %s %s: %s (OpenSSL: %s)", conf_name(cf),
	    what, path, problem, reason != NULL ? reason : "no reason given");
	ERR_clear_error();
	return -1;
}

static int
key_mismatch(const struct tao_config *cf, char *err, size_t errlen)
{
	ERR_clear_error();
	snprintf(err, errlen, "%s: tls_key %s does not match the certificate "
	    "in tls_cert %s", conf_name(cf), cf->cf_tls_key, cf->cf_tls_cert);
	return -1;
}

static int
load_identity(SSL_CTX *ctx, const struct tao_config *cf, char *err,
    size_t errlen)
{
	if (readable(cf, "tls_cert", cf->cf_tls_cert, err, errlen) == -1 ||
	    readable(cf, "tls_key", cf->cf_tls_key, err, errlen) == -1)
		return -1;
	unsigned long e;

	if (SSL_CTX_use_certificate_chain_file(ctx, cf->cf_tls_cert) != 1)
		return openssl_failed(cf, "tls_cert", cf->cf_tls_cert,
		    "no usable PEM certificate chain", err, errlen);
	if (SSL_CTX_use_PrivateKey_file(ctx, cf->cf_tls_key,
	    SSL_FILETYPE_PEM) != 1) {
		/* OpenSSL compares the key with the certificate here. */
		e = ERR_peek_error();
		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
			return key_mismatch(cf, err, errlen);
		return openssl_failed(cf, "tls_key", cf->cf_tls_key,
		    "no usable PEM private key (encrypted keys are not "
		    "supported)", err, errlen);
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		return key_mismatch(cf, err, errlen);
	return 0;
}

/* Require a client certificate signed by one of the CAs in the file. */
static int
load_client_ca(SSL_CTX *ctx, const struct tao_config *cf, char *err,
    size_t errlen)
{
	const char *path = cf->cf_tls_client_ca;
	STACK_OF(X509_NAME) *names;

	if (readable(cf, "tls_client_ca", path, err, errlen) == -1)
		return -1;
	if (SSL_CTX_load_verify_file(ctx, path) != 1 ||
	    (names = SSL_load_client_CA_file(path)) == NULL)
		return openssl_failed(cf, "tls_client_ca", path,
		    "no usable PEM CA certificates", err, errlen);
	SSL_CTX_set_client_CA_list(ctx, names);	/* takes names */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return 0;
}

/*
 * Resumption uses tickets only: the ticket keys are shared by all workers
 * of the generation (see tls.h), a per-process session cache would not
 * be.  One TLS 1.3 ticket per full handshake, not OpenSSL's two: a client
 * resumes with one, and each ticket costs the server an encrypted session
 * and a record (bench/RESULTS.md, tls-hs).  The session id context is
 * required once client certificates are verified, harmless otherwise.
 */
static int
set_up_sessions(SSL_CTX *ctx, const struct tao_config *cf, char *err,
    size_t errlen)
{
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_num_tickets(ctx, 1) != 1) {
		snprintf(err, errlen, "%s: cannot set the TLS ticket count",
		    conf_name(cf));
		return -1;
	}
	if (SSL_CTX_set_session_id_context(ctx, session_context,
	    sizeof(session_context) - 1) != 1) {
		snprintf(err, errlen, "%s: cannot set the TLS session context",
		    conf_name(cf));
		return -1;
	}
	return 0;
}

SSL_CTX *
tao__mtls_ctx_new(const struct tao_config *cf, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errlen, "%s: cannot create a TLS context",
		    conf_name(cf));
		ERR_clear_error();
		return NULL;
	}
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		snprintf(err, errlen, "%s: cannot require TLS 1.2",
		    conf_name(cf));
		goto fail;
	}
	/*
	 * A peer closing without close_notify is an ordinary close (most
	 * clients do it); servers need no renegotiation, and a client asking
	 * for it is a known way to make a server burn CPU.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/*
	 * The worker's write BIO never blocks (worker/tls_out.h), so no
	 * partial writes: SSL_write_ex encrypts all it is given (a bounded
	 * slice of the output queue) with one record buffer, not one per
	 * record.  A retry after WANT_READ passes the same bytes, possibly
	 * with more behind them.  Idle connections give their record
	 * buffers back.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	    SSL_MODE_RELEASE_BUFFERS);
	if (set_up_sessions(ctx, cf, err, errlen) == -1)
		goto fail;
	if (load_identity(ctx, cf, err, errlen) == -1)
		goto fail;
	if (cf->cf_tls_client_ca[0] != '\0' &&
	    load_client_ca(ctx, cf, err, errlen) == -1)
		goto fail;
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

void
tao__mtls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);	/* NULL is fine */
}

int
tao__mtls_check(const struct tao_config *cf, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if (!tao__mtls_needed(cf))
		return 0;
	if ((ctx = tao__mtls_ctx_new(cf, err, errlen)) == NULL)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}
