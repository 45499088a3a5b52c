/*
 * varint.h - an example codec: protobuf-style length-delimited framing,
 * the format of Java's writeDelimitedTo / parseDelimitedFrom, Go's
 * protodelim and C++'s SerializeDelimitedToOstream:
 *
 *	+------------------------------+---------------------+
 *	| payload length, base-128     | payload, length B   |
 *	| varint, 1..10 bytes          | (one message)       |
 *	+------------------------------+---------------------+
 *
 * A varint is little-endian groups of 7 bits, the top bit of each byte
 * set on every byte but the last (300 = 0xac 0x02).  Only the shortest
 * form is accepted (every encoder writes it; 0x80 0x00 for 0 is
 * refused), so each frame has exactly one encoding.  The format carries
 * no message type: every frame reads back as TAO_VARINT_TYPE, and the
 * type given to tao_conn_send() is not sent.  Register it with
 *
 *	tao_server_codec(server, "varint", &tao_varint_codec);
 *
 * and name it in the config: `listen 127.0.0.1:12347 varint`.
 */
#ifndef TAO_EXAMPLE_VARINT_H
#define TAO_EXAMPLE_VARINT_H

#include <stddef.h>
#include <stdint.h>

#include <tao.h>

#define TAO_VARINT_TYPE		1
#define TAO_VARINT_MAX_BYTES	10	/* a uint64 */

extern const struct tao_codec tao_varint_codec;

/*
 * The varint at buf[0..len): 1..10, the bytes it spans, with *value set;
 * 0 if it is not complete yet; -1 if it is longer than 10 bytes, over
 * 64 bits, or not in its shortest form (a last byte of 0 after others).
 */
int	tao_varint_get(const uint8_t *buf, size_t len, uint64_t *value);
/* Writes v into out (TAO_VARINT_MAX_BYTES suffice); the bytes written. */
size_t	tao_varint_put(uint8_t *out, uint64_t v);

#endif
