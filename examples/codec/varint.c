/*
 * varint.c - the protobuf-style length-delimited codec (varint.h): a pure
 * decoder that refuses an oversized length as soon as it is known, and
 * an encoder writing the length in as few bytes as it takes.
 *
 * The decoder keeps no state: re-reading at most 10 header bytes costs
 * less than remembering them.
 */
#include "varint.h"

int
tao_varint_get(const uint8_t *buf, size_t len, uint64_t *value)
{
	uint64_t v = 0;

	for (size_t i = 0; i < len && i < TAO_VARINT_MAX_BYTES; i++) {
		uint64_t bits = buf[i] & 0x7f;
		/* The tenth byte holds bit 63 only. */
		if (i == TAO_VARINT_MAX_BYTES - 1 && bits > 1)
			return -1;
		v |= bits << (7 * i);
		if ((buf[i] & 0x80) == 0) {
			if (i > 0 && buf[i] == 0)
				return -1;	/* not minimal (see varint.h) */
			*value = v;
			return (int)i + 1;
		}
	}
	return len >= TAO_VARINT_MAX_BYTES ? -1 : 0;
}

size_t
tao_varint_put(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

/* The length the bytes seen so far announce at least (more varint bytes
 * only add higher bits). */
static uint64_t
partial_value(const uint8_t *buf, size_t len)
{
	uint64_t v = 0;

	for (size_t i = 0; i < len && i < TAO_VARINT_MAX_BYTES - 1; i++)
		v |= (uint64_t)(buf[i] & 0x7f) << (7 * i);
	return v;
}

static int
varint_decode(const uint8_t *buf, size_t len, size_t max_frame,
    uint64_t *state, struct tao_frame *frame, size_t *used)
{
	uint64_t plen;
	int hlen;

	(void)state;
	*used = 0;
	if ((hlen = tao_varint_get(buf, len, &plen)) == -1)
		return TAO_DECODE_ERROR;
	if (hlen == 0)
		return partial_value(buf, len) > max_frame ? TAO_DECODE_ERROR :
		    TAO_DECODE_AGAIN;
	if (plen > max_frame || plen > SIZE_MAX - (size_t)hlen)
		return TAO_DECODE_ERROR;
	*used = (size_t)hlen + (size_t)plen;
	if (len < *used)
		return TAO_DECODE_AGAIN;
	frame->type = TAO_VARINT_TYPE;
	frame->payload = buf + hlen;
	frame->len = (size_t)plen;
	return TAO_DECODE_OK;
}

static void
varint_encode(int32_t type, size_t len, uint8_t *head, size_t *head_len,
    uint8_t *tail, size_t *tail_len)
{
	(void)type;
	(void)tail;
	*head_len = tao_varint_put(head, (uint64_t)len);
	*tail_len = 0;
}

const struct tao_codec tao_varint_codec = {
	.name = "varint",
	.decode = varint_decode,
	.encode = varint_encode,
};
