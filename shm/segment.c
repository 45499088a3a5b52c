/*
 * segment.c - map, lay out and validate the shared segment; the global
 * netid and connection-limit counters; islot reclaim.
 *
 * The picture of the segment is in shm/segment-t.h.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shm/segment.h"
#include "shm/iplimit.h"
#include "shm/hist.h"
#include "shm/ring.h"
#include "shm/stats.h"
#include "shm/table.h"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
    "shared-memory atomics must be lock-free to work across processes");
_Static_assert(sizeof(struct tao_shm_hdr) == 6 * TAO_SHM_LINE,
    "header is six lines");
_Static_assert(sizeof(struct tao_stats_block) % TAO_SHM_LINE == 0,
    "stats block is whole lines (the master's part on its own)");
_Static_assert(sizeof(struct tao_shm_row) == 64, "row is 64 bytes");
_Static_assert(sizeof(struct tao_table_part) == TAO_SHM_LINE,
    "partition header is one line");
_Static_assert(sizeof(struct tao_ring_ctl) == 2 * TAO_SHM_LINE,
    "ring control is two lines");

struct layout {
	size_t	stats_off;
	size_t	table_off;
	size_t	part_size;
	size_t	ringctl_off;
	size_t	ringdata_off;
	size_t	iplimit_off;
	size_t	hist_off;
	size_t	total;
};

static uint64_t
round_up(uint64_t x, uint64_t align)
{
	return (x + align - 1) & ~(align - 1);
}

/* Every size is computed in 64 bits from bounded inputs (at most 2^10
 * islots x 2^24 rows x 2^7 bytes, 2^10 x 2^30 ring bytes), so none of these
 * sums can wrap; the final check guards 32-bit size_t. */
static int
layout_compute(unsigned nislots, unsigned max_conns, uint64_t ring_size,
    struct layout *l)
{
	uint64_t off, part;

	if (nislots < 1 || nislots > TAO_SHM_MAX_ISLOTS ||
	    max_conns < 1 || max_conns > TAO_SHM_MAX_CONNECTIONS ||
	    ring_size < TAO_SHM_RING_MIN || ring_size > TAO_SHM_RING_MAX ||
	    (ring_size & (ring_size - 1)) != 0)
		goto fail;

	off = round_up(sizeof(struct tao_shm_hdr), TAO_SHM_PAGE);
	l->stats_off = off;
	off = round_up(off + (uint64_t)nislots *
	    sizeof(struct tao_stats_block), TAO_SHM_PAGE);
	l->table_off = off;
	part = round_up(sizeof(struct tao_table_part) +
	    (uint64_t)max_conns * sizeof(struct tao_shm_row), TAO_SHM_LINE);
	l->part_size = part;
	off = round_up(off + nislots * part, TAO_SHM_PAGE);
	l->ringctl_off = off;
	off = round_up(off + (uint64_t)nislots * sizeof(struct tao_ring_ctl),
	    TAO_SHM_PAGE);
	l->iplimit_off = off;
	off = round_up(off + tao__iplimit_size(nislots, max_conns),
	    TAO_SHM_PAGE);
	l->hist_off = off;
	off = round_up(off + (uint64_t)nislots * sizeof(struct tao_hist_block),
	    TAO_SHM_PAGE);
	l->ringdata_off = off;
	off += (uint64_t)nislots * ring_size;
	if (off > SIZE_MAX)
		goto fail;
	l->total = off;
	return 0;
fail:
	errno = EINVAL;
	return -1;
}

size_t
tao__shm_size(const struct tao_shm_params *p)
{
	struct layout l;
	size_t ring = p->ring_size ? p->ring_size : TAO_SHM_RING_DEFAULT;

	if (layout_compute(p->nislots, p->max_connections, ring, &l) == -1)
		return 0;
	return l.total;
}

/* Bits needed to hold v (0 for 0). */
static unsigned
bit_length(uint64_t v)
{
	return v == 0 ? 0 : 64 - (unsigned)__builtin_clzll(v);
}

static struct tao_shm *
handle_new(void *base, size_t size, int owns)
{
	const struct tao_shm_hdr *h = base;
	struct tao_shm *shm;

	if ((shm = calloc(1, sizeof(*shm))) == NULL)
		return NULL;
	shm->sh_base = base;
	shm->sh_size = size;
	shm->sh_nislots = h->h_nislots;
	shm->sh_max_connections = h->h_max_connections;
	shm->sh_ring_size = h->h_ring_size;
	shm->sh_stats_off = h->h_stats_off;
	shm->sh_table_off = h->h_table_off;
	shm->sh_table_part_size = h->h_table_part_size;
	shm->sh_ringctl_off = h->h_ringctl_off;
	shm->sh_ringdata_off = h->h_ringdata_off;
	shm->sh_iplimit_off = h->h_iplimit_off;
	shm->sh_hist_off = h->h_hist_off;
	shm->sh_row_bits = bit_length(shm->sh_max_connections);
	shm->sh_islot_bits = shm->sh_nislots > 1 ?
	    bit_length(shm->sh_nislots - 1) : 0;
	shm->sh_node_id = h->h_node_id;
	shm->sh_owns_mapping = owns;
	return shm;
}

static void
header_init(struct tao_shm_hdr *h, const struct tao_shm_params *p,
    size_t ring, const struct layout *l)
{
	h->h_magic = TAO_SHM_MAGIC;
	h->h_version = TAO_SHM_VERSION;
	h->h_hdr_size = sizeof(*h);
	h->h_total_size = l->total;
	h->h_nislots = p->nislots;
	h->h_max_connections = p->max_connections;
	h->h_ring_size = ring;
	h->h_stats_off = l->stats_off;
	h->h_table_off = l->table_off;
	h->h_table_part_size = l->part_size;
	h->h_ringctl_off = l->ringctl_off;
	h->h_ringdata_off = l->ringdata_off;
	h->h_iplimit_off = l->iplimit_off;
	h->h_hist_off = l->hist_off;
	h->h_hist_stride = sizeof(struct tao_hist_block);
	h->h_stats_stride = sizeof(struct tao_stats_block);
	h->h_row_size = sizeof(struct tao_shm_row);
	h->h_ringctl_stride = sizeof(struct tao_ring_ctl);
	atomic_init(&h->h_netid, 1);
	atomic_init(&h->h_conns, 0);
}

struct tao_shm *
tao__shm_create(const struct tao_shm_params *p)
{
	struct layout l;
	struct tao_shm *shm;
	size_t ring = p->ring_size ? p->ring_size : TAO_SHM_RING_DEFAULT;
	void *base;
	unsigned i;
	int saved;

	if (layout_compute(p->nislots, p->max_connections, ring, &l) == -1)
		return NULL;
	/* Fresh anonymous memory is zero: every counter, row (FREE, seq 0),
	 * ring position and flag starts at 0.  Pages are touched lazily. */
	base = mmap(NULL, l.total, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	header_init(base, p, ring, &l);
	if ((shm = handle_new(base, l.total, 1)) == NULL)
		goto fail;
	for (i = 0; i < p->nislots; i++) {
		tao__table_part_init(shm, i);
		tao__hist_block_reset(tao__shm_hist(shm, i));
	}
	if (tao__iplimit_init(shm) == -1) {
		saved = errno;
		free(shm);
		errno = saved;
		goto fail;
	}
	return shm;
fail:
	saved = errno;
	munmap(base, l.total);
	errno = saved;
	return NULL;
}

int
tao__shm_attach_check(const void *base, size_t size)
{
	const struct tao_shm_hdr *h = base;
	struct layout l;

	if (base == NULL || size < sizeof(*h) ||
	    ((uintptr_t)base & (TAO_SHM_LINE - 1)) != 0 ||
	    h->h_magic != TAO_SHM_MAGIC)
		goto invalid;
	if (h->h_version != TAO_SHM_VERSION) {
		errno = EPROTO;
		return -1;
	}
	if (h->h_hdr_size != sizeof(*h) || h->h_total_size != size ||
	    h->h_node_id > TAO_SHM_MAX_NODE ||
	    h->h_stats_stride != sizeof(struct tao_stats_block) ||
	    h->h_row_size != sizeof(struct tao_shm_row) ||
	    h->h_ringctl_stride != sizeof(struct tao_ring_ctl) ||
	    h->h_hist_stride != sizeof(struct tao_hist_block))
		goto invalid;
	/* Offsets are redundant with the parameters: recompute and compare,
	 * so every section is known to lie inside the mapping. */
	if (layout_compute(h->h_nislots, h->h_max_connections, h->h_ring_size,
	    &l) == -1)
		goto invalid;
	if (l.total != size || l.stats_off != h->h_stats_off ||
	    l.table_off != h->h_table_off ||
	    l.part_size != h->h_table_part_size ||
	    l.ringctl_off != h->h_ringctl_off ||
	    l.ringdata_off != h->h_ringdata_off ||
	    l.iplimit_off != h->h_iplimit_off ||
	    l.hist_off != h->h_hist_off)
		goto invalid;
	return 0;
invalid:
	errno = EINVAL;
	return -1;
}

struct tao_shm *
tao__shm_attach(void *base, size_t size)
{
	if (tao__shm_attach_check(base, size) == -1)
		return NULL;
	return handle_new(base, size, 0);
}

void
tao__shm_destroy(struct tao_shm *shm)
{
	if (shm == NULL)
		return;
	if (shm->sh_owns_mapping)
		munmap(shm->sh_base, shm->sh_size);
	free(shm);
}

uint64_t
tao__shm_next_netid(struct tao_shm *shm)
{
	/* Only uniqueness matters, not ordering against other memory. */
	return atomic_fetch_add_explicit(&tao__shm_hdr(shm)->h_netid, 1,
	    memory_order_relaxed);
}

uint64_t
tao__shm_netid_make(struct tao_shm *shm, unsigned islot, unsigned row)
{
	unsigned low = shm->sh_islot_bits + shm->sh_row_bits;
	uint64_t seq = tao__shm_next_netid(shm);

	if (row > shm->sh_max_connections)
		row = shm->sh_max_connections;		/* no row */
	/* The sequence field ends below the node id (segment-t.h). */
	seq &= (UINT64_C(1) << (64 - TAO_SHM_NODE_BITS - low)) - 1;
	return ((uint64_t)shm->sh_node_id << (64 - TAO_SHM_NODE_BITS)) |
	    (seq << low) | ((uint64_t)islot << shm->sh_row_bits) | row;
}

void
tao__shm_netid_seed(struct tao_shm *shm, uint64_t bound)
{
	unsigned low = shm->sh_islot_bits + shm->sh_row_bits;
	/* bound carries the node id in its top bits: the sequence is below. */
	uint64_t seq = ((bound << TAO_SHM_NODE_BITS) >>
	    (TAO_SHM_NODE_BITS + low)) + 1;

	if (seq > atomic_load(&tao__shm_hdr(shm)->h_netid))
		atomic_store(&tao__shm_hdr(shm)->h_netid, seq);
}

uint64_t
tao__shm_netid_bound(struct tao_shm *shm, uint64_t margin)
{
	unsigned low = shm->sh_islot_bits + shm->sh_row_bits;
	uint64_t seq = atomic_load(&tao__shm_hdr(shm)->h_netid) + margin;

	if (low >= 64 - TAO_SHM_NODE_BITS ||
	    seq >= UINT64_C(1) << (64 - TAO_SHM_NODE_BITS - low))
		return UINT64_MAX;
	/* In the netids' own terms: same node id, then the sequence. */
	return ((uint64_t)shm->sh_node_id << (64 - TAO_SHM_NODE_BITS)) |
	    (seq << low);
}

int
tao__shm_netid_home(const struct tao_shm *shm, uint64_t netid,
    unsigned *islot, unsigned *row)
{
	uint64_t r = netid & ((UINT64_C(1) << shm->sh_row_bits) - 1);
	uint64_t i = (netid >> shm->sh_row_bits) &
	    ((UINT64_C(1) << shm->sh_islot_bits) - 1);

	if (tao__shm_netid_node(netid) != shm->sh_node_id ||
	    (netid << TAO_SHM_NODE_BITS) >> (TAO_SHM_NODE_BITS +
	    shm->sh_row_bits + shm->sh_islot_bits) == 0 ||
	    r >= shm->sh_max_connections || i >= shm->sh_nislots)
		return -1;
	*islot = (unsigned)i;
	*row = (unsigned)r;
	return 0;
}

int
tao__shm_islot_live(const struct tao_shm *shm, unsigned islot)
{
	if (islot >= shm->sh_nislots)
		return 0;
	return (tao__shm_live_word(shm, islot / 64) >> (islot % 64)) & 1;
}

/* Only the master writes the bitmap: load and store, no RMW needed, but
 * release so that a consumer seeing the bit also sees the islot's reset
 * ring and stats. */
static void
live_set(struct tao_shm *shm, unsigned islot, int on)
{
	_Atomic uint64_t *w = &tao__shm_hdr(shm)->h_live[islot / 64];
	uint64_t bit = UINT64_C(1) << (islot % 64);
	uint64_t v = atomic_load_explicit(w, memory_order_relaxed);

	atomic_store_explicit(w, on ? v | bit : v & ~bit,
	    memory_order_release);
}

/*
 * The global count and the islot's held count are two words, so a worker
 * SIGKILLed between the two updates leaves them one apart.  The order is
 * chosen so that this window can only over-count (the limit becomes one
 * stricter), never let the count exceed the limit: acquire bumps the global
 * count first, release lowers the islot's count first.
 *
 * A CAS loop rather than fetch_add-then-undo: with fetch_add, a loser's
 * transient over-count makes a concurrent acquirer fail although the limit
 * was not reached; the CAS never moves the count past the limit.
 */
int
tao__shm_conn_acquire(struct tao_shm *shm, unsigned islot)
{
	struct tao_shm_hdr *h = tao__shm_hdr(shm);
	struct tao_stats_block *b = tao__shm_stats(shm, islot);
	uint64_t n, held;

	n = atomic_load_explicit(&h->h_conns, memory_order_relaxed);
	do {
		if (n >= shm->sh_max_connections) {
			errno = EAGAIN;
			return -1;
		}
	} while (!atomic_compare_exchange_weak_explicit(&h->h_conns, &n, n + 1,
	    memory_order_relaxed, memory_order_relaxed));
	held = atomic_load_explicit(&b->sb_held, memory_order_relaxed);
	atomic_store_explicit(&b->sb_held, held + 1, memory_order_relaxed);
	return 0;
}

void
tao__shm_conn_acquire_over(struct tao_shm *shm, unsigned islot)
{
	struct tao_stats_block *b = tao__shm_stats(shm, islot);
	uint64_t held;

	atomic_fetch_add_explicit(&tao__shm_hdr(shm)->h_conns, 1,
	    memory_order_relaxed);
	held = atomic_load_explicit(&b->sb_held, memory_order_relaxed);
	atomic_store_explicit(&b->sb_held, held + 1, memory_order_relaxed);
}

void
tao__shm_conn_release(struct tao_shm *shm, unsigned islot)
{
	struct tao_stats_block *b = tao__shm_stats(shm, islot);
	uint64_t held;

	held = atomic_load_explicit(&b->sb_held, memory_order_relaxed);
	if (held == 0)		/* unbalanced release: keep the count sane */
		return;
	atomic_store_explicit(&b->sb_held, held - 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&tao__shm_hdr(shm)->h_conns, 1,
	    memory_order_relaxed);
}

uint64_t
tao__shm_conn_count(const struct tao_shm *shm)
{
	return atomic_load_explicit(&tao__shm_hdr(shm)->h_conns,
	    memory_order_relaxed);
}

/* Subtract n from the global count without wrapping below zero, in case a
 * dead worker's held count was scribbled on. */
static void
conns_give_back(struct tao_shm *shm, uint64_t n)
{
	_Atomic uint64_t *c = &tao__shm_hdr(shm)->h_conns;
	uint64_t cur = atomic_load_explicit(c, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(c, &cur,
	    cur > n ? cur - n : 0, memory_order_relaxed, memory_order_relaxed))
		;
}

void
tao__shm_islot_assign(struct tao_shm *shm, unsigned islot, pid_t pid,
    unsigned lslot, uint32_t generation)
{
	struct tao_stats_block *b;

	if (islot >= shm->sh_nislots)
		return;
	b = tao__shm_stats(shm, islot);
	atomic_store_explicit(&b->sb_pid, pid, memory_order_relaxed);
	atomic_store_explicit(&b->sb_lslot, lslot, memory_order_relaxed);
	atomic_store_explicit(&b->sb_generation, generation,
	    memory_order_relaxed);
	atomic_store_explicit(&b->sb_state, TAO_ISLOT_STARTING,
	    memory_order_relaxed);
	live_set(shm, islot, 1);
}

void
tao__shm_islot_set_state(struct tao_shm *shm, unsigned islot,
    enum tao_islot_state state)
{
	if (islot >= shm->sh_nislots)
		return;
	atomic_store_explicit(&tao__shm_stats(shm, islot)->sb_state, state,
	    memory_order_relaxed);
}

void
tao__shm_islot_reclaim(struct tao_shm *shm, unsigned islot)
{
	struct tao_stats_block *b;

	if (islot >= shm->sh_nislots)
		return;
	b = tao__shm_stats(shm, islot);
	conns_give_back(shm, atomic_load_explicit(&b->sb_held,
	    memory_order_relaxed));
	atomic_store_explicit(&b->sb_held, 0, memory_order_relaxed);
	tao__iplimit_reclaim(shm, islot);	/* before the rows go */
	tao__table_reclaim(shm, islot);
	tao__ring_reclaim(shm, islot);
	tao__stats_reset(shm, islot);
	tao__hist_block_reset(tao__shm_hist(shm, islot));
	live_set(shm, islot, 0);
}

int
tao__shm_bridge_islot(const struct tao_shm *shm)
{
	uint32_t v = atomic_load_explicit(&tao__shm_hdr(shm)->h_bridge_islot,
	    memory_order_acquire);

	return v == 0 || v > shm->sh_nislots ? -1 : (int)v - 1;
}

void
tao__shm_bridge_set(struct tao_shm *shm, int islot)
{
	atomic_store_explicit(&tao__shm_hdr(shm)->h_bridge_islot,
	    islot < 0 ? 0 : (uint32_t)islot + 1, memory_order_release);
}

int
tao__shm_set_node_id(struct tao_shm *shm, unsigned node_id)
{
	if (node_id > TAO_SHM_MAX_NODE) {
		errno = EINVAL;
		return -1;
	}
	tao__shm_hdr(shm)->h_node_id = node_id;
	shm->sh_node_id = node_id;
	return 0;
}
