/*
 * t257-metrics-hist-counts - the histograms of GET /metrics count what
 * was sent, in the right buckets.
 *
 * A libtao server (2 workers) starts with metrics off and echoes 10
 * type-1 frames, uncounted (no histograms are kept while nobody can read
 * them); a reload turns the metrics listener on.  The server registers
 * type 1 (echo), type 2 (sleeps 40 ms, echoes), type 3 (blocking: sleeps
 * 100 ms on the pool, echoes) and on_message (echo: type 77 lands in
 * "other").  After the reload, 100 type-1 frames over 4 connections, 3
 * of type 2, 2 of type 3 and 7 of type 77, summed over the two workers:
 *  - tao_handler_seconds_count per type is 100, 3, 2, 7;
 *  - the sleeps land in their bucket: type 2 all in (32.768, 65.536] ms,
 *    type 3 all in (65.536, 131.072] ms, and _sum at least the sleeps;
 *  - tao_write_queue_wait_seconds_count equals msgs_out less the 10
 *    replies of before the reload (every reply written once);
 *  - promtool check metrics accepts the exposition.
 * Then a client with a 4 KiB receive buffer sends 4 frames of type 4,
 * each answered by 32 replies of 60 000 bytes (7.7 MB), and reads
 * nothing: tao_queue_bytes rises over 1 MB (what the kernel's buffers do
 * not take); after 300 ms it reads everything: tao_queue_bytes goes back
 * to 0, the wait count grows by 128 and some of those waited over 262 ms
 * (a bucket the quick replies never reach).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tao.h"
#include "tests/lib/harness.h"
#include "tests/lib/http.h"
#include "tests/tap.h"

#define FLOODS		4	/* type 4 requests */
#define FLOOD_REPLIES	32	/* replies to each */
#define BIG_FRAMES	(FLOODS * FLOOD_REPLIES)
#define BIG_LEN		60000

static void
echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)arg;
	tao_conn_send(c, m->type, m->data, m->len);
}

static void
sleepy(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	long ms = (long)(intptr_t)arg;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1)
		;
	tao_conn_send(c, m->type, m->data, m->len);
}

/* Type 4: FLOOD_REPLIES replies of BIG_LEN bytes. */
static void
flood(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	static char big[BIG_LEN];

	(void)arg;
	for (int i = 0; i < FLOOD_REPLIES; i++)
		if (tao_conn_send(c, m->type, big, sizeof(big)) < 0)
			tao_conn_close(c);
}

static int
run(const char *conf, void *arg)
{
	struct tao_server *s = tao_server_new();

	(void)arg;
	if (s == NULL || tao_server_config(s, conf) < 0 ||
	    tao_server_register(s, 1, NULL, echo, NULL) < 0 ||
	    tao_server_register(s, 2, NULL, sleepy, (void *)(intptr_t)40) < 0
	    || tao_server_register_blocking(s, 3, NULL, sleepy,
	    (void *)(intptr_t)100) < 0 ||
	    tao_server_register(s, 4, NULL, flood, NULL) < 0)
		return 1;
	tao_server_on_message(s, echo, NULL);
	return tao_server_run(s) < 0;
}

/* The value of a sample summed over worker="0" and worker="1"; labels
 * after the worker's (",type=\"1\"", ",le=...") or "". */
static double
sum2(const char *body, const char *name, const char *labels)
{
	double t = 0;

	for (int w = 0; w < 2; w++) {
		char s[160];
		const char *p = body;
		size_t n;

		snprintf(s, sizeof(s), "%s{worker=\"%d\"%s} ", name, w, labels);
		n = strlen(s);
		while (p != NULL && strncmp(p, s, n) != 0)
			if ((p = strchr(p, '\n')) != NULL)
				p++;
		if (p == NULL)
			return -1;
		t += strtod(p + n, NULL);
	}
	return t;
}

static double
bucket(const char *body, const char *type, const char *le)
{
	char labels[64];

	snprintf(labels, sizeof(labels), ",type=\"%s\",le=\"%s\"", type, le);
	return sum2(body, "tao_handler_seconds_bucket", labels);
}

static double
count(const char *body, const char *type)
{
	char labels[64];

	snprintf(labels, sizeof(labels), ",type=\"%s\"", type);
	return sum2(body, "tao_handler_seconds_count", labels);
}

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

static const char *
scrape(int port, char *resp, size_t len)
{
	if (th_scrape(port, resp, len) != 200 || th_http_body(resp) == NULL)
		bail("scrape failed");
	return th_http_body(resp);
}

static void
send_known(struct th_daemon *d)
{
	int fds[4];

	for (int i = 0; i < 4; i++) {
		if ((fds[i] = th_connect(d->port[0])) == -1)
			bail("connect");
		for (int j = 0; j < 25; j++)
			if (th_echo_once(fds[i], 1, 50, (uint32_t)j))
				bail("echo type 1");
	}
	for (int j = 0; j < 3; j++)
		if (th_echo_once(fds[0], 2, 10, (uint32_t)j))
			bail("echo type 2");
	for (int j = 0; j < 2; j++)
		if (th_echo_once(fds[1], 3, 10, (uint32_t)j))
			bail("echo type 3");
	for (int j = 0; j < 7; j++)
		if (th_echo_once(fds[2], 77, 10, (uint32_t)j))
			bail("echo type 77");
	for (int i = 0; i < 4; i++)
		close(fds[i]);
}

static void
check_known(const char *body)
{
	is_int(promtool(body), 0, "promtool check metrics accepts the "
	    "histograms");
	ok(strstr(body, "# TYPE tao_handler_seconds histogram\n") != NULL &&
	    strstr(body, "# TYPE tao_write_queue_wait_seconds histogram\n") !=
	    NULL && strstr(body, "# TYPE tao_queue_bytes gauge\n") != NULL,
	    "two histograms and the queue gauge");
	is_int((int)count(body, "1"), 100, "type 1: 100 handler runs");
	is_int((int)count(body, "2"), 3, "type 2: 3");
	is_int((int)count(body, "3"), 2, "type 3 (blocking): 2");
	is_int((int)count(body, "other"), 7, "type 77 (on_message): 7 in "
	    "\"other\"");
	ok(bucket(body, "2", "0.032768") == 0 && bucket(body, "2",
	    "0.065536") == 3, "the 40 ms sleeps are all in (32.768, "
	    "65.536] ms (le 32.768 ms: %.0f, le 65.536 ms: %.0f)",
	    bucket(body, "2", "0.032768"), bucket(body, "2", "0.065536"));
	ok(bucket(body, "3", "0.065536") == 0 && bucket(body, "3",
	    "0.131072") == 2, "the 100 ms blocking sleeps in (65.536, "
	    "131.072] ms (%.0f, %.0f)", bucket(body, "3", "0.065536"),
	    bucket(body, "3", "0.131072"));
	ok(bucket(body, "3", "+Inf") == 2 && bucket(body, "1", "+Inf") ==
	    100, "+Inf buckets equal the counts");
	ok(sum2(body, "tao_handler_seconds_sum", ",type=\"2\"") >= 0.120 &&
	    sum2(body, "tao_handler_seconds_sum", ",type=\"3\"") >= 0.200,
	    "_sum holds at least the sleeps (%.3f s, %.3f s)",
	    sum2(body, "tao_handler_seconds_sum", ",type=\"2\""),
	    sum2(body, "tao_handler_seconds_sum", ",type=\"3\""));
	is_int((int)sum2(body, "tao_write_queue_wait_seconds_count", ""),
	    (int)sum2(body, "tao_msgs_out_total", "") - 10, "every reply's "
	    "write-queue wait counted once (msgs_out %.0f, 10 before the "
	    "metrics)", sum2(body, "tao_msgs_out_total", ""));
	is_int((int)sum2(body, "tao_queue_bytes", ""), 0, "queues empty");
}

/* A connection that reads slowly: a 4 KiB receive buffer set before
 * connecting. */
static int
slow_reader(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };
	struct timeval tv = { 5, 0 };
	int fd, small = 4096;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) ==
	    -1 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ==
	    -1 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		bail("slow reader: connect");
	return fd;
}

/* queue_bytes rises while nobody reads, and falls to 0 once read. */
static void
check_queue(int port, int mport, char *resp, size_t len)
{
	static char in[BIG_LEN];
	double before, waits, quick, peak = 0, end;
	const char *body = scrape(mport, resp, len);
	int fd = slow_reader(port), got = 0;

	before = sum2(body, "tao_write_queue_wait_seconds_count", "");
	for (int i = 0; i < FLOODS; i++)
		if (th_send_frame(fd, 4, NULL, 0) == -1)
			bail("slow reader: write");
	end = th_now_ms() + th_ms(3000);
	while (peak <= 1e6 && th_now_ms() < end) {
		body = scrape(mport, resp, len);
		peak = sum2(body, "tao_queue_bytes", "");
		th_sleep_ms(20);
	}
	ok(peak > 1e6, "nobody reads: tao_queue_bytes %.0f, over 1 MB", peak);
	th_sleep_ms(300);
	for (int i = 0; i < BIG_FRAMES; i++) {
		int32_t type;
		uint32_t n;
		if (th_recv_frame(fd, &type, in, sizeof(in), &n, th_ms(5000))
		    != 0)
			break;
		got++;
	}
	is_int(got, BIG_FRAMES, "then every reply arrives");
	end = th_now_ms() + th_ms(3000);
	do {
		body = scrape(mport, resp, len);
		waits = sum2(body, "tao_write_queue_wait_seconds_count", "");
	} while (waits < before + BIG_FRAMES && th_now_ms() < end &&
	    (th_sleep_ms(20), 1));
	is_int((int)(waits - before), BIG_FRAMES, "%d more waits counted", BIG_FRAMES);
	is_int((int)sum2(body, "tao_queue_bytes", ""), 0, "tao_queue_bytes "
	    "back to 0");
	quick = sum2(body, "tao_write_queue_wait_seconds_bucket",
	    ",le=\"0.262144\"");
	ok(waits - quick >= 1, "%.0f of them waited over 262 ms", waits -
	    quick);
	close(fd);
}

#define CONF	"listen 127.0.0.1:0 tlv\nworkers 2\nwrite_queue_max 16777216\n"

/* Metrics off: the workers keep no histograms (st_histograms); 10
 * frames then, and a reload that turns the listener on. */
static int
start_off_then_on(struct th_daemon *d)
{
	char out[4096];
	int fd, port;

	if ((fd = th_connect(d->port[0])) == -1)
		bail("connect");
	for (int j = 0; j < 10; j++)
		if (th_echo_once(fd, 1, 50, (uint32_t)j))
			bail("echo before the reload");
	close(fd);
	if (th_daemon_config(d, CONF "metrics 127.0.0.1:0\n") == -1 ||
	    th_ctl(d, out, sizeof(out), "reload", NULL) != 0)
		bail("reload: %s", out);
	if ((port = th_metrics_port(d, th_ms(5000))) <= 0)
		bail("no metrics listener after the reload");
	return port;
}

int
main(void)
{
	static char resp[1 << 19];
	struct th_daemon *d;
	int port;

	th_init("t257-metrics-hist-counts", 90);
	plan(0);
	if ((d = th_daemon_fork(CONF, run, NULL)) == NULL)
		bail("server did not start");
	port = start_off_then_on(d);
	send_known(d);
	th_sleep_ms(200);	/* the last writes are counted */
	check_known(scrape(port, resp, sizeof(resp)));
	check_queue(d->port[0], port, resp, sizeof(resp));
	is_int(th_daemon_stop_clean(d), 0, "server stops cleanly");
	return th_exit(done_testing());
}
