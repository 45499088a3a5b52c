/*
 * echo.c - every frame but a heartbeat goes back with its type and payload.
 */
#include "apps/apps.h"

static void
echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)arg;
	/* The worker stops decoding while the queue is over its bound, so
	 * this cannot be refused for back-pressure; it can fail only if the
	 * peer is gone. */
	(void)tao_conn_send(c, m->type, m->data, m->len);
}

int
tao_app_echo(struct tao_server *s, const char *options)
{
	if (options[0] != '\0')
		return -1;
	tao_server_on_message(s, echo, NULL);
	return 0;
}
