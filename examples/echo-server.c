/*
 * echo-server.c - the smallest useful libtao program: a TLV echo server.
 *
 *	cc echo-server.c $(pkg-config --cflags --libs tao) -o echo-server
 *	./echo-server 127.0.0.1:12345
 *
 * Every frame (except heartbeats, which libtao answers itself) goes back
 * to its sender with the same type and payload.  Ctrl-C or SIGTERM stops
 * it gracefully; it runs one worker per CPU.
 */
#include <stdio.h>

#include <tao.h>

static void
echo(struct tao_conn *conn, const struct tao_message *msg, void *arg)
{
	(void)arg;
	tao_conn_send(conn, msg->type, msg->data, msg->len);
}

int
main(int argc, char *argv[])
{
	struct tao_server *server;
	char listen[128];
	int rc;

	snprintf(listen, sizeof(listen), "listen %s tlv",
	    argc > 1 ? argv[1] : "127.0.0.1:12345");
	if ((server = tao_server_new()) == NULL)
		return 1;
	if (tao_server_config_line(server, listen) < 0 ||
	    tao_server_config_line(server, "control echo-server.sock") < 0)
		return 1;
	tao_server_on_message(server, echo, NULL);	/* every type */
	rc = tao_server_run(server);
	if (rc < 0)
		fprintf(stderr, "echo-server: %s\n", tao_strerror(rc));
	tao_server_free(server);
	return rc < 0;
}
