/*
 * t095-client-echo - tao_client against taod's echo app, plaintext:
 *
 * - 100 messages of random types and sizes up to 1 MiB (0 and exactly
 *   1 MiB included), four in flight, every echo checked byte for byte and
 *   in order; the first ones are sent before the connection exists;
 * - the line codec against a line listener;
 * - handlers: a registered type goes to its handler, others to
 *   on_message; a decoder's refusal closes the connection with
 *   TAO_CLIENT_ERR_PROTOCOL; TAO_EEXIST, TAO_ETOOBIG, TAO_ECLOSED;
 * - heartbeat_ms: against `heartbeat_ms 300`, a client sending type-0
 *   frames every 100 ms and nothing else stays connected for 2 s and gets
 *   its heartbeats answered, while one without heartbeats is closed by
 *   taod within about 600 ms;
 * - heartbeat_timeout_ms: a server that never sends anything (a listening
 *   socket nobody accepts on) is declared dead after it.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tao.h>

#include "tests/lib/clientecho.h"
#include "tests/lib/harness.h"
#include "tests/tap.h"

#define NMSG		100
#define MAX_SIZE	(1u << 20)
#define DEPTH		4

static void
count_connect(struct tao_client *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
}

/* ---- 100 echoes of up to 1 MiB ---------------------------------------- */

static void
test_echo(struct tao_loop *l, int port)
{
	struct tao_client_opts o = { .loop = l };
	struct th_cecho *e = th_cecho_new(NMSG, 0, MAX_SIZE);
	long long total = th_cecho_bytes(e);
	struct tao_client *c;
	char addr[32];
	double t0;

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	o.write_queue_max = 8u << 20;
	c = tao_client_connect(addr, &o);
	ok(c != NULL, "tao_client_connect %s", addr);
	if (c == NULL)
		bail("no client");
	th_cecho_attach(e, c);
	ok(!tao_client_connected(c), "not connected before the loop ran");
	th_cecho_send(e, DEPTH);
	ok(tao_client_queued(c) > 0, "sends before the connection are "
	    "queued (%zu bytes)", tao_client_queued(c));
	t0 = th_now_ms();
	ok(th_loop_run_for(l, th_ms(30000)) == 0, "100 echoes within the time "
	    "limit");
	diag("%lld payload bytes each way in %.0f ms", total,
	    th_now_ms() - t0);
	is_int(e->got, NMSG, "every echo came back");
	is_int(e->bad, 0, "each one matched its message, in order");
	is_int(e->send_errors, 0, "no send failed");
	is_int(e->connects, 1, "on_connect ran once");
	ok(tao_client_connected(c), "still connected");
	is_int(tao_client_queued(c), 0, "nothing left queued");
	tao_client_free(c);
	th_cecho_free(e);
}

/* ---- line codec ----------------------------------------------------- */

struct lines {
	char	got[64];
	int	n;
	int	bad_type;
};

static void
line_reply(struct tao_client *c, const struct tao_message *m, void *arg)
{
	struct lines *ls = arg;

	if (m->type != TAO_TYPE_LINE)
		ls->bad_type++;
	strncat(ls->got, m->data, m->len < 20 ? m->len : 20);
	strcat(ls->got, "|");
	if (++ls->n == 2)
		tao_loop_stop(tao_client_loop(c));
}

static void
test_line(struct tao_loop *l, int port)
{
	struct tao_client_opts o = { .loop = l, .codec = &tao_codec_line };
	struct lines ls;
	struct tao_client *c;
	char addr[32];

	memset(&ls, 0, sizeof(ls));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	if ((c = tao_client_connect(addr, &o)) == NULL)
		bail("tao_client_connect (line)");
	tao_client_on_message(c, line_reply, &ls);
	ok(tao_client_send(c, TAO_TYPE_LINE, "hello", 5) == 0 &&
	    tao_client_send(c, TAO_TYPE_LINE, "world", 5) == 0,
	    "line codec: two lines queued");
	ok(th_loop_run_for(l, th_ms(5000)) == 0, "line codec: both come "
	    "back");
	is_str(ls.got, "hello|world|", "line codec: as sent");
	is_int(ls.bad_type, 0, "line codec: frames have TAO_TYPE_LINE");
	tao_client_free(c);
}

/* ---- handlers, decoders, send errors ---------------------------------- */

struct handlers {
	int	typed, other, errors, closes, decoded_ok;
	int	kind;
	char	msg[256];
};

static int
decode_even(const void *data, size_t len, void **decoded, void *arg)
{
	(void)data;
	(void)arg;
	if (len % 2 != 0)
		return -1;	/* odd lengths are refused */
	*decoded = malloc(1);
	return *decoded == NULL ? -1 : 0;
}

static void
typed_handler(struct tao_client *c, const struct tao_message *m, void *arg)
{
	struct handlers *h = arg;

	(void)c;
	h->typed++;
	if (m->decoded != NULL)
		h->decoded_ok++;
	free(m->decoded);	/* the handler owns it */
}

static void
other_handler(struct tao_client *c, const struct tao_message *m, void *arg)
{
	struct handlers *h = arg;

	(void)c;
	(void)m;
	h->other++;
}

static void
on_error_record(struct tao_client *c, enum tao_client_error kind,
    const char *msg, void *arg)
{
	struct handlers *h = arg;

	(void)c;
	h->errors++;
	h->kind = kind;
	strlcpy(h->msg, msg, sizeof(h->msg));
}

static void
on_close_stop(struct tao_client *c, void *arg)
{
	struct handlers *h = arg;

	h->closes++;
	tao_loop_stop(tao_client_loop(c));
}

static void
test_handlers(struct tao_loop *l, int port)
{
	struct tao_client_opts o = { .loop = l, .max_frame = 1000 };
	struct handlers h;
	struct tao_client *c;
	char addr[32], big[1001];

	memset(&h, 0, sizeof(h));
	memset(big, 'x', sizeof(big));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	if ((c = tao_client_connect(addr, &o)) == NULL)
		bail("tao_client_connect (handlers)");
	is_int(tao_client_register(c, 7, decode_even, typed_handler, &h), 0,
	    "register type 7");
	is_int(tao_client_register(c, 7, NULL, typed_handler, &h), TAO_EEXIST,
	    "registering type 7 again: TAO_EEXIST");
	tao_client_on_message(c, other_handler, &h);
	tao_client_on_error(c, on_error_record, &h);
	tao_client_on_close(c, on_close_stop, &h);
	is_int(tao_client_send(c, 7, big, 1001), TAO_ETOOBIG,
	    "a message over max_frame: TAO_ETOOBIG");
	(void)tao_client_send(c, 7, "ab", 2);
	(void)tao_client_send(c, 8, "abc", 3);
	(void)tao_client_send(c, 7, "abcd", 4);
	(void)tao_client_send(c, 7, "odd", 3);	/* refused when it returns */
	ok(th_loop_run_for(l, th_ms(5000)) == 0, "the refusal closes the "
	    "connection");
	is_int(h.typed, 2, "two type-7 echoes reached their handler");
	is_int(h.decoded_ok, 2, "with what the decoder made");
	is_int(h.other, 1, "the type-8 echo went to on_message");
	is_int(h.errors, 1, "one error reported");
	is_int(h.kind, TAO_CLIENT_ERR_PROTOCOL, "TAO_CLIENT_ERR_PROTOCOL");
	diag("error: %s", h.msg);
	ok(strstr(h.msg, "refused by its decoder") != NULL, "the message says "
	    "why");
	is_int(h.closes, 1, "on_close ran");
	ok(!tao_client_connected(c), "no longer connected");
	is_int(tao_client_send(c, 1, "x", 1), TAO_ECLOSED,
	    "without reconnect, sending now: TAO_ECLOSED");
	tao_client_free(c);
}

/* ---- heartbeats ------------------------------------------------------- */

struct beat {
	int	replies, closes, connects;
	double	closed_at;
};

static void
beat_reply(struct tao_client *c, const struct tao_message *m, void *arg)
{
	struct beat *b = arg;

	(void)c;
	if (m->len == 0)
		b->replies++;
}

static void
beat_close(struct tao_client *c, void *arg)
{
	struct beat *b = arg;

	(void)c;
	b->closes++;
	b->closed_at = th_now_ms();
}

static struct tao_client *
beat_client(struct tao_loop *l, int port, uint64_t hb_ms, struct beat *b)
{
	struct tao_client_opts o = { .loop = l, .heartbeat_ms = hb_ms };
	struct tao_client *c;
	char addr[32];

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	if ((c = tao_client_connect(addr, &o)) == NULL)
		bail("tao_client_connect (heartbeat)");
	tao_client_register(c, TAO_TYPE_HEARTBEAT, NULL, beat_reply, b);
	tao_client_on_close(c, beat_close, b);
	tao_client_on_connect(c, count_connect, &b->connects);
	return c;
}

static void
test_heartbeat(struct tao_loop *l)
{
	struct th_daemon *d;
	struct tao_client *hc, *sc;
	struct beat hb, silent;
	double t0;

	memset(&hb, 0, sizeof(hb));
	memset(&silent, 0, sizeof(silent));
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 1\n"
	    "heartbeat_ms 300\n");
	if (d == NULL)
		bail("taod (heartbeat_ms 300) did not start");
	hc = beat_client(l, d->port[0], 100, &hb);
	sc = beat_client(l, d->port[0], 0, &silent);
	t0 = th_now_ms();
	(void)th_loop_run_for(l, 2000);
	diag("heartbeat replies %d; silent client closed after %.0f ms",
	    hb.replies, silent.closes ? silent.closed_at - t0 : -1.0);
	is_int(hb.connects, 1, "the heartbeating client connected once");
	is_int(hb.closes, 0, "and is still open after 2 s of sending "
	    "nothing but heartbeats");
	ok(tao_client_connected(hc), "tao_client_connected says so");
	ok(hb.replies >= 10, "taod answered its heartbeats (%d)", hb.replies);
	is_int(silent.closes, 1, "a client without heartbeats was closed");
	ok(silent.closes && silent.closed_at - t0 >= 550 &&
	    silent.closed_at - t0 <= th_ms(1500),
	    "after about twice heartbeat_ms");
	is_int(th_stat(d, -1, "timeouts"), 1, "taod counted one timeout");
	tao_client_free(hc);
	tao_client_free(sc);
	is_int(th_daemon_stop(d), 0, "taod (heartbeat) stops with exit 0");
}

/* A listening socket that never accepts: connects complete in the
 * kernel, and nothing is ever sent. */
static int
mute_listener(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 8) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		bail("mute listener");
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
test_dead_server(struct tao_loop *l)
{
	struct tao_client_opts o = { .loop = l, .heartbeat_ms = 100,
	    .heartbeat_timeout_ms = 400 };
	struct handlers h;
	struct tao_client *c;
	char addr[32];
	double t0, elapsed;
	int port, lfd = mute_listener(&port);

	memset(&h, 0, sizeof(h));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	if ((c = tao_client_connect(addr, &o)) == NULL)
		bail("tao_client_connect (dead server)");
	tao_client_on_error(c, on_error_record, &h);
	tao_client_on_close(c, on_close_stop, &h);
	t0 = th_now_ms();
	ok(th_loop_run_for(l, th_ms(3000)) == 0, "a silent server is given "
	    "up on");
	elapsed = th_now_ms() - t0;
	diag("after %.0f ms: %s", elapsed, h.msg);
	is_int(h.kind, TAO_CLIENT_ERR_TIMEOUT, "as TAO_CLIENT_ERR_TIMEOUT");
	ok(elapsed >= 400 && elapsed <= th_ms(1000), "after "
	    "heartbeat_timeout_ms (400 ms - 1 s)");
	is_int(h.closes, 1, "on_close ran");
	tao_client_free(c);
	close(lfd);
}

int
main(void)
{
	struct th_daemon *d;
	struct tao_loop *l;

	th_init("t095-client-echo", 90);
	plan(0);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\n"
	    "listen 127.0.0.1:0 line\n"
	    "app echo\n"
	    "workers 2\n");
	if (d == NULL || d->nports != 2)
		bail("taod did not start with two listeners");
	if ((l = tao_loop_new()) == NULL)
		bail("tao_loop_new");
	test_echo(l, d->port[0]);
	test_line(l, d->port[1]);
	test_handlers(l, d->port[0]);
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
	test_heartbeat(l);
	test_dead_server(l);
	is_int(tao_loop_run_once(l, 0), 0, "the loop is idle and fine");
	tao_loop_free(l);
	return th_exit(done_testing());
}
