/*
 * codec.h - internal interface of proto/: frame limits and codec lookup.
 *
 * The codecs themselves (tao_codec_tlv, tao_codec_line) and their contract
 * are public, in tao.h.  proto/ is pure: no I/O, no allocation, no exit.
 */
#ifndef TAO_PROTO_CODEC_H
#define TAO_PROTO_CODEC_H

#include "tao.h"

/* int32 LE type + uint32 LE length, as Go Tao's TypeLengthValueCodec. */
#define TAO_TLV_HEADER_LEN	8

/* Largest payload accepted unless the config says otherwise: Go Tao's
 * MessageMaxBytes (1 << 23). */
#define TAO_MAX_FRAME_DEFAULT	(8u << 20)

/*
 * The built-in codec called `name` ("tlv" or "line", exact and
 * case-sensitive, as written in the config), or NULL if there is none.
 */
const struct tao_codec	*tao__codec_by_name(const char *name);

#endif /* TAO_PROTO_CODEC_H */
