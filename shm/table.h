/*
 * table.h - the shared connection table (layout in shm/table-t.h).
 *
 * Writers: only the worker holding the islot calls insert, update, set_state
 * and remove on that islot's partition.  Readers: anyone, any time.
 * Row indices are stable for the life of a connection and are what the
 * worker keeps in its connection.
 */
#ifndef TAO_SHM_TABLE_H
#define TAO_SHM_TABLE_H

#include <stdint.h>

#include "shm/segment.h"
#include "shm/table-t.h"

/*
 * Publish a row for a new connection.  *init is copied, except what a
 * row does not store (cr_pid, cr_generation, cr_lslot, cr_islot: the
 * islot's); a FREE state becomes OPEN, connected_ms is clamped to
 * [0, TAO_ROW_MS_MAX] and the counters saturate at TAO_ROW_COUNTER_MAX.
 * Returns the row index (>= 0), or -1 with errno ENOSPC (the partition's
 * max_connections rows are all live) or EINVAL (islot out of range).
 * O(1): a LIFO free list, then never-used rows.
 */
int	tao__table_insert(struct tao_shm *, unsigned islot,
	    const struct tao_conn_row *init);

/* The row index the next insert on islot will return (only the islot's
 * writer inserts, so it stays true until then), or -1 when full: lets
 * the netid carry its row (shm/segment-t.h). */
int	tao__table_next_free(const struct tao_shm *, unsigned islot);

/* Store the four counters (absolute values, not increments, each
 * saturated at TAO_ROW_COUNTER_MAX); a row whose counters did not change
 * is only read.  For the periodic publish, not per event. */
void	tao__table_update_counters(struct tao_shm *, unsigned islot,
	    unsigned row, uint64_t msgs_in, uint64_t msgs_out,
	    uint64_t bytes_in, uint64_t bytes_out);

/* Add to the four counters (the writer's own row, so its words are
 * current); a sum past TAO_ROW_COUNTER_MAX stays there, it never wraps.
 * For the periodic publish, not per event. */
void	tao__table_add_counters(struct tao_shm *, unsigned islot,
	    unsigned row, uint64_t msgs_in, uint64_t msgs_out,
	    uint64_t bytes_in, uint64_t bytes_out);

/* OPEN -> CLOSING (or back); remove to free. */
void	tao__table_set_state(struct tao_shm *, unsigned islot, unsigned row,
	    enum tao_row_state);

/* Replace the peer (a PROXY header named the real client). */
void	tao__table_set_peer(struct tao_shm *, unsigned islot, unsigned row,
	    const struct tao_row_peer *);

/* Free the row; its index may be handed out again by the next insert. */
void	tao__table_remove(struct tao_shm *, unsigned islot, unsigned row);

/*
 * Copy a row out under its seqlock.  0 with *out filled when the row is
 * live (cr_islot, cr_pid, cr_generation and cr_lslot from the islot's
 * stats block, as the master last assigned it); -1 with errno ENOENT
 * when it is free (or out of range), EAGAIN when it stayed mid-update
 * for too long (its writer is descheduled, dead or hostile; the reader
 * spins, never sleeps, for at most about 50 us).
 */
int	tao__table_read(const struct tao_shm *, unsigned islot, unsigned row,
	    struct tao_conn_row *out);

/*
 * Every live row of every islot, in (islot, row) order:
 *	struct tao_table_iter it = { 0 };
 *	while (tao__table_next(shm, &it, &row) == 1) ...
 * Rows inserted or removed during the walk may or may not be seen; each
 * row returned is self-consistent.  Cost: one cache line per row below each
 * partition's high-water mark, plus at most 2 ms of waiting in total for
 * rows caught mid-update, whatever the writers do (a row that is never
 * stable is skipped and counted in it->ti_torn).  Returns 1 with *out
 * filled, 0 at the end.
 */
int	tao__table_next(const struct tao_shm *, struct tao_table_iter *,
	    struct tao_conn_row *out);

/*
 * Where is the connection with this netid?  0 with *islot and *row set, or
 * -1 with errno ENOENT.  First the row the netid names (its birth place,
 * shm/segment-t.h): one seqlocked read, the answer for every connection
 * that did not move.  Only when that row holds another netid (the
 * connection was handed over in a reload, or is closed) a linear scan of
 * every partition up to its high-water mark, reading one word per row
 * (about 1-2 ms for 20 000 rows in the worst case, all cache misses, plus
 * at most 2 ms of waiting for rows caught mid-update);
 * a worker should remember the answer only as a hint and re-check it with
 * tao__table_read, since rows are reused.
 */
int	tao__table_find_netid(const struct tao_shm *, uint64_t netid,
	    unsigned *islot, unsigned *row);

/* For tao__shm_create and tao__shm_islot_reclaim. */
void	tao__table_part_init(struct tao_shm *, unsigned islot);
void	tao__table_reclaim(struct tao_shm *, unsigned islot);

#endif
