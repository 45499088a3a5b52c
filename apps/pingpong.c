/*
 * pingpong.c - Go Tao's examples/pingpong server: every type-1 frame is
 * answered with a type-1 "pong", whatever it held.  Other types are
 * registered nowhere, so the worker counts and drops them, as Go Tao
 * drops a type it has no unmarshaler for.
 */
#include "apps/apps.h"

#define PINGPONG_TYPE	1	/* Go's pingpong.PingPontMessage */

static void
pong(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)m;
	(void)arg;
	(void)tao_conn_send(c, PINGPONG_TYPE, "pong", 4);
}

int
tao_app_pingpong(struct tao_server *s, const char *options)
{
	if (options[0] != '\0')
		return -1;
	return tao_server_register(s, PINGPONG_TYPE, NULL, pong, NULL) < 0 ?
	    -1 : 0;
}
