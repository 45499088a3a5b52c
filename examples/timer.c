/*
 * timer.c - every connection receives the server's time once a second,
 * as in Go Tao's timer example; a per-worker timer logs the number of
 * connections every 10 seconds.
 *
 *	./timer 127.0.0.1:12347
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <tao.h>

static int connections;

static void
tick(struct tao_conn *conn, void *arg)
{
	char text[32];
	time_t now = time(NULL);
	struct tm tm;

	(void)arg;
	gmtime_r(&now, &tm);
	strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
	tao_conn_send(conn, 1, text, strlen(text));
}

static void
report(struct tao_conn *unused, void *arg)
{
	(void)unused;
	fprintf(stderr, "worker %d: %d connections\n", *(int *)arg,
	    connections);
}

static int
on_connect(struct tao_conn *conn, void *arg)
{
	(void)arg;
	connections++;
	/* Cancelled automatically when the connection closes. */
	return tao_conn_timer_every(conn, 1000, tick, NULL) < 0 ? -1 : 0;
}

static void
on_close(struct tao_conn *conn, void *arg)
{
	(void)conn;
	(void)arg;
	connections--;
}

static void
on_worker_start(struct tao_server *server, int slot, void *arg)
{
	static int my_slot;

	(void)arg;
	my_slot = slot;
	tao_server_timer_every(server, 10000, report, &my_slot);
}

static void
ignore(struct tao_conn *conn, const struct tao_message *msg, void *arg)
{
	(void)conn;
	(void)msg;
	(void)arg;
}

int
main(int argc, char *argv[])
{
	struct tao_server *server = tao_server_new();
	char listen[128];

	snprintf(listen, sizeof(listen), "listen %s tlv",
	    argc > 1 ? argv[1] : "127.0.0.1:12347");
	if (server == NULL || tao_server_config_line(server, listen) < 0 ||
	    tao_server_config_line(server, "control timer.sock") < 0)
		return 1;
	tao_server_on_connect(server, on_connect, NULL);
	tao_server_on_close(server, on_close, NULL);
	tao_server_on_message(server, ignore, NULL);
	tao_server_on_worker_start(server, on_worker_start, NULL);
	return tao_server_run(server) < 0;
}
