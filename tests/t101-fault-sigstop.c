/*
 * t101-fault-sigstop - a chat worker stopped with SIGSTOP for 2 s in a
 * broadcast storm.
 *
 * Chat, 2 workers, ring_size 64k; 20 clients spread over both workers
 * each broadcast a 64-byte message every 5 ms.  Measured over 1 s
 * windows before and during the stop of worker 1:
 *  - worker 0's publish rate (its msgs_in per second) and delivery rate
 *    (messages from its clients received by its clients per second) do
 *    not drop (>= 70 % of before: the machine is shared);
 * after SIGCONT:
 *  - worker 1 reports ring_drops > 0 in `taoctl stats --json` (worker 0
 *    lapped it in the 64k ring) and its clients get broadcasts again;
 *  - a new client on worker 1 receives broadcasts from both workers.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness-fault.h"
#include "tests/tap.h"

#define CLIENTS		20
#define STOP_MS		2000

struct rates {
	double	 publish;	/* msgs_in of slot 0 per second */
	double	 delivery;	/* 0 -> 0 deliveries per second */
	double	 to1;		/* deliveries to slot 1 per second */
};

static void
window(struct th_daemon *d, struct th_chat *ch, int ms, struct rates *r)
{
	long long in0, rx0, rx1;
	double t0, dt;

	in0 = th_stat(d, 0, "msgs_in");
	rx0 = th_chat_received(ch, 0, 0);
	rx1 = th_chat_received(ch, 1, -1);
	t0 = th_now_ms();
	th_sleep_ms(ms);
	dt = (th_now_ms() - t0) / 1000.0;
	r->publish = (double)(th_stat(d, 0, "msgs_in") - in0) / dt;
	r->delivery = (double)(th_chat_received(ch, 0, 0) - rx0) / dt;
	r->to1 = (double)(th_chat_received(ch, 1, -1) - rx1) / dt;
}

/* A new client whose welcome says worker 1: fd, or -1. */
static int
client_on(int port, int slot)
{
	char buf[256];
	uint32_t len;
	int32_t type;
	int fd, w;

	for (int i = 0; i < 64; i++) {
		if ((fd = th_connect(port)) == -1)
			return -1;
		if (th_recv_frame(fd, &type, buf, sizeof(buf) - 1, &len,
		    th_ms(3000)) == 0 && type == 3) {
			buf[len] = '\0';
			if (sscanf(buf, "netid=%*u worker=%d", &w) == 1 &&
			    w == slot)
				return fd;
		}
		close(fd);
	}
	return -1;
}

/* Read broadcasts on fd for up to ms: which sending slots were seen. */
static int
heard_from(int fd, int ms, int *from0, int *from1)
{
	static char buf[65536];
	double end = th_now_ms() + ms;
	uint32_t len;
	int32_t type;
	int idx, slot, n = 0;

	*from0 = *from1 = 0;
	while (th_now_ms() < end && (*from0 == 0 || *from1 == 0)) {
		if (th_recv_frame(fd, &type, buf, sizeof(buf) - 1, &len,
		    (int)(end - th_now_ms()) + 1) != 0)
			break;
		if (type != 1 || len < 8)
			continue;
		buf[len] = '\0';
		if (sscanf(buf + 8, "C%d:%d:", &idx, &slot) != 2)
			continue;
		n++;
		*from0 += slot == 0;
		*from1 += slot == 1;
	}
	return n;
}

/* What the steps of the scenario share. */
struct sigstop {
	struct th_daemon *d;
	struct th_chat *ch;
	pid_t w0, w1;
	long long drops0;	/* worker 1's ring drops before the stop */
};

/* taod with 2 workers and a chat storm spread over both. */
static void
sigstop_start(struct sigstop *t)
{
	struct th_chat_opts oc = { .conns = CLIENTS, .interval_ms = 5,
	    .size = 64, .reconnect = 0 };
	struct th_status st;
	int on[2] = { 0, 0 };

	t->d = th_daemon_start("listen 127.0.0.1:0 tlv\napp chat notices\n"
	    "workers 2\nring_size 64k\n");
	if (t->d == NULL)
		bail("taod did not start");
	if (th_status(t->d, &st) == -1 ||
	    th_status_serving(&st, 0, &t->w0) != 1 ||
	    th_status_serving(&st, 1, &t->w1) != 1)
		bail("2 workers do not serve");
	oc.port = t->d->port[0];
	if ((t->ch = th_chat_start(&oc)) == NULL)
		bail("th_chat_start");
	if (th_chat_wait_ready(t->ch, th_ms(10000)) == -1)
		bail("the chat clients were not welcomed");
	for (int i = 0; i < CLIENTS; i++) {
		int s = th_chat_conn(t->ch, i)->slot;
		if (s == 0 || s == 1)
			on[s]++;
	}
	diag("%d clients on worker 0 (pid %d), %d on worker 1 (pid %d)",
	    on[0], (int)t->w0, on[1], (int)t->w1);
	if (on[0] < 2 || on[1] < 2)
		bail("the clients did not spread over both workers (%d + %d)",
		    on[0], on[1]);
	t->drops0 = th_stat(t->d, 1, "ring_drops");
	th_sleep_ms(300);		/* warm up */
}

/* Worker 1 stopped for STOP_MS does not slow worker 0 down. */
static void
sigstop_stop(struct sigstop *t)
{
	struct rates before, during;
	double t_stop, t_cont;

	window(t->d, t->ch, 1000, &before);
	diag("before: worker 0 publishes %.0f/s, delivers %.0f/s of them "
	    "to its clients; worker 1's clients get %.0f/s", before.publish,
	    before.delivery, before.to1);
	ok(before.publish > 100 && before.delivery > 100, "a storm is "
	    "running");

	t_stop = th_now_ms();
	ok(kill(t->w1, SIGSTOP) == 0, "SIGSTOP worker 1");
	th_sleep_ms(400);		/* worker 1's clients stop sending */
	window(t->d, t->ch, 1000, &during);
	diag("during the stop: worker 0 publishes %.0f/s (%.0f %%), "
	    "delivers %.0f/s (%.0f %%); worker 1's clients get %.0f/s",
	    during.publish, 100 * during.publish / before.publish,
	    during.delivery, 100 * during.delivery / before.delivery,
	    during.to1);
	ok(during.publish >= 0.7 * before.publish, "worker 0's publish rate "
	    "does not drop");
	ok(during.delivery >= 0.7 * before.delivery, "worker 0's delivery "
	    "rate does not drop");
	ok(during.to1 < 0.05 * before.to1 + 10, "worker 1's clients get "
	    "(almost) nothing while it is stopped");
	if (th_now_ms() - t_stop < STOP_MS)
		th_sleep_ms(STOP_MS - (int)(th_now_ms() - t_stop));
	t_cont = th_now_ms();
	ok(kill(t->w1, SIGCONT) == 0, "SIGCONT after %.0f ms",
	    t_cont - t_stop);
}

/* Worker 1 resumes: it reports its drops and delivers again. */
static void
sigstop_resumed(struct sigstop *t)
{
	struct th_status st;
	long long drops1 = 0, rx1;
	pid_t w;
	int fd, from0, from1;

	{
		double end = th_now_ms() + th_ms(3000);
		while (th_now_ms() < end &&
		    (drops1 = th_stat(t->d, 1, "ring_drops")) <= t->drops0)
			th_sleep_ms(20);
	}
	diag("worker 1: ring_drops %lld (was %lld), worker 0: %lld", drops1,
	    t->drops0, th_stat(t->d, 0, "ring_drops"));
	ok(drops1 > t->drops0, "worker 1 reports the ring drops of its stop");

	rx1 = th_chat_received(t->ch, 1, 0);
	{
		double end = th_now_ms() + th_ms(3000);
		while (th_chat_received(t->ch, 1, 0) <= rx1 &&
		    th_now_ms() < end)
			th_sleep_ms(10);
	}
	ok(th_chat_received(t->ch, 1, 0) > rx1, "worker 1's clients get "
	    "worker 0's broadcasts again");
	fd = client_on(t->d->port[0], 1);
	ok(fd != -1, "a new client lands on worker 1");
	if (fd != -1) {
		int n = heard_from(fd, th_ms(3000), &from0, &from1);
		diag("the new client got %d broadcasts: %d from worker 0's "
		    "clients, %d from worker 1's", n, from0, from1);
		ok(from0 > 0 && from1 > 0, "  and receives broadcasts from "
		    "both workers");
		close(fd);
	}
	ok(th_status(t->d, &st) == 0 && th_status_serving(&st, 1, &w) == 1 &&
	    w == t->w1, "worker 1 was not replaced (pid %d)", (int)t->w1);
}

int
main(void)
{
	struct sigstop t = { .w0 = -1, .w1 = -1 };
	struct th_chat_totals tc;

	th_init("t101-fault-sigstop", 60);
	plan(0);
	sigstop_start(&t);
	sigstop_stop(&t);
	sigstop_resumed(&t);
	th_chat_stop(t.ch, &tc);
	th_chat_diag("chat", &tc);
	is_int(tc.closed + tc.reset + tc.bad + tc.connect_failed, 0,
	    "no chat client broke");
	th_chat_free(t.ch);
	is_int(th_daemon_stop(t.d), 0, "taod stops with exit 0");
	is_int(th_sanitizer_reports(t.d), 0, "no sanitizer report in the log");
	return th_exit(done_testing());
}
