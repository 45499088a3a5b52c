/*
 * t255-metrics-reload - the metrics listener follows the configuration.
 *
 *  - off by default: no "metrics on" line, the port of a later config is
 *    not open;
 *  - a reload adding `metrics` opens it; one moving it to another port
 *    opens the new port and closes the old; `metrics off` closes it;
 *  - a reload to an address taod cannot bind (one a test socket holds) is
 *    refused with the reason, and the old listener keeps serving;
 *  - `taod -t` rejects a bad address with FILE:LINE.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/http.h"
#include "tests/tap.h"

#define BASE	"listen 127.0.0.1:0 tlv\napp echo\nworkers 1\n"

static char resp[1 << 18];

/* A listening socket on a free port, held by the test; its port. */
static int
hold_port(int *fd)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(*fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(*fd, 1) == -1 ||
	    getsockname(*fd, (struct sockaddr *)&sin, &len) == -1)
		bail("hold_port: %s", strerror(errno));
	return ntohs(sin.sin_port);
}

static int
refused(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return rc == -1 && errno == ECONNREFUSED;
}

static int
reload_to(struct th_daemon *d, const char *extra, char *out, size_t len)
{
	char conf[512];

	snprintf(conf, sizeof(conf), BASE "%s", extra);
	if (th_daemon_config(d, conf) == -1)
		bail("th_daemon_config");
	return th_ctl(d, out, len, "reload", NULL);
}

/* A port nobody listens on: bind one, note it, close it. */
static int
free_port(void)
{
	int fd, port = hold_port(&fd);

	close(fd);
	return port;
}

static void
bad_file(void)
{
	char path[512], out[4096];
	const char *argv[] = { th_bin("taod"), "-t", "-c", path, NULL };
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/bad.conf", th_dir());
	if ((f = fopen(path, "w")) == NULL)
		bail("fopen");
	fputs("app echo\nmetrics 127.0.0.1:99999\n", f);
	fclose(f);
	rc = th_run(out, sizeof(out), th_ms(5000), argv);
	ok(rc == 1 && strstr(out, "bad.conf:2: metrics: bad port") != NULL,
	    "taod -t: metrics with a bad port fails at its line (%.*s)",
	    (int)strcspn(out, "\n"), out);
}

int
main(void)
{
	char out[4096], extra[128];
	struct th_daemon *d;
	int p1, p2, busy, busyfd;

	th_init("t255-metrics-reload", 60);
	plan(0);
	if ((d = th_daemon_start(BASE)) == NULL)
		bail("taod did not start");
	p1 = free_port();
	is_int(th_daemon_log_count(d, "metrics on"), 0, "off by default");
	ok(refused(p1), "port %d is not open", p1);

	snprintf(extra, sizeof(extra), "metrics 127.0.0.1:%d\n", p1);
	is_int(reload_to(d, extra, out, sizeof(out)), 0, "reload adds "
	    "metrics on %d", p1);
	is_int(th_scrape(p1, resp, sizeof(resp)), 200, "it answers");

	p2 = free_port();
	snprintf(extra, sizeof(extra), "metrics 127.0.0.1:%d\n", p2);
	is_int(reload_to(d, extra, out, sizeof(out)), 0, "reload moves it "
	    "to %d", p2);
	is_int(th_scrape(p2, resp, sizeof(resp)), 200, "the new port answers");
	ok(refused(p1), "the old port is closed");

	busy = hold_port(&busyfd);
	snprintf(extra, sizeof(extra), "metrics 127.0.0.1:%d\n", busy);
	is_int(reload_to(d, extra, out, sizeof(out)), 1, "a reload to a "
	    "port in use is refused");
	ok(strstr(out, "metrics 127.0.0.1:") != NULL &&
	    strstr(out, "in use") != NULL, "saying why (%.*s)",
	    (int)strcspn(out, "\n"), out);
	is_int(th_scrape(p2, resp, sizeof(resp)), 200, "the old listener "
	    "still answers");
	close(busyfd);

	is_int(reload_to(d, "metrics off\n", out, sizeof(out)), 0,
	    "reload to metrics off");
	ok(refused(p2), "closes it");
	bad_file();
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
