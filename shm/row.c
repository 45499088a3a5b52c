/*
 * row.c - a connection-table row packed into seven words (shm/row.h,
 * layout in shm/table-t.h).
 */
#include <string.h>

#include "shm/row.h"

#define MASK48		TAO_ROW_COUNTER_MAX

_Static_assert(TAO_ROW_WORDS == TAO_ROW_W_COUNTERS + 3, "seven words");
_Static_assert(sizeof(((struct tao_conn_row *)0)->cr_peer.rp_addr) ==
    2 * sizeof(uint64_t), "the address is two words");

static uint64_t
saturate48(uint64_t v)
{
	return v > MASK48 ? MASK48 : v;
}

void
tao__row_pack_counters(const uint64_t c[4], uint64_t w[3])
{
	uint64_t a = saturate48(c[0]), b = saturate48(c[1]);
	uint64_t d = saturate48(c[2]), e = saturate48(c[3]);

	w[0] = a | b << 48;
	w[1] = b >> 16 | d << 32;
	w[2] = d >> 32 | e << 16;
}

void
tao__row_unpack_counters(const uint64_t w[3], uint64_t c[4])
{
	c[0] = w[0] & MASK48;
	c[1] = (w[0] >> 48 | w[1] << 16) & MASK48;
	c[2] = (w[1] >> 32 | w[2] << 32) & MASK48;
	c[3] = w[2] >> 16;
}

void
tao__row_encode(const struct tao_conn_row *r, uint64_t w[TAO_ROW_WORDS])
{
	const uint64_t c[4] = { r->cr_msgs_in, r->cr_msgs_out,
	    r->cr_bytes_in, r->cr_bytes_out };

	w[TAO_ROW_W_NETID] = r->cr_netid;
	w[TAO_ROW_W_META] = tao__row_meta(r->cr_connected_ms, r->cr_state,
	    r->cr_peer.rp_family, r->cr_peer.rp_port);
	memcpy(&w[TAO_ROW_W_ADDR], r->cr_peer.rp_addr,
	    sizeof(r->cr_peer.rp_addr));
	tao__row_pack_counters(c, &w[TAO_ROW_W_COUNTERS]);
}

void
tao__row_decode(const uint64_t w[TAO_ROW_WORDS], struct tao_conn_row *r)
{
	uint64_t meta = w[TAO_ROW_W_META], c[4];

	memset(r, 0, sizeof(*r));
	r->cr_netid = w[TAO_ROW_W_NETID];
	r->cr_connected_ms = (int64_t)(meta & TAO_ROW_MS_MAX);
	r->cr_state = (uint16_t)tao__row_state(meta);
	r->cr_peer.rp_family = (uint8_t)(meta >> TAO_ROW_FAMILY_SHIFT & 3);
	r->cr_peer.rp_port = (uint16_t)(meta >> TAO_ROW_PORT_SHIFT);
	memcpy(r->cr_peer.rp_addr, &w[TAO_ROW_W_ADDR],
	    sizeof(r->cr_peer.rp_addr));
	tao__row_unpack_counters(&w[TAO_ROW_W_COUNTERS], c);
	r->cr_msgs_in = c[0];
	r->cr_msgs_out = c[1];
	r->cr_bytes_in = c[2];
	r->cr_bytes_out = c[3];
}
