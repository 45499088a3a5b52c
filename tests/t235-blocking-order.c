/*
 * t235-blocking-order - issue 16, the pool's contract:
 *
 *  1. 1 000 frames on one connection, blocking and normal ones mixed
 *     (each third is normal), come back in the order sent, with 4 pool
 *     threads that would happily run them out of order.
 *  2. Close during a running job: the peer resets the connection while
 *     its handler sleeps; the handler's tao_conn_send then returns
 *     TAO_ECLOSED, and on_close runs once, after the handler returned.
 *     A peer that only half-closes (FIN) still gets the late reply.
 *  3. On a pool thread, timers and broadcast are TAO_ESTATE, and
 *     tao_conn_send to another connection too; tao_conn_close from the
 *     pool closes after the replies sent before it.
 *  4. blocking_queue_max 1 with 50 connections sending a blocking frame
 *     each at once: every one is answered (they wait, unread, for room),
 *     none dropped.
 *  5. The pool's added latency per frame, measured: sequential round
 *     trips through a blocking and through a normal echo (diag).
 */
#include <sys/mman.h>
#include <sys/socket.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tao.h"
#include "tests/lib/harness.h"
#include "tests/tap.h"

#define ECHO_B		2	/* blocking echo */
#define ECHO_N		3	/* normal echo */
#define SLOW_SEND	4	/* blocking: sleep 300 ms, then send */
#define RULES		5	/* blocking: try what is not allowed */
#define BYE		6	/* blocking: send, close, send */

struct shared {
	atomic_int	 slow_rc;	/* SLOW_SEND's send result */
	atomic_int	 slow_done;	/* 1 once it returned */
	atomic_int	 closes_after;	/* on_close saw slow_done == 1 */
	atomic_int	 closes_before;
	atomic_int	 closes_slow;	/* on_close of the slow conn */
	atomic_int	 rules[4];
	atomic_int	 rules_done;
	atomic_llong	 other_netid;
};

static struct shared *sh;
static struct tao_conn *last_normal;	/* loop-thread only */

static void
echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)arg;
	if (m->type == ECHO_N)
		last_normal = c;
	tao_conn_send(c, m->type, m->data, m->len);
}

static void
slow_send(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	struct timespec ts = { 0, 300 * 1000 * 1000 };

	(void)m;
	(void)arg;
	tao_conn_set_data(c, sh);	/* marks the slow connection */
	nanosleep(&ts, NULL);
	atomic_store(&sh->slow_rc, tao_conn_send(c, SLOW_SEND, "late", 4));
	atomic_store(&sh->slow_done, 1);
}

static void
tick(struct tao_conn *c, void *arg)
{
	(void)c;
	(void)arg;
}

static void
rules(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)m;
	(void)arg;
	atomic_store(&sh->rules[0], (int)tao_conn_timer_after(c, 10, tick,
	    NULL));
	atomic_store(&sh->rules[1], tao_server_broadcast(tao_conn_server(c),
	    1, "x", 1));
	atomic_store(&sh->rules[2], last_normal != NULL && last_normal != c ?
	    tao_conn_send(last_normal, 1, "x", 1) : -100);
	atomic_store(&sh->rules[3], (int)tao_server_timer_after(
	    tao_conn_server(c), 10, tick, NULL));
	atomic_store(&sh->rules_done, 1);
	tao_conn_send(c, RULES, "ok", 2);
}

static void
bye(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)m;
	(void)arg;
	tao_conn_send(c, BYE, "one", 3);
	tao_conn_send(c, BYE, "two", 3);
	tao_conn_close(c);
	if (tao_conn_send(c, BYE, "three", 5) != TAO_ECLOSED)
		tao_conn_send(c, BYE, "bad", 3);	/* never sent: closing */
}

static void
on_close(struct tao_conn *c, void *arg)
{
	(void)arg;
	if (tao_conn_data(c) != sh)
		return;
	atomic_fetch_add(&sh->closes_slow, 1);
	if (atomic_load(&sh->slow_done))
		atomic_fetch_add(&sh->closes_after, 1);
	else
		atomic_fetch_add(&sh->closes_before, 1);
}

static int
run(const char *conf, void *arg)
{
	struct tao_server *s = tao_server_new();

	(void)arg;
	if (s == NULL || tao_server_config(s, conf) < 0 ||
	    tao_server_register_blocking(s, ECHO_B, NULL, echo, NULL) < 0 ||
	    tao_server_register(s, ECHO_N, NULL, echo, NULL) < 0 ||
	    tao_server_register_blocking(s, SLOW_SEND, NULL, slow_send, NULL)
	    < 0 || tao_server_register_blocking(s, RULES, NULL, rules, NULL)
	    < 0 || tao_server_register_blocking(s, BYE, NULL, bye, NULL) < 0 ||
	    tao_server_on_close(s, on_close, NULL) < 0)
		return 1;
	return tao_server_run(s) < 0;
}

static void
order(struct th_daemon *d)
{
	struct th_client c;
	struct th_frame f;
	int bad = 0, got = 0;

	if (th_client_open(&c, d->port[0]) == -1)
		bail("connect");
	for (uint32_t i = 0; i < 1000; i++)
		if (th_client_send(&c, i % 3 == 2 ? ECHO_N : ECHO_B, &i,
		    sizeof(i)) == -1)
			bail("send %u", i);
	for (uint32_t i = 0; i < 1000; i++) {
		uint32_t v;
		if (th_client_next(&c, &f, th_ms(5000)) != 1)
			break;
		got++;
		memcpy(&v, f.data, sizeof(v));
		if (v != i || f.type != (i % 3 == 2 ? ECHO_N : ECHO_B))
			bad++;
	}
	ok(got == 1000 && bad == 0, "1000 frames, two thirds through the "
	    "pool, come back in order (%d back, %d out of place)", got, bad);
	th_client_close(&c);
}

static void
close_during_job(struct th_daemon *d)
{
	struct linger lg = { 1, 0 };
	char buf[16];
	int32_t type;
	uint32_t len;
	double end;
	int fd = th_connect(d->port[0]);

	/* A half-close first: the reply still comes. */
	if (fd == -1 || th_send_frame(fd, SLOW_SEND, "", 0) != 0)
		bail("slow send");
	shutdown(fd, SHUT_WR);
	ok(th_recv_frame(fd, &type, buf, sizeof(buf), &len, th_ms(3000)) == 0
	    && len == 4 && memcmp(buf, "late", 4) == 0 &&
	    th_wait_closed(fd, th_ms(3000)) == 0, "a peer that half-closed "
	    "during the job gets its reply, then the close");
	close(fd);
	end = th_now_ms() + th_ms(3000);
	while (atomic_load(&sh->closes_slow) == 0 && th_now_ms() < end)
		th_sleep_ms(10);
	is_int(atomic_load(&sh->closes_after), 1, "its on_close ran after the "
	    "job");
	atomic_store(&sh->slow_done, 0);
	atomic_store(&sh->closes_slow, 0);
	atomic_store(&sh->closes_after, 0);

	if ((fd = th_connect(d->port[0])) == -1 ||
	    th_send_frame(fd, SLOW_SEND, "", 0) != 0)
		bail("slow send");
	th_sleep_ms(50);	/* the job runs */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);		/* a reset */
	end = th_now_ms() + th_ms(5000);
	while ((!atomic_load(&sh->slow_done) || atomic_load(&sh->closes_slow)
	    == 0) && th_now_ms() < end)
		th_sleep_ms(10);
	th_sleep_ms(100);	/* a second on_close would show now */
	is_int(atomic_load(&sh->slow_rc), TAO_ECLOSED, "a send after the peer "
	    "left during the job is TAO_ECLOSED");
	is_int(atomic_load(&sh->closes_slow), 1, "on_close ran once");
	is_int(atomic_load(&sh->closes_after), 1, "after the job returned");
}

static void
pool_rules(struct th_daemon *d)
{
	char buf[16];
	int32_t type;
	uint32_t len;
	int a = th_connect(d->port[0]), b = th_connect(d->port[0]);

	if (a == -1 || b == -1 || th_echo_once(a, ECHO_N, 4, 1) != 0)
		bail("connect");
	ok(th_send_frame(b, RULES, "", 0) == 0 && th_recv_frame(b, &type,
	    buf, sizeof(buf), &len, th_ms(3000)) == 0,
	    "the rule-breaking handler answers");
	is_int(atomic_load(&sh->rules[0]), TAO_ESTATE,
	    "tao_conn_timer_after on a pool thread: TAO_ESTATE");
	is_int(atomic_load(&sh->rules[1]), TAO_ESTATE,
	    "tao_server_broadcast on a pool thread: TAO_ESTATE");
	is_int(atomic_load(&sh->rules[2]), TAO_ESTATE,
	    "tao_conn_send to another connection: TAO_ESTATE");
	is_int(atomic_load(&sh->rules[3]), TAO_ESTATE,
	    "tao_server_timer_after on a pool thread: TAO_ESTATE");
	close(a);
	{
		char got[64] = "";
		size_t n = 0;
		ok(th_send_frame(b, BYE, "", 0) == 0, "bye sent");
		while (n + 12 <= sizeof(got) && th_recv_frame(b, &type, buf,
		    sizeof(buf), &len, th_ms(3000)) == 0) {
			memcpy(got + n, buf, len);
			n += len;
			got[n] = '\0';
		}
		is_str(got, "onetwo", "close from the pool: after the replies "
		    "before it, none after");
		ok(th_wait_closed(b, th_ms(3000)) == 0, "and the connection "
		    "closes");
	}
	close(b);
}

static void
latency(struct th_daemon *d)
{
	static double t[2][2000];
	int fd = th_connect(d->port[0]);
	double med[2];

	if (fd == -1)
		bail("connect");
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 2000; i++) {
			double s = th_now_ms();
			if (th_echo_once(fd, k ? ECHO_B : ECHO_N, 16, 1) != 0)
				bail("echo");
			t[k][i] = th_now_ms() - s;
		}
		for (int i = 1; i < 2000; i++)	/* insertion sort */
			for (int j = i; j > 0 && t[k][j - 1] > t[k][j]; j--) {
				double x = t[k][j];
				t[k][j] = t[k][j - 1];
				t[k][j - 1] = x;
			}
		med[k] = t[k][1000];
	}
	diag("round trip, median of 2000: normal %.1f us, blocking (pool) "
	    "%.1f us: the pool adds %.1f us per frame (p99 %.1f vs %.1f us)",
	    med[0] * 1000, med[1] * 1000, (med[1] - med[0]) * 1000,
	    t[0][1980] * 1000, t[1][1980] * 1000);
	ok(med[1] < th_ms(2), "a pool round trip stays under %d ms",
	    th_ms(2));
	close(fd);
}

static void
queue_bound(void)
{
	static struct th_client cs[50];
	struct th_daemon *d;
	struct th_frame f;
	int got = 0;

	d = th_daemon_fork("workers 1\nblocking_threads 1\n"
	    "blocking_queue_max 1\nlisten 127.0.0.1:0 tlv\n", run, NULL);
	if (d == NULL)
		bail("server did not start");
	for (int i = 0; i < 50; i++)
		if (th_client_open(&cs[i], d->port[0]) == -1)
			bail("connect");
	for (int i = 0; i < 50; i++)
		for (uint32_t k = 0; k < 3; k++)
			th_client_send(&cs[i], ECHO_B, &k, sizeof(k));
	for (int i = 0; i < 50; i++)
		for (uint32_t k = 0; k < 3; k++) {
			uint32_t v;
			if (th_client_next(&cs[i], &f, th_ms(5000)) == 1 &&
			    f.len == 4 && (memcpy(&v, f.data, 4), v == k))
				got++;
		}
	is_int(got, 150, "blocking_queue_max 1, 50 connections x 3 frames: "
	    "every frame answered, in order");
	for (int i = 0; i < 50; i++)
		th_client_close(&cs[i]);
	is_int(th_daemon_stop_clean(d), 0, "stops cleanly");
}

int
main(void)
{
	struct th_daemon *d;

	th_init("t235-blocking-order", 120);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail("mmap");
	d = th_daemon_fork("workers 1\nblocking_threads 4\n"
	    "listen 127.0.0.1:0 tlv\n", run, NULL);
	if (d == NULL)
		bail("server did not start");
	order(d);
	close_during_job(d);
	pool_rules(d);
	latency(d);
	is_int(th_daemon_stop_clean(d), 0, "stops cleanly");
	queue_bound();
	return th_exit(done_testing());
}
