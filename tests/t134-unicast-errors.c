/*
 * t134-unicast-errors: tao_server_unicast reports what it could not deliver.
 * Before, a message over max_frame for a connection on another worker
 * was published and reported as sent while the receiver dropped it
 * uncounted, and a local unicast returned 0 whatever tao_conn_send said (over
 * max_frame, queue full).  Now: TAO_ETOOBIG over max_frame, local or
 * remote; TAO_EWOULDBLOCK when a local receiver's queue is full.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "tap.h"
#include "lib/harness.h"

#define NCLIENTS	16
#define MAX_FRAME	1024
#define T_WHO		1	/* reply: "netid slot" */
#define T_UNICAST	2	/* "netid size count": reply "rc sent" */
#define T_GOT		5

static struct tao_server *server;
static int my_slot;

static void
who(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	char text[64];
	int n;

	(void)m;
	(void)arg;
	n = snprintf(text, sizeof(text), "%" PRIu64 " %d", tao_conn_id(c),
	    my_slot);
	tao_conn_send(c, T_WHO, text, (size_t)n);
}

static void
unicast(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	static char payload[4 * MAX_FRAME];
	char text[64];
	unsigned long long netid;
	size_t size;
	int count, rc = 0, i, n;

	(void)arg;
	n = (int)(m->len < sizeof(text) - 1 ? m->len : sizeof(text) - 1);
	memcpy(text, m->data, (size_t)n);
	text[n] = '\0';
	if (sscanf(text, "%llu %zu %d", &netid, &size, &count) != 3 ||
	    size > sizeof(payload))
		return;
	memset(payload, 'u', size);
	for (i = 0; i < count; i++)
		if ((rc = tao_server_unicast(server, netid, T_GOT, payload,
		    size)) < 0)
			break;
	n = snprintf(text, sizeof(text), "%d %d", rc, i);
	tao_conn_send(c, T_UNICAST, text, (size_t)n);
}

static void
worker_start(struct tao_server *s, int slot, void *arg)
{
	(void)s;
	(void)arg;
	my_slot = slot;
}

static int
run(const char *conf, void *arg)
{
	(void)arg;
	if ((server = tao_server_new()) == NULL ||
	    tao_server_config(server, conf) < 0)
		return 1;
	tao_server_register(server, T_WHO, NULL, who, NULL);
	tao_server_register(server, T_UNICAST, NULL, unicast, NULL);
	tao_server_on_worker_start(server, worker_start, NULL);
	return tao_server_run(server) < 0;
}

static int
request(int fd, int32_t type, const char *text, char *reply, size_t cap)
{
	int32_t got;
	uint32_t len;

	if (th_send_frame(fd, type, text, (uint32_t)strlen(text)) != 0 ||
	    th_recv_frame(fd, &got, reply, cap - 1, &len, th_ms(5000)) != 0 ||
	    got != type)
		return -1;
	reply[len] = '\0';
	return 0;
}

/* Ask the server (through fd) to unicast count messages of size bytes
 * to netid; the first error (or 0) in *rc, how many went in *sent. */
static int
ask(int fd, unsigned long long netid, size_t size, int count, int *rc,
    int *sent)
{
	char text[64], reply[64];

	snprintf(text, sizeof(text), "%llu %zu %d", netid, size, count);
	if (request(fd, T_UNICAST, text, reply, sizeof(reply)) != 0 ||
	    sscanf(reply, "%d %d", rc, sent) != 2)
		return -1;
	return 0;
}

int
main(void)
{
	struct th_daemon *d;
	int fd[NCLIENTS], slot[NCLIENTS], a = -1, b = -1, c = -1, rc, sent;
	unsigned long long netid[NCLIENTS];
	char reply[64], buf[MAX_FRAME];
	int32_t type;
	uint32_t len;

	th_init("t134-unicast-errors", 60);
	plan(0);
	d = th_daemon_fork("workers 2\nlisten 127.0.0.1:0 tlv\n"
	    "max_frame 1024\nwrite_queue_max 1024\n", run, NULL);
	if (d == NULL)
		bail("the test server did not start");
	for (int i = 0; i < NCLIENTS; i++) {
		if ((fd[i] = th_connect(d->port[0])) < 0 ||
		    request(fd[i], T_WHO, "", reply, sizeof(reply)) != 0 ||
		    sscanf(reply, "%llu %d", &netid[i], &slot[i]) != 2)
			bail("connect");
		if (a == -1)
			a = i;
		else if (slot[i] != slot[a] && b == -1)
			b = i;
		else if (slot[i] == slot[a] && c == -1)
			c = i;
	}
	if (b == -1 || c == -1)
		bail("16 connections did not reach both workers");
	diag("a: worker %d, b: worker %d, c: worker %d", slot[a], slot[b],
	    slot[c]);

	ok(ask(fd[a], netid[b], 100, 1, &rc, &sent) == 0 && rc == 0 &&
	    th_recv_frame(fd[b], &type, buf, sizeof(buf), &len, th_ms(5000))
	    == 0 && type == T_GOT && len == 100,
	    "a unicast to another worker arrives");
	ok(ask(fd[a], netid[b], MAX_FRAME + 1, 1, &rc, &sent) == 0,
	    "a unicast over max_frame to another worker");
	is_int(rc, TAO_ETOOBIG, "  is TAO_ETOOBIG, not reported as sent");
	ok(ask(fd[a], netid[c], MAX_FRAME + 1, 1, &rc, &sent) == 0,
	    "a unicast over max_frame on the same worker");
	is_int(rc, TAO_ETOOBIG, "  is TAO_ETOOBIG");
	ok(ask(fd[a], netid[c], 1000, 50, &rc, &sent) == 0,
	    "50 unicasts in one callback to a local receiver whose "
	    "write_queue_max is 1024");
	is_int(rc, TAO_EWOULDBLOCK, "  the first that does not fit is "
	    "TAO_EWOULDBLOCK (after %d)", sent);
	ok(sent >= 1 && sent < 50, "  not 0 for a dropped message");
	ok(th_stat(d, -1, "dropped") >= 1, "  and the drop is counted");

	for (int i = 0; i < NCLIENTS; i++)
		close(fd[i]);
	is_int(th_daemon_stop(d), 0, "the server stops cleanly");
	return th_exit(done_testing());
}
