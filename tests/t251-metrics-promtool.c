/*
 * t251-metrics-promtool - GET /metrics is valid Prometheus text and
 * agrees with taoctl stats.
 *
 * taod (echo, 2 workers, metrics on 127.0.0.1:0) echoes some messages;
 * a scrape answers 200 with Content-Type text/plain; version=0.0.4,
 * passes `promtool check metrics` (Debian package prometheus, which make
 * deps installs: a missing promtool fails the test), has a
 * tao_<name>_total family with worker="0" and worker="1" for every
 * counter of taoctl stats, the gauges, and values equal to taoctl stats
 * once the traffic has stopped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/http.h"
#include "tests/tap.h"

static const char *const counters[] = {
	"accepted", "closed", "msgs_in", "msgs_out", "bytes_in", "bytes_out",
	"errors", "refused", "timeouts", "ring_drops", "dropped", "ring_reads",
};
#define NCOUNTERS	(sizeof(counters) / sizeof(counters[0]))

static int
promtool(const char *body)
{
	char path[300], cmd[700], out[8192];
	const char *argv[] = { "sh", "-c", cmd, NULL };
	FILE *fp;
	int rc;

	snprintf(path, sizeof(path), "%s/scrape.txt", th_dir());
	if ((fp = fopen(path, "w")) == NULL || fputs(body, fp) == EOF ||
	    fclose(fp) == EOF)
		bail("cannot write %s", path);
	snprintf(cmd, sizeof(cmd), "command -v promtool >/dev/null || "
	    "{ echo 'promtool is not installed (make deps)'; exit 127; }; "
	    "promtool check metrics < '%s'", path);
	rc = th_run(out, sizeof(out), th_ms(20000), argv);
	if (rc != 0 || out[0] != '\0')
		diag("promtool: rc %d: %s", rc, out);
	return rc == 0 && out[0] == '\0' ? 0 : -1;
}

/* Every taoctl stats counter of both slots equals the scrape's. */
static int
matches_stats(struct th_daemon *d, const char *body)
{
	char series[96];
	int bad = 0;

	for (size_t k = 0; k < NCOUNTERS; k++)
		for (int slot = 0; slot < 2; slot++) {
			long long want = th_stat(d, slot, counters[k]);
			snprintf(series, sizeof(series),
			    "tao_%s_total{worker=\"%d\"}", counters[k], slot);
			if (th_metric(body, series) != want || want < 0) {
				diag("%s: scrape %lld, taoctl stats %lld",
				    series, th_metric(body, series), want);
				bad++;
			}
		}
	return bad;
}

int
main(void)
{
	static char resp[1 << 18];
	struct th_daemon *d;
	const char *body;
	int port, fds[6];

	th_init("t251-metrics-promtool", 60);
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 2\n"
	    "metrics 127.0.0.1:0\n");
	if (d == NULL)
		bail("taod did not start");
	port = th_metrics_port(d, th_ms(5000));
	ok(port > 0, "taod logs where the metrics listener is (port %d)",
	    port);
	if (port <= 0)
		bail("no metrics port");
	for (int i = 0; i < 6; i++) {
		if ((fds[i] = th_connect(d->port[0])) == -1)
			bail("connect");
		for (int j = 0; j < 5; j++)
			if (th_echo_once(fds[i], 7, 100 + (size_t)j, (uint32_t)j))
				bail("echo");
	}
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	th_sleep_ms(300);	/* let the closes be counted */

	is_int(th_scrape(port, resp, sizeof(resp)), 200, "GET /metrics: 200");
	ok(strstr(resp, "\r\nContent-Type: text/plain; version=0.0.4") !=
	    NULL, "Content-Type: text/plain; version=0.0.4");
	body = th_http_body(resp);
	ok(body != NULL && strlen(body) > 100, "with a body");
	if (body == NULL)
		bail("no body");
	is_int(promtool(body), 0, "promtool check metrics accepts it");
	ok(strstr(body, "# TYPE tao_accepted_total counter\n") != NULL &&
	    strstr(body, "# TYPE tao_connections gauge\n") != NULL &&
	    strstr(body, "# TYPE tao_restarts_total counter\n") != NULL &&
	    strstr(body, "# TYPE tao_generation gauge\n") != NULL,
	    "counters are counters, gauges are gauges");
	ok(th_metric(body, "tao_accepted_total{worker=\"0\"}") +
	    th_metric(body, "tao_accepted_total{worker=\"1\"}") == 6,
	    "6 connections accepted over the two workers");
	ok(th_metric(body, "tao_connections{worker=\"0\"}") +
	    th_metric(body, "tao_connections{worker=\"1\"}") == 3,
	    "3 open");
	ok(th_metric(body, "tao_msgs_in_total{worker=\"0\"}") +
	    th_metric(body, "tao_msgs_in_total{worker=\"1\"}") == 30,
	    "30 messages in");
	is_int((int)th_metric(body, "tao_generation"), 1, "generation 1");
	is_int((int)th_metric(body, "tao_workers"), 2, "2 workers");
	is_int(matches_stats(d, body), 0, "every counter equals taoctl stats");
	for (int i = 3; i < 6; i++)
		close(fds[i]);
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
