/*
 * fuzz-clmsg.c - the cluster message decoder (proto/cluster.h) on
 * arbitrary bytes, as a hostile Redis peer would publish them.
 *
 * Invariants: a decoded message's payload lies inside the input and is
 * exactly the rest of it, within the bound given; its kind is known and
 * a broadcast has no destination, a unicast has one; encoding the header
 * back gives the input's first 40 bytes; one byte more or less never
 * decodes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/cluster.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c)	((c) ? (void)0 : abort())
#define BOUND		1024

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct tao_clmsg m;
	unsigned char hdr[TAO_CLMSG_HDR];

	if (tao__clmsg_decode(data, n, BOUND, &m) == -1)
		return 0;
	CHECK(n >= TAO_CLMSG_HDR && m.cm_len == n - TAO_CLMSG_HDR);
	CHECK(m.cm_len <= BOUND);
	CHECK((const uint8_t *)m.cm_payload == data + TAO_CLMSG_HDR);
	CHECK((m.cm_kind == TAO_CLMSG_BROADCAST && m.cm_dst_netid == 0) ||
	    (m.cm_kind == TAO_CLMSG_UNICAST && m.cm_dst_netid != 0));
	tao__clmsg_encode_hdr(&m, hdr);
	CHECK(memcmp(hdr, data, TAO_CLMSG_HDR) == 0);
	CHECK(tao__clmsg_decode(data, n - 1, BOUND, &m) == -1);
	return 0;
}
