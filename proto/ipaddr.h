/*
 * ipaddr.h - an IP address as plain bytes, shared by the PROXY header
 * parser (proto/proxy.c) and the access lists (proto/acl.c).
 *
 * proto/ knows nothing of sockets, so this is not a sockaddr: a family tag
 * and the address in network byte order.  An IPv4 address uses the first 4
 * bytes; the other 12 are zero, so two addresses compare with memcmp.
 */
#ifndef TAO_PROTO_IPADDR_H
#define TAO_PROTO_IPADDR_H

#include <stdint.h>

#define TAO_IP_NONE	0
#define TAO_IP_V4	4
#define TAO_IP_V6	6

struct tao_ipaddr {
	uint8_t		ip_family;	/* TAO_IP_NONE, TAO_IP_V4, TAO_IP_V6 */
	uint8_t		ip_bytes[16];	/* network order */
};

/* "a.b.c.d" or "v6" written into buf (>= 46 bytes), "-" for TAO_IP_NONE. */
const char	*tao__ipaddr_format(const struct tao_ipaddr *, char *buf,
		    size_t size);

/*
 * ::ffff:a.b.c.d becomes the IPv4 address a.b.c.d; anything else is left
 * alone.  Every comparison in proto/acl.c is made on unmapped addresses,
 * so an IPv4 client on a dual-stack [::] listener matches IPv4 rules.
 */
void		 tao__ipaddr_unmap(struct tao_ipaddr *);

#endif /* TAO_PROTO_IPADDR_H */
