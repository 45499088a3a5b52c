/*
 * t040-echo-basic - taod's echo app end to end: 100 connections x 100
 * messages of random types and sizes (0..64 KiB), four in flight on each,
 * every reply checked byte for byte; the heartbeat; a zero-length frame;
 * the line listener (\n and \r\n, a line split across writes).
 */
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

static void
test_load(struct th_daemon *d)
{
	struct th_load_opts o = {
		.port = d->port[0], .conns = 100, .depth = 4,
		.max_size = 64 * 1024, .msgs = 100, .seed = th_rand(),
	};
	struct th_load_totals t;
	struct th_load *l;
	double t0 = th_now_ms();

	if ((l = th_load_start(&o)) == NULL)
		bail("th_load_start");
	ok(th_load_wait(l, th_ms(30000)) == 0, "100 x 100 echoes finish");
	th_load_stop(l, &t);
	th_load_diag("100 x 100", &t);
	diag("%.0f ms", th_now_ms() - t0);
	is_int(t.replies, 100 * 100, "every reply came back and matched");
	is_int(t.connect_failed, 0, "no connect failed");
	is_int(t.bad + t.closed + t.reset + t.timeout, 0,
	    "no connection broke");
	is_int(t.open, 100, "all 100 connections are still open");
	th_load_free(l);
}

static void
test_heartbeat(struct th_daemon *d)
{
	char buf[16];
	uint32_t len = 99;
	int32_t type = 99;
	int fd = th_connect(d->port[0]);

	ok(fd != -1, "connect for the heartbeat");
	ok(th_send_frame(fd, 0, NULL, 0) == 0 &&
	    th_recv_frame(fd, &type, buf, sizeof(buf), &len,
	    th_ms(5000)) == 0, "a heartbeat is answered");
	ok(type == 0 && len == 0, "with an empty heartbeat (type %d, "
	    "length %u)", type, len);
	ok(th_echo_once(fd, 5, 0, 0) == 0, "a zero-length frame of type 5 "
	    "echoes");
	ok(th_echo_once(fd, -7, 100, 1) == 0, "a negative type echoes");
	ok(th_echo_once(fd, 0x7fffffff, 1, 2) == 0, "type INT32_MAX echoes");
	close(fd);
}

static void
test_line(struct th_daemon *d)
{
	static const char want[] = "hello\nworld\npartial\n\n";
	char got[sizeof(want)];
	int fd = th_connect(d->port[1]);

	ok(fd != -1, "connect to the line listener");
	memset(got, 0, sizeof(got));
	ok(th_write_all(fd, "hello\r\nworld\n", 13) == 0 &&
	    th_write_all(fd, "par", 3) == 0, "send lines");
	th_sleep_ms(50);	/* the rest of the line comes later */
	ok(th_write_all(fd, "tial\n\n", 6) == 0, "finish the split line");
	ok(th_read_exact(fd, got, sizeof(want) - 1, th_ms(5000)) == 0,
	    "lines come back");
	is_str(got, want, "\\r\\n and \\n lines echo with \\n");
	close(fd);
}

int
main(void)
{
	struct th_daemon *d;

	th_init("t040-echo-basic", 60);
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\n"
	    "listen 127.0.0.1:0 line\n"
	    "app echo\n"
	    "workers 2\n");
	if (d == NULL || d->nports != 2)
		bail("taod did not start with two listeners");
	test_load(d);
	test_heartbeat(d);
	test_line(d);
	is_int(th_stat(d, -1, "errors"), 0, "taod counted no errors");
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	return th_exit(done_testing());
}
