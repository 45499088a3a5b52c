/*
 * addr.c - "host:port" for the client: split, resolve once, format.
 *
 * The lookup is the client's only blocking step.  It is done once, in
 * tao_client_connect: reconnects reuse the addresses found, so a client
 * waiting for its server to come back never blocks its loop on DNS.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"

/*
 * Split addr into host (without brackets) and port.  The host part of
 * an IPv6 address must be in brackets: "[::1]:12345".
 */
static int
split(const char *addr, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char *colon, *h = addr, *end;
	size_t n;
	char *e;
	long p;

	if (addr[0] == '[') {
		if ((end = strchr(addr, ']')) == NULL || end[1] != ':')
			return -1;
		h = addr + 1;
		colon = end + 1;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL ||
		    memchr(addr, ':', (size_t)(colon - addr)) != NULL)
			return -1;	/* no port, or IPv6 without [] */
		end = colon;
	}
	n = (size_t)(end - h);
	if (n == 0 || n >= hostlen || strlen(colon + 1) >= portlen)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	errno = 0;
	p = strtol(colon + 1, &e, 10);
	if (errno != 0 || e == colon + 1 || *e != '\0' || p < 1 || p > 65535)
		return -1;
	snprintf(port, portlen, "%ld", p);
	return 0;
}

static int
is_ip_literal(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1;
}

int
tao__client_resolve(struct tao_client *c, const char *addr)
{
	struct addrinfo hints, *res, *ai;
	char host[256], port[8];
	int rv;

	if (split(addr, host, sizeof(host), port, sizeof(port)) == -1) {
		errno = EINVAL;
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rv = getaddrinfo(host, port, &hints, &res)) != 0) {
		errno = rv == EAI_MEMORY ? ENOMEM : rv == EAI_SYSTEM ?
		    errno : ENOENT;
		return -1;
	}
	c->c_naddrs = 0;
	for (ai = res; ai != NULL && c->c_naddrs < TAO_CLIENT_ADDRS_MAX;
	    ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(c->c_addrs[0]))
			continue;
		memcpy(&c->c_addrs[c->c_naddrs], ai->ai_addr, ai->ai_addrlen);
		c->c_addrlens[c->c_naddrs++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	if (c->c_naddrs == 0) {
		errno = ENOENT;
		return -1;
	}
	if ((c->c_host = strdup(host)) == NULL)
		return -1;
	/* An IP address is verified against the certificate's IP entries
	 * and never sent as SNI (RFC 6066, section 3). */
	if (c->c_opts.tls_server_name != NULL)
		c->c_server_name = strdup(c->c_opts.tls_server_name);
	else if (!is_ip_literal(host))
		c->c_server_name = strdup(host);
	else
		return 0;
	return c->c_server_name == NULL ? -1 : 0;
}

void
tao__client_format_addr(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(out, outlen, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(out, outlen, "%s:%u", host, ntohs(s4->sin_port));
	} else
		snprintf(out, outlen, "?");
}
