/*
 * t294-tls-flush - the TLS write path of worker/tls_out.c: the records
 * of one flush are sent with one write(2), and what the socket does not
 * take is kept (the remainder) and sent before anything newer.
 *
 *   1. slow readers: 4 clients each send ~6 MiB of frames of mixed sizes
 *      without reading, pause, then read: every echo arrives intact and
 *      in order (a remainder dropped or sent out of order breaks it);
 *   2. a client that resets its connection mid-flush (SO_LINGER 0): the
 *      worker survives (same pid) and echoes to a new client;
 *   3. the last request and close_notify in one segment (TCP_CORK): the
 *      reply comes, then the server's close_notify, then EOF (a
 *      close_notify read ahead with the data stranded the close);
 *   4. one 16 KiB echo (two records) is one write(2): the worker's
 *      syscw (/proc/PID/io) grows by about one per echo, not two;
 *   5. graceful stop (SIGTERM) while ~6 MiB of echoes are held: the
 *      client gets all of them, then close_notify, and taod exits 0.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tests/lib/harness.h"
#include "tests/lib/harness-fault.h"
#include "tests/lib/tlsclient.h"
#include "tests/tap.h"

#define NSLOW		4
#define OWED		(6u << 20)	/* bytes of echoes per slow client */
#define MAXLEN		40000

static SSL_CTX *ctx;

/* Frame i of a client with this seed: its payload length. */
static size_t
frame_len(uint32_t seed, uint32_t i)
{
	uint32_t h = th_hash(seed, i);

	return h % 4 == 0 ? 16384 : 1 + h % MAXLEN;	/* two records, often */
}

static int
ssl_io(SSL *ssl, void *buf, size_t len, int writing)
{
	size_t n;

	while (len > 0) {
		if ((writing ? SSL_write_ex(ssl, buf, len, &n) :
		    SSL_read_ex(ssl, buf, len, &n)) != 1) {
			ERR_clear_error();
			return -1;
		}
		buf = (char *)buf + n;
		len -= n;
	}
	return 0;
}

/* Send frames until OWED bytes of echoes are owed: the frame count. */
static int
send_owed(struct tlsc *t, uint32_t seed, uint8_t *buf)
{
	size_t total = 0, len;
	uint32_t i;

	for (i = 0; total < OWED; i++) {
		len = frame_len(seed, i);
		th_put_header(buf, 1, (uint32_t)len);
		th_fill(buf + TH_HEADER, len, th_hash(seed, i + 7));
		if (ssl_io(t->ssl, buf, TH_HEADER + len, 1) == -1)
			return -1;
		total += TH_HEADER + len;
	}
	return (int)i;
}

/* Read n echoes and check them: 0, or -1 (with a diag). */
static int
read_owed(struct tlsc *t, uint32_t seed, int n, uint8_t *buf, uint8_t *want)
{
	int32_t type;
	uint32_t len;

	for (int i = 0; i < n; i++) {
		size_t wlen = frame_len(seed, (uint32_t)i);

		if (ssl_io(t->ssl, buf, TH_HEADER, 0) == -1) {
			diag("echo %d of %d: no header", i, n);
			return -1;
		}
		th_get_header(buf, &type, &len);
		if (type != 1 || len != wlen || ssl_io(t->ssl, buf, len, 0)) {
			diag("echo %d of %d: type %d len %u (want %zu)", i, n,
			    type, len, wlen);
			return -1;
		}
		th_fill(want, len, th_hash(seed, (uint32_t)i + 7));
		if (memcmp(buf, want, len) != 0) {
			diag("echo %d of %d: wrong bytes", i, n);
			return -1;
		}
	}
	return 0;
}

/* After everything was read: the server's close_notify, then EOF. */
static int
clean_close(struct tlsc *t)
{
	uint8_t b;
	size_t n;
	int rc = SSL_read_ex(t->ssl, &b, 1, &n);

	if (rc == 1 || SSL_get_error(t->ssl, 0) != SSL_ERROR_ZERO_RETURN) {
		diag("no close_notify (SSL_read_ex %d, error %d, errno %d)",
		    rc, SSL_get_error(t->ssl, 0), errno);
		ERR_clear_error();
		return -1;
	}
	return th_wait_closed(t->fd, th_ms(5000));
}

static int
open_client(struct tlsc *t, int port)
{
	struct timeval tv = { th_ms(15000) / 1000, 0 };

	if (tlsc_open(t, ctx, port) == -1) {
		diag("TLS client: %s", t->err);
		return -1;
	}
	setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(t->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return 0;
}

static void
slow_readers(int port, uint8_t *buf, uint8_t *want)
{
	struct tlsc t[NSLOW];
	int n[NSLOW], bad = 0;

	for (int i = 0; i < NSLOW; i++) {
		t[i].fd = -1;
		t[i].ssl = NULL;
		if (open_client(&t[i], port) == -1 ||
		    (n[i] = send_owed(&t[i], 100 + i, buf)) == -1)
			bail("slow reader %d could not send", i);
	}
	th_sleep_ms(300);		/* held: the sockets are full */
	for (int i = 0; i < NSLOW; i++) {
		if (read_owed(&t[i], 100 + i, n[i], buf, want) == -1)
			bad++;
		tlsc_close(&t[i]);
	}
	ok(bad == 0, "%d slow readers, each owed %u MiB of echoes: all "
	    "intact, in order", NSLOW, OWED >> 20);
}

static void
reset_mid_flush(struct th_daemon *d, uint8_t *buf)
{
	struct linger lg = { 1, 0 };
	pid_t before = th_worker_pid(d, 0), after;
	struct tlsc t;

	if (open_client(&t, d->port[0]) == -1 ||
	    send_owed(&t, 7, buf) == -1)
		bail("the client to reset could not send");
	th_sleep_ms(100);
	setsockopt(t.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(t.fd);			/* RST, with echoes held */
	SSL_free(t.ssl);		/* no close_notify: it is gone */
	th_sleep_ms(200);
	after = th_worker_pid(d, 0);
	ok(before > 0 && before == after && tlsc_echoes(d->port[0], ctx, 3,
	    16384, NULL, (char *)buf, 256), "a reset mid-flush: worker %d "
	    "survives (now %d) and echoes to a new client", (int)before,
	    (int)after);
}

/* The last request and close_notify leave in one segment. */
static void
close_with_request(int port, uint8_t *buf, uint8_t *want)
{
	int on = 1, off = 0, rc = -1;
	struct tlsc t;

	if (open_client(&t, port) == -1)
		bail("client");
	th_put_header(buf, 1, 5000);
	th_fill(buf + TH_HEADER, 5000, 11);
	setsockopt(t.fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
	if (ssl_io(t.ssl, buf, TH_HEADER + 5000, 1) == 0 &&
	    SSL_shutdown(t.ssl) >= 0) {
		setsockopt(t.fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
		memcpy(want, buf, TH_HEADER + 5000);
		if (ssl_io(t.ssl, buf, TH_HEADER + 5000, 0) == 0 &&
		    memcmp(buf, want, TH_HEADER + 5000) == 0)
			rc = clean_close(&t);
		else
			diag("no echo after our close_notify");
	}
	ERR_clear_error();
	ok(rc == 0, "last request and close_notify in one segment: the "
	    "reply, then close_notify and EOF");
	SSL_free(t.ssl);
	close(t.fd);
}

#define NECHO	200

static void
one_write_per_echo(struct th_daemon *d)
{
	pid_t w = th_worker_pid(d, 0);
	long long w0, w1 = -1;
	struct tlsc t;
	int fails = 0;

	if (open_client(&t, d->port[0]) == -1)
		bail("client");
	(void)tlsc_echo(&t, 1, 16384, 1);	/* warm: tickets are out */
	w0 = th_proc_field(w, "io", "syscw");
	for (int i = 0; i < NECHO; i++)
		fails += tlsc_echo(&t, 1, 16384, (uint32_t)i) != 0;
	w1 = th_proc_field(w, "io", "syscw");
	tlsc_close(&t);
	ok(fails == 0 && w0 >= 0 && w1 - w0 <= NECHO + NECHO / 4,
	    "%d echoes of 16 KiB (two records each): %lld write calls of "
	    "the worker", NECHO, w1 - w0);
}

static void
stop_with_held(struct th_daemon *d, uint8_t *buf, uint8_t *want)
{
	struct tlsc t;
	int n, rc = -1;

	if (open_client(&t, d->port[0]) == -1 ||
	    (n = send_owed(&t, 55, buf)) == -1)
		bail("the stopping client could not send");
	th_sleep_ms(200);
	kill(d->pid, SIGTERM);
	th_sleep_ms(300);		/* the worker drains, the peer waits */
	if (read_owed(&t, 55, n, buf, want) == 0)
		rc = clean_close(&t);
	ok(rc == 0, "graceful stop with %u MiB of echoes held: all of "
	    "them, then close_notify", OWED >> 20);
	tlsc_close(&t);
	is_int(th_daemon_wait(d, th_ms(20000)), 0, "taod exits 0");
	ok(!th_daemon_sanitizer_report(d), "no sanitizer report");
}

int
main(void)
{
	char conf[1024], trust[512];
	struct th_daemon *d;
	uint8_t *buf = malloc(TH_HEADER + MAXLEN + 16384);
	uint8_t *want = malloc(TH_HEADER + MAXLEN + 16384);

	th_init("t294-tls-flush", 300);
	plan(7);
	if (buf == NULL || want == NULL)
		bail("out of memory");
	tlsc_make_certs();
	snprintf(trust, sizeof(trust), "%s/trust.pem", th_dir());
	ctx = tlsc_ctx(trust, NULL, NULL);
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv tls\napp echo\n"
	    "workers 1\nwrite_queue_max 16m\ndrain_timeout_ms 60000\n"
	    "tls_cert %s/srv.pem\ntls_key %s/srv.key\n", th_dir(), th_dir());
	if ((d = th_daemon_start(conf)) == NULL)
		bail("taod did not start");
	slow_readers(d->port[0], buf, want);
	reset_mid_flush(d, buf);
	close_with_request(d->port[0], buf, want);
	one_write_per_echo(d);
	stop_with_held(d, buf, want);
	SSL_CTX_free(ctx);
	free(buf);
	free(want);
	return th_exit(done_testing());
}
