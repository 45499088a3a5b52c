/*
 * t130-conn-close-in-handler: closing a connection from inside one of its
 * callbacks (issue 12, defect 6 and the on_connect contract).
 *
 * A handler calls tao_conn_close(c) and then uses its message: tao.h
 * promises m->data is valid for the whole callback.  The frame arrives
 * in two writes, so its payload lies in the connection's own input
 * buffer; the old code freed that buffer inside tao_conn_close (ASan:
 * heap-use-after-free, the worker dies; without ASan the broadcast
 * carried the allocator's bytes).  The handler also allocates after the
 * close, as any handler may, so a freed buffer would be reused at once.
 *
 * on_connect: accepting and then closing runs on_close once; refusing
 * (also after tao_conn_close) runs no on_close.
 */
#include <sys/types.h>
#include <sys/mman.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "tap.h"
#include "lib/harness.h"

#define PAYLOAD		300
#define FIRST_PART	100

struct shared {
	_Atomic int	connect_mode;	/* 0 accept, 1 close, 2 close+refuse */
	_Atomic int	closes_marked;	/* on_close of a connect-closed conn */
	_Atomic int	closes;
};

static struct shared *sh;
static struct tao_server *server;
static int mark;		/* tao_conn_data of connect-closed conns */

static void
echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)arg;
	tao_conn_send(c, m->type, m->data, m->len);
}

static void
close_then_broadcast(struct tao_conn *c, const struct tao_message *m,
    void *arg)
{
	void *junk[16];

	(void)arg;
	tao_conn_close(c);
	/* Other work of the handler: whatever the close freed is reused. */
	for (int i = 0; i < 16; i++)
		if ((junk[i] = malloc(m->len + TH_HEADER)) != NULL)
			memset(junk[i], 'Z', m->len + TH_HEADER);
	tao_server_broadcast(server, 3, m->data, m->len);
	for (int i = 0; i < 16; i++)
		free(junk[i]);
}

static int
on_connect(struct tao_conn *c, void *arg)
{
	int mode = atomic_load(&sh->connect_mode);

	(void)arg;
	if (mode == 0)
		return 0;
	tao_conn_set_data(c, &mark);
	tao_conn_close(c);
	return mode == 2 ? -1 : 0;
}

static void
on_close(struct tao_conn *c, void *arg)
{
	(void)arg;
	atomic_fetch_add(&sh->closes, 1);
	if (tao_conn_data(c) == &mark)
		atomic_fetch_add(&sh->closes_marked, 1);
}

static int
run(const char *conf, void *arg)
{
	(void)arg;
	if ((server = tao_server_new()) == NULL ||
	    tao_server_config(server, conf) < 0)
		return 1;
	tao_server_register(server, 1, NULL, echo, NULL);
	tao_server_register(server, 2, NULL, close_then_broadcast, NULL);
	tao_server_on_connect(server, on_connect, NULL);
	tao_server_on_close(server, on_close, NULL);
	return tao_server_run(server) < 0;
}

static int
ping(int fd, const char *text)
{
	char buf[64];
	int32_t type;
	uint32_t len;

	if (th_send_frame(fd, 1, text, (uint32_t)strlen(text)) != 0 ||
	    th_recv_frame(fd, &type, buf, sizeof(buf), &len, th_ms(5000)) != 0)
		return -1;
	return type == 1 && len == strlen(text) &&
	    memcmp(buf, text, len) == 0 ? 0 : -1;
}

static int
wait_closes(int n)
{
	double end = th_now_ms() + th_ms(5000);

	while (atomic_load(&sh->closes) < n && th_now_ms() < end)
		th_sleep_ms(10);
	return atomic_load(&sh->closes);
}

/* A handler closes its connection while the frame it got is read in
 * two parts: the broadcast is intact and on_close runs once. */
static void
test_close_in_handler(int r, int s)
{
	uint8_t payload[PAYLOAD], got[PAYLOAD], first[2 * TH_HEADER + 2 +
	    FIRST_PART];
	int32_t type;
	uint32_t len;

	/* One write: a ping, then the header and the first part of the
	 * frame; once the ping is answered the server has read that part
	 * and keeps it in the connection's own buffer. */
	th_fill(payload, sizeof(payload), 130);
	th_put_header(first, 1, 2);
	memcpy(first + TH_HEADER, "p2", 2);
	th_put_header(first + TH_HEADER + 2, 2, PAYLOAD);
	memcpy(first + 2 * TH_HEADER + 2, payload, FIRST_PART);
	ok(th_write_all(s, first, sizeof(first)) == 0 &&
	    th_recv_frame(s, &type, got, sizeof(got), &len, th_ms(5000)) == 0 &&
	    type == 1 && len == 2, "the first part of the frame is in");
	ok(th_write_all(s, payload + FIRST_PART, PAYLOAD - FIRST_PART) == 0,
	    "the rest follows in a second write");
	ok(th_recv_frame(r, &type, got, sizeof(got), &len, th_ms(5000)) == 0 &&
	    type == 3 && len == PAYLOAD && memcmp(got, payload, PAYLOAD) == 0,
	    "a handler that closed its connection still broadcasts its "
	    "message intact");
	ok(th_wait_closed(s, th_ms(5000)) == 0,
	    "  and its connection is closed after the callback");
	is_int(wait_closes(1), 1, "  on_close ran once for it");
	ok(ping(r, "still") == 0, "the worker is alive (no use after free)");
}

/* on_connect closes: on_close runs once; closes and refuses: never. */
static void
test_close_in_connect(struct th_daemon *d)
{
	int fd;

	/* on_connect accepts, but closes: on_close runs once. */
	atomic_store(&sh->connect_mode, 1);
	fd = th_connect(d->port[0]);
	ok(fd >= 0 && th_wait_closed(fd, th_ms(5000)) == 0,
	    "on_connect that closes its connection: closed");
	if (fd >= 0)
		close(fd);
	is_int(wait_closes(2), 2, "  on_close ran for it");
	is_int(atomic_load(&sh->closes_marked), 1, "  exactly once");

	/* on_connect closes and refuses: no on_close. */
	atomic_store(&sh->connect_mode, 2);
	fd = th_connect(d->port[0]);
	ok(fd >= 0 && th_wait_closed(fd, th_ms(5000)) == 0,
	    "on_connect that closes and refuses: closed");
	if (fd >= 0)
		close(fd);
	atomic_store(&sh->connect_mode, 0);
	/* A connection after it is the barrier: its on_close comes later. */
	fd = th_connect(d->port[0]);
	ok(fd >= 0 && ping(fd, "after") == 0, "a new connection is served");
	if (fd >= 0)
		close(fd);
	is_int(wait_closes(3), 3, "  its on_close ran");
	is_int(atomic_load(&sh->closes_marked), 1,
	    "  and none ran for the refused one");
}

int
main(void)
{
	struct th_daemon *d;
	int r, s;

	th_init("t130-conn-close-in-handler", 60);
	plan(0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail("mmap");
	d = th_daemon_fork("workers 1\nlisten 127.0.0.1:0 tlv\n", run, NULL);
	if (d == NULL)
		bail("the test server did not start");

	r = th_connect(d->port[0]);
	s = th_connect(d->port[0]);
	ok(r >= 0 && s >= 0 && ping(r, "r") == 0 && ping(s, "s") == 0,
	    "receiver and sender connected");
	test_close_in_handler(r, s);
	close(s);
	test_close_in_connect(d);
	close(r);

	is_int(th_daemon_stop(d), 0, "the server stops cleanly");
	ok(th_daemon_log_count(d, "ERROR: AddressSanitizer") == 0 &&
	    th_daemon_log_count(d, "runtime error") == 0,
	    "no sanitizer report");
	return th_exit(done_testing());
}
