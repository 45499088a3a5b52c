/*
 * ring-wake.c - the sleep and wake-up half of the rings (protocol in
 * shm/ring.h): a consumer says it is going to sleep, a producer that
 * published collects the eventfds of sleeping consumers to write once its
 * batch is out.  Split from ring.c, which moves the records.
 */
#include <stddef.h>

#include "shm/ring.h"

void
tao__ring_sleep_begin(struct tao_shm *shm, unsigned islot)
{
	if (islot >= shm->sh_nislots)
		return;
	atomic_store_explicit(&tao__shm_ringctl(shm, islot)->rg_sleeping, 1,
	    memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
}

void
tao__ring_sleep_end(struct tao_shm *shm, unsigned islot)
{
	if (islot >= shm->sh_nislots)
		return;
	atomic_store_explicit(&tao__shm_ringctl(shm, islot)->rg_sleeping, 0,
	    memory_order_relaxed);
}

/* If islot sleeps, take its flag and add it to *wake. */
static void
wake_if_sleeping(struct tao_shm *shm, unsigned i, struct tao_ring_wake *wake)
{
	struct tao_ring_ctl *ctl = tao__shm_ringctl(shm, i);

	/* Plain load first: the exchange would steal the line from an
	 * awake consumer on every publish. */
	if (atomic_load_explicit(&ctl->rg_sleeping, memory_order_relaxed) !=
	    0 && atomic_exchange_explicit(&ctl->rg_sleeping, 0,
	    memory_order_relaxed) != 0)
		wake->rw_bits[i / 64] |= UINT64_C(1) << (i % 64);
}

/* Only islots with a worker can sleep (reclaim clears the flag of one
 * that died): walk the live bitmap, not every islot. */
void
tao__ring_wake_collect(struct tao_shm *shm, unsigned self,
    struct tao_ring_wake *wake)
{
	uint64_t bits;
	unsigned k, i;

	atomic_thread_fence(memory_order_seq_cst);
	for (k = 0; k < tao__shm_live_words(shm); k++) {
		bits = tao__shm_live_word(shm, k);
		while (bits != 0) {
			i = k * 64 + (unsigned)__builtin_ctzll(bits);
			bits &= bits - 1;
			if (i != self && i < shm->sh_nislots)
				wake_if_sleeping(shm, i, wake);
		}
	}
}

void
tao__ring_wake_collect_set(struct tao_shm *shm, unsigned self,
    const struct tao_ring_wake *want, struct tao_ring_wake *wake)
{
	int i = 0;

	atomic_thread_fence(memory_order_seq_cst);
	while ((i = tao__ring_wake_next(want, (unsigned)i)) >= 0) {
		if ((unsigned)i != self && (unsigned)i < shm->sh_nislots)
			wake_if_sleeping(shm, (unsigned)i, wake);
		i++;
	}
}
