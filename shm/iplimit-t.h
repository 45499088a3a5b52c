/*
 * iplimit-t.h - connections per client address, across every worker
 * (max_connections_per_ip), in the shared-memory segment.
 *
 *   iplimit_off +-- struct tao_iplimit_hdr (1 page) ------------------+
 *               | il_lock: robust, process-shared mutex              |
 *               | il_nslots (power of 2), il_used                     |
 *               +-- struct tao_iplimit_slot [il_nslots], 24 B --------+
 *               | address -> connections open from it, all islots     |
 *               | (open addressing, linear probing, backward-shift    |
 *               | deletion: a slot is free exactly when its count is 0)|
 *               +-- struct tao_iplimit_own [nislots][max_connections] +
 *               | who holds a unit: the connection in (islot, row)    |
 *               | holds one for this address (s_held)                 |
 *               +-----------------------------------------------------+
 *
 * Every change (a count and the owner record that explains it) is made
 * under il_lock, so the counts always equal the number of owner records
 * per address at every unlock.  That is what makes it exact and
 * repairable:
 *   - a worker killed anywhere: the master's reclaim of its islot takes
 *     the lock and gives back every unit its owner records hold;
 *   - a worker killed while holding the lock (EOWNERDEAD for the next
 *     locker): the counts are rebuilt from the owner records, which are
 *     single stores and so never half-written.
 * The critical section is a hash probe and two stores (~100 ns), taken
 * once per accepted connection and once per close, only when the limit
 * is configured.
 */
#ifndef TAO_SHM_IPLIMIT_T_H
#define TAO_SHM_IPLIMIT_T_H

#include <pthread.h>
#include <stdint.h>

struct tao_iplimit_hdr {
	pthread_mutex_t	il_lock;
	uint32_t	il_nslots;	/* power of two */
	uint32_t	il_used;	/* slots with a count */
	uint64_t	il_repairs;	/* EOWNERDEAD rebuilds, for tests */
};

/* Family 4 uses a_addr[0..4), the rest zero; 6 all 16 bytes. */
struct tao_iplimit_slot {
	uint32_t	s_count;	/* 0: free */
	uint8_t		s_family;
	uint8_t		s_pad[3];
	uint8_t		s_addr[16];
};

struct tao_iplimit_own {
	uint8_t		o_held;		/* 1: holds a unit for o_addr */
	uint8_t		o_family;
	uint8_t		o_pad[2];
	uint8_t		o_addr[16];
};

#endif
