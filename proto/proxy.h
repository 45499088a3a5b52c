/*
 * proxy.h - the PROXY protocol header (HAProxy's proxy-protocol.txt,
 * versions 1 and 2) that a load balancer sends before the client's bytes.
 *
 * The parser is a pure function of the bytes received so far: call it
 * again with the longer buffer when it says AGAIN.  It reads only
 * buf[0..len), keeps no state, and allocates nothing.
 */
#ifndef TAO_PROTO_PROXY_H
#define TAO_PROTO_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "proto/ipaddr.h"

/* Longest v1 line, "PROXY UNKNOWN ...\r\n" included (the spec's 107). */
#define TAO_PROXY_V1_MAX	107
/* Longest v2 header accepted: 16 fixed bytes + address block + TLVs.
 * The spec allows 16 + 65535; real senders (AWS, GCP, HAProxy with SSL
 * TLVs) stay far below, and this bounds what a worker buffers. */
#define TAO_PROXY_V2_MAX	4096
#define TAO_PROXY_MAX		TAO_PROXY_V2_MAX

#define TAO_PROXY_ERROR		(-1)	/* not a PROXY header: close */
#define TAO_PROXY_AGAIN		0	/* a valid prefix: need more bytes */
#define TAO_PROXY_DONE		1	/* a whole header: see struct */

struct tao_proxy_hdr {
	size_t		 ph_len;	/* header bytes, to discard */
	uint8_t		 ph_version;	/* 1 or 2 */
	/* 1: no client address (v1 UNKNOWN, v2 LOCAL, v2 UNSPEC or UNIX):
	 * the connection keeps the socket's own addresses, as the spec says. */
	uint8_t		 ph_local;
	struct tao_ipaddr ph_src;	/* the client */
	struct tao_ipaddr ph_dst;	/* the address it connected to */
	uint16_t	 ph_src_port;	/* host order */
	uint16_t	 ph_dst_port;
};

/*
 * Parse the header at the start of buf[0..len).
 *
 * DONE: *out is filled; the first out->ph_len bytes are the header, the
 * rest belongs to TLS or the codec.  AGAIN: every byte of buf is part of a
 * header not yet complete (so a caller may consume all of them), and len
 * is below TAO_PROXY_MAX.  ERROR: these bytes cannot start a valid header
 * (reported as soon as the prefix proves it, not only at the end).
 * *out is only written on DONE.
 */
int	tao__proxy_parse(const void *buf, size_t len, struct tao_proxy_hdr *out);

#endif /* TAO_PROTO_PROXY_H */
