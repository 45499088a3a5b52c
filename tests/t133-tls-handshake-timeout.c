/*
 * t133-tls-handshake-timeout: a TLS handshake is bounded even with
 * frame_timeout_ms 0.  It used to be bounded by frame_timeout_ms only, so
 * with 0 a client that connected to a tls listener and sent nothing (or
 * half a ClientHello) held a connection, its SSL and a max_connections
 * unit for ever.  Now send_timeout_ms bounds it, or 10 s when that is 0
 * too; the close counts as a timeout.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "lib/harness.h"

static const char cert_script[] =
    "set -e; cd \"$0\"\n"
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
    " -nodes -keyout srv.key -out srv.pem -days 1 -subj /CN=localhost"
    " 2>/dev/null\n";

/* Wait for the server to close fd: the ms it took, or -1. */
static double
closed_after(int fd, double t0, int timeout_ms)
{
	if (th_wait_closed(fd, timeout_ms) != 0)
		return -1;
	return th_now_ms() - t0;
}

int
main(void)
{
	const char *argv[] = { "sh", "-c", cert_script, th_dir(), NULL };
	struct th_daemon *d, *d10;
	char conf[1024], out[4096];
	int quiet, half, fd10;
	double t0, t10, took;

	th_init("t133-tls-handshake-timeout", 90);
	plan(0);
	if (th_run(out, sizeof(out), th_ms(20000), argv) != 0)
		bail("openssl could not make a certificate");
	snprintf(conf, sizeof(conf), "workers 1\nlisten 127.0.0.1:0 tlv tls\n"
	    "tls_cert %s/srv.pem\ntls_key %s/srv.key\napp echo\n"
	    "frame_timeout_ms 0\nsend_timeout_ms %%s\n", th_dir(), th_dir());
	{
		char c1[1100], c2[1100];
		snprintf(c1, sizeof(c1), conf, "1000");
		snprintf(c2, sizeof(c2), conf, "0");
		if ((d = th_daemon_start(c1)) == NULL ||
		    (d10 = th_daemon_start(c2)) == NULL)
			bail("taod did not start");
	}

	/* Both 0: the fixed 10 s bound; started first, checked last. */
	t10 = th_now_ms();
	if ((fd10 = th_connect(d10->port[0])) < 0)
		bail("connect");

	t0 = th_now_ms();
	if ((quiet = th_connect(d->port[0])) < 0 ||
	    (half = th_connect(d->port[0])) < 0)
		bail("connect");
	/* A TLS record header and the start of a ClientHello, no more. */
	ok(th_write_all(half, "\x16\x03\x01\x02\x00\x01\x00\x01", 8) == 0,
	    "one client sends half a ClientHello, one sends nothing");
	took = closed_after(quiet, t0, th_ms(6000));
	ok(took >= 990, "the silent one is closed (%.0f ms; frame_timeout_ms "
	    "0, send_timeout_ms 1000)", took);
	took = closed_after(half, t0, th_ms(6000));
	ok(took >= 990, "the half-way one too (%.0f ms)", took);
	is_int(th_stat(d, -1, "timeouts"), 2, "  both counted as timeouts");
	is_int(th_stat(d, -1, "connections"), 0, "  no connection is left");
	close(quiet);
	close(half);

	took = closed_after(fd10, t10, th_ms(16000));
	ok(took >= 9990, "with send_timeout_ms 0 too, the handshake is bounded "
	    "by 10 s (%.0f ms)", took);
	is_int(th_stat(d10, -1, "timeouts"), 1, "  counted as a timeout");
	close(fd10);

	is_int(th_daemon_stop(d), 0, "taod stops cleanly");
	is_int(th_daemon_stop(d10), 0, "  both of them");
	return th_exit(done_testing());
}
