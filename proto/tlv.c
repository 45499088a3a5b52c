/*
 * tlv.c - the default wire format, byte for byte Go Tao's
 * TypeLengthValueCodec:
 *
 *	 0               4               8
 *	+---------------+---------------+------------------+
 *	| type int32 LE | len uint32 LE | payload, len B   |
 *	+---------------+---------------+------------------+
 *
 * Type 0 is the heartbeat; every int32, negative ones included, is a valid
 * type here (what a type means is the registry's business).  The header is
 * read byte by byte, so any alignment and any host byte order work.
 * The decoder keeps no state: the header is cheap to re-read.
 */
#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

/* Two's complement reinterpretation without implementation-defined casts. */
static int32_t
to_int32(uint32_t u)
{
	if (u <= INT32_MAX)
		return (int32_t)u;
	return -(int32_t)(~u) - 1;
}

static int
tlv_decode(const uint8_t *buf, size_t len, size_t max_frame, uint64_t *state,
    struct tao_frame *frame, size_t *used)
{
	uint32_t plen;

	(void)state;
	*used = 0;
	if (len < TAO_TLV_HEADER_LEN)
		return TAO_DECODE_AGAIN;

	/*
	 * Refuse an oversized length as soon as the header is in, before
	 * the caller grows its buffer for it.  The clamp keeps *used from
	 * overflowing where size_t is 32 bits wide.
	 */
	if (max_frame > SIZE_MAX - TAO_TLV_HEADER_LEN)
		max_frame = SIZE_MAX - TAO_TLV_HEADER_LEN;
	plen = get_le32(buf + 4);
	if (plen > max_frame)
		return TAO_DECODE_ERROR;

	*used = TAO_TLV_HEADER_LEN + (size_t)plen;
	if (len - TAO_TLV_HEADER_LEN < plen)
		return TAO_DECODE_AGAIN;

	frame->type = to_int32(get_le32(buf));
	frame->payload = buf + TAO_TLV_HEADER_LEN;
	frame->len = plen;
	return TAO_DECODE_OK;
}

/*
 * The caller has checked len against max_frame (at most 4 GiB - 1 for this
 * format), so the length always fits the 32-bit field.
 */
static void
tlv_encode(int32_t type, size_t len, uint8_t *head, size_t *head_len,
    uint8_t *tail, size_t *tail_len)
{
	(void)tail;
	put_le32(head, (uint32_t)type);
	put_le32(head + 4, (uint32_t)len);
	*head_len = TAO_TLV_HEADER_LEN;
	*tail_len = 0;
}

const struct tao_codec tao_codec_tlv = {
	.name = "tlv",
	.decode = tlv_decode,
	.encode = tlv_encode,
};
