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
 *   +-- struct tao_shm_row [max_connections], 128 B each --------------+
 *   | sr_seq | sr_next_free | sr_word[15] = image of struct tao_conn_row |
 *   +------------------------------------------------------------------+
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

#define TAO_ROW_PEER_MAX	56	/* "[v6 address]:port" plus NUL fits */
#define TAO_ROW_NONE		UINT32_MAX

/* A row as callers see it: plain memory, filled by insert, copied by read. */
struct tao_conn_row {
	uint64_t	cr_netid;
	int64_t		cr_connected_ms;	/* CLOCK_REALTIME, milliseconds */
	uint64_t	cr_msgs_in;
	uint64_t	cr_msgs_out;
	uint64_t	cr_bytes_in;
	uint64_t	cr_bytes_out;
	int32_t		cr_pid;
	uint32_t	cr_generation;
	uint16_t	cr_lslot;		/* listener slot */
	uint16_t	cr_islot;		/* worker instance; set by insert */
	uint16_t	cr_state;		/* enum tao_row_state */
	uint16_t	cr_pad;
	char		cr_peer[TAO_ROW_PEER_MAX];	/* NUL-terminated */
};

#define TAO_ROW_WORDS	(sizeof(struct tao_conn_row) / sizeof(uint64_t))

struct tao_shm_row {
	_Atomic uint32_t	sr_seq;
	_Atomic uint32_t	sr_next_free;	/* writer-private link */
	_Atomic uint64_t	sr_word[TAO_ROW_WORDS];
};

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
