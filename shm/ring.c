/*
 * ring.c - single-producer, multi-consumer lossy rings in shared memory.
 * The layout and the record format are drawn in shm/ring-t.h, the sleep and
 * wake-up protocol in shm/ring.h.
 *
 * Why a consumer never delivers a torn record (the seqlock idea applied to
 * byte ranges instead of a sequence word):
 *
 *   producer, one record                 consumer at position pos
 *   claim = end     (relaxed store)      h = head            (acquire)
 *   fence(release)                       copy [pos, pos+len) (relaxed loads)
 *   record words    (relaxed stores)     fence(acquire)
 *   head_seq = seq + 1  (relaxed)        c = claim           (relaxed)
 *   head = end      (release store)      keep the copy iff c - pos <= size
 *
 * The record was complete when the consumer read head (release/acquire on
 * head).  The producer overwrites it only by writing positions beyond
 * pos + size, and it announces those in claim before its release fence; if
 * any word the consumer copied came from such a write, the fences
 * synchronise and the consumer's later load of claim sees the announcement.
 * So "c - pos <= size" proves the copy was not touched.  All shared words
 * are accessed as relaxed 64-bit atomics: racing is defined, merely stale.
 * The consumer copies a batch of consecutive records and checks once, for
 * the batch's first position (see struct batch); head and claim live on the
 * producer's hot cache line, so one load of each per batch, not per record.
 *
 * Lapping: a consumer more than a lap behind (head - pos > size), or whose
 * copy failed the check, skips forward (resync): to the first record of
 * the head's lap if that is ahead of it, else to the head.  Drops are
 * counted exactly from sequence numbers: every record carries its own, so
 * the first record read after a skip tells how many were jumped over; when
 * skipping to the head, a consistent (head, head_seq) pair (claim == head:
 * no record in flight) gives the count at once.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "shm/ring.h"

#define REC_HDR		sizeof(struct tao_ring_rec_hdr)
#define HDR_WORDS	(REC_HDR / sizeof(uint64_t))
#define STACK_WORDS	1024		/* batches of up to 8 KiB on the stack */
#define BATCH_MAX	64		/* records validated together */
#define RESYNC_TRIES	16
#define RESYNCS_PER_CALL 64		/* a producer lapping us non-stop */
#define PADS_PER_CALL	64		/* a lap has one PAD at most; more
					 * is a producer writing only PADs */

_Static_assert(sizeof(struct tao_ring_rec_hdr) == 40, "record header");
_Static_assert(offsetof(struct tao_ring_rec_hdr, rh_kind) < 8 &&
    offsetof(struct tao_ring_rec_hdr, rh_dst_islot) < 8,
    "length, kind and destination in the first word, so a PAD may be 8 "
    "bytes and a unicast for another consumer is skipped on one load");
_Static_assert(offsetof(struct tao_ring_rec_hdr, rh_seq) % 8 == 0,
    "sequence number is one word");
#define SEQ_WORD	(offsetof(struct tao_ring_rec_hdr, rh_seq) / 8)

static uint64_t
round8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

/* First word of a record: rh_len and rh_kind, in memory order. */
static uint64_t
word0_make(uint32_t len, uint16_t kind)
{
	struct tao_ring_rec_hdr h;
	uint64_t w;

	memset(&h, 0, sizeof(h));
	h.rh_len = len;
	h.rh_kind = kind;
	memcpy(&w, &h, sizeof(w));
	return w;
}

static void
word0_parse(uint64_t w, uint32_t *len, uint16_t *kind, uint16_t *dst)
{
	struct tao_ring_rec_hdr h;

	memcpy(&h, &w, sizeof(w));
	*len = h.rh_len;
	*kind = h.rh_kind;
	*dst = h.rh_dst_islot;
}

size_t
tao__ring_max_payload(const struct tao_shm *shm)
{
	return shm->sh_ring_size / 2 - REC_HDR;
}

uint64_t
tao__ring_published(const struct tao_shm *shm, unsigned islot)
{
	if (islot >= shm->sh_nislots)
		return 0;
	return atomic_load_explicit(&tao__shm_ringctl(shm, islot)->rg_head_seq,
	    memory_order_relaxed);
}

/* Store len bytes as whole relaxed words, zero-padding the last one. */
static void
store_bytes(_Atomic uint64_t *dst, const void *src, size_t len)
{
	const unsigned char *p = src;
	uint64_t w;
	size_t i, full = len / 8;

	for (i = 0; i < full; i++) {
		memcpy(&w, p + 8 * i, 8);
		atomic_store_explicit(&dst[i], w, memory_order_relaxed);
	}
	if (len % 8 != 0) {
		w = 0;
		memcpy(&w, p + 8 * i, len % 8);
		atomic_store_explicit(&dst[i], w, memory_order_relaxed);
	}
}

int
tao__ring_publish(struct tao_shm *shm, unsigned islot,
    const struct tao_ring_rec_hdr *h, const void *payload, size_t len,
    struct tao_ring_wake *wake)
{
	struct tao_ring_ctl *ctl;
	_Atomic uint64_t *data;
	struct tao_ring_rec_hdr rec;
	uint64_t head, seq, off, pad, rec_len, end, size = shm->sh_ring_size;

	if (islot >= shm->sh_nislots || (h->rh_kind != TAO_RING_BROADCAST &&
	    h->rh_kind != TAO_RING_UNICAST)) {
		errno = EINVAL;
		return -1;
	}
	if (len > tao__ring_max_payload(shm)) {
		errno = EMSGSIZE;
		return -1;
	}
	ctl = tao__shm_ringctl(shm, islot);
	data = tao__shm_ringdata(shm, islot);
	rec_len = round8(REC_HDR + len);
	/* This process is the only writer: its own values are current. */
	head = atomic_load_explicit(&ctl->rg_head, memory_order_relaxed);
	seq = atomic_load_explicit(&ctl->rg_head_seq, memory_order_relaxed);
	off = head & (size - 1);
	pad = off + rec_len > size ? size - off : 0;
	end = head + pad + rec_len;

	atomic_store_explicit(&ctl->rg_claim, end, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	if (pad != 0) {
		atomic_store_explicit(&data[off / 8],
		    word0_make((uint32_t)pad, TAO_RING_PAD),
		    memory_order_relaxed);
		off = 0;
	}
	rec = *h;
	rec.rh_len = (uint32_t)rec_len;
	rec.rh_src_islot = (uint16_t)islot;
	rec.rh_payload_len = (uint32_t)len;
	rec.rh_seq = seq;
	store_bytes(&data[off / 8], &rec, REC_HDR);
	if (len != 0)
		store_bytes(&data[off / 8 + HDR_WORDS], payload, len);
	atomic_store_explicit(&ctl->rg_head_seq, seq + 1,
	    memory_order_relaxed);
	atomic_store_explicit(&ctl->rg_head, end, memory_order_release);

	if (wake != NULL)
		tao__ring_wake_collect(shm, islot, wake);
	return 0;
}

/*
 * (head, head_seq) as one pair.  Reading head with acquire makes the
 * head_seq of that record visible; a head_seq of a later record was stored
 * after that record's claim and release fence, so the acquire fence here
 * makes such a claim visible and claim != head rejects the pair.
 */
static int
head_pair(const struct tao_ring_ctl *ctl, uint64_t *head, uint64_t *seq)
{
	uint64_t h, s, c;
	int i;

	for (i = 0; i < RESYNC_TRIES; i++) {
		h = atomic_load_explicit(&ctl->rg_head, memory_order_acquire);
		s = atomic_load_explicit(&ctl->rg_head_seq,
		    memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		c = atomic_load_explicit(&ctl->rg_claim, memory_order_relaxed);
		if (c == h) {
			*head = h;
			*seq = s;
			return 0;
		}
	}
	*head = atomic_load_explicit(&ctl->rg_head, memory_order_acquire);
	return -1;
}

void
tao__ring_cursor_init(const struct tao_shm *shm, unsigned producer,
    struct tao_ring_cursor *cur)
{
	const struct tao_ring_ctl *ctl = tao__shm_ringctl(shm, producer);
	uint64_t head, seq;

	memset(cur, 0, sizeof(*cur));
	cur->rc_self = TAO_RING_ANY_ISLOT;
	cur->rc_gen = atomic_load_explicit(&ctl->rg_gen, memory_order_acquire);
	if (head_pair(ctl, &head, &seq) == 0)
		cur->rc_seq = seq;
	else
		cur->rc_flags |= TAO_RING_CURSOR_SEQ_UNKNOWN;
	cur->rc_pos = head;
}

/*
 * Lapped, or the copy was overwritten: move forward to a record boundary.
 * Every lap begins with a record (records never straddle the end), so the
 * start of the head's lap is one: restart there when it is ahead of us and
 * keep that lap's records; the sequence number of the record found there
 * settles the drop count (account).  Otherwise jump to the head and count
 * at once from a consistent (head, head_seq) pair.
 */
static void
resync(const struct tao_ring_ctl *ctl, struct tao_ring_cursor *cur,
    uint64_t size)
{
	uint64_t head, seq, lap;
	int paired;

	paired = head_pair(ctl, &head, &seq) == 0;
	lap = head & ~(size - 1);
	if (lap > cur->rc_pos && lap < head) {
		cur->rc_pos = lap;
		return;
	}
	cur->rc_pos = head;
	if (!paired)
		return;		/* the next record's rh_seq will tell */
	if ((cur->rc_flags & TAO_RING_CURSOR_SEQ_UNKNOWN) == 0 &&
	    seq > cur->rc_seq)
		cur->rc_drops += seq - cur->rc_seq;
	cur->rc_seq = seq;
	cur->rc_flags &= ~TAO_RING_CURSOR_SEQ_UNKNOWN;
}

/* Was anything at or after pos possibly overwritten?  Call after the
 * copy: the acquire fence pairs with the producer's release fence. */
static int
overwritten(const struct tao_ring_ctl *ctl, uint64_t pos, uint64_t size)
{
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&ctl->rg_claim, memory_order_relaxed) -
	    pos > size;
}

static void
account(struct tao_ring_cursor *cur, uint64_t rec_seq)
{
	if (cur->rc_flags & TAO_RING_CURSOR_SEQ_UNKNOWN)
		cur->rc_flags &= ~TAO_RING_CURSOR_SEQ_UNKNOWN;
	else if (rec_seq > cur->rc_seq)
		cur->rc_drops += rec_seq - cur->rc_seq;
	cur->rc_seq = rec_seq + 1;
}

/*
 * A batch: consecutive records copied out of the ring, then validated
 * together with one load of claim.  One check suffices because the oldest
 * record is the first to be overwritten: if the first position is intact,
 * so is everything after it.  (If it is not, the lengths that led to the
 * later records are suspect too, so the whole batch is thrown away.)
 */
struct batch {
	uint64_t	*buf;
	size_t		 cap;		/* words */
	size_t		 used;
	unsigned	 n;
	struct {
		uint64_t	pos;
		uint64_t	seq;	/* SKIPPED only */
		uint32_t	len;
		uint32_t	word;	/* index in buf; NO_COPY for a PAD,
					 * SKIPPED for another's unicast */
	} it[BATCH_MAX];
};

#define NO_COPY		UINT32_MAX
#define SKIPPED		(UINT32_MAX - 1)
#define GATHER_BAD	-1		/* first record unreadable: resync */
#define GATHER_BIG	1		/* first record bigger than buf */
#define GATHER_NOMEM	2

/* Could this first word start a record that lies in the room left?  The
 * producer may be hostile: nothing read from the ring is believed before
 * this check (a real record is never longer than half a ring, the most
 * tao__ring_publish writes). */
static int
word0_sane(uint32_t len, uint16_t kind, uint64_t size, uint64_t to_end,
    uint64_t to_head)
{
	if (len < 8 || len % 8 != 0 || len > to_end || len > to_head)
		return 0;
	if (kind == TAO_RING_PAD)
		return 1;
	return (kind == TAO_RING_BROADCAST || kind == TAO_RING_UNICAST) &&
	    len >= REC_HDR && len <= size / 2;
}

/* Copy records [pos, head) into b, at most limit of them (PADs and
 * skipped unicasts free).  GATHER_BIG leaves the first record's length
 * in b->it[0].len. */
static int
gather(const _Atomic uint64_t *data, uint64_t size, uint64_t pos,
    uint64_t head, unsigned limit, uint16_t self, struct batch *b)
{
	uint64_t off;
	uint32_t len, i, recs = 0;
	uint16_t kind, dst;

	/* Half a lap or more behind, the producer may reach the batch's
	 * first record while it is being copied, and one overwritten record
	 * throws the whole batch away: go one record at a time there. */
	if (head - pos >= size / 2)
		limit = 1;
	while (pos < head && b->n < BATCH_MAX && recs < limit) {
		off = pos & (size - 1);
		word0_parse(atomic_load_explicit(&data[off / 8],
		    memory_order_relaxed), &len, &kind, &dst);
		/* A bad first word was overwritten (or scribbled on): never
		 * follow it, not even to copy. */
		if (!word0_sane(len, kind, size, size - off, head - pos))
			return b->n == 0 ? GATHER_BAD : 0;
		b->it[b->n].pos = pos;
		b->it[b->n].len = len;
		b->it[b->n].word = NO_COPY;
		if (kind == TAO_RING_UNICAST && self != TAO_RING_ANY_ISLOT &&
		    dst != self) {
			/* Not ours: its sequence number, not its bytes. */
			b->it[b->n].word = SKIPPED;
			b->it[b->n].seq = atomic_load_explicit(
			    &data[off / 8 + SEQ_WORD], memory_order_relaxed);
		} else if (kind != TAO_RING_PAD) {
			if (b->used + len / 8 > b->cap)
				return b->n == 0 ? GATHER_BIG : 0;
			for (i = 0; i < len / 8; i++)
				b->buf[b->used + i] = atomic_load_explicit(
				    &data[off / 8 + i], memory_order_relaxed);
			b->it[b->n].word = (uint32_t)b->used;
			b->used += len / 8;
			recs++;
		}
		b->n++;
		pos += len;
	}
	return 0;
}

/* The first record does not fit the stack buffer: copy it alone into a
 * buffer of its size.  0, GATHER_BAD, or GATHER_NOMEM. */
static int
gather_big(const _Atomic uint64_t *data, uint64_t size, uint64_t pos,
    uint64_t head, struct batch *b)
{
	int r;

	b->cap = b->it[0].len / 8;
	b->used = b->n = 0;
	if ((b->buf = malloc(b->cap * sizeof(uint64_t))) == NULL)
		return GATHER_NOMEM;
	/* changed meanwhile (overwritten): resync */
	if ((r = gather(data, size, pos, head, 1, TAO_RING_ANY_ISLOT, b)) ==
	    GATHER_BIG)
		r = GATHER_BAD;
	return r;
}

/* Hand a validated batch to fn.  -1 if a record is malformed (the ring
 * was scribbled on): the caller resynchronises. */
static int
deliver(struct tao_ring_cursor *cur, struct batch *b, tao_ring_fn fn,
    void *arg, unsigned *n, int *stop)
{
	const struct tao_ring_rec_hdr *rec;
	unsigned i;

	for (i = 0; i < b->n && !*stop; i++) {
		if (b->it[i].word == NO_COPY) {		/* PAD */
			cur->rc_pos = b->it[i].pos + b->it[i].len;
			continue;
		}
		if (b->it[i].word == SKIPPED) {		/* not ours */
			account(cur, b->it[i].seq);
			cur->rc_pos = b->it[i].pos + b->it[i].len;
			continue;
		}
		rec = (const void *)(b->buf + b->it[i].word);
		if (rec->rh_payload_len > b->it[i].len - REC_HDR)
			return -1;
		account(cur, rec->rh_seq);
		cur->rc_pos = b->it[i].pos + b->it[i].len;
		(*n)++;
		*stop = fn(arg, rec, (const uint64_t *)rec + HDR_WORDS);
	}
	return 0;
}

int
tao__ring_consume(const struct tao_shm *shm, unsigned producer,
    struct tao_ring_cursor *cur, tao_ring_fn fn, void *arg,
    unsigned max_records)
{
	const struct tao_ring_ctl *ctl;
	const _Atomic uint64_t *data;
	uint64_t stackbuf[STACK_WORDS], head = 0, pos;
	uint64_t size = shm->sh_ring_size;
	struct batch b;
	unsigned n = 0, resyncs = 0, steps = 0;
	int stop = 0, reload = 1, r;

	if (producer >= shm->sh_nislots)
		return 0;
	ctl = tao__shm_ringctl(shm, producer);
	data = tao__shm_ringdata(shm, producer);
	/* positions carry on across reclaim: only the generation moves */
	cur->rc_gen = atomic_load_explicit(&ctl->rg_gen, memory_order_acquire);

	/* Every pass delivers or skips at least one record or PAD, or
	 * resynchronises, and each of those is bounded per call: a ring
	 * whose control words and records are garbage costs a bounded time. */
	while (n < max_records && !stop && resyncs < RESYNCS_PER_CALL &&
	    steps < max_records + PADS_PER_CALL) {
		pos = cur->rc_pos;
		/* head sits on the producer's hot line: re-read it only when
		 * the records known to be complete are used up */
		if (reload || pos == head) {
			head = atomic_load_explicit(&ctl->rg_head,
			    memory_order_acquire);
			reload = 0;
		}
		if (head == pos)
			break;
		b = (struct batch){ .buf = stackbuf, .cap = STACK_WORDS };
		r = GATHER_BAD;
		if (head - pos <= size && pos % 8 == 0)
			r = gather(data, size, pos, head, max_records - n,
			    cur->rc_self, &b);
		if (r == GATHER_BIG && (r = gather_big(data, size, pos, head,
		    &b)) == GATHER_NOMEM) {
			if (n == 0) {
				errno = ENOMEM;
				return -1;
			}
			break;
		}
		steps += b.n ? b.n : 1;
		if (r != 0 || overwritten(ctl, pos, size) ||
		    deliver(cur, &b, fn, arg, &n, &stop) == -1) {
			resync(ctl, cur, size);
			resyncs++;
			reload = 1;
		}
		if (b.buf != stackbuf)
			free(b.buf);
	}
	return (int)n;
}

int
tao__ring_readable(const struct tao_shm *shm, unsigned producer,
    const struct tao_ring_cursor *cur)
{
	const struct tao_ring_ctl *ctl;

	if (producer >= shm->sh_nislots)
		return 0;
	ctl = tao__shm_ringctl(shm, producer);
	return atomic_load_explicit(&ctl->rg_head, memory_order_relaxed) !=
	    cur->rc_pos ||
	    atomic_load_explicit(&ctl->rg_gen, memory_order_relaxed) !=
	    cur->rc_gen;
}

/*
 * The producer is dead; the master is the ring's only writer now.
 *
 * Sane header, claim == head: nothing was in flight.
 * Sane header, claim > head: the producer died inside publish.  [head,
 * claim) holds a half-written record (and maybe the PAD before it); cover
 * it with PAD records and move head to claim.  Consumers never read past
 * head, so none has seen those bytes, and claim already warned anyone
 * copying the lap-old bytes underneath.
 * Insane header (scribbled): move both past every possible consumer
 * position, one lap beyond, so every cursor resynchronises at the head.
 *
 * Positions and head_seq continue, so consumers keep the records the dead
 * producer completed and count drops exactly; the new generation tells
 * them the producer changed.
 */
void
tao__ring_reclaim(struct tao_shm *shm, unsigned islot)
{
	struct tao_ring_ctl *ctl = tao__shm_ringctl(shm, islot);
	_Atomic uint64_t *data = tao__shm_ringdata(shm, islot);
	uint64_t size = shm->sh_ring_size, head, claim, pos, off, chunk, top;
	uint32_t gen;

	head = atomic_load_explicit(&ctl->rg_head, memory_order_relaxed);
	claim = atomic_load_explicit(&ctl->rg_claim, memory_order_relaxed);
	if (claim < head || claim - head > size || head % 8 != 0 ||
	    claim % 8 != 0) {
		top = (claim > head ? claim : head);
		top = ((top + size - 1) & ~(size - 1)) + size;
		atomic_store_explicit(&ctl->rg_claim, top,
		    memory_order_relaxed);
		atomic_thread_fence(memory_order_release);
		atomic_store_explicit(&ctl->rg_head, top,
		    memory_order_release);
	} else if (claim != head) {
		for (pos = head; pos < claim; pos += chunk) {
			off = pos & (size - 1);
			chunk = claim - pos < size - off ? claim - pos :
			    size - off;
			atomic_store_explicit(&data[off / 8],
			    word0_make((uint32_t)chunk, TAO_RING_PAD),
			    memory_order_relaxed);
		}
		atomic_store_explicit(&ctl->rg_head, claim,
		    memory_order_release);
	}
	atomic_store_explicit(&ctl->rg_sleeping, 0, memory_order_relaxed);
	gen = atomic_load_explicit(&ctl->rg_gen, memory_order_relaxed);
	atomic_store_explicit(&ctl->rg_gen, gen + 1, memory_order_release);
}
