/*
 * timer.c - the per-worker timer heap.
 *
 * Three structures share the same nodes:
 *
 *   slab (chunks of 256 nodes that never move; index = chunk * 256 + slot)
 *   +---------+---------+---------+--
 *   | node 0  | node 1  | node 2  | ...     id = generation << 32 | index,
 *   +---------+---------+---------+--       so lookup by id is O(1) and a
 *        ^         ^  free list: free -> 2 -> ...    stale id fails the
 *        |         |                                 generation check
 *   heap (array of {deadline, seq, node}, min at [0]; each node keeps its
 *   position, so cancel is O(log n))
 *   [ 5,0,n1 | 9,3,n0 | ... ]  key (deadline, seq); seq grows on every add
 *                              and re-arm, so ties run in insertion order
 *   owner list (doubly linked, head embedded in the owner)
 *   conn->timers -> n0 <-> n7 <-> n3       cancel_owner walks only these
 *
 * Node life:  FREE --add--> ARMED --run collects--> COLLECTED --> FIRING
 *                             ^                          (periodic)   |
 *                             +------------- re-armed ----------------+
 * A one-shot is freed just before its callback runs.  Cancelling an ARMED
 * node frees it at once; cancelling a COLLECTED or FIRING one only kills
 * its id (DEAD) and the run loop frees it when it gets there, because the
 * node is still linked in the loop's batch list: freeing it early would let
 * an add in the same callback reuse it and run in this batch.
 *
 * A slot whose generation reaches 2^31 is retired rather than reused, so
 * ids stay positive and are never handed out twice.
 *
 * The heap holds a copy of each key next to the node pointer, not just the
 * pointer (libuv's layout): sifting then compares keys that sit in the
 * same cache lines instead of loading two scattered nodes per level.
 * Measured with 100 000 and 1 000 000 timers, firing was 1.5x to 4x faster
 * than with a heap of bare pointers, for 16 more bytes per timer.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"

#define CHUNK_SHIFT	8
#define CHUNK_NODES	(1u << CHUNK_SHIFT)
#define MAX_SLOTS	(1u << 31)
#define GEN_MAX		0x7fffffffu
#define HEAP_NONE	UINT32_MAX
#define HEAP_MIN_CAP	64

enum node_state {
	NODE_FREE = 0,		/* on the free list or never used */
	NODE_ARMED,		/* in the heap */
	NODE_COLLECTED,		/* due, in the current run's batch */
	NODE_FIRING,		/* periodic, its callback is running */
	NODE_DEAD		/* cancelled during a run, freed by the run */
};

struct tao__timer {
	uint64_t		 t_deadline;
	uint64_t		 t_seq;
	uint64_t		 t_period;	/* 0: one-shot */
	tao__timer_cb		 t_fn;
	void			*t_owner;
	void			*t_arg;
	LIST_ENTRY(tao__timer)	 t_owner_link;	/* le_prev NULL: no list */
	struct tao__timer	*t_next;	/* free list or run batch */
	uint32_t		 t_heap_index;
	uint32_t		 t_index;
	uint32_t		 t_gen;
	uint8_t			 t_state;
};

/* A heap slot: a copy of the node's key, and the node. */
struct heap_entry {
	uint64_t		 h_deadline;
	uint64_t		 h_seq;
	struct tao__timer	*h_node;
};

struct tao_timers {
	struct heap_entry	 *ts_heap;
	uint32_t		  ts_heap_len;
	uint32_t		  ts_heap_cap;	/* kept >= ts_live */
	struct tao__timer	**ts_chunks;
	uint32_t		  ts_nchunks;
	uint32_t		  ts_chunks_cap;
	uint32_t		  ts_nslots;	/* slots handed out so far */
	struct tao__timer	 *ts_free;
	size_t			  ts_live;
	uint64_t		  ts_seq;
	int			  ts_running;
};

struct tao_timers *
tao__timers_new(void)
{
	return calloc(1, sizeof(struct tao_timers));
}

void
tao__timers_free(struct tao_timers *ts)
{
	uint32_t i;

	if (ts == NULL)
		return;
	/*
	 * Owners' list heads that still point at nodes are left dangling on
	 * purpose: the owners may already be gone, so we must not write
	 * into them.
	 */
	for (i = 0; i < ts->ts_nchunks; i++)
		free(ts->ts_chunks[i]);
	free(ts->ts_chunks);
	free(ts->ts_heap);
	free(ts);
}

/* ---- heap ------------------------------------------------------------- */

static inline int
entry_before(const struct heap_entry *a, const struct heap_entry *b)
{
	if (a->h_deadline != b->h_deadline)
		return a->h_deadline < b->h_deadline;
	return a->h_seq < b->h_seq;
}

static inline void
heap_place(struct tao_timers *ts, uint32_t i, const struct heap_entry *e)
{
	ts->ts_heap[i] = *e;
	e->h_node->t_heap_index = i;
}

static void
heap_sift_up(struct tao_timers *ts, uint32_t i)
{
	struct heap_entry e = ts->ts_heap[i];
	uint32_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!entry_before(&e, &ts->ts_heap[parent]))
			break;
		heap_place(ts, i, &ts->ts_heap[parent]);
		i = parent;
	}
	heap_place(ts, i, &e);
}

static void
heap_sift_down(struct tao_timers *ts, uint32_t i)
{
	struct heap_entry e = ts->ts_heap[i];
	uint32_t len = ts->ts_heap_len;
	uint64_t child;

	for (;;) {
		child = 2 * (uint64_t)i + 1;
		if (child >= len)
			break;
		if (child + 1 < len &&
		    entry_before(&ts->ts_heap[child + 1], &ts->ts_heap[child]))
			child++;
		if (!entry_before(&ts->ts_heap[child], &e))
			break;
		heap_place(ts, i, &ts->ts_heap[child]);
		i = (uint32_t)child;
	}
	heap_place(ts, i, &e);
}

/* The caller has made room: ts_heap_cap >= ts_live > ts_heap_len. */
static void
heap_insert(struct tao_timers *ts, struct tao__timer *n)
{
	struct heap_entry e = { n->t_deadline, n->t_seq, n };
	uint32_t i = ts->ts_heap_len++;

	heap_place(ts, i, &e);
	heap_sift_up(ts, i);
}

static void
heap_remove(struct tao_timers *ts, struct tao__timer *n)
{
	uint32_t i = n->t_heap_index;
	struct heap_entry last = ts->ts_heap[--ts->ts_heap_len];

	n->t_heap_index = HEAP_NONE;
	if (last.h_node == n)
		return;
	heap_place(ts, i, &last);
	if (i > 0 && entry_before(&last, &ts->ts_heap[(i - 1) / 2]))
		heap_sift_up(ts, i);
	else
		heap_sift_down(ts, i);
}

/*
 * Room for one more live timer.  Every live timer is in the heap at most
 * once, so with capacity >= live a periodic re-arm never needs to grow it.
 */
static int
heap_reserve(struct tao_timers *ts)
{
	struct heap_entry *heap;
	uint32_t cap;

	if (ts->ts_live < ts->ts_heap_cap)
		return 0;
	if (ts->ts_heap_cap >= MAX_SLOTS) {
		errno = ENOMEM;
		return -1;
	}
	cap = ts->ts_heap_cap ? ts->ts_heap_cap * 2 : HEAP_MIN_CAP;
	heap = reallocarray(ts->ts_heap, cap, sizeof(*heap));
	if (heap == NULL)
		return -1;
	ts->ts_heap = heap;
	ts->ts_heap_cap = cap;
	return 0;
}

/* ---- nodes ------------------------------------------------------------ */

static inline struct tao__timer *
slot_at(const struct tao_timers *ts, uint32_t index)
{
	return &ts->ts_chunks[index >> CHUNK_SHIFT][index & (CHUNK_NODES - 1)];
}

static int
slab_grow(struct tao_timers *ts)
{
	struct tao__timer **chunks, *chunk;
	uint32_t cap;

	if (ts->ts_nchunks == ts->ts_chunks_cap) {
		cap = ts->ts_chunks_cap ? ts->ts_chunks_cap * 2 : 16;
		chunks = reallocarray(ts->ts_chunks, cap, sizeof(*chunks));
		if (chunks == NULL)
			return -1;
		ts->ts_chunks = chunks;
		ts->ts_chunks_cap = cap;
	}
	if ((chunk = calloc(CHUNK_NODES, sizeof(*chunk))) == NULL)
		return -1;
	ts->ts_chunks[ts->ts_nchunks++] = chunk;
	return 0;
}

static struct tao__timer *
node_get(struct tao_timers *ts)
{
	struct tao__timer *n;

	if ((n = ts->ts_free) != NULL) {
		ts->ts_free = n->t_next;
		return n;
	}
	if (ts->ts_nslots == MAX_SLOTS) {
		errno = ENOMEM;
		return NULL;
	}
	if ((ts->ts_nslots & (CHUNK_NODES - 1)) == 0 && slab_grow(ts) == -1)
		return NULL;
	n = slot_at(ts, ts->ts_nslots);
	n->t_index = ts->ts_nslots++;
	n->t_gen = 1;
	return n;
}

/* Back to the free list, unless its generations are used up. */
static void
node_release(struct tao_timers *ts, struct tao__timer *n)
{
	n->t_state = NODE_FREE;
	n->t_fn = NULL;
	n->t_owner = n->t_arg = NULL;
	if (n->t_gen > GEN_MAX)
		return;		/* retired: its ids must not come back */
	n->t_next = ts->ts_free;
	ts->ts_free = n;
}

/* Makes the timer's id dead and takes it off its owner's list. */
static void
node_kill(struct tao_timers *ts, struct tao__timer *n)
{
	if (n->t_owner_link.le_prev != NULL) {
		LIST_REMOVE(n, t_owner_link);
		n->t_owner_link.le_prev = NULL;
	}
	n->t_gen++;
	ts->ts_live--;
}

static void
node_cancel(struct tao_timers *ts, struct tao__timer *n)
{
	node_kill(ts, n);
	if (n->t_state == NODE_ARMED) {
		heap_remove(ts, n);
		node_release(ts, n);
	} else
		n->t_state = NODE_DEAD;	/* the run loop frees it */
}

static inline int64_t
node_id(const struct tao__timer *n)
{
	return (int64_t)((uint64_t)n->t_gen << 32 | n->t_index);
}

static struct tao__timer *
node_lookup(const struct tao_timers *ts, int64_t id)
{
	struct tao__timer *n;
	uint32_t index = (uint32_t)id;

	if (id <= 0 || index >= ts->ts_nslots)
		return NULL;
	n = slot_at(ts, index);
	if (n->t_gen != (uint64_t)id >> 32)
		return NULL;
	switch (n->t_state) {
	case NODE_ARMED:
	case NODE_COLLECTED:
	case NODE_FIRING:
		return n;
	default:
		return NULL;
	}
}

/* ---- API -------------------------------------------------------------- */

int64_t
tao__timers_add(struct tao_timers *ts, uint64_t deadline_ms,
    uint64_t period_ms, tao__timer_cb fn, void *owner, void *arg,
    struct tao__timer_list *list)
{
	struct tao__timer *n;

	if (fn == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (heap_reserve(ts) == -1 || (n = node_get(ts)) == NULL)
		return -1;
	n->t_deadline = deadline_ms;
	n->t_seq = ts->ts_seq++;
	n->t_period = period_ms;
	n->t_fn = fn;
	n->t_owner = owner;
	n->t_arg = arg;
	n->t_next = NULL;
	n->t_state = NODE_ARMED;
	if (list != NULL)
		LIST_INSERT_HEAD(list, n, t_owner_link);
	else
		n->t_owner_link.le_prev = NULL;
	ts->ts_live++;
	heap_insert(ts, n);
	return node_id(n);
}

int
tao__timers_cancel(struct tao_timers *ts, int64_t id, void *owner)
{
	struct tao__timer *n;

	if ((n = node_lookup(ts, id)) == NULL || n->t_owner != owner) {
		errno = ENOENT;
		return -1;
	}
	node_cancel(ts, n);
	return 0;
}

uint64_t
tao__timers_deadline(const struct tao_timers *ts, int64_t id)
{
	const struct tao__timer *n = node_lookup(ts, id);

	return n == NULL ? UINT64_MAX : n->t_deadline;
}

void
tao__timers_cancel_owner(struct tao_timers *ts, struct tao__timer_list *list)
{
	struct tao__timer *n;

	while ((n = LIST_FIRST(list)) != NULL)
		node_cancel(ts, n);
}

int
tao__timers_timeout(const struct tao_timers *ts, uint64_t now_ms)
{
	uint64_t deadline;

	if (ts->ts_heap_len == 0)
		return -1;
	deadline = ts->ts_heap[0].h_deadline;
	if (deadline <= now_ms)
		return 0;
	if (deadline - now_ms > INT_MAX)
		return INT_MAX;
	return (int)(deadline - now_ms);
}

size_t
tao__timers_count(const struct tao_timers *ts)
{
	return ts->ts_live;
}

/*
 * The first deadline + k * period that is after now (k >= 1), so a timer
 * that fell behind fires once, not once per missed period, and keeps its
 * phase.  Saturates instead of wrapping.
 */
static uint64_t
next_deadline(uint64_t deadline, uint64_t period, uint64_t now)
{
	uint64_t k;

	k = now >= deadline ? (now - deadline) / period + 1 : 1;
	if (k > (UINT64_MAX - deadline) / period)
		return UINT64_MAX;
	return deadline + k * period;
}

/* Runs one collected node; returns 1 if a callback ran. */
static int
run_one(struct tao_timers *ts, struct tao__timer *n, uint64_t now_ms)
{
	tao__timer_cb fn = n->t_fn;
	void *owner = n->t_owner, *arg = n->t_arg;

	if (n->t_state == NODE_DEAD) {
		node_release(ts, n);
		return 0;
	}
	if (n->t_period == 0) {
		/* Fired: the id is dead and the node reusable before fn. */
		node_kill(ts, n);
		node_release(ts, n);
		fn(owner, arg);
		return 1;
	}
	n->t_state = NODE_FIRING;
	fn(owner, arg);
	if (n->t_state == NODE_DEAD) {		/* cancelled by fn */
		node_release(ts, n);
		return 1;
	}
	n->t_deadline = next_deadline(n->t_deadline, n->t_period, now_ms);
	n->t_seq = ts->ts_seq++;
	n->t_state = NODE_ARMED;
	heap_insert(ts, n);
	return 1;
}

int
tao__timers_run(struct tao_timers *ts, uint64_t now_ms)
{
	struct tao__timer *n, *first = NULL, **tail = &first;
	int ran = 0;

	if (ts->ts_running) {
		errno = EBUSY;
		return -1;
	}
	ts->ts_running = 1;

	/* Collect first: heap order is the run order. */
	while (ts->ts_heap_len > 0 && ts->ts_heap[0].h_deadline <= now_ms) {
		n = ts->ts_heap[0].h_node;
		heap_remove(ts, n);
		n->t_state = NODE_COLLECTED;
		n->t_next = NULL;
		*tail = n;
		tail = &n->t_next;
	}
	while ((n = first) != NULL) {
		first = n->t_next;
		ran += run_one(ts, n, now_ms);
	}

	ts->ts_running = 0;
	return ran;
}

/* ---- debugging -------------------------------------------------------- */

static int
check_heap(const struct tao_timers *ts)
{
	const struct tao__timer *n;
	uint32_t i;

	if (ts->ts_heap_len > ts->ts_heap_cap || ts->ts_live > ts->ts_heap_cap)
		return -1;
	for (i = 0; i < ts->ts_heap_len; i++) {
		n = ts->ts_heap[i].h_node;
		if (n->t_heap_index != i || n->t_state != NODE_ARMED ||
		    n->t_deadline != ts->ts_heap[i].h_deadline ||
		    n->t_seq != ts->ts_heap[i].h_seq)
			return -1;
		if (i > 0 &&
		    entry_before(&ts->ts_heap[i], &ts->ts_heap[(i - 1) / 2]))
			return -1;
	}
	return 0;
}

static int
check_slots(const struct tao_timers *ts)
{
	const struct tao__timer *n;
	size_t armed = 0, live = 0;
	uint32_t i;

	for (i = 0; i < ts->ts_nslots; i++) {
		n = slot_at(ts, i);
		if (n->t_index != i || n->t_gen == 0)
			return -1;
		switch (n->t_state) {
		case NODE_ARMED:
			armed++;
			/* FALLTHROUGH */
		case NODE_COLLECTED:
		case NODE_FIRING:
			live++;
			if (n->t_gen > GEN_MAX || n->t_fn == NULL)
				return -1;
			break;
		case NODE_FREE:
		case NODE_DEAD:
			if (n->t_owner_link.le_prev != NULL)
				return -1;
			break;
		default:
			return -1;
		}
	}
	if (armed != ts->ts_heap_len || live != ts->ts_live)
		return -1;
	return 0;
}

int
tao__timers_check(const struct tao_timers *ts)
{
	if (check_heap(ts) == -1 || check_slots(ts) == -1) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}
