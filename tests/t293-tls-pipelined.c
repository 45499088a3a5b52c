/*
 * t293-tls-pipelined - TLS input that OpenSSL read ahead is never left
 * stranded.  The worker reads TLS with read-ahead (one read(2) per
 * socketful), so OpenSSL may hold records epoll cannot see; worker/tls.c
 * takes all of them or flags the connection to read again, and a
 * connection paused by backpressure reads them when it resumes.
 *
 * tao-bench (the load generator, with --tls) pipelines many small
 * records, and larger ones, on several connections against one worker
 * with a small write_queue_max, so that connections pause and resume
 * often; every echo must come back, verified, within the run: a
 * stranded record shows as a timeout or a missing reply, and tao-bench
 * exits non-zero.  And one client sends 50 small frames as 50 separate
 * records, corked so that they arrive together and the worker's first
 * read(2) takes them all, then waits for the 50 echoes without sending
 * anything more: a worker that took one record per wake-up would leave
 * 49 in OpenSSL and never see them (it fails that way).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "tests/lib/harness.h"
#include "tests/lib/tlsclient.h"
#include "tests/tap.h"

/* tao-bench echo --tls against port: its exit code; out gets its output. */
static int
bench(int port, const char *conns, const char *depth, const char *size,
    char *out, size_t outlen)
{
	char p[16], timeout[16];
	const char *argv[] = { th_bin("tao-bench"), "echo", "--tls", "-p", p,
	    "-c", conns, "-d", depth, "-s", size, "-t", "2", "--timeout",
	    timeout, NULL };

	snprintf(p, sizeof(p), "%d", port);
	snprintf(timeout, sizeof(timeout), "%d", th_ms(10000) / 1000);
	return th_run(out, outlen, th_ms(60000), argv);
}

static void
report(const char *what, int rc, const char *out)
{
	const char *e = strstr(out, "errors");

	ok(rc == 0 && e != NULL && strncmp(e, "errors        0 ", 16) == 0,
	    "%s: every echo back (tao-bench exit %d)", what, rc);
	if (rc != 0 || e == NULL)
		diag("%s", out);
	else
		diag("%.*s", (int)strcspn(e, "\n"), e);
}

#define NREC	50

/* NREC frames of 10 bytes, one record each, arriving together; 0 if all
 * NREC echoes come back. */
static int
corked_records(int port)
{
	char trust[512];
	SSL_CTX *ctx;
	uint8_t frame[TH_HEADER + 10], in[NREC * sizeof(frame)];
	struct timeval tv = { th_ms(5000) / 1000, 0 };
	struct tlsc t;
	size_t n, got = 0;
	int on = 1, off = 0, rc = -1;

	snprintf(trust, sizeof(trust), "%s/trust.pem", th_dir());
	ctx = tlsc_ctx(trust, NULL, NULL);
	if (ctx == NULL || tlsc_open(&t, ctx, port) == -1) {
		diag("TLS client: %s", ctx == NULL ? "no context" : t.err);
		SSL_CTX_free(ctx);
		return -1;
	}
	th_put_header(frame, 1, 10);
	memcpy(frame + TH_HEADER, "0123456789", 10);
	setsockopt(t.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(t.fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
	for (int i = 0; i < NREC; i++)
		if (SSL_write_ex(t.ssl, frame, sizeof(frame), &n) != 1)
			goto done;
	setsockopt(t.fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
	while (got < sizeof(in) &&
	    SSL_read_ex(t.ssl, in + got, sizeof(in) - got, &n) == 1)
		got += n;
	rc = got == sizeof(in) ? 0 : -1;
	for (int i = 0; rc == 0 && i < NREC; i++)
		if (memcmp(in + (size_t)i * sizeof(frame), frame,
		    sizeof(frame)) != 0)
			rc = -1;
	if (rc == -1)
		diag("got %zu of %zu bytes of echoes", got, sizeof(in));
done:
	tlsc_close(&t);
	SSL_CTX_free(ctx);
	return rc;
}

int
main(void)
{
	static char out[65536];
	char conf[1024];
	struct th_daemon *d;
	int rc;

	th_init("t293-tls-pipelined", 240);
	plan(5);
	tlsc_make_certs();
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv tls\napp echo\n"
	    "workers 1\nwrite_queue_max 4k\ntls_cert %s/srv.pem\n"
	    "tls_key %s/srv.key\n", th_dir(), th_dir());
	if ((d = th_daemon_start(conf)) == NULL)
		bail("taod did not start");
	rc = bench(d->port[0], "20", "256", "100", out, sizeof(out));
	report("20 connections x 256 small frames in flight", rc, out);
	rc = bench(d->port[0], "10", "8", "20000", out, sizeof(out));
	report("10 connections x 8 frames of 20 000 bytes in flight", rc, out);
	rc = bench(d->port[0], "4", "64", "3000", out, sizeof(out));
	report("4 connections x 64 frames of 3 000 bytes in flight", rc, out);
	is_int(corked_records(d->port[0]), 0, "%d records arriving together: "
	    "every echo back without more input", NREC);
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
