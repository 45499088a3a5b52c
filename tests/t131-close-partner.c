/*
 * t131-close-partner: loops over a worker's connections survive callbacks
 * that close other connections (issue 12, defect 10).
 *
 * The server pairs its connections in accept order, (0,1), (2,3), ...,
 * and its on_close closes the partner, as a proxy does.  Two loops are
 * attacked:
 *
 *  - broadcast fan-out: on_deliver for connection 0 closes connection 1,
 *    the next one in the worker's list; the old loop's saved `next` then
 *    pointed into the closed list and every later recipient was skipped;
 *  - graceful stop: closing one of a pair closes the other from on_close;
 *    the old drain loop stopped there, so the later pairs were left for
 *    drain_timeout_ms and then aborted.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "tap.h"
#include "lib/harness.h"

#define NCONN		6
#define T_PING		1
#define T_SHOUT		6	/* ask for a broadcast of T_NEWS */
#define T_NEWS		7

static struct tao_conn *conns[NCONN];
static struct tao_server *server;
static int index_of[NCONN];	/* tao_conn_data points here */
static int naccepted;

static void
echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)arg;
	tao_conn_send(c, m->type, m->data, m->len);
}

static void
shout(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)c;
	(void)arg;
	tao_server_broadcast(server, T_NEWS, m->data, m->len);
}

static int
on_connect(struct tao_conn *c, void *arg)
{
	(void)arg;
	if (naccepted == NCONN)
		return -1;
	index_of[naccepted] = naccepted;
	conns[naccepted] = c;
	tao_conn_set_data(c, &index_of[naccepted++]);
	return 0;
}

/* A proxy: when one side goes, the other goes too. */
static void
on_close(struct tao_conn *c, void *arg)
{
	int i = *(int *)tao_conn_data(c);

	(void)arg;
	conns[i] = NULL;
	if (conns[i ^ 1] != NULL)
		tao_conn_close(conns[i ^ 1]);
}

/* Receiving the news, connection 0 closes its partner, the next one. */
static int
on_deliver(struct tao_conn *c, int32_t type, const void *data, size_t len,
    void *arg)
{
	(void)arg;
	if (*(int *)tao_conn_data(c) == 0 && type == T_NEWS &&
	    conns[1] != NULL)
		tao_conn_close(conns[1]);
	return tao_conn_send(c, type, data, len);
}

static int
run(const char *conf, void *arg)
{
	(void)arg;
	if ((server = tao_server_new()) == NULL ||
	    tao_server_config(server, conf) < 0)
		return 1;
	tao_server_register(server, T_PING, NULL, echo, NULL);
	tao_server_register(server, T_SHOUT, NULL, shout, NULL);
	tao_server_on_connect(server, on_connect, NULL);
	tao_server_on_close(server, on_close, NULL);
	tao_server_on_deliver(server, on_deliver, NULL);
	return tao_server_run(server) < 0;
}

static int
expect(int fd, int32_t want_type, const char *want)
{
	char buf[64];
	int32_t type;
	uint32_t len;

	if (th_recv_frame(fd, &type, buf, sizeof(buf), &len, th_ms(5000)) != 0)
		return -1;
	return type == want_type && len == strlen(want) &&
	    memcmp(buf, want, len) == 0 ? 0 : -1;
}

/* 0 on an orderly close (EOF) within timeout_ms, -1 otherwise. */
static int
wait_eof(int fd, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;
	char buf[256];
	ssize_t n;

	while (th_now_ms() < end) {
		if ((n = read(fd, buf, sizeof(buf))) == 0)
			return 0;
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return -1;	/* reset: not a clean close */
	}
	return -1;
}

int
main(void)
{
	struct th_daemon *d;
	int fd[NCONN], news = 0, rc;
	double t0, took;

	th_init("t131-close-partner", 90);
	plan(0);
	/* A long drain timeout: a stop that waits for it is the bug. */
	d = th_daemon_fork("workers 1\nlisten 127.0.0.1:0 tlv\n"
	    "drain_timeout_ms 30000\n", run, NULL);
	if (d == NULL)
		bail("the test server did not start");
	for (int i = 0; i < NCONN; i++) {
		/* One at a time, answered: the worker's list is in order. */
		if ((fd[i] = th_connect(d->port[0])) < 0 ||
		    th_send_frame(fd[i], T_PING, "hi", 2) != 0 ||
		    expect(fd[i], T_PING, "hi") != 0)
			bail("connect");
	}
	ok(1, "%d connections, paired in accept order", NCONN);

	ok(th_send_frame(fd[5], T_SHOUT, "news", 4) == 0, "connection 5 "
	    "broadcasts; delivering it to 0 closes 1, the next in the list");
	for (int i = 2; i < NCONN; i++)
		news += expect(fd[i], T_NEWS, "news") == 0;
	is_int(news, NCONN - 2, "every later recipient got the broadcast");
	ok(expect(fd[0], T_NEWS, "news") == 0,
	    "connection 0 got it before its partner's close took it too");
	ok(wait_eof(fd[1], th_ms(5000)) == 0 && wait_eof(fd[0], th_ms(5000))
	    == 0, "  1 and then 0 closed cleanly");

	/* Graceful stop: each close takes the partner along. */
	t0 = th_now_ms();
	kill(d->pid, SIGTERM);
	rc = th_daemon_wait(d, th_ms(8000));
	took = th_now_ms() - t0;
	is_int(rc, 0, "graceful stop with partner-closing on_close finishes "
	    "(%.0f ms, drain_timeout_ms 30000)", took);
	for (int i = 2; i < NCONN; i++)
		ok(wait_eof(fd[i], th_ms(2000)) == 0,
		    "  connection %d was closed cleanly", i);
	is_int(th_daemon_log_count(d, "drain timeout"), 0,
	    "  none was left for the drain timeout");
	if (rc == -1)
		th_daemon_stop(d);
	ok(th_daemon_log_count(d, "ERROR: AddressSanitizer") == 0 &&
	    th_daemon_log_count(d, "runtime error") == 0,
	    "no sanitizer report");
	for (int i = 0; i < NCONN; i++)
		close(fd[i]);
	return th_exit(done_testing());
}
