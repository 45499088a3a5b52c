/*
 * iplimit.h - max_connections_per_ip across all workers (layout and
 * locking in shm/iplimit-t.h).
 *
 * A connection is named by its islot and table row (the row it got from
 * tao__table_insert), so the master can find every unit a dead worker
 * held.  The address is the one access control judged: family 4 or 6,
 * 16 bytes in network order, an IPv4 address in the first 4 (callers
 * unmap ::ffff:a.b.c.d first).  Only the islot's worker acquires and
 * releases for its rows; the master reclaims.
 */
#ifndef TAO_SHM_IPLIMIT_H
#define TAO_SHM_IPLIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "shm/segment.h"
#include "shm/iplimit-t.h"

/* Bytes of the section for this geometry (slots: 2 x max_connections,
 * rounded up to a power of two). */
uint64_t tao__iplimit_size(unsigned nislots, unsigned max_connections);
/* Master, at create: the lock and the slot count. */
int	tao__iplimit_init(struct tao_shm *);

/*
 * One unit for addr, owned by (islot, row).  limit 0: no limit (taken
 * even over, for a connection handed over in a reload).  0, or -1 with
 * errno EAGAIN (limit connections from addr are open) or ENOSPC (no free
 * slot: more distinct addresses than the table holds, which cannot
 * happen while rows <= max_connections per islot).
 */
int	tao__iplimit_acquire(struct tao_shm *, unsigned islot, unsigned row,
	    uint8_t family, const uint8_t addr[16], uint32_t limit);
/* Give back the unit (islot, row) holds, if any. */
void	tao__iplimit_release(struct tao_shm *, unsigned islot, unsigned row);
/* Master: give back every unit the islot holds (its worker is dead). */
void	tao__iplimit_reclaim(struct tao_shm *, unsigned islot);
/* Connections counted for addr now (tests, taoctl). */
uint32_t tao__iplimit_count(struct tao_shm *, uint8_t family,
	    const uint8_t addr[16]);
/* Times the counts were rebuilt after a holder died with the lock. */
uint64_t tao__iplimit_repairs(struct tao_shm *);

#endif
