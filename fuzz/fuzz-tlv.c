/*
 * fuzz-tlv - libFuzzer target for the TLV codec (input layout: see
 * codec-check.c).  On top of the generic checks, every call is compared
 * with a plain reading of the Go Tao header.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz/codec-check.h"
#include "proto/codec.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint32_t
le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
tlv_check(const uint8_t *buf, size_t len, size_t max_frame, int r,
    const struct tao_frame *f, size_t used, uint64_t state, int deep)
{
	uint32_t plen, utype;
	int32_t type;

	(void)deep;
	CHECK(state == 0);		/* the TLV decoder keeps none */
	if (len < TAO_TLV_HEADER_LEN) {
		CHECK(r == TAO_DECODE_AGAIN);
		CHECK(used == 0 || used == TAO_TLV_HEADER_LEN);
		return;
	}
	plen = le32(buf + 4);
	if (plen > max_frame) {
		CHECK(r == TAO_DECODE_ERROR);
		return;
	}
	CHECK(used == TAO_TLV_HEADER_LEN + (size_t)plen);
	if (used > len) {
		CHECK(r == TAO_DECODE_AGAIN);
		return;
	}
	utype = le32(buf);
	memcpy(&type, &utype, sizeof(type));
	CHECK(r == TAO_DECODE_OK);
	CHECK(f->type == type);
	/* With the generic checks this makes the round trip exact. */
	CHECK(f->len == plen);
}

static const struct codec_check tlv = { &tao_codec_tlv, tlv_check };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return codec_check_run(&tlv, data, size);
}
