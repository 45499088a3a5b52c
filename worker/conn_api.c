/*
 * conn_api.c - what a connection tells about itself: its id, user data,
 * peer address (kept binary in c_peer, formatted on demand), codec,
 * server, whether it is migrating, and whether it is quiescent (can be
 * handed over).  No I/O.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "worker/conn.h"
#include "worker/tls.h"

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

void
tao__peer_set(struct tao__peer *p, const struct sockaddr *sa)
{
	memset(p, 0, sizeof(*p));
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		p->p_family = AF_INET6;
		p->p_port = s6->sin6_port;
		memcpy(p->p_addr, &s6->sin6_addr, 16);
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		p->p_family = AF_INET;
		p->p_port = s4->sin_port;
		memcpy(p->p_addr, &s4->sin_addr, 4);
	}
}

int
tao__peer_sockaddr(const struct tao__peer *p, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (p->p_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = p->p_port;
		memcpy(&s6->sin6_addr, p->p_addr, 16);
	} else if (p->p_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = p->p_port;
		memcpy(&s4->sin_addr, p->p_addr, 4);
	} else
		return -1;
	return 0;
}

/* "addr:port" into out; returns the length it needed, like snprintf. */
static int
peer_format(const struct tao__peer *p, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (p->p_family == 0)
		return snprintf(out, outlen, "?");
	inet_ntop(p->p_family, p->p_addr, host, sizeof(host));
	return snprintf(out, outlen, p->p_family == AF_INET6 ? "[%s]:%u" :
	    "%s:%u", host, ntohs(p->p_port));
}

/* Quiescent: between frames, nothing queued, not closing. */
int
tao__conn_quiescent(const struct tao_conn *c)
{
	return !(c->c_flags & (TAO_CONN_CLOSED | TAO_CONN_CLOSING |
	    TAO_CONN_READ_PAUSED | TAO_CONN_PROXY)) && c->c_in.fr_buf == NULL &&
	    c->c_wq.q_bytes == 0 && tao__wtls_pending(c) == 0 &&
	    tao__conn_job(c) == NULL;
}

/*
 * Never a TLS connection: its session (keys, sequence numbers) lives in
 * this process's memory and cannot follow the socket, so handoff.c
 * drains it instead once it is quiescent (answer what has arrived,
 * flush, close with close_notify); its client reconnects.
 */
int
tao__conn_can_hand_off(const struct tao_conn *c)
{
	return tao__conn_tls(c) == NULL && tao__conn_quiescent(c);
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

	(void)peer_format(&c->c_peer, peer, sizeof(peer));
	return peer;
}

int
tao_conn_peer(const struct tao_conn *c, char *buf, size_t size)
{
	int n;

	if (c == NULL || buf == NULL || size == 0)
		return TAO_EINVAL;
	n = peer_format(&c->c_peer, buf, size);
	if (n < 0)
		return TAO_EINVAL;
	return (size_t)n < size ? n : TAO_ETOOBIG;
}

const struct tao_codec *
tao_conn_codec(const struct tao_conn *c)
{
	return tao__conn_listener(c)->l_codec;
}

struct tao_server *
tao_conn_server(const struct tao_conn *c)
{
	return tao__conn_worker(c)->w_p.wp_server;
}
