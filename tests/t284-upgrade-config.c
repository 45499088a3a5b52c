/*
 * t284-upgrade-config - issue 15, binary upgrade with a changed config:
 * the new master matches the inherited sockets to its own listen lines
 * by address, binds what is new, and closes what it does not name only
 * once the old master is gone.
 *
 * taod: A = 127.0.0.1:0 tlv, B = a fixed port, line codec; 2 workers.
 * A connect storm and 50 echo connections run on A throughout.
 *  1. Config A + C (another fixed port, tlv), 3 workers; upgrade: A keeps
 *     its port, C serves, B refuses connections once the old master is
 *     gone, 3 workers serve (the third slot got a new socket on A).
 *  2. Config A alone, 1 worker; upgrade: A still serves (its 3 sockets
 *     dealt to the one worker), C is closed, 1 worker serves.
 *  3. On A, across both: 0 failed connects, 0 resets, 0 lost replies.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

#define CONNS	50

static int
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, len) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		bail("free port");
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* 1 if a plain connect to port is refused. */
static int
refused(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return rc == -1 && errno == ECONNREFUSED;
}

/*
 * 1 once port refuses connections, within 5 s (scaled).  A listener the
 * new config dropped is closed when the old master has gone (its
 * workers may still accept on it until they retire, upgrade.c), which
 * may be a moment after `taoctl upgrade` returned.
 */
static int
closed_soon(int port)
{
	double end = th_now_ms() + th_ms(5000);

	while (!refused(port))
		if (th_now_ms() > end)
			return 0;
		else
			th_sleep_ms(20);
	return 1;
}

static int
echoes(int port)
{
	int fd = th_connect(port), rc;

	rc = fd != -1 && th_echo_once(fd, 1, 100, 9) == 0;
	if (fd != -1)
		close(fd);
	return rc;
}

static int
serving(struct th_daemon *d)
{
	struct th_status st;
	double end = th_now_ms() + th_ms(5000);
	int n = -1;

	while (th_now_ms() < end) {
		if (th_status(d, &st) == 0 && (n = th_status_serving(&st, -1,
		    NULL)) == st.workers)
			return n;
		th_sleep_ms(20);
	}
	return n;
}

static void
upgrade_to(struct th_daemon *d, const char *conf, const char *what)
{
	char out[4096] = "";
	pid_t pid;

	if (th_daemon_config(d, conf) == -1)
		bail("cannot write the config");
	pid = th_upgrade(d, out, sizeof(out));
	ok(pid > 0, "%s: the upgrade succeeds (%.*s)", what,
	    (int)strcspn(out, "\n"), out);
}

int
main(void)
{
	struct th_load_opts o = { .conns = CONNS, .depth = 1, .max_size = 512 };
	struct th_storm_totals s;
	struct th_load_totals t;
	struct th_daemon *d;
	struct th_storm *storm;
	struct th_load *l;
	char bin[300], conf[512];
	int pa, pb = free_port(), pc = free_port();

	th_init("t284-upgrade-config", 120);
	snprintf(bin, sizeof(bin), "%s/taod-bin", th_dir());
	if (th_copy_file(th_bin("taod"), bin, 0755) == -1)
		bail("cannot copy taod");
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv\nlisten "
	    "127.0.0.1:%d line\napp echo\nworkers 2\n", pb);
	if ((d = th_daemon_start_bin(bin, conf)) == NULL)
		bail("taod did not start");
	pa = o.port = d->port[0];
	o.seed = th_rand();
	if ((l = th_load_start(&o)) == NULL || (storm = th_storm_start(pa)) ==
	    NULL)
		bail("clients");
	(void)th_load_wait_replies(l, 3 * CONNS, th_ms(10000));

	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv\nlisten "
	    "127.0.0.1:%d tlv\napp echo\nworkers 3\n", pc);
	upgrade_to(d, conf, "A + C, 3 workers");
	ok(echoes(pa) && echoes(pc), "  A (port %d) and C (port %d) echo", pa,
	    pc);
	ok(closed_soon(pb), "  B (port %d), no longer configured, is closed",
	    pb);
	is_int(serving(d), 3, "  3 workers serve");
	(void)th_storm_wait(storm, th_storm_attempts(storm) + 50, th_ms(5000));

	upgrade_to(d, "listen 127.0.0.1:0 tlv\napp echo\nworkers 1\n",
	    "A alone, 1 worker");
	ok(echoes(pa) && closed_soon(pc), "  A echoes, C is closed");
	is_int(serving(d), 1, "  1 worker serves");
	(void)th_storm_wait(storm, th_storm_attempts(storm) + 50, th_ms(5000));
	(void)th_load_wait_replies(l, th_load_replies(l) + CONNS, th_ms(5000));

	th_storm_stop(storm, &s);
	th_load_stop(l, &t);
	th_storm_diag("connect storm on A", &s);
	th_load_diag("50 connections on A", &t);
	is_int(s.connect_failed + s.reset + s.no_reply + s.bad, 0, "storm on "
	    "A: 0 failed connects, 0 resets, 0 lost replies");
	is_int(t.open, CONNS, "the %d connections on A all kept working",
	    CONNS);
	is_int(t.lost + t.reset + t.bad, 0, "  0 resets, 0 lost replies");
	th_load_free(l);
	is_int(th_daemon_stop_clean(d), 0, "the last master stops clean");
	return th_exit(done_testing());
}
