/*
 * conn_api.c - what a connection tells about itself: its id, user data,
 * peer address, codec, server and whether it is migrating.  No I/O but
 * getpeername for the peer (idle connections keep no copy of it).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "worker/conn.h"

void
tao__format_peer(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];
	int n = 0;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		n = snprintf(out, outlen, "[%s]:%u", host,
		    ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		n = snprintf(out, outlen, "%s:%u", host, ntohs(s4->sin_port));
	} else
		strlcpy(out, "?", outlen);
	(void)n;	/* 56 bytes hold any "[v6]:port" */
}

int
tao_conn_migrating(const struct tao_conn *c)
{
	return (c->c_flags & TAO_CONN_MIGRATING) != 0;
}

/* ---- accessors ------------------------------------------------------ */

uint64_t
tao_conn_id(const struct tao_conn *c)
{
	return c->c_netid;
}

void *
tao_conn_data(struct tao_conn *c)
{
	return c->c_data;
}

void
tao_conn_set_data(struct tao_conn *c, void *data)
{
	c->c_data = data;
}

const char *
tao__conn_peer(const struct tao_conn *c)
{
	static char peer[TAO_PEER_MAX];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (c->c_io.io_fd < 0 ||
	    getpeername(c->c_io.io_fd, (struct sockaddr *)&ss, &len) == -1)
		strlcpy(peer, "?", sizeof(peer));
	else
		tao__format_peer((struct sockaddr *)&ss, peer, sizeof(peer));
	return peer;
}

const char *
tao_conn_peer(const struct tao_conn *c)
{
	return tao__conn_peer(c);
}

const struct tao_codec *
tao_conn_codec(const struct tao_conn *c)
{
	return c->c_listener->l_codec;
}

struct tao_server *
tao_conn_server(const struct tao_conn *c)
{
	return c->c_worker->w_p.wp_server;
}
