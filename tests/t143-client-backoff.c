/*
 * t143-client-backoff - issue 12 #7 and the client's announced-size
 * allocation:
 *
 * - against a full taod (`max_connections 1`, the one place held by a
 *   raw connection) every attempt of a client with the default back-off
 *   is accepted and closed at once.  Such a connection was never healthy,
 *   so the back-off must keep growing: fewer than 10 attempts in 5 s
 *   (the old client reset its failure count on every connect and tried
 *   ~13 times a second, forever);
 * - a server that sends an 8-byte header announcing a 4 MiB frame and
 *   then a few bytes does not make the client allocate 4 MiB: its read
 *   buffer grows with the bytes that arrive.  (RSS cannot tell: a
 *   malloc'ed block that is never touched costs no resident pages, so the
 *   test looks at the client's buffer capacity directly.)  When the rest
 *   of the frame comes, it is delivered whole and intact.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tao.h>

#include "client/client.h"
#include "tests/lib/harness.h"
#include "tests/tap.h"

#define BIG		(4u << 20)
#define FIRST		100		/* payload bytes sent with the header */
#define TYPE_BIG	7

static void
stop_loop(struct tao_loop *l, void *arg)
{
	(void)arg;
	tao_loop_stop(l);
}

static void
run_ms(struct tao_loop *l, int ms)
{
	if (tao_loop_run_after(l, (uint64_t)ms, stop_loop, NULL) < 0 ||
	    tao_loop_run(l) < 0)
		bail("running the loop");
}

/* ---- a full server: accept, close ------------------------------------ */

struct counts {
	int	connects;
	int	closes;
	int	errors;
};

static void
count_connect(struct tao_client *c, void *arg)
{
	(void)c;
	((struct counts *)arg)->connects++;
}

static void
count_close(struct tao_client *c, void *arg)
{
	(void)c;
	((struct counts *)arg)->closes++;
}

static void
count_error(struct tao_client *c, enum tao_client_error kind,
    const char *msg, void *arg)
{
	(void)c;
	(void)kind;
	(void)msg;
	((struct counts *)arg)->errors++;
}

static void
test_full_server(void)
{
	struct tao_client_opts o = { .reconnect = 1 };	/* default back-off */
	struct th_daemon *d;
	struct tao_client *c;
	struct tao_loop *l;
	struct counts k = { 0, 0, 0 };
	char conf[160], addr[32];
	long long refused0, refused;
	int port, held;

	snprintf(conf, sizeof(conf), "workers 1\nmax_connections 1\n"
	    "listen 127.0.0.1:0 tlv\napp echo\n");
	if ((d = th_daemon_start(conf)) == NULL)
		bail("taod did not start");
	port = d->port[0];
	if ((held = th_connect(port)) == -1 ||
	    th_echo_once(held, 1, 10, 1) == -1)
		bail("the one allowed connection is not served");
	refused0 = th_stat(d, -1, "refused");
	if ((l = tao_loop_new()) == NULL)
		bail("tao_loop_new");
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	o.loop = l;
	if ((c = tao_client_connect(addr, &o)) == NULL)
		bail("tao_client_connect");
	tao_client_on_connect(c, count_connect, &k);
	tao_client_on_close(c, count_close, &k);
	tao_client_on_error(c, count_error, &k);
	run_ms(l, 5000);
	refused = th_stat(d, -1, "refused") - refused0;
	diag("in 5 s: %d connects, %d closes, %d errors; taod refused %lld",
	    k.connects, k.closes, k.errors, refused);
	ok(k.connects >= 2, "the client did retry (%d connects)", k.connects);
	ok(k.connects < 10, "its back-off grew although every attempt "
	    "connected: %d attempts in 5 s (fewer than 10)", k.connects);
	ok(refused >= 1 && refused < 10, "taod saw the same: %lld refused",
	    refused);
	tao_client_free(c);
	tao_loop_free(l);
	close(held);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
}

/* ---- an 8-byte header announcing a big frame ------------------------- */

struct big_server {
	int			lfd;
	_Atomic int		go_on;		/* main: send the rest */
	_Atomic int		done;		/* main: close */
	int			failed;
};

static void *
big_serve(void *arg)
{
	struct big_server *s = arg;
	uint8_t *frame;
	int fd;

	if ((frame = malloc(8 + BIG)) == NULL ||
	    (fd = accept(s->lfd, NULL, NULL)) == -1) {
		s->failed = 1;
		free(frame);
		return NULL;
	}
	th_put_header(frame, TYPE_BIG, BIG);
	th_fill(frame + 8, BIG, 143);
	if (th_write_all(fd, frame, 8 + FIRST) == -1)
		s->failed = 1;
	while (!s->failed && !atomic_load(&s->go_on) && !atomic_load(&s->done))
		usleep(1000);
	if (!s->failed && atomic_load(&s->go_on) &&
	    th_write_all(fd, frame + 8 + FIRST, BIG - FIRST) == -1)
		s->failed = 1;
	while (!atomic_load(&s->done))
		usleep(1000);
	close(fd);
	free(frame);
	return NULL;
}

struct got {
	int		n;
	size_t		len;
	int		intact;
};

static void
got_big(struct tao_client *c, const struct tao_message *m, void *arg)
{
	struct got *g = arg;
	uint8_t *want = malloc(BIG);

	(void)c;
	g->n++;
	g->len = m->len;
	if (want != NULL) {
		th_fill(want, BIG, 143);
		g->intact = m->len == BIG && memcmp(m->data, want, BIG) == 0;
	}
	free(want);
}

static void
test_big_header(void)
{
	struct tao_client_opts o = { .reconnect = 0 };
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct big_server s;
	struct got g = { 0, 0, 0 };
	struct tao_client *c;
	struct tao_loop *l;
	pthread_t t;
	char addr[32];
	double deadline;
	size_t cap;

	memset(&s, 0, sizeof(s));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s.lfd == -1 || bind(s.lfd, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1 || listen(s.lfd, 4) == -1 ||
	    getsockname(s.lfd, (struct sockaddr *)&sin, &len) == -1)
		bail("listener");
	if (pthread_create(&t, NULL, big_serve, &s) != 0)
		bail("pthread_create");
	if ((l = tao_loop_new()) == NULL)
		bail("tao_loop_new");
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sin.sin_port));
	o.loop = l;
	if ((c = tao_client_connect(addr, &o)) == NULL)
		bail("tao_client_connect");
	if (tao_client_register(c, TYPE_BIG, NULL, got_big, &g) != 0)
		bail("tao_client_register");
	deadline = th_now_ms() + th_ms(5000);
	while (tao__framer_len(&c->c_in) < 8 + FIRST &&
	    th_now_ms() < deadline && !s.failed)
		(void)tao_loop_run_once(l, 50);
	/* a few more turns: the old client grew the buffer on the next
	 * read round of the same event, or on the next event */
	for (int i = 0; i < 5; i++)
		(void)tao_loop_run_once(l, 10);
	cap = tao__framer_cap(&c->c_in);
	ok(tao__framer_len(&c->c_in) == 8 + FIRST, "header + %d bytes "
	    "arrived (%zu buffered)", FIRST, tao__framer_len(&c->c_in));
	ok(cap < (1u << 20), "a header announcing %u bytes did not allocate "
	    "them: read buffer %zu bytes", BIG, cap);
	atomic_store(&s.go_on, 1);
	deadline = th_now_ms() + th_ms(10000);
	while (g.n == 0 && th_now_ms() < deadline && !s.failed &&
	    tao_client_connected(c))
		(void)tao_loop_run_once(l, 50);
	is_int(g.n, 1, "the frame was delivered once the rest came");
	ok(g.len == BIG && g.intact, "whole and intact (%zu bytes)", g.len);
	atomic_store(&s.done, 1);
	pthread_join(t, NULL);
	ok(!s.failed, "the test server did its part");
	tao_client_free(c);
	tao_loop_free(l);
	close(s.lfd);
}

int
main(void)
{
	th_init("t143-client-backoff", 60);
	plan(0);
	test_full_server();
	test_big_header();
	return th_exit(done_testing());
}
