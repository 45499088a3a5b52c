/*
 * table-t.h - the connection table in shared memory.
 *
 * One partition per islot; only that islot's worker writes it (the master
 * does, in reclaim, once the worker is dead), so every row has one writer
 * and needs no lock.  Readers (taoctl through the master, unicast lookups in
 * other workers) copy rows out under a seqlock.
 *
 * A row is written when something an operator reads changes: at open
 * (netid, peer, times), at close (freed), and its counters about once a
 * second (worker/wshm.c), so `taoctl conns` counters may be up to a
 * second old.  Never per event.
 *
 *   partition i
 *   +-- struct tao_table_part (128 B) --------------------------------+
 *   | tp_hwm: rows [0, hwm) were used at least once; readers scan only  |
 *   |         those.  tp_free: head of a LIFO free list threaded through |
 *   |         sr_next_free.  (No count of live rows: the islot's open    |
 *   |         connections are counted once, in its stats sb_held.)       |
 *   +-- struct tao_shm_row [max_connections], 64 B each ---------------+
 *   | sr_seq | sr_next_free | sr_word[7]: struct tao_conn_row, packed  |
 *   +------------------------------------------------------------------+
 *
 *   sr_word  bits 63                                                 0
 *     [0]    netid
 *     [1]    peer port:16 | peer family:2 | state:2 | connected_ms:44
 *     [2]    peer address bytes 0-7     (as the bytes lie in memory)
 *     [3]    peer address bytes 8-15
 *     [4]    msgs_out low 16  | msgs_in:48
 *     [5]    bytes_in low 32  | msgs_out high 32
 *     [6]    bytes_out:48     | bytes_in high 16
 *
 * connected_ms counts milliseconds since the Unix epoch: 44 bits last
 * until the year 2527.  The four counters are 48 bits each and saturate
 * at TAO_ROW_COUNTER_MAX (2^48 - 1: 281 T messages or bytes) instead of
 * wrapping.  The peer is binary; readers format it.  A row holds no pid,
 * generation or listener slot: those are its islot's (sb_pid,
 * sb_generation, sb_lslot in shm/stats-t.h), and a reader fills them in
 * from there.  A connection handed over in a reload is inserted again
 * by the new generation's worker, in its own islot's rows, so the islot
 * a row lies in always names the process serving it.
 *
 * Seqlock: sr_seq is even when the row is stable, odd while its writer is
 * changing it.  The row body is held as relaxed 64-bit atomics so that a
 * reader racing a writer reads stale or fresh words but never has undefined
 * behaviour; the sequence check tells it whether the words it got belong
 * together.  A writer killed mid-update leaves sr_seq odd forever (and a
 * hostile one may leave every row so): readers give up after a bounded
 * time per row and per request (see table.c), and reclaim repairs the row.
 */
#ifndef TAO_SHM_TABLE_T_H
#define TAO_SHM_TABLE_T_H

#include <stdatomic.h>
#include <stdint.h>

#include "shm/segment-t.h"

enum tao_row_state {
	TAO_ROW_FREE = 0,
	TAO_ROW_OPEN,
	TAO_ROW_CLOSING
};

#define TAO_ROW_NONE		UINT32_MAX
#define TAO_ROW_COUNTER_MAX	((UINT64_C(1) << 48) - 1)
#define TAO_ROW_MS_MAX		((INT64_C(1) << 44) - 1)

/* The peer's address family in a row (shm/ knows nothing of sockets). */
enum tao_row_family {
	TAO_ROW_PEER_NONE = 0,
	TAO_ROW_PEER_V4,
	TAO_ROW_PEER_V6
};

struct tao_row_peer {
	uint8_t		rp_family;	/* enum tao_row_family */
	uint16_t	rp_port;	/* host byte order */
	uint8_t		rp_addr[16];	/* v4: the first 4 bytes */
};

/*
 * A row as callers see it: plain memory, filled by insert, copied by
 * read.  Full-width fields; table.c packs them into the row's words.
 */
struct tao_conn_row {
	uint64_t	cr_netid;
	int64_t		cr_connected_ms;	/* CLOCK_REALTIME, milliseconds;
						 * kept in [0, TAO_ROW_MS_MAX] */
	uint64_t	cr_msgs_in;		/* each kept at most */
	uint64_t	cr_msgs_out;		/* TAO_ROW_COUNTER_MAX */
	uint64_t	cr_bytes_in;
	uint64_t	cr_bytes_out;
	/* Not stored in the row: filled in by read from the islot. */
	int32_t		cr_pid;
	uint32_t	cr_generation;
	uint16_t	cr_lslot;		/* listener slot */
	uint16_t	cr_islot;		/* worker instance */
	uint16_t	cr_state;		/* enum tao_row_state */
	struct tao_row_peer cr_peer;
};

#define TAO_ROW_WORDS	7

struct tao_shm_row {
	_Atomic uint32_t	sr_seq;
	_Atomic uint32_t	sr_next_free;	/* writer-private link */
	_Atomic uint64_t	sr_word[TAO_ROW_WORDS];
};

_Static_assert(sizeof(struct tao_shm_row) == 64, "a row is 64 bytes");

struct tao_table_part {
	_Atomic uint32_t	tp_hwm;
	_Atomic uint32_t	tp_free;
	char			tp_pad[TAO_SHM_LINE - 2 * sizeof(uint32_t)];
};

/* Iterator over every live row of every islot; start zeroed ({ 0 }). */
struct tao_table_iter {
	unsigned	ti_islot;
	unsigned	ti_row;
	unsigned	ti_torn;	/* out: rows skipped, never stable */
	long		ti_waited_ns;	/* private: patience used so far */
};

#endif
