/*
 * ring-t.h - the per-islot broadcast ring: shared layout and the
 * consumer's private cursor.
 *
 * One single-producer, multi-consumer ring per islot.  Positions are byte
 * offsets that only grow (never wrap in 64 bits); the byte at position p
 * lives at data[p & (ring_size - 1)].  Records are 8-byte aligned and never
 * straddle the end of the data area: a record that would is preceded by a
 * PAD record filling the rest of the lap.
 *
 *   data   |rec s=7|rec s=8|  rec s=9  |PAD....|   (next lap starts at 0)
 *                  ^ consumer pos                ^ head = claim
 *
 *   ctl line 0 (producer):  rg_claim  end of the record being written; moved
 *                                     BEFORE the bytes it covers are written
 *                           rg_head   end of the last complete record; moved
 *                                     AFTER they are written (release)
 *                           rg_head_seq  sequence number the next record gets
 *                           rg_gen    bumped by the master in reclaim
 *   ctl line 1 (consumer):  rg_sleeping  set by the islot before it sleeps
 *
 * The producer never looks at consumers (Aeron's "untethered" policy, not
 * Disruptor gating): a consumer that falls more than a lap behind finds its
 * records overwritten, skips forward (every lap starts with a record, so
 * the start of the head's lap is a safe place to resume) and counts exactly
 * how many records it lost from the sequence numbers.  Consumers keep their cursors in their
 * own memory, so a dead consumer costs the others nothing.
 */
#ifndef TAO_SHM_RING_T_H
#define TAO_SHM_RING_T_H

#include <stdatomic.h>
#include <stdint.h>

#include "shm/segment-t.h"

enum tao_ring_kind {
	TAO_RING_BROADCAST = 1,	/* every connection of every consumer */
	TAO_RING_UNICAST = 2,	/* the connection rh_dst_netid only */
	TAO_RING_PAD = 3	/* internal: filler up to the end of a lap */
};

/*
 * Record header, 40 bytes, followed by rh_payload_len bytes and zero padding
 * up to rh_len.  The producer fills rh_len, rh_src_islot, rh_payload_len and
 * rh_seq; the caller of publish fills rh_kind, rh_type, rh_dst_netid and,
 * for a unicast, rh_dst_islot.  A PAD record is only its first 8 bytes
 * (rh_len, rh_kind) and may be as short as 8 bytes.
 *
 * rh_dst_islot sits in the first word beside the length and kind, so a
 * consumer that is not the destination of a unicast skips the record
 * after reading that word and the sequence number: it never copies the
 * payload (see tao__ring_cursor_set_self).
 */
struct tao_ring_rec_hdr {
	uint32_t	rh_len;		/* whole record, multiple of 8 */
	uint16_t	rh_kind;	/* enum tao_ring_kind */
	uint16_t	rh_dst_islot;	/* UNICAST: the consumer that
					 * delivers it */
	int32_t		rh_type;	/* message type */
	uint32_t	rh_payload_len;
	uint64_t	rh_dst_netid;	/* 0: all */
	uint64_t	rh_seq;		/* per ring, from 0, no gaps */
	uint16_t	rh_src_islot;
	uint16_t	rh_pad[3];
};

struct tao_ring_ctl {
	_Atomic uint64_t	rg_claim;
	_Atomic uint64_t	rg_head;
	_Atomic uint64_t	rg_head_seq;
	_Atomic uint32_t	rg_gen;
	uint32_t		rg_pad0;

	_Alignas(TAO_SHM_LINE) _Atomic uint32_t rg_sleeping;
	char			rg_pad1[TAO_SHM_LINE - sizeof(uint32_t)];
};

/*
 * A consumer's position in one producer's ring; lives in the consumer's
 * private memory, one per (consumer, producer islot).  Set it up with
 * tao__ring_cursor_init; do not copy it between consumers.
 */
struct tao_ring_cursor {
	uint64_t	rc_pos;		/* next byte position to read */
	uint64_t	rc_seq;		/* sequence number expected there */
	uint64_t	rc_drops;	/* records lost to lapping, cumulative */
	uint32_t	rc_gen;		/* producer ring generation last seen */
	uint16_t	rc_flags;	/* TAO_RING_CURSOR_* */
	uint16_t	rc_self;	/* consumer islot: unicasts for other
					 * islots are skipped uncopied;
					 * TAO_RING_ANY_ISLOT: deliver all */
};

#define TAO_RING_ANY_ISLOT		UINT16_MAX

/* rc_seq is not known yet; the next record read tells it (no drop counted). */
#define TAO_RING_CURSOR_SEQ_UNKNOWN	0x1u

/* Set of islots a producer must wake (write their eventfd). */
struct tao_ring_wake {
	uint64_t	rw_bits[TAO_SHM_MAX_ISLOTS / 64];
};

#endif
