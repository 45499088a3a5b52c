/*
 * chat-server.c - a chat room over every worker with libtao.
 *
 *	./chat-server 127.0.0.1:12346      then: nc 127.0.0.1 12346
 *
 * Several of them, on one host or many, are one chat room through Redis
 * (one line of config, "cluster redis://HOST:PORT", and a node id each):
 *
 *	./chat-server 127.0.0.1:12346 redis://127.0.0.1:6379 1
 *	./chat-server 127.0.0.1:12347 redis://127.0.0.1:6379 2
 *
 * Each line a client sends is broadcast to every client of every worker,
 * prefixed with the sender's netid; "/to NETID text" is a private message.
 * tao_server_broadcast() reaches the connections of the other workers through
 * shared memory, and those of the other nodes through Redis;
 * tao_server_unicast() finds a netid wherever it lives (its node id is
 * in its top bits).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tao.h>

static void
on_line(struct tao_conn *conn, const struct tao_message *msg, void *arg)
{
	struct tao_server *server = arg;
	char out[4096], *end;
	const char *text = msg->data;
	int n;

	if (msg->len > 4 && strncmp(text, "/to ", 4) == 0) {
		char num[24] = "";
		memcpy(num, text + 4, msg->len - 4 < 23 ? msg->len - 4 : 23);
		uint64_t to = strtoull(num, &end, 10);
		size_t skip = 4 + (size_t)(end - num) + (*end == ' ');
		n = snprintf(out, sizeof(out), "%" PRIu64 " (private): %.*s",
		    tao_conn_id(conn), (int)(msg->len - skip), text + skip);
		if (tao_server_unicast(server, to, 1, out, (size_t)n) < 0)
			tao_conn_send(conn, 1, "* no such user", 14);
		return;
	}
	n = snprintf(out, sizeof(out), "%" PRIu64 ": %.*s", tao_conn_id(conn),
	    (int)msg->len, text);
	if (n >= (int)sizeof(out))
		n = sizeof(out) - 1;
	tao_server_broadcast(server, 1, out, (size_t)n);
}

static int
on_connect(struct tao_conn *conn, void *arg)
{
	char out[64];
	int n = snprintf(out, sizeof(out), "* %" PRIu64 " joined",
	    tao_conn_id(conn));

	tao_server_broadcast(arg, 1, out, (size_t)n);
	return 0;
}

static void
on_close(struct tao_conn *conn, void *arg)
{
	char out[64];
	int n = snprintf(out, sizeof(out), "* %" PRIu64 " left",
	    tao_conn_id(conn));

	tao_server_broadcast(arg, 1, out, (size_t)n);
}

int
main(int argc, char *argv[])
{
	struct tao_server *server = tao_server_new();
	char listen[128], cluster[300], node[32], ctl[64];

	snprintf(listen, sizeof(listen), "listen %s line",
	    argc > 1 ? argv[1] : "127.0.0.1:12346");
	snprintf(ctl, sizeof(ctl), "control chat-server%s.sock",
	    argc > 3 ? argv[3] : "");
	if (server == NULL || tao_server_config_line(server, listen) < 0 ||
	    tao_server_config_line(server, ctl) < 0)
		return 1;
	if (argc > 3) {		/* the cluster: all it takes */
		snprintf(cluster, sizeof(cluster), "cluster %s", argv[2]);
		snprintf(node, sizeof(node), "node_id %s", argv[3]);
		if (tao_server_config_line(server, cluster) < 0 ||
		    tao_server_config_line(server, node) < 0)
			return 1;
	}
	tao_server_on_message(server, on_line, server);
	tao_server_on_connect(server, on_connect, server);
	tao_server_on_close(server, on_close, server);
	return tao_server_run(server) < 0;
}
