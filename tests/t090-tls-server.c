/*
 * t090-tls-server - TLS listeners: handshake and I/O in the worker loop,
 * certificates loaded by the master, reloads, resumption, client
 * certificates.
 *
 * A throw-away CA, server and client certificates are made at run time
 * with the openssl command line in the test's temp dir.  The client is a
 * small blocking OpenSSL client that verifies the server against the
 * test CA and the name "localhost".
 *
 *  1. `taod -t`: a key that does not match the certificate, a missing
 *     key and a certificate that is not PEM fail with exit 1 and a
 *     message naming the file.
 *  2. TLS echo (workers 2, a tlv tls, a line tls and a plaintext tlv
 *     listener): 100 messages of random sizes up to 1 MiB come back
 *     intact over TLS 1.3, a few over TLS 1.2; `openssl s_client` gets a
 *     line echoed; a plaintext client and garbage on the TLS port are
 *     closed and counted while a TLS client keeps working.  With
 *     frame_timeout_ms 500, a client that connects and sends nothing is
 *     closed after it, one that finished its handshake is not.
 *  3. Resumption: a session issued by one worker resumes on the other
 *     (TLS 1.3 and TLS 1.2 tickets), every reconnection resumed.
 *  4. Reload: a key that cannot be read fails the reload with its name
 *     and changes nothing; a new certificate is what new connections
 *     see; an existing TLS connection in the middle of a frame gets its
 *     answer and then a clean close_notify, and a plaintext connection
 *     moves to the new generation and keeps echoing.
 *  5. tls_client_ca: no client certificate, or one from another CA,
 *     fails the handshake and is counted in `errors`; a client with a
 *     valid certificate echoes, and so does one connected before.
 *  6. An expired server certificate is refused by the verifying client
 *     (so the verification the other parts rely on is real).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
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
#include "tests/tap.h"

#define MIB		(1024 * 1024)
#define FRAME_MS	500

/* ---- certificates ----------------------------------------------------- */

static const char *
f(const char *name)
{
	static char bufs[8][320];
	static int next;
	char *p = bufs[next++ % 8];

	snprintf(p, sizeof(bufs[0]), "%s/%s", th_dir(), name);
	return p;
}

static const char cert_script[] =
    "set -e; cd \"$0\"\n"
    "K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
    "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.cnf\n"
    "openssl req -x509 $K -keyout ca.key -out ca.pem -days 1"
    " -subj '/CN=t090 CA'\n"
    "openssl req $K -keyout srv.key -out srv.csr -subj /CN=localhost\n"
    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -set_serial 1"
    " -days 1 -extfile san.cnf -out srv.pem\n"
    "openssl req $K -keyout srv2.key -out srv2.csr -subj /CN=localhost\n"
    "openssl x509 -req -in srv2.csr -CA ca.pem -CAkey ca.key -set_serial 2"
    " -days 1 -extfile san.cnf -out srv2.pem\n"
    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -set_serial 3"
    " -days -1 -extfile san.cnf -out expired.pem\n"
    "openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1"
    " -out other.key\n"
    "openssl req -x509 $K -keyout cca.key -out cca.pem -days 1"
    " -subj '/CN=t090 client CA'\n"
    "openssl req $K -keyout cli.key -out cli.csr -subj /CN=client\n"
    "openssl x509 -req -in cli.csr -CA cca.pem -CAkey cca.key -set_serial 4"
    " -days 1 -out cli.pem\n"
    "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -set_serial 5"
    " -days 1 -out rogue.pem\n"
    "echo 'not a certificate' > junk.pem\n";

static void
make_certs(void)
{
	const char *argv[] = { "sh", "-c", cert_script, th_dir(), NULL };
	static char out[16384];
	double t0 = th_now_ms();
	int rc;

	rc = th_run(out, sizeof(out), th_ms(20000), argv);
	if (rc != 0) {
		diag("%s", out);
		bail("cannot make the test certificates with openssl");
	}
	diag("certificates made in %.0f ms", th_now_ms() - t0);
}

/* SHA-256 of a certificate, from a PEM file or the peer of ssl. */
static int
fingerprint(X509 *x, unsigned char md[EVP_MAX_MD_SIZE])
{
	unsigned len = 0;

	return x != NULL && X509_digest(x, EVP_sha256(), md, &len) == 1 &&
	    len == 32 ? 0 : -1;
}

static int
file_fingerprint(const char *path, unsigned char md[EVP_MAX_MD_SIZE])
{
	FILE *fp = fopen(path, "r");
	X509 *x;
	int rc;

	if (fp == NULL)
		return -1;
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	rc = fingerprint(x, md);
	X509_free(x);
	return rc;
}

static int
peer_fingerprint(SSL *ssl, unsigned char md[EVP_MAX_MD_SIZE])
{
	X509 *x = SSL_get1_peer_certificate(ssl);
	int rc = fingerprint(x, md);

	X509_free(x);
	return rc;
}

/* ---- a blocking TLS client --------------------------------------------- */

struct tc {
	int	 fd;
	SSL	*ssl;
	char	 err[256];
};

/* Trusts the test CA (or ca); presents cert+key if given. */
static SSL_CTX *
client_ctx(const char *ca, int max_version, const char *cert,
    const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL || SSL_CTX_load_verify_file(ctx, ca) != 1)
		bail("client context");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (max_version != 0 && SSL_CTX_set_max_proto_version(ctx,
	    max_version) != 1)
		bail("client max version");
	if (cert != NULL && (SSL_CTX_use_certificate_file(ctx, cert,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key,
	    SSL_FILETYPE_PEM) != 1))
		bail("client certificate");
	return ctx;
}

/* OpenSSL's reason for the last failure into t->err. */
static void
tc_error(struct tc *t, const char *what, int rc)
{
	long v = t->ssl != NULL ? SSL_get_verify_result(t->ssl) : X509_V_OK;
	int e = t->ssl != NULL ? SSL_get_error(t->ssl, rc) : -1;
	unsigned long code = ERR_get_error();
	char buf[160] = "";

	if (code != 0)
		ERR_error_string_n(code, buf, sizeof(buf));
	snprintf(t->err, sizeof(t->err), "%s: ssl error %d, %s%s%s", what, e,
	    v != X509_V_OK ? X509_verify_cert_error_string(v) : "",
	    v != X509_V_OK ? "; " : "", buf[0] ? buf : strerror(errno));
	ERR_clear_error();
}

/* Shut down before freeing: SSL_free on a session that was not shut
 * down marks it not resumable. */
static void
tc_close(struct tc *t)
{
	if (t->ssl != NULL) {
		SSL_set_quiet_shutdown(t->ssl, 1);
		(void)SSL_shutdown(t->ssl);
		ERR_clear_error();
		SSL_free(t->ssl);
	}
	if (t->fd != -1)
		close(t->fd);
	t->ssl = NULL;
	t->fd = -1;
}

static int
tc_open(struct tc *t, SSL_CTX *ctx, int port, SSL_SESSION *sess)
{
	int rc;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	ERR_clear_error();
	if ((t->fd = th_connect(port)) == -1) {
		snprintf(t->err, sizeof(t->err), "connect: %s",
		    strerror(errno));
		return -1;
	}
	if ((t->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(t->ssl, t->fd) != 1
	    || SSL_set_tlsext_host_name(t->ssl, "localhost") != 1 ||
	    SSL_set1_host(t->ssl, "localhost") != 1 ||
	    (sess != NULL && SSL_set_session(t->ssl, sess) != 1))
		bail("client SSL");
	if ((rc = SSL_connect(t->ssl)) != 1) {
		tc_error(t, "handshake", rc);
		tc_close(t);
		return -1;
	}
	return 0;
}

static int
tc_write(struct tc *t, const void *buf, size_t len)
{
	size_t n;

	while (len > 0) {
		if (SSL_write_ex(t->ssl, buf, len, &n) != 1) {
			tc_error(t, "write", 0);
			return -1;
		}
		buf = (const char *)buf + n;
		len -= n;
	}
	return 0;
}

/* 0 read, 1 clean close (close_notify), -1 error. */
static int
tc_read(struct tc *t, void *buf, size_t len)
{
	size_t n;

	while (len > 0) {
		if (SSL_read_ex(t->ssl, buf, len, &n) != 1) {
			if (SSL_get_error(t->ssl, 0) == SSL_ERROR_ZERO_RETURN)
				return 1;
			tc_error(t, "read", 0);
			return -1;
		}
		buf = (char *)buf + n;
		len -= n;
	}
	return 0;
}

/* Read one TLV frame (payload of at most cap bytes): 0 or -1. */
static int
tc_frame(struct tc *t, int32_t *type, void *buf, size_t cap, uint32_t *len)
{
	uint8_t head[TH_HEADER];

	if (tc_read(t, head, TH_HEADER) != 0)
		return -1;
	th_get_header(head, type, len);
	if (*len > cap) {
		snprintf(t->err, sizeof(t->err), "frame of %u bytes", *len);
		return -1;
	}
	return tc_read(t, buf, *len) == 0 ? 0 : -1;
}

/* One TLV frame of len th_fill(seed) bytes, expect it back: 0 or -1. */
static int
tc_echo(struct tc *t, int32_t type, size_t len, uint32_t seed)
{
	static uint8_t *out, *in;
	uint8_t head[TH_HEADER];
	uint32_t got_len;
	int32_t got_type;

	if (out == NULL && ((out = malloc(MIB + TH_HEADER)) == NULL ||
	    (in = malloc(MIB)) == NULL))
		bail("out of memory");
	if (len > MIB)
		return -1;
	th_put_header(out, type, (uint32_t)len);
	th_fill(out + TH_HEADER, len, seed);
	if (tc_write(t, out, TH_HEADER + len) == -1 ||
	    tc_read(t, head, TH_HEADER) != 0)
		return -1;
	th_get_header(head, &got_type, &got_len);
	if (got_type != type || got_len != len || tc_read(t, in, len) != 0) {
		snprintf(t->err, sizeof(t->err), "bad reply: type %d length "
		    "%u", got_type, got_len);
		return -1;
	}
	if (memcmp(in, out + TH_HEADER, len) != 0) {
		snprintf(t->err, sizeof(t->err), "reply differs");
		return -1;
	}
	return 0;
}

/* Which worker serves the connection on fd (taoctl conns --json). */
static pid_t
conn_pid(struct th_daemon *d, int fd)
{
	struct th_conn_info ci[64];
	int n = th_conns(d, ci, 64), port = th_local_port(fd);

	for (int i = 0; i < n; i++)
		if (ci[i].peer_port == port)
			return ci[i].pid;
	return -1;
}

/* Wait until a counter reaches at least want; its last value. */
static long long
stat_reaches(struct th_daemon *d, const char *key, long long want)
{
	double end = th_now_ms() + th_ms(3000);
	long long v;

	while ((v = th_stat(d, -1, key)) < want && th_now_ms() < end)
		th_sleep_ms(10);
	return v;
}

/* Stop taod; under ASan its workers' leak checks report into its log. */
static void
stop_clean(struct th_daemon *d)
{
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	is_int(th_daemon_log_count(d, "Sanitizer") + th_daemon_log_count(d,
	    "runtime error") + th_daemon_log_count(d, "exited with code"), 0,
	    "no sanitizer report, every worker exited 0");
}

/* ---- 1. taod -t ------------------------------------------------------- */

static int
taod_check(const char *conf_text, char *out, size_t outlen)
{
	const char *conf = f("check.conf");
	const char *argv[] = { th_bin("taod"), "-t", "-c", conf, NULL };
	FILE *fp = fopen(conf, "w");

	if (fp == NULL || fputs(conf_text, fp) == EOF || fclose(fp) != 0)
		bail("cannot write check.conf");
	return th_run(out, outlen, th_ms(5000), argv);
}

static void
test_check(void)
{
	char conf[2048], out[4096], want[512];

	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv tls\n"
	    "tls_cert %s\ntls_key %s\n", f("srv.pem"), f("srv.key"));
	is_int(taod_check(conf, out, sizeof(out)), 0, "taod -t accepts a "
	    "matching certificate and key");

	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv tls\n"
	    "tls_cert %s\ntls_key %s\n", f("srv.pem"), f("other.key"));
	is_int(taod_check(conf, out, sizeof(out)), 1, "taod -t with a key "
	    "that does not match the certificate exits 1");
	snprintf(want, sizeof(want), "tls_key %s does not match the "
	    "certificate in tls_cert %s", f("other.key"), f("srv.pem"));
	ok(strstr(out, want) != NULL, "... saying so, with both names");
	diag("%s", out);

	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv tls\n"
	    "tls_cert %s\ntls_key %s\n", f("srv.pem"), f("missing.key"));
	is_int(taod_check(conf, out, sizeof(out)), 1, "taod -t with a "
	    "missing key exits 1");
	snprintf(want, sizeof(want), "tls_key %s: No such file",
	    f("missing.key"));
	ok(strstr(out, want) != NULL, "... naming the key file");

	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv tls\n"
	    "tls_cert %s\ntls_key %s\n", f("junk.pem"), f("srv.key"));
	is_int(taod_check(conf, out, sizeof(out)), 1, "taod -t with a "
	    "certificate that is not PEM exits 1");
	snprintf(want, sizeof(want), "tls_cert %s:", f("junk.pem"));
	ok(strstr(out, want) != NULL, "... naming the certificate file");
	diag("%s", out);
}

/* ---- 2. echo, s_client, bad clients, handshake timeout ----------------- */

static const char *
server_conf(const char *cert, const char *key)
{
	static char conf[2048];

	snprintf(conf, sizeof(conf),
	    "listen 127.0.0.1:0 tlv tls\n"
	    "listen 127.0.0.1:0 line tls\n"
	    "listen 127.0.0.1:0 tlv\n"
	    "app echo\nworkers 2\n"
	    "tls_cert %s\ntls_key %s\n", cert, key);
	return conf;
}

static void
test_echo(struct th_daemon *d, SSL_CTX *ctx, SSL_CTX *ctx12)
{
	struct tc t;
	int bad = 0, i;
	size_t total = 0;
	double t0;

	if (tc_open(&t, ctx, d->port[0], NULL) == -1)
		bail("%s", t.err);
	is_str(SSL_get_version(t.ssl), "TLSv1.3", "TLS 1.3 is negotiated");
	t0 = th_now_ms();
	for (i = 0; i < 100 && bad == 0; i++) {
		size_t len = i == 0 ? MIB : i == 1 ? 0 : th_rand() % (MIB + 1);
		if (tc_echo(&t, 1 + i, len, th_rand()) == -1) {
			diag("message %d (%zu bytes): %s", i, len, t.err);
			bad++;
		}
		total += len;
	}
	is_int(bad, 0, "100 messages of random sizes up to 1 MiB echo intact "
	    "over TLS");
	diag("%zu bytes each way in %.0f ms", total, th_now_ms() - t0);
	tc_close(&t);

	if (tc_open(&t, ctx12, d->port[0], NULL) == -1)
		bail("%s", t.err);
	is_str(SSL_get_version(t.ssl), "TLSv1.2", "a TLS 1.2 client is "
	    "served too");
	for (i = 0, bad = 0; i < 10; i++)
		bad += tc_echo(&t, 7, th_rand() % (64 * 1024), th_rand()) != 0;
	is_int(bad, 0, "... and its messages echo");
	tc_close(&t);
}

static void
test_s_client(struct th_daemon *d)
{
	char cmd[1024], out[8192];
	const char *argv[] = { "sh", "-c", cmd, NULL };
	int rc;

	snprintf(cmd, sizeof(cmd), "(printf 'hello tls\\n'; sleep %.2f) | "
	    "openssl s_client -connect 127.0.0.1:%d -servername localhost "
	    "-verify_hostname localhost -CAfile %s -verify_return_error "
	    "-quiet -no_ign_eof", th_ms(500) / 1000.0, d->port[1],
	    f("ca.pem"));
	rc = th_run(out, sizeof(out), th_ms(10000), argv);
	is_int(rc, 0, "openssl s_client verifies the server and exits 0");
	ok(strstr(out, "hello tls\n") != NULL, "... and gets its line "
	    "echoed by the line tls listener");
	if (rc != 0 || strstr(out, "hello tls\n") == NULL)
		diag("s_client said: %s", out);
}

/* Send bytes that are not TLS; 0 when taod closes the connection. */
static int
closed_after(int port, const void *bytes, size_t len)
{
	int fd = th_connect(port), rc;

	if (fd == -1)
		return -1;
	(void)th_write_all(fd, bytes, len);
	rc = th_wait_closed(fd, th_ms(3000));
	close(fd);
	return rc;
}

static void
test_bad_clients(struct th_daemon *d, SSL_CTX *ctx)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	uint8_t junk[4096], frame[TH_HEADER + 5];
	long long errors, closed;
	struct tc t;
	int fd;

	if (tc_open(&t, ctx, d->port[0], NULL) == -1)
		bail("%s", t.err);
	errors = th_stat(d, -1, "errors");
	ok(closed_after(d->port[0], http, sizeof(http) - 1) == 0,
	    "an HTTP request on the TLS port is closed");
	th_put_header(frame, 1, 5);
	memcpy(frame + TH_HEADER, "hello", 5);
	ok(closed_after(d->port[0], frame, sizeof(frame)) == 0,
	    "a plaintext TLV frame on the TLS port is closed");
	th_fill(junk, sizeof(junk), 3);
	junk[0] = 0x16;		/* a handshake record of nonsense */
	ok(closed_after(d->port[0], junk, sizeof(junk)) == 0,
	    "garbage on the TLS port is closed");
	ok(stat_reaches(d, "errors", errors + 3) == errors + 3,
	    "the three are counted in errors");
	ok(tc_echo(&t, 9, 1000, 10) == 0, "a TLS client connected before "
	    "still echoes");

	/* A TCP health check: connect, close, not a byte.  Not an error. */
	closed = th_stat(d, -1, "closed");
	for (int i = 0; i < 3; i++)
		if ((fd = th_connect(d->port[0])) != -1)
			close(fd);
	ok(stat_reaches(d, "closed", closed + 3) >= closed + 3 &&
	    th_stat(d, -1, "errors") == errors + 3, "connect and close "
	    "without a byte is a normal close, not an error");
	tc_close(&t);
}

/*
 * Its own taod: frame_timeout_ms this short would cut the reload test's
 * frame on a loaded machine.  The chat app greets in on_connect, before
 * the handshake: the greeting must wait for it, then arrive.
 */
static void
test_handshake_timeout(SSL_CTX *ctx)
{
	static const uint8_t heartbeat[TH_HEADER];	/* type 0, length 0 */
	char conf[1024], payload[256];
	struct th_daemon *d;
	long long timeouts;
	struct tc t;
	double t0, took;
	uint32_t len;
	int32_t type;
	int fd, rc, frames;

	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv tls\napp chat notices\n"
	    "workers 1\nframe_timeout_ms %d\ntls_cert %s\ntls_key %s\n",
	    FRAME_MS, f("srv.pem"), f("srv.key"));
	if ((d = th_daemon_start(conf)) == NULL)
		bail("taod did not start");
	timeouts = th_stat(d, -1, "timeouts");
	if ((fd = th_connect(d->port[0])) == -1)
		bail("connect");
	t0 = th_now_ms();
	ok(th_wait_closed(fd, th_ms(3000)) == 0, "a client that connects and "
	    "never starts the handshake is closed");
	took = th_now_ms() - t0;
	close(fd);
	diag("closed after %.0f ms (frame_timeout_ms %d)", took, FRAME_MS);
	ok(took >= FRAME_MS - 5 && took <= FRAME_MS + th_ms(1000),
	    "... after frame_timeout_ms");
	ok(stat_reaches(d, "timeouts", timeouts + 1) == timeouts + 1,
	    "... and counted in timeouts");

	if (tc_open(&t, ctx, d->port[0], NULL) == -1)
		bail("%s", t.err);
	rc = tc_frame(&t, &type, payload, sizeof(payload) - 1, &len);
	ok(rc == 0 && type == 3 && len > 6 && memcmp(payload, "netid=", 6) ==
	    0, "the greeting queued in on_connect arrives after the "
	    "handshake");
	th_sleep_ms(FRAME_MS + 300);	/* scenario: outlive frame_timeout_ms */
	rc = tc_write(&t, heartbeat, sizeof(heartbeat));
	for (frames = 0; rc == 0 && frames < 10; frames++)
		if ((rc = tc_frame(&t, &type, payload, sizeof(payload), &len))
		    == 0 && type == 0)
			break;
	ok(rc == 0 && type == 0, "a connection idle longer than "
	    "frame_timeout_ms after its handshake still answers a heartbeat");
	if (rc != 0)
		diag("%s", t.err);
	tc_close(&t);
	stop_clean(d);
}

/* ---- 3. resumption across workers -------------------------------------- */

static void
test_resumption(struct th_daemon *d, SSL_CTX *ctx, const char *proto)
{
	SSL_SESSION *sess = NULL;
	pid_t issuer, pid;
	struct tc t;
	int tries, resumed = 0, not_resumed = 0, crossed = 0;

	if (tc_open(&t, ctx, d->port[0], NULL) == -1 ||
	    tc_echo(&t, 1, 10, 1) == -1)
		bail("%s", t.err);
	ok(!SSL_session_reused(t.ssl), "%s: the first connection is a full "
	    "handshake", proto);
	issuer = conn_pid(d, t.fd);
	sess = SSL_get1_session(t.ssl);
	tc_close(&t);
	for (tries = 0; tries < 40 && crossed < 2; tries++) {
		if (tc_open(&t, ctx, d->port[0], sess) == -1) {
			diag("%s", t.err);
			not_resumed++;
			continue;
		}
		if (tc_echo(&t, 1, 10, 1) == -1)
			diag("%s", t.err);
		pid = conn_pid(d, t.fd);
		if (SSL_session_reused(t.ssl)) {
			resumed++;
			crossed += pid != issuer && pid > 0 && issuer > 0;
		} else
			not_resumed++;
		SSL_SESSION_free(sess);
		sess = SSL_get1_session(t.ssl);
		issuer = pid;
		tc_close(&t);
	}
	SSL_SESSION_free(sess);
	diag("%s: %d connections, %d resumed, %d on the other worker than "
	    "the one that issued the session", proto, tries, resumed, crossed);
	ok(crossed >= 2, "%s: sessions issued by one worker resume on the "
	    "other", proto);
	is_int(not_resumed, 0, "%s: every reconnection was resumed", proto);
}

/* ---- 4. reload ---------------------------------------------------------- */

/* ---- 4. reload ---------------------------------------------------------- */

static void
test_reload_bad_key(struct th_daemon *d, SSL_CTX *ctx,
    const unsigned char *want1)
{
	unsigned char got[EVP_MAX_MD_SIZE];
	char out[4096], want[512];
	struct th_status st;
	struct tc t;

	/* A key that cannot be read: nothing changes. */
	if (th_daemon_config(d, server_conf(f("srv2.pem"),
	    f("gone.key"))) == -1)
		bail("cannot rewrite the config");
	is_int(th_ctl(d, out, sizeof(out), "reload", NULL), 1,
	    "reload with a key that cannot be read fails");
	snprintf(want, sizeof(want), "tls_key %s: No such file",
	    f("gone.key"));
	ok(strstr(out, want) != NULL, "... and taoctl names the key file");
	diag("taoctl: %s", out);
	ok(th_status(d, &st) == 0 && st.generation == 1, "... generation 1 "
	    "still serves");
	ok(tc_open(&t, ctx, d->port[0], NULL) == 0 && peer_fingerprint(t.ssl,
	    got) == 0 && memcmp(got, want1, 32) == 0 && tc_echo(&t, 2, 10, 2)
	    == 0, "... with the old certificate");
	tc_close(&t);
}

/* A new certificate, reloaded while a TLS client is in mid-frame; the
 * frame is finished after the reload by finish_frame(). */
static void
test_reload_new_cert(struct th_daemon *d, SSL_CTX *ctx, struct tc *mid,
    const uint8_t *frame, const unsigned char *want2)
{
	unsigned char got[EVP_MAX_MD_SIZE];
	char out[4096];
	struct tc t;
	long long bytes_in;
	int rc;

	bytes_in = th_stat(d, -1, "bytes_in");
	ok(tc_write(mid, frame, 1000) == 0, "a TLS client sends the first "
	    "1000 bytes of a frame");
	/* The worker must hold them as a partial frame when the reload
	 * comes (bytes_in counts decrypted bytes). */
	ok(stat_reaches(d, "bytes_in", bytes_in + 1000) >= bytes_in + 1000,
	    "... and the worker has read them");
	if (th_daemon_config(d, server_conf(f("srv2.pem"),
	    f("srv2.key"))) == -1)
		bail("cannot rewrite the config");
	rc = th_ctl(d, out, sizeof(out), "reload", NULL);
	is_int(rc, 0, "reload with a new certificate and key");
	if (rc != 0)
		diag("taoctl: %s", out);
	ok(tc_open(&t, ctx, d->port[0], NULL) == 0 && peer_fingerprint(t.ssl,
	    got) == 0 && memcmp(got, want2, 32) == 0, "a new connection gets "
	    "the new certificate");
	ok(tc_echo(&t, 5, 5000, 5) == 0, "... and echoes");
	tc_close(&t);
}

/* The connection from before the reload ends its frame on its old
 * session, then the old worker closes it. */
static void
finish_frame(struct tc *mid, const uint8_t *frame, size_t len,
    const unsigned char *want1)
{
	unsigned char got[EVP_MAX_MD_SIZE];
	uint8_t reply[TH_HEADER + 3000];
	int rc;

	rc = tc_write(mid, frame + 1000, len - 1000);
	if (rc == 0)
		rc = tc_read(mid, reply, sizeof(reply));
	is_blob(reply, rc == 0 ? sizeof(reply) : 0, frame, len,
	    "the TLS "
	    "connection from before the reload finishes its frame and gets "
	    "the echo");
	if (rc != 0)
		diag("rc %d: %s", rc, mid->err);
	ok(peer_fingerprint(mid->ssl, got) == 0 && memcmp(got, want1, 32) ==
	    0, "... over its old session");
	rc = tc_read(mid, reply, 1);
	ok(rc == 1, "... then the old worker closes it cleanly (close_notify)");
	if (rc != 1)
		diag("%s", mid->err);
	tc_close(mid);
}

static void
test_reload(struct th_daemon *d, SSL_CTX *ctx)
{
	unsigned char want1[EVP_MAX_MD_SIZE], want2[EVP_MAX_MD_SIZE];
	struct th_status st;
	uint8_t frame[TH_HEADER + 3000];
	struct tc mid;
	int plain = -1;

	if (file_fingerprint(f("srv.pem"), want1) == -1 ||
	    file_fingerprint(f("srv2.pem"), want2) == -1)
		bail("fingerprints");
	test_reload_bad_key(d, ctx, want1);

	/* A new certificate. */
	if (tc_open(&mid, ctx, d->port[0], NULL) == -1)
		bail("%s", mid.err);
	if ((plain = th_connect(d->port[2])) == -1)
		bail("connect before the reload");
	ok(th_echo_once(plain, 3, 100, 3) == 0, "a plaintext connection "
	    "echoes before the reload");
	th_put_header(frame, 4, 3000);
	th_fill(frame + TH_HEADER, 3000, 4);
	test_reload_new_cert(d, ctx, &mid, frame, want2);
	finish_frame(&mid, frame, sizeof(frame), want1);
	ok(th_echo_once(plain, 6, 100, 6) == 0, "the plaintext connection "
	    "keeps echoing in the new generation");
	close(plain);
	ok(th_status(d, &st) == 0 && st.generation == 2, "generation 2 "
	    "serves");
}

/* ---- 5. client certificates --------------------------------------------- */

static void
test_client_ca(void)
{
	char conf[2048];
	struct th_daemon *d;
	SSL_CTX *none, *good, *rogue;
	struct tc t, keep;
	long long errors;
	int rc;

	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv tls\napp echo\n"
	    "workers 2\ntls_cert %s\ntls_key %s\ntls_client_ca %s\n",
	    f("srv.pem"), f("srv.key"), f("cca.pem"));
	if ((d = th_daemon_start(conf)) == NULL)
		bail("taod with tls_client_ca did not start");
	none = client_ctx(f("ca.pem"), 0, NULL, NULL);
	good = client_ctx(f("ca.pem"), 0, f("cli.pem"), f("cli.key"));
	rogue = client_ctx(f("ca.pem"), 0, f("rogue.pem"), f("cli.key"));

	ok(tc_open(&keep, good, d->port[0], NULL) == 0 &&
	    tc_echo(&keep, 1, 100, 1) == 0, "a client with a certificate from "
	    "tls_client_ca echoes");
	errors = th_stat(d, -1, "errors");

	/* TLS 1.3: the client's side of the handshake ends before the
	 * server has checked its certificate; the refusal is an alert that
	 * the client's next read gets (a write could meet the reset of a
	 * socket closed with our bytes unread instead). */
	rc = tc_open(&t, none, d->port[0], NULL);
	if (rc == 0)
		rc = tc_read(&t, conf, 1);
	ok(rc == -1, "a client without a certificate is refused");
	diag("%s", t.err);
	ok(strstr(t.err, "certificate required") != NULL, "... with the "
	    "certificate_required alert");
	tc_close(&t);
	rc = tc_open(&t, rogue, d->port[0], NULL);
	if (rc == 0)
		rc = tc_read(&t, conf, 1);
	ok(rc == -1, "a client with a certificate from another CA is refused");
	diag("%s", t.err);
	tc_close(&t);
	ok(stat_reaches(d, "errors", errors + 2) == errors + 2,
	    "both refusals are counted in errors");
	ok(tc_open(&t, good, d->port[0], NULL) == 0 &&
	    tc_echo(&t, 4, 100, 4) == 0, "a new client with a valid "
	    "certificate echoes");
	tc_close(&t);
	ok(tc_echo(&keep, 5, 100, 5) == 0, "the one connected before is "
	    "unaffected");
	tc_close(&keep);
	stop_clean(d);
	SSL_CTX_free(none);
	SSL_CTX_free(good);
	SSL_CTX_free(rogue);
}

/* ---- 6. expired certificate ---------------------------------------------- */

static void
test_expired(SSL_CTX *ctx)
{
	char conf[1024];
	struct th_daemon *d;
	struct tc t;

	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv tls\napp echo\n"
	    "workers 1\ntls_cert %s\ntls_key %s\n", f("expired.pem"),
	    f("srv.key"));
	if ((d = th_daemon_start(conf)) == NULL)
		bail("taod with an expired certificate did not start");
	ok(tc_open(&t, ctx, d->port[0], NULL) == -1 &&
	    strstr(t.err, "certificate has expired") != NULL,
	    "the verifying client refuses an expired server certificate");
	diag("%s", t.err);
	tc_close(&t);
	stop_clean(d);
}

int
main(void)
{
	struct th_daemon *d;
	SSL_CTX *ctx, *ctx12;

	th_init("t090-tls-server", 90);
	plan(0);
	make_certs();
	test_check();

	ctx = client_ctx(f("ca.pem"), 0, NULL, NULL);
	ctx12 = client_ctx(f("ca.pem"), TLS1_2_VERSION, NULL, NULL);
	if ((d = th_daemon_start(server_conf(f("srv.pem"), f("srv.key")))) ==
	    NULL)
		bail("taod did not start");
	test_echo(d, ctx, ctx12);
	test_s_client(d);
	test_bad_clients(d, ctx);
	test_resumption(d, ctx, "TLS 1.3");
	test_resumption(d, ctx12, "TLS 1.2");
	test_reload(d, ctx);
	ok(th_pid_alive(d->pid), "taod is alive");
	stop_clean(d);

	test_handshake_timeout(ctx);
	test_client_ca();
	test_expired(ctx);
	SSL_CTX_free(ctx);
	SSL_CTX_free(ctx12);
	return th_exit(done_testing());
}
