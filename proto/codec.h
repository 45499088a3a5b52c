/*
 * codec.h - internal interface of proto/: frame limits and codec lookup.
 *
 * The codecs themselves (tao_codec_tlv, tao_codec_line) and their contract
 * are public, in tao.h.  proto/ is pure: no I/O, no allocation, no exit.
 */
#ifndef TAO_PROTO_CODEC_H
#define TAO_PROTO_CODEC_H

#include <stddef.h>
#include <stdint.h>

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

/*
 * The built-in codecs are numbered by one table in codec.c; the number is
 * what goes on the wire when a connection changes hands (the arg of a
 * TAO_CHAN_CONN record, see channel.h), so both ends agree by
 * construction.  Numbers are only ever appended: 0 tlv, 1 line.
 *
 * tao__codec_id: the number of a built-in codec, or -1 for any other
 * (a codec of the embedding program cannot change hands).
 * tao__codec_by_id: the codec with that number, or NULL if none.
 */
#define TAO_CODEC_ID_TLV	0
#define TAO_CODEC_ID_LINE	1
int			 tao__codec_id(const struct tao_codec *);
const struct tao_codec	*tao__codec_by_id(uint32_t id);

/*
 * The codecs an embedding program (or a module) registered with
 * tao_server_codec(): copies, named by the library's own copy of the
 * name, in fixed storage (proto/ does not allocate).  Filled before the
 * server runs; the workers inherit it, so a listener's codec pointer is
 * valid in every process.  Such a codec has no codec id (see above).
 */
#define TAO_CODEC_USER_MAX	16
#define TAO_CODEC_NAME_MAX	32	/* with the NUL */

struct tao_codec_set {
	struct tao_codec	 cs_codec[TAO_CODEC_USER_MAX];
	char			 cs_name[TAO_CODEC_USER_MAX][TAO_CODEC_NAME_MAX];
	int			 cs_n;
};

/*
 * Add a copy of codec under name: 0; TAO_EINVAL for a name that is not
 * 1..31 of [a-z0-9_-] or is "tls", a built-in codec's or NULL
 * decode/encode; TAO_EEXIST for a name already in the set; TAO_ENOMEM
 * when TAO_CODEC_USER_MAX are registered.
 */
int			 tao__codec_set_add(struct tao_codec_set *,
			    const char *name, const struct tao_codec *);
/* The built-in codec or the set's codec called name (set may be NULL),
 * or NULL. */
const struct tao_codec	*tao__codec_find(const struct tao_codec_set *,
			    const char *name);
/* "tlv, line, varint": every name known, for messages. */
void			 tao__codec_names(const struct tao_codec_set *,
			    char *buf, size_t size);

#endif /* TAO_PROTO_CODEC_H */
