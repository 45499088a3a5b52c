/*
 * iplimit.c - connections per client address in shared memory (the
 * picture and the locking rules are in shm/iplimit-t.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "shm/iplimit.h"

#define HDR_BYTES	4096u

static uint64_t
slots_for(unsigned max_connections)
{
	uint64_t n = 16;

	while (n < 2 * (uint64_t)max_connections)
		n <<= 1;
	return n;
}

uint64_t
tao__iplimit_size(unsigned nislots, unsigned max_connections)
{
	return HDR_BYTES + slots_for(max_connections) *
	    sizeof(struct tao_iplimit_slot) + (uint64_t)nislots *
	    max_connections * sizeof(struct tao_iplimit_own);
}

static struct tao_iplimit_hdr *
hdr(const struct tao_shm *shm)
{
	return (struct tao_iplimit_hdr *)(shm->sh_base + shm->sh_iplimit_off);
}

static struct tao_iplimit_slot *
slots(const struct tao_shm *shm)
{
	return (struct tao_iplimit_slot *)(shm->sh_base + shm->sh_iplimit_off +
	    HDR_BYTES);
}

static struct tao_iplimit_own *
own(const struct tao_shm *shm, unsigned islot, unsigned row)
{
	return (struct tao_iplimit_own *)(slots(shm) + hdr(shm)->il_nslots) +
	    (size_t)islot * shm->sh_max_connections + row;
}

int
tao__iplimit_init(struct tao_shm *shm)
{
	struct tao_iplimit_hdr *h = hdr(shm);
	pthread_mutexattr_t a;
	int rc;

	if ((rc = pthread_mutexattr_init(&a)) != 0)
		goto fail;
	if ((rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED))
	    != 0 || (rc = pthread_mutexattr_setrobust(&a,
	    PTHREAD_MUTEX_ROBUST)) != 0 ||
	    (rc = pthread_mutex_init(&h->il_lock, &a)) != 0) {
		pthread_mutexattr_destroy(&a);
		goto fail;
	}
	pthread_mutexattr_destroy(&a);
	h->il_nslots = (uint32_t)slots_for(shm->sh_max_connections);
	return 0;
fail:
	errno = rc;
	return -1;
}

/* FNV-1a over the family and the address bytes. */
static uint32_t
hash(uint8_t family, const uint8_t addr[16])
{
	uint32_t h = 2166136261u ^ family;

	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h;
}

/* The slot of addr, or the free slot where it would go. */
static uint32_t
probe(const struct tao_shm *shm, uint8_t family, const uint8_t addr[16])
{
	struct tao_iplimit_slot *s = slots(shm);
	uint32_t mask = hdr(shm)->il_nslots - 1;
	uint32_t i = hash(family, addr) & mask;

	while (s[i].s_count != 0 && (s[i].s_family != family ||
	    memcmp(s[i].s_addr, addr, 16) != 0))
		i = (i + 1) & mask;
	return i;
}

/* Linear probing's deletion: pull later members of the run back into
 * the hole so that every key stays reachable from its home slot. */
static void
slot_delete(const struct tao_shm *shm, uint32_t hole)
{
	struct tao_iplimit_slot *s = slots(shm);
	uint32_t mask = hdr(shm)->il_nslots - 1, i = hole, home;

	for (;;) {
		i = (i + 1) & mask;
		if (s[i].s_count == 0)
			break;
		home = hash(s[i].s_family, s[i].s_addr) & mask;
		/* Can s[i] move to hole?  Only if its home is not in the
		 * cyclic interval (hole, i]. */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			s[hole] = s[i];
			hole = i;
		}
	}
	memset(&s[hole], 0, sizeof(s[hole]));
	hdr(shm)->il_used--;
}

/* Add n to addr's count (n = -1 gives a unit back).  -1 ENOSPC when a
 * new address finds the table full. */
static int
count_add(struct tao_shm *shm, uint8_t family, const uint8_t addr[16],
    int n)
{
	struct tao_iplimit_hdr *h = hdr(shm);
	struct tao_iplimit_slot *s = slots(shm);
	uint32_t i = probe(shm, family, addr);

	if (s[i].s_count == 0) {
		if (n < 0)
			return 0;	/* not counted: nothing to give back */
		if (h->il_used + 1 >= h->il_nslots) {
			errno = ENOSPC;
			return -1;
		}
		s[i].s_family = family;
		memcpy(s[i].s_addr, addr, 16);
		h->il_used++;
	}
	s[i].s_count += (uint32_t)n;
	if (s[i].s_count == 0)
		slot_delete(shm, i);
	return 0;
}

/* Rows that were ever used (the table's high-water mark): only they can
 * have an owner record. */
static unsigned
rows_used(const struct tao_shm *shm, unsigned islot)
{
	unsigned hwm = atomic_load_explicit(&tao__shm_part(shm, islot)->tp_hwm,
	    memory_order_relaxed);

	return hwm < shm->sh_max_connections ? hwm : shm->sh_max_connections;
}

/* The owner records are the truth: recount every address from them. */
static void
rebuild(struct tao_shm *shm)
{
	struct tao_iplimit_hdr *h = hdr(shm);

	memset(slots(shm), 0, (size_t)h->il_nslots * sizeof(*slots(shm)));
	h->il_used = 0;
	for (unsigned i = 0; i < shm->sh_nislots; i++)
		for (unsigned r = 0; r < rows_used(shm, i); r++) {
			struct tao_iplimit_own *o = own(shm, i, r);
			if (o->o_held && count_add(shm, o->o_family,
			    o->o_addr, 1) == -1)
				o->o_held = 0;
		}
	h->il_repairs++;
}

static void
lock(struct tao_shm *shm)
{
	struct tao_iplimit_hdr *h = hdr(shm);

	if (pthread_mutex_lock(&h->il_lock) == EOWNERDEAD) {
		rebuild(shm);
		pthread_mutex_consistent(&h->il_lock);
	}
}

static void
unlock(struct tao_shm *shm)
{
	pthread_mutex_unlock(&hdr(shm)->il_lock);
}

int
tao__iplimit_acquire(struct tao_shm *shm, unsigned islot, unsigned row,
    uint8_t family, const uint8_t addr[16], uint32_t limit)
{
	struct tao_iplimit_own *o;
	uint32_t i;
	int rc = -1;

	if (islot >= shm->sh_nislots || row >= shm->sh_max_connections) {
		errno = EINVAL;
		return -1;
	}
	o = own(shm, islot, row);
	lock(shm);
	if (o->o_held) {	/* a row released without us: keep it sane */
		(void)count_add(shm, o->o_family, o->o_addr, -1);
		o->o_held = 0;
	}
	i = probe(shm, family, addr);
	if (limit > 0 && slots(shm)[i].s_count >= limit) {
		errno = EAGAIN;
		goto out;
	}
	if (count_add(shm, family, addr, 1) == -1)
		goto out;
	o->o_family = family;
	memcpy(o->o_addr, addr, 16);
	o->o_held = 1;
	rc = 0;
out:
	unlock(shm);
	return rc;
}

static void
release_locked(struct tao_shm *shm, struct tao_iplimit_own *o)
{
	if (!o->o_held)
		return;
	(void)count_add(shm, o->o_family, o->o_addr, -1);
	o->o_held = 0;
}

void
tao__iplimit_release(struct tao_shm *shm, unsigned islot, unsigned row)
{
	if (islot >= shm->sh_nislots || row >= shm->sh_max_connections)
		return;
	lock(shm);
	release_locked(shm, own(shm, islot, row));
	unlock(shm);
}

void
tao__iplimit_reclaim(struct tao_shm *shm, unsigned islot)
{
	if (islot >= shm->sh_nislots)
		return;
	lock(shm);
	for (unsigned r = 0; r < rows_used(shm, islot); r++)
		release_locked(shm, own(shm, islot, r));
	unlock(shm);
}

uint32_t
tao__iplimit_count(struct tao_shm *shm, uint8_t family,
    const uint8_t addr[16])
{
	uint32_t n;

	lock(shm);
	n = slots(shm)[probe(shm, family, addr)].s_count;
	unlock(shm);
	return n;
}

uint64_t
tao__iplimit_repairs(struct tao_shm *shm)
{
	uint64_t n;

	lock(shm);
	n = hdr(shm)->il_repairs;
	unlock(shm);
	return n;
}
