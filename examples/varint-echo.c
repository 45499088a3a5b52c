/*
 * varint-echo.c - a server with a codec of its own: protobuf-style
 * length-delimited messages (examples/codec/varint.h) echoed back.
 *
 *	cc -Iexamples/codec examples/varint-echo.c examples/codec/varint.c \
 *	    $(pkg-config --cflags --libs tao) -o varint-echo
 *	./varint-echo 127.0.0.1:12347
 *
 * A client writes each message as writeDelimitedTo does (its length as
 * a varint, then the bytes) and reads the same back.
 */
#include <stdio.h>

#include <tao.h>

#include "codec/varint.h"

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

	snprintf(listen, sizeof(listen), "listen %s varint",
	    argc > 1 ? argv[1] : "127.0.0.1:12347");
	if ((server = tao_server_new()) == NULL)
		return 1;
	/* The name the listen line uses; the line may come first. */
	if (tao_server_codec(server, "varint", &tao_varint_codec) < 0 ||
	    tao_server_config_line(server, listen) < 0 ||
	    tao_server_config_line(server, "control varint-echo.sock") < 0)
		return 1;
	tao_server_register(server, TAO_VARINT_TYPE, NULL, echo, NULL);
	rc = tao_server_run(server);
	if (rc < 0)
		fprintf(stderr, "varint-echo: %s\n", tao_strerror(rc));
	tao_server_free(server);
	return rc < 0;
}
