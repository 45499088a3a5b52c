/*
 * t043-echo-many - 2 000 connections opened at once (non-blocking
 * connects, all in flight together), each echoes one message; taod
 * then holds all 2 000 open at the same time.
 */
#include "tests/lib/harness.h"
#include "tests/tap.h"

#define CONNS	2000

int
main(void)
{
	struct th_load_opts o = {
		.conns = CONNS, .depth = 1, .max_size = 1024, .msgs = 1,
	};
	struct th_load_totals t;
	struct th_daemon *d;
	struct th_load *l;
	double t0;

	th_init("t043-echo-many", 60);
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n");
	if (d == NULL)
		bail("taod did not start");
	o.port = d->port[0];
	o.seed = th_rand();
	t0 = th_now_ms();
	if ((l = th_load_start(&o)) == NULL)
		bail("th_load_start");
	ok(th_load_wait(l, th_ms(30000)) == 0, "%d connections finish",
	    CONNS);
	diag("%d connects and echoes in %.0f ms", CONNS, th_now_ms() - t0);
	/* The load keeps its connections open until th_load_stop. */
	is_int(th_stat(d, -1, "connections"), CONNS,
	    "taod holds all %d at once", CONNS);
	th_load_stop(l, &t);
	th_load_diag("burst", &t);
	is_int(t.connect_failed, 0, "no connect failed");
	is_int(t.replies, CONNS, "every connection got its echo");
	is_int(t.closed + t.reset + t.bad + t.timeout, 0,
	    "no connection broke");
	th_load_free(l);
	ok(th_stat(d, -1, "accepted") >= CONNS, "taod accepted them all");
	is_int(th_stat(d, -1, "errors"), 0, "taod counted no errors");
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	return th_exit(done_testing());
}
