/*
 * ring.h - per-islot broadcast/unicast rings (layout in shm/ring-t.h).
 *
 * Producer: the worker holding islot P publishes into ring P only; publish
 * never waits, never takes a lock and makes no system call.
 * Consumers: any worker, one private struct tao_ring_cursor per producer
 * ring it follows.  Records from one producer arrive in publish order.
 *
 * Sleeping without losing a wake-up (the eventfds are the caller's):
 *
 *	consumer C                          producer P
 *	tao__ring_sleep_begin(C)            tao__ring_publish(P, ..., &wake)
 *	  flag[C] = 1; fence(seq_cst)         store record, head (release)
 *	if any tao__ring_readable(...)        fence(seq_cst)
 *	    -> sleep_end, consume, retry      for each islot X != P:
 *	epoll_wait (eventfd of C inside)        if flag[X] and xchg(flag[X],0)
 *	tao__ring_sleep_end(C); read the            -> X in wake set
 *	  eventfd; consume every ring       write 1 to the eventfd of every
 *	                                      islot in the wake set
 *
 * The two seq_cst fences order "store head; load flag" against "store flag;
 * load head" (Dekker): either the producer sees the flag, or the consumer's
 * re-check sees the new head; both may happen, neither missing is
 * impossible.  The exchange makes one producer, not all of them, write the
 * eventfd for one sleep.
 */
#ifndef TAO_SHM_RING_H
#define TAO_SHM_RING_H

#include <stddef.h>
#include <stdint.h>

#include "shm/segment.h"
#include "shm/ring-t.h"

/*
 * Called for each record, in order.  payload (h->rh_payload_len bytes) and
 * h are a private copy that lives until the callback returns; both are
 * 8-byte aligned.  Return 0 to go on, non-zero to stop after this record.
 */
typedef int (*tao_ring_fn)(void *arg, const struct tao_ring_rec_hdr *h,
    const void *payload);

/* Unicast filter: from now on the cursor delivers a UNICAST record only
 * if its rh_dst_islot is self, and skips the others after reading two
 * words of their header (drops are still counted exactly).  A fresh
 * cursor delivers every record. */
static inline void
tao__ring_cursor_set_self(struct tao_ring_cursor *cur, unsigned self)
{
	cur->rc_self = (uint16_t)self;
}

/* Largest payload a ring of this segment accepts (half the ring, less the
 * record header). */
size_t	tao__ring_max_payload(const struct tao_shm *);

/*
 * Append one record to islot's ring.  From *h only rh_kind
 * (TAO_RING_BROADCAST or TAO_RING_UNICAST), rh_type, rh_dst_netid and
 * rh_dst_islot are used; length, source and sequence are filled in.  The payload is copied.
 * If wake is not NULL, islots that sleep and must be woken are added to it
 * (tao__ring_wake_collect); pass NULL while publishing a batch and collect
 * once after it.  0, or -1 with errno EMSGSIZE (len above
 * tao__ring_max_payload), EINVAL (bad islot or kind).
 */
int	tao__ring_publish(struct tao_shm *, unsigned islot,
	    const struct tao_ring_rec_hdr *h, const void *payload, size_t len,
	    struct tao_ring_wake *wake);

/* Records ever published into islot's ring (its next sequence number). */
uint64_t tao__ring_published(const struct tao_shm *, unsigned islot);

/*
 * Start following producer's ring at its current head: only records
 * published from now on are delivered.
 */
void	tao__ring_cursor_init(const struct tao_shm *, unsigned producer,
	    struct tao_ring_cursor *);

/*
 * Deliver up to max_records records of producer's ring to fn, copying each
 * out and checking afterwards that the producer did not overwrite it
 * meanwhile, so no torn record is ever delivered.  A cursor that was lapped
 * skips forward (to the first record of the head's lap, or to the head) and
 * adds the exact number of records it skipped to cur->rc_drops.  A changed ring generation (the producer died and the
 * master reclaimed its islot) is noted in cur->rc_gen; records the dead
 * producer completed are still delivered, a record it left half-written is
 * not.  Returns the number of records delivered, or -1 with errno ENOMEM
 * (a large record could not be copied; nothing delivered, try again).
 */
int	tao__ring_consume(const struct tao_shm *, unsigned producer,
	    struct tao_ring_cursor *, tao_ring_fn fn, void *arg,
	    unsigned max_records);

/* 1 if consume would find something (a record or a generation change). */
int	tao__ring_readable(const struct tao_shm *, unsigned producer,
	    const struct tao_ring_cursor *);

/* Consumer side of the sleep protocol above, for the consumer's own islot. */
void	tao__ring_sleep_begin(struct tao_shm *, unsigned islot);
void	tao__ring_sleep_end(struct tao_shm *, unsigned islot);

/* Producer side: add every sleeping islot but self to *wake and clear its
 * flag.  Issues the seq_cst fence itself.  Looks only at islots whose bit
 * is set in the live bitmap (shm/segment-t.h). */
void	tao__ring_wake_collect(struct tao_shm *, unsigned self,
	    struct tao_ring_wake *wake);
/* The same for the islots in *want only (the destinations of unicasts). */
void	tao__ring_wake_collect_set(struct tao_shm *, unsigned self,
	    const struct tao_ring_wake *want, struct tao_ring_wake *wake);

static inline void
tao__ring_wake_clear(struct tao_ring_wake *w)
{
	unsigned i;

	for (i = 0; i < sizeof(w->rw_bits) / sizeof(w->rw_bits[0]); i++)
		w->rw_bits[i] = 0;
}

/* The first islot >= from in the set, or -1. */
static inline int
tao__ring_wake_next(const struct tao_ring_wake *w, unsigned from)
{
	uint64_t bits;
	unsigned i;

	for (i = from / 64; i < TAO_SHM_MAX_ISLOTS / 64; i++, from = i * 64) {
		bits = w->rw_bits[i] >> (from % 64);
		if (bits != 0)
			return (int)(from + (unsigned)__builtin_ctzll(bits));
	}
	return -1;
}

/* For tao__shm_islot_reclaim: repair a half-written record, bump the ring
 * generation, clear the sleeping flag. */
void	tao__ring_reclaim(struct tao_shm *, unsigned islot);

#endif
