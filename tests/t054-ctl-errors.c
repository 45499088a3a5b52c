/*
 * t054-ctl-errors - taoctl fails clearly: no daemon at the path (exit 1,
 * "cannot connect to PATH"), a stale socket, a bad command or option
 * (exit 2 and the usage), and a uid that is neither root nor taod's own
 * (run through setpriv as 65534: "permission denied", exit 1, and a
 * refused `stop` leaves taod running).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

static int
taoctl(char *out, size_t len, const char *sock, const char *a,
    const char *b)
{
	char bin[256];
	const char *argv[] = { bin, "-s", sock, a, b, NULL };

	strlcpy(bin, th_bin("taoctl"), sizeof(bin));
	if (a == NULL) {
		argv[1] = sock;		/* just options, or nothing */
		argv[2] = NULL;
	}
	return th_run(out, len, th_ms(10000), argv);
}

static void
test_no_daemon(void)
{
	struct sockaddr_un sun;
	char path[256], out[4096], want[300];
	int fd;

	snprintf(path, sizeof(path), "%s/none.sock", th_dir());
	is_int(taoctl(out, sizeof(out), path, "status", NULL), 1,
	    "no daemon: taoctl exits 1");
	snprintf(want, sizeof(want), "taoctl: cannot connect to %s: ", path);
	ok(strstr(out, want) != NULL, "  and says '%s...'", want);
	diag("  %.*s", (int)strcspn(out, "\n"), out);

	/* A socket file nobody listens on any more (taod was killed). */
	snprintf(path, sizeof(path), "%s/stale.sock", th_dir());
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		bail("cannot make a stale socket");
	close(fd);
	is_int(taoctl(out, sizeof(out), path, "stop", NULL), 1,
	    "stale socket: taoctl exits 1");
	snprintf(want, sizeof(want), "taoctl: cannot connect to %s: ", path);
	ok(strstr(out, want) != NULL, "  and says '%s...'", want);
	diag("  %.*s", (int)strcspn(out, "\n"), out);
}

static void
test_usage(struct th_daemon *d)
{
	static const char *bad[][2] = {
		{ "frobnicate", NULL }, { "stats", "--xml" },
		{ "stop", "now" }, { "", NULL },
	};
	char out[4096];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(taoctl(out, sizeof(out), d->ctl, bad[i][0], bad[i][1]),
		    2, "taoctl '%s%s%s' exits 2", bad[i][0],
		    bad[i][1] ? " " : "", bad[i][1] ? bad[i][1] : "");
		ok(strstr(out, "usage: taoctl") != NULL, "  with the usage");
	}
	is_int(taoctl(out, sizeof(out), "-s", NULL, NULL), 2,
	    "taoctl -s without a path exits 2");
	is_int(taoctl(out, sizeof(out), "-Z", NULL, NULL), 2,
	    "taoctl -Z exits 2");
	is_int(taoctl(out, sizeof(out), d->ctl, "help", NULL), 0,
	    "taoctl help exits 0");
	ok(strstr(out, "usage: taoctl") != NULL, "  with the usage");
	ok(th_pid_alive(d->pid), "taod is still running");
}

static void
test_uid(struct th_daemon *d)
{
	char bin[256], out[4096];
	const char *cmds[] = { "status", "stats", "reload", "stop" };
	const char *argv[] = { "setpriv", "--reuid=65534", "--regid=65534",
	    "--clear-groups", bin, "-s", d->ctl, NULL, NULL };
	int denied = 0, said = 0, rc;

	strlcpy(bin, th_bin("taoctl"), sizeof(bin));
	/* Let uid 65534 reach the socket: only the credentials check is
	 * left to stop it. */
	if (chmod(th_dir(), 0755) == -1 || chmod(d->dir, 0755) == -1 ||
	    chmod(d->ctl, 0666) == -1)
		bail("chmod");
	for (int i = 0; i < 20; i++) {
		argv[7] = cmds[i % 4];
		rc = th_run(out, sizeof(out), th_ms(10000), argv);
		denied += rc == 1;
		said += strstr(out, "permission denied") != NULL;
		if (rc != 1 || strstr(out, "permission denied") == NULL)
			diag("uid 65534, taoctl %s: exit %d: %s", argv[7], rc,
			    out);
	}
	is_int(denied, 20, "uid 65534: taoctl exits 1, 20 times out of 20");
	is_int(said, 20, "  saying 'permission denied' each time");
	ok(th_pid_alive(d->pid) && th_daemon_wait(d, 0) == -1,
	    "a refused stop leaves taod running");
	ok(th_daemon_log_count(d, "refused uid 65534") > 0,
	    "taod logs the refusal");
	is_int(taoctl(out, sizeof(out), d->ctl, "status", NULL), 0,
	    "root's taoctl status still works");
}

int
main(void)
{
	struct th_daemon *d;

	th_init("t054-ctl-errors", 60);
	plan(0);
	test_no_daemon();
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 1\n");
	if (d == NULL)
		bail("taod did not start");
	test_usage(d);
	test_uid(d);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	return th_exit(done_testing());
}
