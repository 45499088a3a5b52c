/*
 * stats.c - reading and resetting the per-islot statistics blocks.
 */
#include <stddef.h>
#include <string.h>

#include "shm/stats.h"

static const char *const stat_names[TAO_STAT__COUNT] = {
	[TAO_STAT_ACCEPTED] = "accepted",
	[TAO_STAT_CLOSED] = "closed",
	[TAO_STAT_REFUSED] = "refused",
	[TAO_STAT_MSGS_IN] = "msgs_in",
	[TAO_STAT_MSGS_OUT] = "msgs_out",
	[TAO_STAT_BYTES_IN] = "bytes_in",
	[TAO_STAT_BYTES_OUT] = "bytes_out",
	[TAO_STAT_ERRORS] = "errors",
	[TAO_STAT_TIMEOUTS] = "timeouts",
	[TAO_STAT_RING_DROPS] = "ring_drops",
	[TAO_STAT_DROPPED] = "dropped",
	[TAO_STAT_RING_READS] = "ring_reads",
	[TAO_STAT_PROXY_ERRORS] = "proxy_errors",
	[TAO_STAT_DENIED] = "denied",
	[TAO_STAT_CONNECTIONS] = "connections",
	[TAO_STAT_QUEUE_BYTES] = "queue_bytes",
};

static const char *const state_names[] = {
	[TAO_ISLOT_FREE] = "free",
	[TAO_ISLOT_STARTING] = "starting",
	[TAO_ISLOT_RUNNING] = "running",
	[TAO_ISLOT_DRAINING] = "draining",
	[TAO_ISLOT_DEAD] = "dead",
};

const char *
tao__stats_name(enum tao_stat s)
{
	if ((unsigned)s >= TAO_STAT__COUNT)
		return NULL;
	return stat_names[s];
}

int
tao__stats_is_gauge(enum tao_stat s)
{
	return s == TAO_STAT_CONNECTIONS || s == TAO_STAT_QUEUE_BYTES;
}

const char *
tao__stats_state_name(enum tao_islot_state st)
{
	if ((unsigned)st >= sizeof(state_names) / sizeof(state_names[0]))
		return NULL;
	return state_names[st];
}

void
tao__stats_read(const struct tao_shm *shm, unsigned islot,
    struct tao_stats_snapshot *out)
{
	const struct tao_stats_block *b;
	unsigned i;

	memset(out, 0, sizeof(*out));
	if (islot >= shm->sh_nislots)
		return;
	b = tao__shm_stats(shm, islot);
	for (i = 0; i < TAO_STAT__COUNT; i++)
		out->ss_counter[i] = atomic_load_explicit(&b->sb_counter[i],
		    memory_order_relaxed);
	out->ss_held = atomic_load_explicit(&b->sb_held, memory_order_relaxed);
	out->ss_counter[TAO_STAT_CONNECTIONS] = out->ss_held;	/* derived */
	out->ss_pid = atomic_load_explicit(&b->sb_pid, memory_order_relaxed);
	out->ss_lslot = atomic_load_explicit(&b->sb_lslot,
	    memory_order_relaxed);
	out->ss_generation = atomic_load_explicit(&b->sb_generation,
	    memory_order_relaxed);
	out->ss_state = atomic_load_explicit(&b->sb_state,
	    memory_order_relaxed);
}

void
tao__stats_accumulate(struct tao_stats_snapshot *sum,
    const struct tao_stats_snapshot *src)
{
	unsigned i;

	for (i = 0; i < TAO_STAT__COUNT; i++)
		sum->ss_counter[i] += src->ss_counter[i];
	sum->ss_held += src->ss_held;
}

void
tao__stats_reset(struct tao_shm *shm, unsigned islot)
{
	struct tao_stats_block *b = tao__shm_stats(shm, islot);
	unsigned i;

	for (i = 0; i < TAO_STAT__COUNT; i++)
		atomic_store_explicit(&b->sb_counter[i], 0,
		    memory_order_relaxed);
	atomic_store_explicit(&b->sb_held, 0, memory_order_relaxed);
	atomic_store_explicit(&b->sb_pid, 0, memory_order_relaxed);
	atomic_store_explicit(&b->sb_lslot, 0, memory_order_relaxed);
	atomic_store_explicit(&b->sb_generation, 0, memory_order_relaxed);
	atomic_store_explicit(&b->sb_state, TAO_ISLOT_FREE,
	    memory_order_relaxed);
}
