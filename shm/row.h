/*
 * row.h - the packed words of a connection-table row (layout drawn in
 * shm/table-t.h): struct tao_conn_row in and out of TAO_ROW_WORDS
 * 64-bit words.  Pure bit work, no shared memory: shm/table.c does the
 * seqlocked loads and stores.
 */
#ifndef TAO_SHM_ROW_H
#define TAO_SHM_ROW_H

#include <stdint.h>

#include "shm/table-t.h"

#define TAO_ROW_W_NETID		0
#define TAO_ROW_W_META		1	/* connected_ms, state, peer family
					 * and port */
#define TAO_ROW_W_ADDR		2	/* two words */
#define TAO_ROW_W_COUNTERS	4	/* three words: four 48-bit counters */

#define TAO_ROW_STATE_SHIFT	44
#define TAO_ROW_FAMILY_SHIFT	46
#define TAO_ROW_PORT_SHIFT	48

/* The meta word; ms is clamped to [0, TAO_ROW_MS_MAX]. */
static inline uint64_t
tao__row_meta(int64_t ms, unsigned state, unsigned family, uint16_t port)
{
	uint64_t m = ms < 0 ? 0 : ms > TAO_ROW_MS_MAX ?
	    (uint64_t)TAO_ROW_MS_MAX : (uint64_t)ms;

	return m | (uint64_t)(state & 3) << TAO_ROW_STATE_SHIFT |
	    (uint64_t)(family & 3) << TAO_ROW_FAMILY_SHIFT |
	    (uint64_t)port << TAO_ROW_PORT_SHIFT;
}

/* enum tao_row_state of a meta word. */
static inline unsigned
tao__row_state(uint64_t meta)
{
	return (unsigned)(meta >> TAO_ROW_STATE_SHIFT) & 3;
}

/* Four counters, each saturated at TAO_ROW_COUNTER_MAX, into w[0..3),
 * and back. */
void	tao__row_pack_counters(const uint64_t c[4], uint64_t w[3]);
void	tao__row_unpack_counters(const uint64_t w[3], uint64_t c[4]);

/* A whole row into words (for table.c, and for tests that write rows
 * by hand as a writer dying mid-update would), and the stored fields
 * back out (the islot's, cr_pid ... cr_islot, are left 0). */
void	tao__row_encode(const struct tao_conn_row *,
	    uint64_t w[TAO_ROW_WORDS]);
void	tao__row_decode(const uint64_t w[TAO_ROW_WORDS],
	    struct tao_conn_row *);

#endif
