/*
 * t097-client-tls - tao_client over TLS (OpenSSL 3).
 *
 * A throw-away CA and certificates are made with the openssl command line
 * at test time: a good server certificate (localhost, 127.0.0.1), an
 * expired one, one for another name, and a client certificate.  The
 * servers are a small blocking TLS echo server forked by this test (one
 * connection at a time, which is all these cases need), and taod itself
 * for the echo test when its `tls` listener works in this build (checked
 * at run time: the server side is developed separately).
 *
 * - 100 messages of random sizes up to 1 MiB echo through TLS, verified,
 *   with the certificate checked against the CA and 127.0.0.1;
 * - SNI and name check with tls_server_name "localhost";
 * - refused, with a clear TAO_CLIENT_ERR_TLS message: an expired
 *   certificate ("certificate has expired"), a certificate for another
 *   name ("hostname mismatch", "IP address mismatch"), an unknown CA, a
 *   server that does not speak TLS;
 * - tls_no_verify accepts the expired certificate;
 * - a server that requires a client certificate: with one the echo
 *   works; without, the server's alert is reported.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <tao.h>

#include "tests/lib/clientecho.h"
#include "tests/lib/harness.h"
#include "tests/tap.h"

#define NMSG		100
#define MAX_SIZE	(1u << 20)

static char	dir[256];
static char	ca_pem[300], srv_key[300], good_pem[300], expired_pem[300],
		wrong_pem[300], cli_key[300], cli_pem[300];

/* ---- certificates ----------------------------------------------------- */

static void
openssl(const char *what, const char *const argv[])
{
	char out[4096];
	int rc = th_run(out, sizeof(out), th_ms(20000), argv);

	if (rc != 0) {
		diag("%s", out);
		diag("openssl %s: exit %d", what, rc);
		bail("cannot make the test certificates");
	}
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) == EOF)
		bail("cannot write an extension file");
}

static void
new_key_csr(const char *key, const char *csr, const char *subj)
{
	const char *argv[] = { "openssl", "req", "-newkey", "ec", "-pkeyopt",
	    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
	    csr, "-subj", subj, NULL };

	openssl("req", argv);
}

static void
sign(const char *csr, const char *out, const char *days, const char *ext)
{
	char cakey[300];
	const char *argv[] = { "openssl", "x509", "-req", "-in", csr, "-CA",
	    ca_pem, "-CAkey", cakey, "-CAcreateserial", "-out", out, "-days",
	    days, "-extfile", ext, NULL };

	snprintf(cakey, sizeof(cakey), "%s/ca.key", dir);
	openssl("x509", argv);
}

static void
make_certs(void)
{
	char cakey[300], csr[300], ccsr[300], good_ext[300], wrong_ext[300],
	    cli_ext[300];
	const char *ca_argv[] = { "openssl", "req", "-x509", "-newkey", "ec",
	    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
	    cakey, "-out", ca_pem, "-days", "1", "-subj", "/CN=tao test CA",
	    NULL };

	snprintf(dir, sizeof(dir), "%s/pki", th_dir());
	if (mkdir(dir, 0700) == -1)
		bail("mkdir pki");
#define P(var, name) snprintf(var, sizeof(var), "%s/" name, dir)
	P(cakey, "ca.key");
	P(ca_pem, "ca.pem");
	P(srv_key, "server.key");
	P(csr, "server.csr");
	P(good_pem, "good.pem");
	P(expired_pem, "expired.pem");
	P(wrong_pem, "wrong.pem");
	P(cli_key, "client.key");
	P(ccsr, "client.csr");
	P(cli_pem, "client.pem");
	P(good_ext, "good.ext");
	P(wrong_ext, "wrong.ext");
	P(cli_ext, "client.ext");
#undef P
	write_file(good_ext, "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
	write_file(wrong_ext, "subjectAltName=DNS:wrong.example\n");
	write_file(cli_ext, "extendedKeyUsage=clientAuth\n");
	openssl("req -x509", ca_argv);
	new_key_csr(srv_key, csr, "/CN=localhost");
	sign(csr, good_pem, "1", good_ext);
	/* -days -1: notAfter a day before notBefore (now): expired. */
	sign(csr, expired_pem, "-1", good_ext);
	sign(csr, wrong_pem, "1", wrong_ext);
	new_key_csr(cli_key, ccsr, "/CN=tao test client");
	sign(ccsr, cli_pem, "1", cli_ext);
}

/* ---- a small TLS echo server ------------------------------------------ */

enum mini_mode { MINI_ECHO, MINI_PLAINTEXT };

struct mini {
	pid_t	pid;
	int	port;
};

/* The child: serve one connection at a time, blocking, until killed. */
static void
mini_serve(int lfd, enum mini_mode mode, const char *cert,
    const char *client_ca)
{
	static char buf[64 * 1024];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL *ssl;
	int fd, n;

	if (ctx == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, srv_key, SSL_FILETYPE_PEM) != 1)
		_exit(3);
	if (client_ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1)
			_exit(3);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
		    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) == -1)
			continue;
		if (mode == MINI_PLAINTEXT) {
			static const char reply[] = "HTTP/1.0 400 Bad Request"
			    "\r\n\r\n";
			(void)write(fd, reply, sizeof(reply) - 1);
			close(fd);
			continue;
		}
		if ((ssl = SSL_new(ctx)) == NULL)
			_exit(4);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1)
			while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0)
				if (SSL_write(ssl, buf, n) <= 0)
					break;
		SSL_free(ssl);
		close(fd);
	}
}

static struct mini
mini_start(enum mini_mode mode, const char *cert, const char *client_ca)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct mini m;
	int lfd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd == -1 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ==
	    -1 || listen(lfd, 16) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1)
		bail("mini server: listen");
	m.port = ntohs(sin.sin_port);
	fflush(stdout);
	if ((m.pid = fork()) == -1)
		bail("fork");
	if (m.pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		alarm(120);	/* never outlive the test by much */
		mini_serve(lfd, mode, cert, client_ca);
		_exit(0);
	}
	close(lfd);
	return m;
}

static void
mini_stop(struct mini *m)
{
	int status;

	(void)kill(m->pid, SIGKILL);
	while (waitpid(m->pid, &status, 0) == -1 && errno == EINTR)
		;
}

/* ---- client side ------------------------------------------------------ */

struct result {
	int			 connects, closes, errors, echoes;
	enum tao_client_error	 kind;
	char			 msg[512];
};

static void
r_connect(struct tao_client *c, void *arg)
{
	struct result *r = arg;

	r->connects++;
	(void)tao_client_send(c, 1, "ping", 4);
}

static void
r_close(struct tao_client *c, void *arg)
{
	struct result *r = arg;

	r->closes++;
	tao_loop_stop(tao_client_loop(c));
}

static void
r_error(struct tao_client *c, enum tao_client_error kind, const char *msg,
    void *arg)
{
	struct result *r = arg;

	r->errors++;
	r->kind = kind;
	strlcpy(r->msg, msg, sizeof(r->msg));
	if (!tao_client_connected(c))
		tao_loop_stop(tao_client_loop(c));
}

static void
r_message(struct tao_client *c, const struct tao_message *m, void *arg)
{
	struct result *r = arg;

	if (m->type == 1 && m->len == 4 && memcmp(m->data, "ping", 4) == 0)
		r->echoes++;
	tao_loop_stop(tao_client_loop(c));
}

/*
 * One connection with these options: on_connect sends "ping", the echo
 * stops the loop, so does an error or a close.
 */
static void
attempt(struct tao_loop *l, int port, struct tao_client_opts *o,
    struct result *r)
{
	struct tao_client *c;
	char addr[32];

	memset(r, 0, sizeof(*r));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	o->loop = l;
	o->tls = 1;
	o->connect_timeout_ms = (uint64_t)th_ms(5000);
	if ((c = tao_client_connect(addr, o)) == NULL)
		bail("tao_client_connect");
	tao_client_on_connect(c, r_connect, r);
	tao_client_on_close(c, r_close, r);
	tao_client_on_error(c, r_error, r);
	tao_client_on_message(c, r_message, r);
	if (th_loop_run_for(l, th_ms(10000)) == -1)
		diag("no outcome in time");
	tao_client_free(c);
}

/* The refusal is reported as a TLS error naming the reason. */
static void
refused(struct tao_loop *l, int port, struct tao_client_opts *o,
    const char *want, const char *what)
{
	struct result r;

	attempt(l, port, o, &r);
	diag("%s: %s", what, r.msg);
	ok(r.connects == 0 && r.echoes == 0, "%s: refused", what);
	ok(r.errors == 1 && r.kind == TAO_CLIENT_ERR_TLS,
	    "%s: as TAO_CLIENT_ERR_TLS", what);
	if (want != NULL)
		ok(strstr(r.msg, want) != NULL, "%s: the message says \"%s\"",
		    what, want);
	else
		ok(strstr(r.msg, "failed: ") != NULL && strlen(strstr(r.msg,
		    "failed: ")) > 8, "%s: the message names a reason", what);
}

/* ---- 100 TLS echoes --------------------------------------------------- */

static void
test_echo(struct tao_loop *l, int port, const char *server)
{
	struct tao_client_opts o = { .loop = l, .tls = 1,
	    .tls_ca_file = ca_pem, .write_queue_max = 8u << 20 };
	struct th_cecho *e = th_cecho_new(NMSG, 2, MAX_SIZE);
	struct tao_client *c;
	char addr[32];
	double t0;

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	if ((c = tao_client_connect(addr, &o)) == NULL)
		bail("tao_client_connect (TLS echo)");
	th_cecho_attach(e, c);
	th_cecho_send(e, 4);
	t0 = th_now_ms();
	ok(th_loop_run_for(l, th_ms(30000)) == 0, "TLS echo (%s): done in "
	    "time", server);
	diag("%d echoes through TLS in %.0f ms", e->got, th_now_ms() - t0);
	is_int(e->connects, 1, "TLS echo: one connection, certificate and "
	    "IP address verified");
	is_int(e->got, NMSG, "TLS echo: 100 messages up to 1 MiB came back");
	is_int(e->bad, 0, "TLS echo: each matched, in order");
	tao_client_free(c);
	th_cecho_free(e);
}

/* taod with a tls listener, if this build's taod can do it. */
static struct th_daemon *
taod_tls(struct tao_loop *l)
{
	struct tao_client_opts o = { .tls_ca_file = ca_pem };
	struct th_daemon *d;
	struct result r;
	char conf[1024];

	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv tls\n"
	    "tls_cert %s\ntls_key %s\napp echo\nworkers 2\n", good_pem,
	    srv_key);
	if ((d = th_daemon_start(conf)) == NULL)
		return NULL;
	attempt(l, d->port[0], &o, &r);
	if (r.echoes == 1)
		return d;
	diag("taod's tls listener does not echo yet (%s)", r.msg);
	(void)th_daemon_stop(d);
	return NULL;
}

/* The test's servers, each with one kind of certificate. */
struct servers {
	struct mini good, expired, wrong, plain, needs_cert;
};

/* Verification: accepted when it should be, refused with the reason. */
static void
test_verify(struct tao_loop *l, const struct servers *s)
{
	struct tao_client_opts o;
	struct result r;

	memset(&o, 0, sizeof(o));
	o.tls_ca_file = ca_pem;
	o.tls_server_name = "localhost";
	attempt(l, s->good.port, &o, &r);
	ok(r.connects == 1 && r.echoes == 1, "tls_server_name localhost: "
	    "SNI, name verified, echo");

	memset(&o, 0, sizeof(o));
	o.tls_ca_file = ca_pem;
	refused(l, s->expired.port, &o, "certificate verify failed: "
	    "certificate has expired", "expired certificate");

	memset(&o, 0, sizeof(o));
	o.tls_ca_file = ca_pem;
	o.tls_server_name = "localhost";
	refused(l, s->wrong.port, &o, "hostname mismatch", "certificate for "
	    "another name");

	memset(&o, 0, sizeof(o));
	o.tls_ca_file = ca_pem;
	refused(l, s->wrong.port, &o, "IP address mismatch", "certificate "
	    "without our IP address");

	memset(&o, 0, sizeof(o));	/* the system's CAs, not ours */
	refused(l, s->good.port, &o, "unable to get local issuer "
	    "certificate", "unknown CA");

	memset(&o, 0, sizeof(o));
	o.tls_ca_file = ca_pem;
	refused(l, s->plain.port, &o, NULL, "a server that does not speak "
	    "TLS");

	memset(&o, 0, sizeof(o));
	o.tls_no_verify = 1;
	attempt(l, s->expired.port, &o, &r);
	ok(r.connects == 1 && r.echoes == 1, "tls_no_verify: the expired "
	    "certificate is accepted");
}

/* Client certificates, and a CA file that cannot be read. */
static void
test_client_cert(struct tao_loop *l, const struct servers *s)
{
	struct tao_client_opts o;
	struct result r;

	memset(&o, 0, sizeof(o));
	o.tls_ca_file = ca_pem;
	o.tls_cert_file = cli_pem;
	o.tls_key_file = cli_key;
	attempt(l, s->needs_cert.port, &o, &r);
	ok(r.connects == 1 && r.echoes == 1, "client certificate: accepted "
	    "by a server that requires one");

	memset(&o, 0, sizeof(o));
	o.tls_ca_file = ca_pem;
	attempt(l, s->needs_cert.port, &o, &r);
	diag("without a client certificate: %s", r.msg);
	ok(r.echoes == 0 && r.errors == 1, "no client certificate: refused "
	    "by the server");
	/* TLS 1.3: our side of the handshake is done before the server
	 * checks; we see its alert, or a reset if our "ping" hits the
	 * closed socket first. */
	ok(strstr(r.msg, "certificate required") != NULL ||
	    strstr(r.msg, "handshake failure") != NULL ||
	    strstr(r.msg, "reset by peer") != NULL,
	    "and the server's refusal is reported");

	memset(&o, 0, sizeof(o));
	o.loop = l;
	o.tls = 1;
	o.tls_ca_file = "/nonexistent/ca.pem";
	errno = 0;
	ok(tao_client_connect("127.0.0.1:1", &o) == NULL && errno == EPROTO,
	    "an unreadable CA file fails tao_client_connect (EPROTO)");
}

int
main(void)
{
	struct tao_loop *l;
	struct th_daemon *d;
	struct servers s;

	th_init("t097-client-tls", 120);
	plan(0);
	make_certs();
	if ((l = tao_loop_new()) == NULL)
		bail("tao_loop_new");
	s.good = mini_start(MINI_ECHO, good_pem, NULL);
	s.expired = mini_start(MINI_ECHO, expired_pem, NULL);
	s.wrong = mini_start(MINI_ECHO, wrong_pem, NULL);
	s.plain = mini_start(MINI_PLAINTEXT, good_pem, NULL);
	s.needs_cert = mini_start(MINI_ECHO, good_pem, ca_pem);

	if ((d = taod_tls(l)) != NULL) {
		test_echo(l, d->port[0], "taod");
		is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	} else {
		diag("using the test's own TLS echo server");
		test_echo(l, s.good.port, "test server");
	}
	test_verify(l, &s);
	test_client_cert(l, &s);

	mini_stop(&s.good);
	mini_stop(&s.expired);
	mini_stop(&s.wrong);
	mini_stop(&s.plain);
	mini_stop(&s.needs_cert);
	tao_loop_free(l);
	return th_exit(done_testing());
}
