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
 * exits non-zero.
 */
#include <stdio.h>
#include <string.h>

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

int
main(void)
{
	static char out[65536];
	char conf[1024];
	struct th_daemon *d;
	int rc;

	th_init("t293-tls-pipelined", 240);
	plan(4);
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
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
