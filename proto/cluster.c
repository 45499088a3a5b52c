/*
 * cluster.c - encode and check the cluster message header (layout in
 * proto/cluster.h).
 */
#include <string.h>

#include "proto/cluster.h"

static void
put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void
put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void
tao__clmsg_encode_hdr(const struct tao_clmsg *m, unsigned char *hdr)
{
	put32(hdr, TAO_CLMSG_MAGIC);
	hdr[4] = TAO_CLMSG_VERSION;
	hdr[5] = (unsigned char)m->cm_kind;
	put16(hdr + 6, (uint16_t)m->cm_origin);
	put64(hdr + 8, m->cm_nonce);
	put32(hdr + 16, (uint32_t)m->cm_type);
	put32(hdr + 20, m->cm_len);
	put64(hdr + 24, m->cm_dst_netid);
	put64(hdr + 32, m->cm_seq);
}

int
tao__clmsg_decode(const void *buf, size_t len, size_t max_payload,
    struct tao_clmsg *m)
{
	const unsigned char *p = buf;

	if (buf == NULL || len < TAO_CLMSG_HDR || get32(p) != TAO_CLMSG_MAGIC ||
	    p[4] != TAO_CLMSG_VERSION)
		return -1;
	memset(m, 0, sizeof(*m));
	m->cm_kind = p[5];
	m->cm_origin = (unsigned)p[6] | (unsigned)p[7] << 8;
	m->cm_nonce = get64(p + 8);
	m->cm_type = (int32_t)get32(p + 16);
	m->cm_len = get32(p + 20);
	m->cm_dst_netid = get64(p + 24);
	m->cm_seq = get64(p + 32);
	m->cm_payload = p + TAO_CLMSG_HDR;
	if (m->cm_len != len - TAO_CLMSG_HDR || m->cm_len > max_payload)
		return -1;
	if (m->cm_kind == TAO_CLMSG_BROADCAST)
		return m->cm_dst_netid == 0 ? 0 : -1;
	if (m->cm_kind == TAO_CLMSG_UNICAST)
		return m->cm_dst_netid != 0 ? 0 : -1;
	return -1;
}
