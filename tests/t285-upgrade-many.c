/*
 * t285-upgrade-many - a worker hands over far more connections than the
 * master reads from its channel per wake-up (64), then exits at once:
 * every one of them must still reach the new generation.  2000 echo
 * connections on 2 workers (1000 each) across one binary upgrade (all of
 * them through the one channel between the masters) and then one
 * reload: all 2000 open at the end, none lost a reply.
 */
#include <stdio.h>
#include <string.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

#define CONNS	2000

int
main(void)
{
	struct th_load_opts o = { .conns = CONNS, .depth = 1, .max_size = 64 };
	struct th_load_totals t;
	struct th_daemon *d;
	struct th_load *l;
	char bin[300], out[4096] = "";
	pid_t pid;

	th_init("t285-upgrade-many", 120);
	snprintf(bin, sizeof(bin), "%s/taod-bin", th_dir());
	if (th_copy_file(th_bin("taod"), bin, 0755) == -1)
		bail("cannot copy taod");
	if ((d = th_daemon_start_bin(bin, "listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 2\n")) == NULL)
		bail("taod did not start");
	o.port = d->port[0];
	o.seed = th_rand();
	if ((l = th_load_start(&o)) == NULL)
		bail("th_load_start");
	ok(th_load_wait_replies(l, 2 * CONNS, th_ms(20000)) == 0,
	    "%d connections echo", CONNS);
	pid = th_upgrade(d, out, sizeof(out));
	ok(pid > 0, "upgrade: %.*s", (int)strcspn(out, "\n"), out);
	(void)th_load_wait_replies(l, th_load_replies(l) + 2 * CONNS,
	    th_ms(20000));
	ok(th_ctl(d, out, sizeof(out), "reload", NULL) == 0, "then a reload");
	(void)th_load_wait_replies(l, th_load_replies(l) + 2 * CONNS,
	    th_ms(20000));
	th_load_stop(l, &t);
	th_load_diag("2000 connections", &t);
	is_int(t.open, CONNS, "all %d connections kept working across the "
	    "upgrade and the reload", CONNS);
	is_int(t.lost + t.reset + t.bad + t.closed, 0, "  none lost a reply "
	    "or was closed");
	th_load_free(l);
	is_int(th_daemon_stop_clean(d), 0, "taod stops clean");
	return th_exit(done_testing());
}
