/*
 * fuzz-varint - libFuzzer target for the example varint codec
 * (examples/codec/varint.c; input layout: see codec-check.c).  On top of
 * the generic checks: a frame spans exactly its varint header and its
 * payload, carries TAO_VARINT_TYPE and at most max_frame bytes; AGAIN
 * knows the total once the header is complete; the codec keeps no state;
 * in deep mode each call is compared with a naive varint reader.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz/codec-check.h"
#include "examples/codec/varint.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The naive reader: -1 garbage, 0 incomplete, else the header length. */
static int
naive(const uint8_t *buf, size_t len, unsigned __int128 *v)
{
	*v = 0;
	for (size_t i = 0; i < len; i++) {
		if (i == 10)
			return -1;
		*v |= (unsigned __int128)(buf[i] & 0x7f) << (7 * i);
		if (!(buf[i] & 0x80))
			return *v >> 64 || (i > 0 && buf[i] == 0) ? -1 :
			    (int)i + 1;
	}
	return len >= 10 ? -1 : 0;
}

static void
varint_check(const uint8_t *buf, size_t len, size_t max_frame, int r,
    const struct tao_frame *f, size_t used, uint64_t state, int deep)
{
	unsigned __int128 v;
	int hl;

	CHECK(state == 0);
	if (r == TAO_DECODE_OK) {
		CHECK(f->type == TAO_VARINT_TYPE);
		CHECK(f->len <= max_frame);
		CHECK(used == (size_t)(f->payload - buf) + f->len);
		CHECK(f->payload - buf >= 1 && f->payload - buf <= 10);
	}
	if (r == TAO_DECODE_AGAIN)
		CHECK(used == 0 || used > len);
	if (!deep)
		return;
	hl = naive(buf, len, &v);
	if (hl == -1)
		CHECK(r == TAO_DECODE_ERROR);
	else if (hl == 0)
		CHECK(r == TAO_DECODE_AGAIN || r == TAO_DECODE_ERROR);
	else if (v > max_frame)
		CHECK(r == TAO_DECODE_ERROR);
	else if (len < (size_t)hl + (size_t)v)
		CHECK(r == TAO_DECODE_AGAIN && used == (size_t)hl + (size_t)v);
	else
		CHECK(r == TAO_DECODE_OK && f->len == (size_t)v &&
		    f->payload == buf + hl);
}

static const struct codec_check varint = { &tao_varint_codec, varint_check };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return codec_check_run(&varint, data, size);
}
