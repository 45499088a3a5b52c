/*
 * ipaddr.c - formatting and v4-mapped unmapping of struct tao_ipaddr.
 */
#include <arpa/inet.h>
#include <string.h>

#include "proto/ipaddr.h"

static const uint8_t v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

const char *
tao__ipaddr_format(const struct tao_ipaddr *ip, char *buf, size_t size)
{
	int af;

	af = ip->ip_family == TAO_IP_V4 ? AF_INET :
	    ip->ip_family == TAO_IP_V6 ? AF_INET6 : -1;
	if (af == -1 || inet_ntop(af, ip->ip_bytes, buf, size) == NULL)
		strlcpy(buf, "-", size);
	return buf;
}

void
tao__ipaddr_unmap(struct tao_ipaddr *ip)
{
	if (ip->ip_family != TAO_IP_V6 ||
	    memcmp(ip->ip_bytes, v4mapped, sizeof(v4mapped)) != 0)
		return;
	memmove(ip->ip_bytes, ip->ip_bytes + 12, 4);
	memset(ip->ip_bytes + 4, 0, 12);
	ip->ip_family = TAO_IP_V4;
}
