/*
 * t041-echo-big - frame size limits and broken clients.  An 8 MiB frame
 * (the default max_frame) echoes intact.  With max_frame 64k: exactly
 * 64 KiB echoes, 64 KiB + 1 closes that connection; so do garbage bytes;
 * a client that sends half a frame and leaves costs nothing; and 50 other
 * connections echo throughout without one failure.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

#define BIG	(8u * 1024 * 1024)

static void
test_8mib(void)
{
	struct th_daemon *d;
	uint8_t *out = malloc(BIG), *in = malloc(BIG);
	uint32_t len = 0;
	int32_t type = 0;
	int fd, rc;

	if (out == NULL || in == NULL)
		bail("out of memory");
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 1\n");
	if (d == NULL)
		bail("taod did not start");
	if ((fd = th_connect(d->port[0])) == -1)
		bail("connect");
	th_fill(out, BIG, 8);
	ok(th_send_frame(fd, 42, out, BIG) == 0, "send one 8 MiB frame");
	rc = th_recv_frame(fd, &type, in, BIG, &len, th_ms(10000));
	ok(rc == 0 && type == 42 && len == BIG, "an 8 MiB frame comes back "
	    "(rc %d, type %d, length %u)", rc, type, len);
	is_blob(in, rc == 0 ? len : 0, out, BIG, "intact");
	ok(th_echo_once(fd, 43, 1000, 9) == 0, "the connection still echoes");
	close(fd);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	free(out);
	free(in);
}

/* Send what a broken client sends; 0 when taod closes the connection. */
static int
closed_after(int port, const void *bytes, size_t len)
{
	int fd = th_connect(port), rc;

	if (fd == -1)
		return -1;
	(void)th_write_all(fd, bytes, len);	/* may fail: closed early */
	rc = th_wait_closed(fd, th_ms(5000));
	close(fd);
	return rc;
}

/* max_frame, max_frame + 1, half a frame, HTTP, garbage; then a new
 * connection still echoes.  buf holds TH_HEADER + 65537 bytes. */
static void
limits_bad_frames(struct th_daemon *d, uint8_t *buf)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	int fd;

	fd = th_connect(d->port[0]);
	ok(fd != -1 && th_echo_once(fd, 1, 65536, 3) == 0,
	    "a frame of exactly max_frame (64 KiB) echoes");

	th_put_header(buf, 1, 65537);
	th_fill(buf + TH_HEADER, 65537, 4);
	ok(closed_after(d->port[0], buf, TH_HEADER + 65537) == 0,
	    "max_frame + 1 closes the connection");
	ok(fd != -1 && th_echo_once(fd, 2, 1000, 5) == 0,
	    "another connection still echoes");

	th_put_header(buf, 1, 1000);
	th_fill(buf + TH_HEADER, 500, 6);
	if ((fd = th_connect(d->port[0])) != -1) {
		ok(th_write_all(fd, buf, TH_HEADER + 500) == 0,
		    "send half a frame");
		close(fd);
	} else
		ok(0, "connect for half a frame");

	ok(closed_after(d->port[0], http, sizeof(http) - 1) == 0,
	    "an HTTP request (a huge length) closes the connection");
	th_fill(buf, 4096, 7);
	th_put_header(buf, 77, 0xfffffff0u);
	ok(closed_after(d->port[0], buf, 4096) == 0,
	    "random bytes close the connection");

	fd = th_connect(d->port[0]);
	ok(fd != -1 && th_echo_once(fd, 3, 2000, 8) == 0,
	    "a new connection echoes after all that");
	if (fd != -1)
		close(fd);
}

static void
test_limits(void)
{
	struct th_load_opts o = {
		.conns = 50, .depth = 2, .max_size = 16 * 1024,
		.seed = th_rand(),
	};
	struct th_load_totals t;
	struct th_daemon *d;
	struct th_load *l;
	uint8_t *buf = malloc(65536 + 1 + TH_HEADER);
	long long before;

	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n"
	    "max_frame 64k\n");
	if (d == NULL || buf == NULL)
		bail("taod did not start");
	o.port = d->port[0];
	if ((l = th_load_start(&o)) == NULL)
		bail("th_load_start");
	ok(th_load_wait_replies(l, 500, th_ms(10000)) == 0,
	    "50 connections echo");
	before = th_load_replies(l);

	limits_bad_frames(d, buf);
	/* Bounded: the check below says whether they did. */
	(void)th_load_wait_replies(l, before + 50, th_ms(5000));
	th_load_stop(l, &t);
	th_load_diag("50 connections meanwhile", &t);
	ok(t.replies > before, "they kept echoing (%lld replies before, "
	    "%lld after)", before, t.replies);
	is_int(t.closed + t.reset + t.bad + t.timeout + t.connect_failed, 0,
	    "none of the 50 broke");
	is_int(t.open, 50, "all 50 are open");
	th_load_free(l);
	ok(th_stat(d, -1, "errors") >= 3, "taod counted the bad frames "
	    "(errors %lld)", th_stat(d, -1, "errors"));
	ok(th_pid_alive(d->pid), "taod is alive");
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	free(buf);
}

int
main(void)
{
	th_init("t041-echo-big", 60);
	plan(0);
	test_8mib();
	test_limits();
	return th_exit(done_testing());
}
