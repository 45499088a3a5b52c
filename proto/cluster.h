/*
 * cluster.h - the bytes one taod node publishes on Redis for the others
 * (cluster/bridge.c): a fixed 40-byte header, little-endian, then the
 * payload.  One Redis pub/sub message is one record; nothing else is
 * ever published on our channels, so anything that does not decode is
 * someone else's (or hostile) and is counted and dropped.
 *
 *   0        4    5    6         8                16      20      24
 *   +--------+----+----+---------+----------------+-------+-------+
 *   | magic  |ver |kind| origin  | origin nonce   | type  | len   |
 *   | "TAOC" | 1  |1|2 | node    | (per bridge    | int32 | u32   |
 *   |        |    |    | u16     |  process) u64  |       |       |
 *   +--------+----+----+---------+----------------+-------+-------+
 *   24               32               40
 *   | dst netid u64  | seq u64        | payload: len bytes ...
 *
 * seq counts the origin's messages per channel from 0 with no gap (also
 * those it could not publish), so a receiver counts exactly what it
 * missed; nonce tells a restarted origin (a new sequence) from a gap.
 * Pure functions, no allocation: fuzzed with hostile input.
 */
#ifndef TAO_PROTO_CLUSTER_H
#define TAO_PROTO_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#define TAO_CLMSG_MAGIC		UINT32_C(0x434f4154)	/* "TAOC" */
#define TAO_CLMSG_VERSION	1
#define TAO_CLMSG_HDR		40

enum tao_clmsg_kind {
	TAO_CLMSG_BROADCAST = 1,
	TAO_CLMSG_UNICAST = 2
};

struct tao_clmsg {
	unsigned	cm_kind;	/* enum tao_clmsg_kind */
	unsigned	cm_origin;	/* node id */
	uint64_t	cm_nonce;
	int32_t		cm_type;
	uint32_t	cm_len;		/* payload bytes */
	uint64_t	cm_dst_netid;	/* UNICAST only; 0 for BROADCAST */
	uint64_t	cm_seq;
	const void	*cm_payload;	/* decode: points into the input */
};

/* Write the header of m into hdr (TAO_CLMSG_HDR bytes); the payload
 * follows it in the caller's buffer. */
void	tao__clmsg_encode_hdr(const struct tao_clmsg *m, unsigned char *hdr);

/*
 * Check and decode one message of len bytes.  0 with *m filled
 * (cm_payload points into buf), or -1 when it is not one of ours: too
 * short, bad magic or version, unknown kind, a length that does not
 * match, a payload above max_payload, a broadcast with a destination or
 * a unicast without one.
 */
int	tao__clmsg_decode(const void *buf, size_t len, size_t max_payload,
	    struct tao_clmsg *m);

#endif
