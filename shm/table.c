/*
 * table.c - the shared connection table: single-writer rows published with
 * a seqlock.  The layout is drawn in shm/table-t.h.
 *
 * Memory ordering (the C11 seqlock of Boehm, "Can seqlocks get along with
 * programming language memory models?", 2012):
 *
 *   writer                                reader
 *   seq = odd          (relaxed store)    s1 = seq         (acquire load)
 *   fence(release)                        words            (relaxed loads)
 *   words              (relaxed stores)   fence(acquire)
 *   seq = odd + 1      (release store)    s2 = seq         (relaxed load)
 *                                         use the words iff s1 == s2, even
 *
 * If the reader's relaxed loads saw any word stored after the writer's
 * release fence, its acquire fence synchronises with that fence, so its
 * second load of seq sees the odd value (or later) and the copy is thrown
 * away.  If s1 was even and equals s2, no store of the row's words can have
 * been read from a write section that started after s1.
 */
#include <stddef.h>
#include <string.h>
#include <errno.h>
#include <time.h>

#include "shm/row.h"
#include "shm/table.h"

#define W_NETID		TAO_ROW_W_NETID
#define W_META		TAO_ROW_W_META
#define W_ADDR		TAO_ROW_W_ADDR
#define W_COUNTERS	TAO_ROW_W_COUNTERS

/*
 * Readers never trust a writer to finish: a worker may be descheduled
 * mid-update, killed, or hostile (every row left odd, or its sequence
 * bumped non-stop).  So a reader spins (no sleep, no yield: the master
 * must not stall) for at most ROW_PATIENCE_NS on one row, and a whole
 * request (an iteration, a netid search) waits at most REQUEST_PATIENCE_NS
 * in total; past that, a row that is not stable at the first look is
 * skipped at once.  A request therefore costs O(rows) plain loads plus at
 * most REQUEST_PATIENCE_NS, whatever is in shared memory.
 */
#define ROW_PATIENCE_NS		50000L		/* a write takes ~100 ns */
#define REQUEST_PATIENCE_NS	2000000L
#define CLOCK_EVERY		16		/* spins between clock reads */
#define SPINS_MAX		(1u << 16)	/* in case the clock stalls */

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax()	__builtin_ia32_pause()
#else
#define cpu_relax()	atomic_signal_fence(memory_order_seq_cst)
#endif

/* ---- writer side ---- */

/* Writes go to shared memory: a bad index must not scribble on another
 * partition, so writers check it (readers check too). */
static int
in_range(const struct tao_shm *shm, unsigned islot, unsigned row)
{
	return islot < shm->sh_nislots && row < shm->sh_max_connections;
}

/* Enter the write section.  A sequence left odd (by a writer that died,
 * repaired by reclaim) stays odd rather than turning even mid-write. */
static uint32_t
write_begin(struct tao_shm_row *r)
{
	uint32_t s = atomic_load_explicit(&r->sr_seq, memory_order_relaxed);

	s |= 1;
	atomic_store_explicit(&r->sr_seq, s, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	return s;
}

static void
write_end(struct tao_shm_row *r, uint32_t odd)
{
	atomic_store_explicit(&r->sr_seq, odd + 1, memory_order_release);
}

static void
store_words(struct tao_shm_row *r, const uint64_t *w)
{
	size_t i;

	for (i = 0; i < TAO_ROW_WORDS; i++)
		atomic_store_explicit(&r->sr_word[i], w[i],
		    memory_order_relaxed);
}

static void
load_words(const struct tao_shm_row *r, uint64_t *w)
{
	size_t i;

	for (i = 0; i < TAO_ROW_WORDS; i++)
		w[i] = atomic_load_explicit(&r->sr_word[i],
		    memory_order_relaxed);
}

int
tao__table_next_free(const struct tao_shm *shm, unsigned islot)
{
	const struct tao_table_part *p;
	uint32_t idx, hwm;

	if (islot >= shm->sh_nislots)
		return -1;
	p = tao__shm_part(shm, islot);
	idx = atomic_load_explicit(&p->tp_free, memory_order_relaxed);
	if (idx != TAO_ROW_NONE && idx < shm->sh_max_connections)
		return (int)idx;
	hwm = atomic_load_explicit(&p->tp_hwm, memory_order_relaxed);
	return hwm < shm->sh_max_connections ? (int)hwm : -1;
}

int
tao__table_insert(struct tao_shm *shm, unsigned islot,
    const struct tao_conn_row *init)
{
	struct tao_table_part *p;
	struct tao_shm_row *r;
	struct tao_conn_row row;
	uint64_t w[TAO_ROW_WORDS];
	uint32_t idx, hwm, s;

	if (islot >= shm->sh_nislots) {
		errno = EINVAL;
		return -1;
	}
	p = tao__shm_part(shm, islot);
	idx = atomic_load_explicit(&p->tp_free, memory_order_relaxed);
	if (idx != TAO_ROW_NONE && idx < shm->sh_max_connections) {
		r = tao__shm_row(shm, islot, idx);
		atomic_store_explicit(&p->tp_free, atomic_load_explicit(
		    &r->sr_next_free, memory_order_relaxed),
		    memory_order_relaxed);
	} else {
		hwm = atomic_load_explicit(&p->tp_hwm, memory_order_relaxed);
		if (hwm >= shm->sh_max_connections) {
			errno = ENOSPC;
			return -1;
		}
		idx = hwm;
		/* Raise the mark before touching the row, so every row that
		 * was ever written lies below it (reclaim relies on that). */
		atomic_store_explicit(&p->tp_hwm, hwm + 1,
		    memory_order_release);
		r = tao__shm_row(shm, islot, idx);
	}
	row = *init;
	if (row.cr_state == TAO_ROW_FREE || row.cr_state > TAO_ROW_CLOSING)
		row.cr_state = TAO_ROW_OPEN;
	tao__row_encode(&row, w);
	s = write_begin(r);
	store_words(r, w);
	write_end(r, s);
	return (int)idx;
}

/* Store three counter words; a row whose words did not change is only
 * read (an idle connection's row: no seqlock, no dirtied line).  Only
 * this process writes the row, so its own words are current. */
static void
store_counters(struct tao_shm_row *r, const uint64_t c[4])
{
	uint64_t w[3];
	uint32_t s;
	int i, same = 1;

	tao__row_pack_counters(c, w);
	for (i = 0; i < 3; i++)
		same &= atomic_load_explicit(&r->sr_word[W_COUNTERS + i],
		    memory_order_relaxed) == w[i];
	if (same)
		return;
	s = write_begin(r);
	for (i = 0; i < 3; i++)
		atomic_store_explicit(&r->sr_word[W_COUNTERS + i], w[i],
		    memory_order_relaxed);
	write_end(r, s);
}

void
tao__table_update_counters(struct tao_shm *shm, unsigned islot,
    unsigned row, uint64_t msgs_in, uint64_t msgs_out, uint64_t bytes_in,
    uint64_t bytes_out)
{
	const uint64_t c[4] = { msgs_in, msgs_out, bytes_in, bytes_out };

	if (!in_range(shm, islot, row))
		return;
	store_counters(tao__shm_row(shm, islot, row), c);
}

void
tao__table_add_counters(struct tao_shm *shm, unsigned islot, unsigned row,
    uint64_t msgs_in, uint64_t msgs_out, uint64_t bytes_in,
    uint64_t bytes_out)
{
	const uint64_t add[4] = { msgs_in, msgs_out, bytes_in, bytes_out };
	uint64_t w[3], c[4];
	struct tao_shm_row *r;
	int i;

	if (!in_range(shm, islot, row))
		return;
	r = tao__shm_row(shm, islot, row);
	for (i = 0; i < 3; i++)
		w[i] = atomic_load_explicit(&r->sr_word[W_COUNTERS + i],
		    memory_order_relaxed);
	tao__row_unpack_counters(w, c);
	/* Saturate, never wrap: c[i] <= 2^48 - 1, so only a huge add can
	 * overflow 64 bits; pack_counters clamps the rest. */
	for (i = 0; i < 4; i++)
		c[i] = add[i] > TAO_ROW_COUNTER_MAX ? TAO_ROW_COUNTER_MAX :
		    c[i] + add[i];
	store_counters(r, c);
}

/* Replace the meta word (the writer's own row, so its words are
 * current). */
static void
store_meta(struct tao_shm_row *r, uint64_t meta)
{
	uint32_t s = write_begin(r);

	atomic_store_explicit(&r->sr_word[W_META], meta, memory_order_relaxed);
	write_end(r, s);
}

void
tao__table_set_state(struct tao_shm *shm, unsigned islot, unsigned row,
    enum tao_row_state state)
{
	struct tao_shm_row *r;
	uint64_t w;

	if (!in_range(shm, islot, row))
		return;
	r = tao__shm_row(shm, islot, row);
	w = atomic_load_explicit(&r->sr_word[W_META], memory_order_relaxed);
	w &= ~((uint64_t)3 << TAO_ROW_STATE_SHIFT);
	store_meta(r, w | (uint64_t)(state & 3) << TAO_ROW_STATE_SHIFT);
}

void
tao__table_set_peer(struct tao_shm *shm, unsigned islot, unsigned row,
    const struct tao_row_peer *peer)
{
	struct tao_shm_row *r;
	uint64_t meta, addr[2];
	uint32_t s;

	if (!in_range(shm, islot, row))
		return;
	r = tao__shm_row(shm, islot, row);
	meta = atomic_load_explicit(&r->sr_word[W_META], memory_order_relaxed);
	meta = tao__row_meta((int64_t)(meta & TAO_ROW_MS_MAX),
	    tao__row_state(meta), peer->rp_family, peer->rp_port);
	memcpy(addr, peer->rp_addr, sizeof(addr));
	s = write_begin(r);
	atomic_store_explicit(&r->sr_word[W_META], meta, memory_order_relaxed);
	atomic_store_explicit(&r->sr_word[W_ADDR], addr[0],
	    memory_order_relaxed);
	atomic_store_explicit(&r->sr_word[W_ADDR + 1], addr[1],
	    memory_order_relaxed);
	write_end(r, s);
}

static void
row_clear(struct tao_shm_row *r)
{
	const uint64_t zero[TAO_ROW_WORDS] = { 0 };	/* FREE, netid 0 */
	uint32_t s;

	s = write_begin(r);
	store_words(r, zero);
	write_end(r, s);
}

void
tao__table_remove(struct tao_shm *shm, unsigned islot, unsigned row)
{
	struct tao_table_part *p;
	struct tao_shm_row *r;

	if (!in_range(shm, islot, row))
		return;
	p = tao__shm_part(shm, islot);
	r = tao__shm_row(shm, islot, row);
	/* Removing a free row twice would put it on the free list twice
	 * and hand it to two connections later. */
	if (tao__row_state(atomic_load_explicit(&r->sr_word[W_META],
	    memory_order_relaxed)) == TAO_ROW_FREE)
		return;
	row_clear(r);
	atomic_store_explicit(&r->sr_next_free, atomic_load_explicit(
	    &p->tp_free, memory_order_relaxed), memory_order_relaxed);
	atomic_store_explicit(&p->tp_free, row, memory_order_relaxed);
}

/* ---- reader side ---- */

static long
elapsed_ns(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000000L +
	    (t.tv_nsec - t0->tv_nsec);
}

/* What a row does not store: the islot it lies in, and that islot's
 * process (written by the master, shm/stats-t.h). */
static void
islot_fields(const struct tao_shm *shm, unsigned islot,
    struct tao_conn_row *out)
{
	const struct tao_stats_block *b = tao__shm_stats(shm, islot);

	out->cr_islot = (uint16_t)islot;
	out->cr_pid = atomic_load_explicit(&b->sb_pid, memory_order_relaxed);
	out->cr_generation = atomic_load_explicit(&b->sb_generation,
	    memory_order_relaxed);
	out->cr_lslot = (uint16_t)atomic_load_explicit(&b->sb_lslot,
	    memory_order_relaxed);
}

/* One copy attempt: 1 with w filled if the row was stable throughout. */
static int
try_copy(const struct tao_shm_row *r, uint64_t *w)
{
	uint32_t s1, s2;

	s1 = atomic_load_explicit(&r->sr_seq, memory_order_acquire);
	if (s1 & 1)
		return 0;
	load_words(r, w);
	atomic_thread_fence(memory_order_acquire);
	s2 = atomic_load_explicit(&r->sr_seq, memory_order_relaxed);
	return s1 == s2;
}

/*
 * Copy a row out under its seqlock, spending at most ROW_PATIENCE_NS and
 * at most *budget_ns (which is charged with the time spent waiting).
 * 0, or -1 with errno ENOENT (free) or EAGAIN (not stable in time).
 */
static int
read_row(const struct tao_shm *shm, unsigned islot, unsigned row,
    struct tao_conn_row *out, long *budget_ns)
{
	const struct tao_shm_row *r;
	uint64_t w[TAO_ROW_WORDS];
	struct timespec t0;
	unsigned tries;
	long spent = 0, limit;

	if (islot >= shm->sh_nislots || row >= shm->sh_max_connections) {
		errno = ENOENT;
		return -1;
	}
	r = tao__shm_row(shm, islot, row);
	if (!try_copy(r, w)) {
		if (*budget_ns <= 0)
			goto busy;
		limit = *budget_ns < ROW_PATIENCE_NS ? *budget_ns :
		    ROW_PATIENCE_NS;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (tries = 1;; tries++) {
			cpu_relax();
			if (try_copy(r, w))
				break;
			if (tries % CLOCK_EVERY == 0 &&
			    ((spent = elapsed_ns(&t0)) >= limit ||
			    tries >= SPINS_MAX)) {
				*budget_ns -= spent > 0 ? spent : 1;
				goto busy;
			}
		}
		spent = elapsed_ns(&t0);
		*budget_ns -= spent > 0 ? spent : 1;
	}
	tao__row_decode(w, out);
	if (out->cr_state == TAO_ROW_FREE) {
		errno = ENOENT;
		return -1;
	}
	islot_fields(shm, islot, out);
	return 0;
busy:
	errno = EAGAIN;
	return -1;
}

int
tao__table_read(const struct tao_shm *shm, unsigned islot, unsigned row,
    struct tao_conn_row *out)
{
	long budget = ROW_PATIENCE_NS;

	return read_row(shm, islot, row, out, &budget);
}

static unsigned
part_hwm(const struct tao_shm *shm, unsigned islot)
{
	uint32_t hwm = atomic_load_explicit(&tao__shm_part(shm, islot)->tp_hwm,
	    memory_order_acquire);

	return hwm < shm->sh_max_connections ? hwm : shm->sh_max_connections;
}

int
tao__table_next(const struct tao_shm *shm, struct tao_table_iter *it,
    struct tao_conn_row *out)
{
	const struct tao_shm_row *r;
	unsigned hwm;
	uint64_t w;
	long budget;
	int rc;

	for (; it->ti_islot < shm->sh_nislots; it->ti_islot++, it->ti_row = 0) {
		hwm = part_hwm(shm, it->ti_islot);
		while (it->ti_row < hwm) {
			r = tao__shm_row(shm, it->ti_islot, it->ti_row++);
			/* Skip free rows without taking the seqlock. */
			w = atomic_load_explicit(&r->sr_word[W_META],
			    memory_order_relaxed);
			if (tao__row_state(w) == TAO_ROW_FREE &&
			    (atomic_load_explicit(&r->sr_seq,
			    memory_order_relaxed) & 1) == 0)
				continue;
			budget = REQUEST_PATIENCE_NS - it->ti_waited_ns;
			rc = read_row(shm, it->ti_islot, it->ti_row - 1, out,
			    &budget);
			it->ti_waited_ns = REQUEST_PATIENCE_NS - budget;
			if (rc == 0)
				return 1;
			if (errno == EAGAIN)
				it->ti_torn++;
		}
	}
	return 0;
}

int
tao__table_find_netid(const struct tao_shm *shm, uint64_t netid,
    unsigned *islot, unsigned *row)
{
	struct tao_conn_row copy;
	unsigned i, j, hwm;
	long budget = REQUEST_PATIENCE_NS;

	/* Where the netid says it was born: one row, no search. */
	if (tao__shm_netid_home(shm, netid, &i, &j) == 0 &&
	    read_row(shm, i, j, &copy, &budget) == 0 &&
	    copy.cr_netid == netid) {
		*islot = i;
		*row = j;
		return 0;
	}
	/* Not there: handed over in a reload, or closed.  Search. */
	for (i = 0; netid != 0 && i < shm->sh_nislots; i++) {
		hwm = part_hwm(shm, i);
		for (j = 0; j < hwm; j++) {
			if (atomic_load_explicit(
			    &tao__shm_row(shm, i, j)->sr_word[W_NETID],
			    memory_order_relaxed) != netid)
				continue;
			if (read_row(shm, i, j, &copy, &budget) == 0 &&
			    copy.cr_netid == netid) {
				*islot = i;
				*row = j;
				return 0;
			}
		}
	}
	errno = ENOENT;
	return -1;
}

/* ---- partition life ---- */

void
tao__table_part_init(struct tao_shm *shm, unsigned islot)
{
	struct tao_table_part *p = tao__shm_part(shm, islot);

	atomic_store_explicit(&p->tp_free, TAO_ROW_NONE, memory_order_relaxed);
	atomic_store_explicit(&p->tp_hwm, 0, memory_order_release);
}

/*
 * The islot's writer is dead: the master becomes the single writer and
 * frees every row it ever used.  write_begin keeps a sequence that was left
 * odd odd, and write_end makes it even, so a row abandoned mid-update ends
 * up free and stable.  The mark drops to 0 last: a reader scanning
 * meanwhile sees only rows already free or being freed.
 */
void
tao__table_reclaim(struct tao_shm *shm, unsigned islot)
{
	struct tao_shm_row *r;
	unsigned hwm, j;

	hwm = part_hwm(shm, islot);
	for (j = 0; j < hwm; j++) {
		r = tao__shm_row(shm, islot, j);
		row_clear(r);
		atomic_store_explicit(&r->sr_next_free, 0,
		    memory_order_relaxed);
	}
	tao__table_part_init(shm, islot);
}
