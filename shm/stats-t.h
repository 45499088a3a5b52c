/*
 * stats-t.h - the per-islot statistics block in shared memory.
 *
 *   +-- 128 B ---------------------------------------------------------+
 *   | sb_counter[TAO_STAT__COUNT]  sb_held        written by the worker |
 *   +-- 128 B ---------------------------------------------------------+
 *   | sb_pid sb_lslot sb_generation sb_state     written by the master |
 *   +------------------------------------------------------------------+
 *
 * Who owns what (one owner each; everything else is derived):
 *   - worker totals (accepted ... ring_reads): sb_counter, by the worker,
 *     updated as things happen;
 *   - open connections of the islot: sb_held (one limit unit per open
 *     connection); the "connections" gauge is read from it;
 *   - open connections of the server: h_conns in the header (the limit);
 *   - one connection's msgs/bytes: its struct tao_conn, in the worker's
 *     private memory; the table row holds a copy published at open and
 *     then about once a second (worker/wshm.c), never per event.
 *
 * Each field has exactly one writer, so the writer updates with a relaxed
 * load and a relaxed store (no read-modify-write, no lock prefix); readers
 * use relaxed loads and may see any recent value of each counter, never a
 * torn one.  The two halves sit on separate 128-byte lines so the master's
 * rare writes never bounce the worker's hot line.
 */
#ifndef TAO_SHM_STATS_T_H
#define TAO_SHM_STATS_T_H

#include <stdatomic.h>
#include <stdint.h>

#include "shm/segment-t.h"

enum tao_stat {
	TAO_STAT_ACCEPTED,
	TAO_STAT_CLOSED,
	TAO_STAT_REFUSED,	/* accepted then closed: over the limit */
	TAO_STAT_MSGS_IN,
	TAO_STAT_MSGS_OUT,
	TAO_STAT_BYTES_IN,
	TAO_STAT_BYTES_OUT,
	TAO_STAT_ERRORS,
	TAO_STAT_TIMEOUTS,
	TAO_STAT_RING_DROPS,	/* ring records this islot lost by lapping */
	TAO_STAT_DROPPED,	/* unregistered-type frames, and broadcast or
				 * unicast messages a full queue refused */
	TAO_STAT_RING_READS,	/* records copied out of other islots' rings
				 * (unicasts for other islots are skipped,
				 * not copied) */
	TAO_STAT_PROXY_ERRORS,	/* a PROXY header missing, malformed or
				 * not complete in time: closed */
	TAO_STAT_DENIED,	/* refused by a listener's allow/deny */
	TAO_STAT_CONNECTIONS,	/* gauge: open connections now.  Not kept in
				 * sb_counter: tao__stats_read derives it
				 * from sb_held, its one owner */
	TAO_STAT_QUEUE_BYTES,	/* gauge: bytes in the write queues of the
				 * islot's connections, queued and not yet
				 * written (worker/conn.c keeps it) */
	TAO_STAT__COUNT
};

enum tao_islot_state {
	TAO_ISLOT_FREE = 0,	/* no worker; reclaimed */
	TAO_ISLOT_STARTING,	/* forked, not READY yet */
	TAO_ISLOT_RUNNING,
	TAO_ISLOT_DRAINING,	/* old generation finishing its connections */
	TAO_ISLOT_DEAD		/* exited, waiting for reclaim */
};

struct tao_stats_block {
	/* written by the islot's worker only */
	_Atomic uint64_t	sb_counter[TAO_STAT__COUNT];
	_Atomic uint64_t	sb_held;	/* units of the global connection
						 * limit this islot holds; kept
						 * by tao__shm_conn_acquire and
						 * _release, read by reclaim */

	/* written by the master only */
	_Alignas(TAO_SHM_LINE) _Atomic int32_t sb_pid;
	_Atomic uint32_t	sb_lslot;	/* listener slot it serves */
	_Atomic uint32_t	sb_generation;
	_Atomic uint32_t	sb_state;	/* enum tao_islot_state */
	char			sb_pad[TAO_SHM_LINE - 4 * sizeof(uint32_t)];
};

/* A plain copy for readers (master, taoctl). */
struct tao_stats_snapshot {
	uint64_t	ss_counter[TAO_STAT__COUNT];
	uint64_t	ss_held;
	int32_t		ss_pid;
	uint32_t	ss_lslot;
	uint32_t	ss_generation;
	uint32_t	ss_state;
};

#endif
