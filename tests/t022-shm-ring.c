/*
 * t022-shm-ring - shm/ring.c: record format and limits, wrap-around with
 * varied record sizes, exact drop counts when lapped; across processes:
 * 3 producers and 3 consumers with every record delivered once and in
 * order while one consumer is SIGKILLed; a SIGSTOPped consumer lapped many
 * times reports exactly what it lost while a running one never gets a torn
 * record; reclaim of a producer that died (also mid-record) while a
 * consumer is attached; no lost wake-up in 10 000 eventfd ping-pongs.
 *
 * Every payload is self-describing (producer tag, index k, length, a byte
 * pattern of all three), so a torn or misplaced record cannot pass.
 */
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shm/ring.h"
#include "shm/segment.h"
#include "tap.h"
#include "lib/harness.h"
#include "lib/kids.h"


/* Wait (bounded) until *flag >= want. */
static int
wait_for(_Atomic int *flag, int want, double seconds)
{
	double t0 = kids_now_s();

	while (atomic_load(flag) < want) {
		if (kids_now_s() - t0 > seconds * th_timeout_scale())
			return -1;
		usleep(200);
	}
	return 0;
}

static struct tao_shm *
make_shm(unsigned nislots, size_t ring)
{
	struct tao_shm_params p = { nislots, 16, ring };
	struct tao_shm *shm = tao__shm_create(&p);

	if (shm == NULL)
		bail("tao__shm_create");
	/* Every islot has a "worker": wake-ups look at live islots only. */
	for (unsigned i = 0; i < nislots; i++)
		tao__shm_islot_assign(shm, i, 0, 0, 0);
	return shm;
}

#define HDR	((int)sizeof(struct tao_ring_rec_hdr))

/* ---- self-describing payloads ---- */

#define PL_MIN		16

struct pl_head {
	uint32_t	tag;
	uint32_t	len;
	uint64_t	k;
};

static size_t
pl_len(unsigned tag, uint64_t k, size_t lo, size_t hi)
{
	return lo + (size_t)((k * 2654435761u + tag * 40503u) % (hi - lo + 1));
}

static unsigned char
pl_byte(unsigned tag, uint64_t k, size_t i)
{
	return (unsigned char)(tag * 31 + k * 7 + i * 13);
}

static int
publish_k(struct tao_shm *shm, unsigned islot, unsigned tag, uint64_t k,
    size_t len, struct tao_ring_wake *wake)
{
	unsigned char buf[8192];
	struct tao_ring_rec_hdr h;
	struct pl_head ph = { tag, (uint32_t)len, k };
	size_t i;

	memcpy(buf, &ph, sizeof(ph));
	for (i = sizeof(ph); i < len; i++)
		buf[i] = pl_byte(tag, k, i);
	memset(&h, 0, sizeof(h));
	h.rh_kind = k % 5 == 0 ? TAO_RING_UNICAST : TAO_RING_BROADCAST;
	h.rh_type = (int32_t)(k & 0x7fffffff);
	h.rh_dst_netid = k ^ 0xabcdefu;
	return tao__ring_publish(shm, islot, &h, buf, len, wake);
}

/* 1 if the record is intact; *tag and *k say which one it is. */
static int
pl_check(const struct tao_ring_rec_hdr *h, const void *payload,
    unsigned *tag, uint64_t *k)
{
	const unsigned char *p = payload;
	struct pl_head ph;
	size_t i;

	if (h->rh_payload_len < PL_MIN)
		return 0;
	memcpy(&ph, p, sizeof(ph));
	if (ph.len != h->rh_payload_len ||
	    h->rh_type != (int32_t)(ph.k & 0x7fffffff) ||
	    h->rh_dst_netid != (ph.k ^ 0xabcdefu) ||
	    h->rh_kind != (ph.k % 5 == 0 ? TAO_RING_UNICAST :
	    TAO_RING_BROADCAST) ||
	    h->rh_len % 8 != 0 || h->rh_len < HDR + ph.len)
		return 0;
	for (i = sizeof(ph); i < ph.len; i++)
		if (p[i] != pl_byte(ph.tag, ph.k, i))
			return 0;
	*tag = ph.tag;
	*k = ph.k;
	return 1;
}

/* A consumer's view of one producer's stream: order and integrity. */
struct stream {
	uint64_t	next_k;		/* smallest k acceptable next */
	uint64_t	got;
	uint64_t	bad;		/* torn, foreign or out of order */
	uint64_t	last_seq;
	int		strict;		/* every k, no gaps allowed */
	unsigned	tag;
	uint32_t	src;
};

static int
stream_fn(void *arg, const struct tao_ring_rec_hdr *h, const void *payload)
{
	struct stream *s = arg;
	unsigned tag;
	uint64_t k;

	if (!pl_check(h, payload, &tag, &k) || tag != s->tag ||
	    h->rh_src_islot != s->src || k < s->next_k ||
	    (s->strict && k != s->next_k) ||
	    (s->got > 0 && h->rh_seq <= s->last_seq))
		s->bad++;
	else
		s->next_k = k + 1;
	s->last_seq = h->rh_seq;
	s->got++;
	return 0;
}

/* ---- single process ---- */

struct collect {
	struct tao_ring_rec_hdr	h[16];
	unsigned char		p[16][64];
	unsigned		n, stop_after;
};

static int
collect_fn(void *arg, const struct tao_ring_rec_hdr *h, const void *payload)
{
	struct collect *c = arg;

	if (c->n < 16) {
		c->h[c->n] = *h;
		memcpy(c->p[c->n], payload,
		    h->rh_payload_len < 64 ? h->rh_payload_len : 64);
	}
	c->n++;
	return c->stop_after != 0 && c->n >= c->stop_after;
}

static void basic_stop_and_limits(struct tao_shm *,
    struct tao_ring_cursor *, struct tao_ring_rec_hdr *);

static void
test_basic(void)
{
	struct tao_shm *shm = make_shm(2, 4096);
	struct tao_ring_cursor cur;
	struct tao_ring_rec_hdr h;
	struct collect c;
	unsigned i;
	int rc;

	memset(&h, 0, sizeof(h));
	h.rh_kind = TAO_RING_BROADCAST;
	h.rh_type = 7;
	for (i = 0; i < 3; i++)
		tao__ring_publish(shm, 1, &h, "old", 3, NULL);
	tao__ring_cursor_init(shm, 1, &cur);
	memset(&c, 0, sizeof(c));
	is_int(tao__ring_consume(shm, 1, &cur, collect_fn, &c, 10), 0,
	    "a new cursor starts at the head: older records not delivered");
	ok(!tao__ring_readable(shm, 1, &cur), "nothing readable");
	h.rh_kind = TAO_RING_UNICAST;
	h.rh_type = -5;
	h.rh_dst_netid = 0x1122334455667788ull;
	h.rh_seq = 999;			/* ignored: the ring numbers records */
	h.rh_src_islot = 0;		/* ignored too */
	tao__ring_publish(shm, 1, &h, "hello", 5, NULL);
	h.rh_kind = TAO_RING_BROADCAST;
	h.rh_dst_netid = 0;
	tao__ring_publish(shm, 1, &h, "", 0, NULL);
	tao__ring_publish(shm, 1, &h, "12345678abc", 11, NULL);
	ok(tao__ring_readable(shm, 1, &cur), "readable after publish");
	is_int(tao__ring_published(shm, 1), 6, "6 records published");
	rc = tao__ring_consume(shm, 1, &cur, collect_fn, &c, 2);
	is_int(rc, 2, "max_records bounds a consume");
	ok(c.h[0].rh_kind == TAO_RING_UNICAST && c.h[0].rh_type == -5 &&
	    c.h[0].rh_dst_netid == 0x1122334455667788ull &&
	    c.h[0].rh_src_islot == 1 && c.h[0].rh_seq == 3 &&
	    c.h[0].rh_payload_len == 5 && c.h[0].rh_len == ((HDR + 5 + 7) & ~7) &&
	    memcmp(c.p[0], "hello", 5) == 0, "header fields and payload");
	ok(c.h[1].rh_payload_len == 0 && c.h[1].rh_len == HDR &&
	    c.h[1].rh_seq == 4, "an empty payload is a header-only record");
	rc = tao__ring_consume(shm, 1, &cur, collect_fn, &c, 10);
	ok(rc == 1 && c.h[2].rh_payload_len == 11 && c.h[2].rh_len == ((HDR + 11 + 7) & ~7) &&
	    memcmp(c.p[2], "12345678abc", 11) == 0 && cur.rc_drops == 0,
	    "the third, padded to 8 bytes; no drops");
	basic_stop_and_limits(shm, &cur, &h);
	tao__shm_destroy(shm);
}

/* A callback that stops a consume, max_records 0, the publish limits. */
static void
basic_stop_and_limits(struct tao_shm *shm, struct tao_ring_cursor *cur,
    struct tao_ring_rec_hdr *hp)
{
	struct tao_ring_rec_hdr h = *hp;
	struct collect c;
	unsigned i;

	for (i = 0; i < 3; i++)
		tao__ring_publish(shm, 1, &h, "x", 1, NULL);
	memset(&c, 0, sizeof(c));
	c.stop_after = 1;
	is_int(tao__ring_consume(shm, 1, cur, collect_fn, &c, 10), 1,
	    "a callback returning non-zero stops after its record");
	is_int(tao__ring_consume(shm, 1, cur, collect_fn, &c, 10), 1,
	    "the next consume goes on from there");
	is_int(tao__ring_consume(shm, 1, cur, collect_fn, &c, 0), 0,
	    "max_records 0 delivers nothing");

	is_int(tao__ring_max_payload(shm), 2048 - HDR,
	    "largest payload: half the ring less the header");
	errno = 0;
	ok(tao__ring_publish(shm, 1, &h, NULL, 2048 - 31, NULL) == -1 &&
	    errno == EMSGSIZE, "one byte more: EMSGSIZE");
	h.rh_kind = TAO_RING_PAD;
	ok(tao__ring_publish(shm, 1, &h, "x", 1, NULL) == -1 &&
	    errno == EINVAL, "kind PAD refused: EINVAL");
	h.rh_kind = TAO_RING_BROADCAST;
	ok(tao__ring_publish(shm, 2, &h, "x", 1, NULL) == -1 &&
	    errno == EINVAL, "islot out of range: EINVAL");
}

static void
test_big_records(void)
{
	struct tao_shm *shm = make_shm(1, 65536);
	struct tao_ring_cursor cur;
	struct stream s;
	unsigned k, all_ok = 1;

	tao__ring_cursor_init(shm, 0, &cur);
	memset(&s, 0, sizeof(s));
	s.strict = 1;
	for (k = 0; k < 40; k++) {
		if (publish_k(shm, 0, 0, k, 4000 + k * 100, NULL) == -1)
			all_ok = 0;
		if (tao__ring_consume(shm, 0, &cur, stream_fn, &s, 8) != 1)
			all_ok = 0;
	}
	ok(all_ok && s.got == 40 && s.bad == 0 && cur.rc_drops == 0,
	    "records of 4-8 KiB (copied through the heap) across 5 laps");
	tao__shm_destroy(shm);
}

static void
test_wrap(void)
{
	struct tao_shm *shm = make_shm(1, 4096);
	struct tao_ring_cursor cur;
	struct tao_ring_ctl *ctl = tao__shm_ringctl(shm, 0);
	struct stream s;
	uint64_t k, pads = 0, start;
	size_t len;
	unsigned burst;
	int fail = 0;

	tao__ring_cursor_init(shm, 0, &cur);
	memset(&s, 0, sizeof(s));
	s.strict = 1;
	for (k = 0; k < 5000;) {
		for (burst = 1 + k % 4; burst > 0; burst--, k++) {
			start = atomic_load(&ctl->rg_head);
			len = pl_len(0, k, 16, 700);
			if (publish_k(shm, 0, 0, k, len, NULL) == -1)
				fail = 1;
			/* moved more than the record: a PAD ended the lap */
			if (atomic_load(&ctl->rg_head) - start >
			    ((HDR + len + 7) & ~(size_t)7))
				pads++;
		}
		if (tao__ring_consume(shm, 0, &cur, stream_fn, &s, 100) < 0)
			fail = 1;
	}
	if (!ok(!fail && s.got == k && s.bad == 0 && cur.rc_drops == 0,
	    "%llu records of 16-700 bytes, consumed in step: all, in order",
	    (unsigned long long)k))
		diag("fail %d got %llu bad %llu drops %llu", fail,
		    (unsigned long long)s.got, (unsigned long long)s.bad,
		    (unsigned long long)cur.rc_drops);
	ok(atomic_load(&ctl->rg_head) > 300 * 4096ull && pads > 100,
	    "%llu laps, %llu of them ended by a PAD record",
	    (unsigned long long)(atomic_load(&ctl->rg_head) / 4096),
	    (unsigned long long)pads);
	tao__shm_destroy(shm);
}

static void
test_lapped(void)
{
	struct tao_shm *shm = make_shm(1, 4096);
	struct tao_ring_cursor cur;
	struct stream s;
	uint64_t k;

	tao__ring_cursor_init(shm, 0, &cur);
	for (k = 0; k < 1000; k++)
		publish_k(shm, 0, 0, k, 100, NULL);
	memset(&s, 0, sizeof(s));
	while (tao__ring_consume(shm, 0, &cur, stream_fn, &s, 1000) > 0)
		;
	ok(s.bad == 0 && s.got + cur.rc_drops == 1000,
	    "lapped: delivered %llu + dropped %llu == 1000 published",
	    (unsigned long long)s.got, (unsigned long long)cur.rc_drops);
	ok(s.got > 0 && s.got <= 4096 / 136 && s.next_k == 1000,
	    "what is left is the newest, ending with the last record");
	for (k = 1000; k < 1010; k++)
		publish_k(shm, 0, 0, k, 100, NULL);
	tao__ring_consume(shm, 0, &cur, stream_fn, &s, 1000);
	ok(s.got + cur.rc_drops == 1010 && s.next_k == 1010 && s.bad == 0,
	    "then it follows the producer again without loss");
	tao__shm_destroy(shm);
}

/* ---- reclaim, single process: what a dead producer leaves ---- */

static void
fake_death(struct tao_shm *shm, unsigned islot, uint64_t claim_delta)
{
	struct tao_ring_ctl *ctl = tao__shm_ringctl(shm, islot);
	_Atomic uint64_t *data = tao__shm_ringdata(shm, islot);
	uint64_t head = atomic_load(&ctl->rg_head), pos;

	/* claim moved, garbage half-written, head never published */
	atomic_store(&ctl->rg_claim, head + claim_delta);
	for (pos = head; pos < head + claim_delta; pos += 8)
		atomic_store(&data[(pos & (shm->sh_ring_size - 1)) / 8],
		    0x0000000100000018ull ^ pos);
}

static void torn_scribbled(struct tao_shm *, struct tao_ring_cursor *,
    struct stream *, uint64_t);

static void
test_reclaim_torn(void)
{
	struct tao_shm *shm = make_shm(2, 4096);
	struct tao_ring_ctl *ctl = tao__shm_ringctl(shm, 1);
	struct tao_ring_cursor cur;
	struct stream s;
	uint64_t k = 0, head;

	tao__ring_cursor_init(shm, 1, &cur);
	memset(&s, 0, sizeof(s));
	s.strict = 1;
	s.src = 1;
	for (; k < 5; k++)
		publish_k(shm, 1, 0, k, 40, NULL);
	fake_death(shm, 1, 96);
	tao__shm_islot_reclaim(shm, 1);
	ok(atomic_load(&ctl->rg_head) == atomic_load(&ctl->rg_claim) &&
	    atomic_load(&ctl->rg_gen) == 1,
	    "reclaim: a half-written record is covered, generation 1");
	ok(tao__ring_readable(shm, 1, &cur), "the consumer sees a change");
	tao__ring_consume(shm, 1, &cur, stream_fn, &s, 100);
	ok(s.got == 5 && s.bad == 0 && cur.rc_drops == 0 && cur.rc_gen == 1,
	    "the 5 finished records delivered, the torn one not, gen noted");
	for (; k < 8; k++)
		publish_k(shm, 1, 0, k, 40, NULL);
	tao__ring_consume(shm, 1, &cur, stream_fn, &s, 100);
	ok(s.got == 8 && s.bad == 0 && cur.rc_drops == 0 && s.last_seq == 7,
	    "a new producer carries on: sequence continues, nothing lost");

	/* death while wrapping: a PAD to the end plus a record at 0 */
	while (((head = atomic_load(&ctl->rg_head)) & 4095) < 4096 - 200 ||
	    (head & 4095) > 4096 - 72) {
		publish_k(shm, 1, 0, k, 16 + k % 40, NULL);
		k++;
		tao__ring_consume(shm, 1, &cur, stream_fn, &s, 1000);
	}
	fake_death(shm, 1, (4096 - (head & 4095)) + 200);
	tao__shm_islot_reclaim(shm, 1);
	publish_k(shm, 1, 0, k++, 50, NULL);
	tao__ring_consume(shm, 1, &cur, stream_fn, &s, 1000);
	ok(s.got == k && s.bad == 0 && cur.rc_drops == 0 && cur.rc_gen == 2,
	    "death across the end of a lap: repaired, nothing torn or lost");
	torn_scribbled(shm, &cur, &s, k);
	tao__shm_destroy(shm);
}

/* A scribbled header: claim behind head. */
static void
torn_scribbled(struct tao_shm *shm, struct tao_ring_cursor *cur,
    struct stream *sp, uint64_t k)
{
	struct tao_ring_ctl *ctl = tao__shm_ringctl(shm, 1);
	struct stream s = *sp;

	publish_k(shm, 1, 0, k++, 50, NULL);
	publish_k(shm, 1, 0, k++, 50, NULL);
	atomic_store(&ctl->rg_claim, atomic_load(&ctl->rg_head) - 8);
	tao__shm_islot_reclaim(shm, 1);
	is_int(tao__ring_consume(shm, 1, cur, stream_fn, &s, 1000), 0,
	    "insane header: positions jump past every cursor");
	ok(cur->rc_drops == 2 && cur->rc_gen == 3 && cur->rc_pos ==
	    atomic_load(&ctl->rg_head) && cur->rc_pos % 4096 == 0,
	    "the consumer resynchronised; the 2 unread records counted lost");
	s.strict = 0;			/* 2 records are missing now */
	publish_k(shm, 1, 0, k++, 50, NULL);
	tao__ring_consume(shm, 1, cur, stream_fn, &s, 1000);
	if (!ok(s.got == k - 2 && cur->rc_drops == 2 && s.bad == 0 &&
	    s.next_k == k, "and follows the new producer from there"))
		diag("got %llu k %llu drops %llu bad %llu next %llu",
		    (unsigned long long)s.got, (unsigned long long)k,
		    (unsigned long long)cur->rc_drops, (unsigned long long)s.bad,
		    (unsigned long long)s.next_k);
	*sp = s;
}

/* ---- many producers, many consumers, exact delivery ---- */

#define MX_PROD		3
#define MX_CONS		3
#define MX_N		20000
#define MX_RING		16384
#define MX_VICTIM	2

struct mx_board {
	_Atomic int		ready, go;
	_Atomic int		alive[MX_CONS];
	_Atomic uint64_t	pos[MX_CONS][MX_PROD];
	_Atomic uint64_t	got[MX_CONS], bad[MX_CONS], drops[MX_CONS];
};

struct mx_job {
	struct tao_shm	*shm;
	struct mx_board	*b;
	unsigned	 id;
};

/*
 * Test-only flow control so that no consumer is ever lapped and delivery
 * must be exact: a producer waits until every live consumer is a lap
 * behind its next record.  The ring itself never waits.
 */
static int
mx_producer(void *arg)
{
	struct mx_job *j = arg;
	struct tao_ring_ctl *ctl = tao__shm_ringctl(j->shm, j->id);
	uint64_t k, head, need;
	size_t len;
	unsigned c;
	int full;

	while (!atomic_load(&j->b->go))
		sched_yield();
	for (k = 0; k < MX_N; k++) {
		len = pl_len(j->id, k, PL_MIN, 400);
		need = 2 * ((HDR + len + 7) & ~7ul);
		head = atomic_load_explicit(&ctl->rg_head,
		    memory_order_relaxed);
		do {
			full = 0;
			for (c = 0; c < MX_CONS; c++)
				if (atomic_load(&j->b->alive[c]) &&
				    head + need - atomic_load(
				    &j->b->pos[c][j->id]) > MX_RING)
					full = 1;
			if (full)
				sched_yield();
		} while (full);
		if (publish_k(j->shm, j->id, j->id, k, len, NULL) == -1)
			return 2;
	}
	return 0;
}

static int
mx_consumer(void *arg)
{
	struct mx_job *j = arg;
	struct tao_ring_cursor cur[MX_PROD];
	struct stream s[MX_PROD];
	unsigned p, done;
	int n;

	for (p = 0; p < MX_PROD; p++) {
		tao__ring_cursor_init(j->shm, p, &cur[p]);
		memset(&s[p], 0, sizeof(s[p]));
		s[p].strict = 1;
		s[p].tag = p;
		s[p].src = p;
	}
	atomic_fetch_add(&j->b->ready, 1);
	do {
		done = 0;
		for (p = 0; p < MX_PROD; p++) {
			n = tao__ring_consume(j->shm, p, &cur[p], stream_fn,
			    &s[p], 64);
			if (n < 0)
				return 2;
			atomic_store(&j->b->pos[j->id][p], cur[p].rc_pos);
			atomic_store(&j->b->got[j->id],
			    s[0].got + s[1].got + s[2].got);
			atomic_store(&j->b->bad[j->id],
			    s[0].bad + s[1].bad + s[2].bad);
			atomic_store(&j->b->drops[j->id], cur[0].rc_drops +
			    cur[1].rc_drops + cur[2].rc_drops);
			done += s[p].next_k == MX_N;
			if (n == 0)
				sched_yield();
		}
	} while (done < MX_PROD);
	return 0;
}

static void
test_multi_exact(void)
{
	struct tao_shm *shm = make_shm(MX_PROD, MX_RING);
	struct mx_board *b = kids_shared_alloc(sizeof(*b));
	struct mx_job pj[MX_PROD], cj[MX_CONS];
	pid_t pp[MX_PROD], cp[MX_CONS];
	unsigned i, prod_ok = 0, cons_ok = 0, exact = 1;
	double t0;

	for (i = 0; i < MX_CONS; i++) {
		atomic_store(&b->alive[i], 1);
		cj[i].shm = shm;
		cj[i].b = b;
		cj[i].id = i;
		cp[i] = kids_spawn(mx_consumer, &cj[i]);
	}
	if (wait_for(&b->ready, MX_CONS, 5) == -1)
		bail("consumers did not start");
	for (i = 0; i < MX_PROD; i++) {
		pj[i].shm = shm;
		pj[i].b = b;
		pj[i].id = i;
		pp[i] = kids_spawn(mx_producer, &pj[i]);
	}
	t0 = kids_now_s();
	atomic_store(&b->go, 1);
	/* kill one consumer once it is well into the stream */
	while (atomic_load(&b->got[MX_VICTIM]) < MX_N / 2 &&
	    kids_now_s() - t0 < 10 * th_timeout_scale())
		usleep(100);
	atomic_store(&b->alive[MX_VICTIM], 0);
	kill(cp[MX_VICTIM], SIGKILL);
	is_int(kids_reap(cp[MX_VICTIM], 5000), 128 + SIGKILL,
	    "consumer %d SIGKILLed after %llu records", MX_VICTIM,
	    (unsigned long long)atomic_load(&b->got[MX_VICTIM]));
	for (i = 0; i < MX_PROD; i++)
		prod_ok += kids_reap(pp[i], 20000) == 0;
	for (i = 0; i < MX_CONS; i++) {
		if (i == MX_VICTIM)
			continue;
		cons_ok += kids_reap(cp[i], 20000) == 0;
		if (atomic_load(&b->got[i]) != MX_PROD * MX_N ||
		    atomic_load(&b->bad[i]) != 0 ||
		    atomic_load(&b->drops[i]) != 0)
			exact = 0;
	}
	diag("3 x %d records through 16 KiB rings in %.2f s", MX_N,
	    kids_now_s() - t0);
	is_int(prod_ok, MX_PROD, "3 producers published %d records each",
	    MX_N);
	is_int(cons_ok, MX_CONS - 1, "the surviving consumers finished");
	ok(exact, "each got all %d records once, per-producer order, "
	    "nothing torn, no drops", MX_PROD * MX_N);
	munmap(b, sizeof(*b));
	tao__shm_destroy(shm);
}

/* ---- a stopped consumer is lapped; drops are exact ---- */

#define LP_N		100000
#define LP_RING		16384
#define LP_CONS		2	/* 0 runs, 1 gets SIGSTOPped */

struct lp_board {
	_Atomic int		ready, done;
	_Atomic uint64_t	got[LP_CONS], bad[LP_CONS], drops[LP_CONS];
	_Atomic uint64_t	last_k[LP_CONS];
	double			publish_s;
};

struct lp_job {
	struct tao_shm	*shm;
	struct lp_board	*b;
	unsigned	 id;
};

static int
lp_producer(void *arg)
{
	struct lp_job *j = arg;
	uint64_t k;
	double t0 = kids_now_s();

	for (k = 0; k < LP_N; k++)
		if (publish_k(j->shm, 0, 0, k, pl_len(0, k, 64, 256),
		    NULL) == -1)
			return 2;
	j->b->publish_s = kids_now_s() - t0;
	atomic_store(&j->b->done, 1);
	return 0;
}

static int
lp_consumer(void *arg)
{
	struct lp_job *j = arg;
	struct tao_ring_cursor cur;
	struct stream s;
	int n;

	tao__ring_cursor_init(j->shm, 0, &cur);
	memset(&s, 0, sizeof(s));
	atomic_fetch_add(&j->b->ready, 1);
	for (;;) {
		int finished = atomic_load(&j->b->done);

		n = tao__ring_consume(j->shm, 0, &cur, stream_fn, &s, 64);
		if (n < 0)
			return 2;
		if (n == 0 && finished && !tao__ring_readable(j->shm, 0, &cur))
			break;
	}
	atomic_store(&j->b->got[j->id], s.got);
	atomic_store(&j->b->bad[j->id], s.bad);
	atomic_store(&j->b->drops[j->id], cur.rc_drops);
	atomic_store(&j->b->last_k[j->id], s.next_k);
	return 0;
}

static void
test_multi_lapped(void)
{
	struct tao_shm *shm = make_shm(1, LP_RING);
	struct lp_board *b = kids_shared_alloc(sizeof(*b));
	struct lp_job pj, cj[LP_CONS];
	pid_t pp, cp[LP_CONS];
	unsigned i;
	int rc[LP_CONS];

	for (i = 0; i < LP_CONS; i++) {
		cj[i].shm = shm;
		cj[i].b = b;
		cj[i].id = i;
		cp[i] = kids_spawn(lp_consumer, &cj[i]);
	}
	if (wait_for(&b->ready, LP_CONS, 5) == -1)
		bail("consumers did not start");
	kill(cp[1], SIGSTOP);
	pj.shm = shm;
	pj.b = b;
	pp = kids_spawn(lp_producer, &pj);
	is_int(kids_reap(pp, 20000), 0,
	    "producer published %d records past a stopped consumer", LP_N);
	diag("publish rate with one consumer stopped: %.0f records/s",
	    LP_N / b->publish_s);
	kill(cp[1], SIGCONT);
	for (i = 0; i < LP_CONS; i++)
		rc[i] = kids_reap(cp[i], 20000);
	ok(rc[0] == 0 && rc[1] == 0, "both consumers finished");
	for (i = 0; i < LP_CONS; i++) {
		uint64_t got = atomic_load(&b->got[i]);
		uint64_t drops = atomic_load(&b->drops[i]);

		ok(got + drops == LP_N && atomic_load(&b->bad[i]) == 0,
		    "%s consumer: %llu delivered + %llu dropped == %d, "
		    "none torn",
		    i == 0 ? "running" : "stopped", (unsigned long long)got,
		    (unsigned long long)drops, LP_N);
	}
	ok(atomic_load(&b->drops[1]) > LP_N - LP_RING / HDR,
	    "the stopped one lost what was overwritten");
	munmap(b, sizeof(*b));
	tao__shm_destroy(shm);
}

/* ---- records overwritten while being copied ---- */

#define TS_RING		4096	/* room for two records of the sizes below */
#define TS_SECONDS	0.3

struct ts_board {
	_Atomic int		ready, done;
	_Atomic uint64_t	published, got[2], bad[2], drops[2];
};

struct ts_job {
	struct tao_shm	*shm;
	struct ts_board	*b;
	unsigned	 id;
};

static int
ts_producer(void *arg)
{
	struct ts_job *j = arg;
	double t0 = kids_now_s();
	uint64_t k;

	for (k = 0; (k & 255) != 0 || kids_now_s() - t0 < TS_SECONDS; k++)
		if (publish_k(j->shm, 0, 0, k, pl_len(0, k, 1000, 2000),
		    NULL) == -1)
			return 2;
	atomic_store(&j->b->published, k);
	atomic_store(&j->b->done, 1);
	return 0;
}

static int
ts_consumer(void *arg)
{
	struct ts_job *j = arg;
	struct tao_ring_cursor cur;
	struct stream s;
	int n;

	tao__ring_cursor_init(j->shm, 0, &cur);
	memset(&s, 0, sizeof(s));
	atomic_fetch_add(&j->b->ready, 1);
	for (;;) {
		int finished = atomic_load(&j->b->done);

		n = tao__ring_consume(j->shm, 0, &cur, stream_fn, &s, 16);
		if (n < 0)
			return 2;
		if (n == 0 && finished && !tao__ring_readable(j->shm, 0, &cur))
			break;
	}
	atomic_store(&j->b->got[j->id], s.got);
	atomic_store(&j->b->bad[j->id], s.bad);
	atomic_store(&j->b->drops[j->id], cur.rc_drops);
	return 0;
}

/*
 * A ring that holds two records, a producer writing them as fast as it can:
 * the consumers are copying a record that is being overwritten most of the
 * time.  Whatever they deliver must be intact.
 */
static void
test_torn_storm(void)
{
	struct tao_shm *shm = make_shm(1, TS_RING);
	struct ts_board *b = kids_shared_alloc(sizeof(*b));
	struct ts_job pj, cj[2];
	pid_t pp, cp[2];
	unsigned i, fine = 1;

	for (i = 0; i < 2; i++) {
		cj[i].shm = shm;
		cj[i].b = b;
		cj[i].id = i;
		cp[i] = kids_spawn(ts_consumer, &cj[i]);
	}
	if (wait_for(&b->ready, 2, 5) == -1)
		bail("consumers did not start");
	pj.shm = shm;
	pj.b = b;
	pp = kids_spawn(ts_producer, &pj);
	is_int(kids_reap(pp, 10000), 0, "producer overwrote a 2-record ring "
	    "%llu times", (unsigned long long)atomic_load(&b->published));
	for (i = 0; i < 2; i++) {
		if (kids_reap(cp[i], 10000) != 0 || atomic_load(&b->bad[i]) != 0 ||
		    atomic_load(&b->got[i]) == 0 ||
		    atomic_load(&b->got[i]) + atomic_load(&b->drops[i]) !=
		    atomic_load(&b->published))
			fine = 0;
		diag("consumer %u: %llu delivered, %llu dropped, %llu bad", i,
		    (unsigned long long)atomic_load(&b->got[i]),
		    (unsigned long long)atomic_load(&b->drops[i]),
		    (unsigned long long)atomic_load(&b->bad[i]));
	}
	ok(fine, "consumers delivered only intact records, and delivered + "
	    "dropped == published");
	munmap(b, sizeof(*b));
	tao__shm_destroy(shm);
}

/* ---- a producer dies while a consumer reads; reclaim; a new one ---- */

#define RL_RING		8192
#define RL_NEW		5000

struct rl_board {
	_Atomic int		ready, started, finish;
	_Atomic uint64_t	pos;	/* the consumer's, for the new producer */
	_Atomic uint64_t	got, bad, drops, gen, got_old, got_new;
};

struct rl_job {
	struct tao_shm	*shm;
	struct rl_board	*b;
	unsigned	 tag;
};

/*
 * tag 1: publishes flat out until killed.  tag 2: RL_NEW records, paced by
 * test-only flow control so that the consumer must get every one of them.
 */
static int
rl_producer(void *arg)
{
	struct rl_job *j = arg;
	struct tao_ring_ctl *ctl = tao__shm_ringctl(j->shm, 1);
	uint64_t k;
	size_t len;

	for (k = 0; j->tag == 1 || k < RL_NEW; k++) {
		len = pl_len(j->tag, k, 16, 300);
		while (j->tag == 2 && atomic_load(&ctl->rg_head) +
		    2 * (HDR + len + 8) - atomic_load(&j->b->pos) > RL_RING)
			sched_yield();
		if (publish_k(j->shm, 1, j->tag, k, len, NULL) == -1)
			return 2;
		if (k == 1000)
			atomic_store(&j->b->started, 1);
	}
	return 0;
}

struct rl_stream {
	struct stream	s[3];	/* by tag; 1 and 2 are the two producers */
	uint64_t	got, bad;
};

static int
rl_fn(void *arg, const struct tao_ring_rec_hdr *h, const void *payload)
{
	struct rl_stream *r = arg;
	unsigned tag;
	uint64_t k;

	r->got++;
	if (!pl_check(h, payload, &tag, &k) || tag < 1 || tag > 2 ||
	    k < r->s[tag].next_k || h->rh_src_islot != 1) {
		r->bad++;
		return 0;
	}
	r->s[tag].next_k = k + 1;
	r->s[tag].got++;
	return 0;
}

static int
rl_consumer(void *arg)
{
	struct rl_job *j = arg;
	struct tao_ring_cursor cur;
	struct rl_stream r;
	int n;

	memset(&r, 0, sizeof(r));
	tao__ring_cursor_init(j->shm, 1, &cur);
	atomic_store(&j->b->ready, 1);
	for (;;) {
		int finished = atomic_load(&j->b->finish);

		n = tao__ring_consume(j->shm, 1, &cur, rl_fn, &r, 64);
		if (n < 0)
			return 2;
		atomic_store(&j->b->pos, cur.rc_pos);
		if (n == 0 && finished && !tao__ring_readable(j->shm, 1, &cur))
			break;
	}
	atomic_store(&j->b->got, r.got);
	atomic_store(&j->b->bad, r.bad);
	atomic_store(&j->b->drops, cur.rc_drops);
	atomic_store(&j->b->gen, cur.rc_gen);
	atomic_store(&j->b->got_old, r.s[1].got);
	atomic_store(&j->b->got_new, r.s[2].next_k == RL_NEW ? r.s[2].got : 0);
	return 0;
}

static void
test_reclaim_live(void)
{
	struct tao_shm *shm = make_shm(2, RL_RING);
	struct tao_ring_ctl *ctl = tao__shm_ringctl(shm, 1);
	struct rl_board *b = kids_shared_alloc(sizeof(*b));
	struct rl_job a, n, c;
	pid_t ap, np, cp;
	uint64_t before;
	int rc;

	c.shm = a.shm = n.shm = shm;
	c.b = a.b = n.b = b;
	a.tag = 1;
	n.tag = 2;
	cp = kids_spawn(rl_consumer, &c);
	if (wait_for(&b->ready, 1, 5) == -1)
		bail("consumer did not start");
	ap = kids_spawn(rl_producer, &a);
	if (wait_for(&b->started, 1, 5) == -1)
		bail("producer did not start");
	usleep(20000);	/* scenario: the kill lands mid-stream, anywhere */
	kill(ap, SIGKILL);
	is_int(kids_reap(ap, 5000), 128 + SIGKILL,
	    "producer SIGKILLed while publishing");
	diag("it left claim - head = %llu",
	    (unsigned long long)(atomic_load(&ctl->rg_claim) -
	    atomic_load(&ctl->rg_head)));
	tao__shm_islot_reclaim(shm, 1);
	before = tao__ring_published(shm, 1);
	np = kids_spawn(rl_producer, &n);
	is_int(kids_reap(np, 10000), 0, "a new producer in the islot published %d",
	    RL_NEW);
	atomic_store(&b->finish, 1);
	rc = kids_reap(cp, 10000);
	is_int(rc, 0, "the consumer survived both and finished");
	ok(atomic_load(&b->bad) == 0, "no torn or misordered record (%llu "
	    "delivered)", (unsigned long long)atomic_load(&b->got));
	is_int(atomic_load(&b->got) + atomic_load(&b->drops),
	    tao__ring_published(shm, 1),
	    "delivered + dropped == every record published (%llu + %llu)",
	    (unsigned long long)atomic_load(&b->got),
	    (unsigned long long)atomic_load(&b->drops));
	ok(tao__ring_published(shm, 1) == before + RL_NEW &&
	    atomic_load(&b->gen) == 1, "it saw the new generation");
	is_int(atomic_load(&b->got_new), RL_NEW, "and every record of the new "
	    "producer, in order (%llu of the old one's before)",
	    (unsigned long long)atomic_load(&b->got_old));
	munmap(b, sizeof(*b));
	tao__shm_destroy(shm);
}

/* ---- wake-ups: eventfd ping-pong ---- */

#define PP_ROUNDS	10000

struct pp_board {
	_Atomic int		ready;
	_Atomic uint64_t	lost, sleeps, writes, bad;
};

struct pp_job {
	struct tao_shm	*shm;
	struct pp_board	*b;
	int		 efd[2];
	unsigned	 me;
};

struct pp_seen {
	uint64_t	want;
	int		found, bad;
};

static int
pp_fn(void *arg, const struct tao_ring_rec_hdr *h, const void *payload)
{
	struct pp_seen *s = arg;
	uint64_t k;

	(void)payload;
	k = (uint64_t)h->rh_type;
	if (k == s->want)
		s->found = 1;
	else
		s->bad = 1;
	return 0;
}

static void
pp_send(struct pp_job *j, uint64_t k)
{
	struct tao_ring_wake w;
	struct tao_ring_rec_hdr h;
	uint64_t one = 1;
	int i;

	memset(&h, 0, sizeof(h));
	h.rh_kind = TAO_RING_BROADCAST;
	h.rh_type = (int32_t)k;
	tao__ring_wake_clear(&w);
	tao__ring_publish(j->shm, j->me, &h, "ping", 4, &w);
	for (i = tao__ring_wake_next(&w, 0); i >= 0;
	    i = tao__ring_wake_next(&w, (unsigned)i + 1)) {
		if (write(j->efd[i], &one, sizeof(one)) != sizeof(one))
			atomic_fetch_add(&j->b->bad, 1);
		atomic_fetch_add(&j->b->writes, 1);
	}
}

/* Block until record k arrives from the other side; -1 if no wake-up came
 * within the timeout although we slept (a lost wake-up). */
static int
pp_wait(struct pp_job *j, struct tao_ring_cursor *cur, uint64_t k)
{
	struct pp_seen s = { k, 0, 0 };
	struct pollfd pfd = { j->efd[j->me], POLLIN, 0 };
	unsigned other = 1 - j->me;
	uint64_t junk;
	int n;

	for (;;) {
		tao__ring_consume(j->shm, other, cur, pp_fn, &s, 16);
		if (s.bad)
			atomic_fetch_add(&j->b->bad, 1);
		if (s.found)
			return 0;
		tao__ring_sleep_begin(j->shm, j->me);
		if (tao__ring_readable(j->shm, other, cur)) {
			tao__ring_sleep_end(j->shm, j->me);
			continue;
		}
		n = poll(&pfd, 1, (int)(2000 * th_timeout_scale()));
		tao__ring_sleep_end(j->shm, j->me);
		if (n == 0) {
			atomic_fetch_add(&j->b->lost, 1);
			return -1;
		}
		atomic_fetch_add(&j->b->sleeps, 1);
		while (read(j->efd[j->me], &junk, sizeof(junk)) > 0)
			;
	}
}

static int
pp_player(void *arg)
{
	struct pp_job *j = arg;
	struct tao_ring_cursor cur;
	uint64_t r;

	tao__ring_cursor_init(j->shm, 1 - j->me, &cur);
	atomic_fetch_add(&j->b->ready, 1);
	while (atomic_load(&j->b->ready) < 2)
		sched_yield();
	for (r = 0; r < PP_ROUNDS; r++) {
		if (j->me == 0) {
			pp_send(j, r);
			if (pp_wait(j, &cur, r) == -1)
				return 3;
		} else {
			if (pp_wait(j, &cur, r) == -1)
				return 3;
			pp_send(j, r);
		}
	}
	return 0;
}

static void
test_wakeup(void)
{
	struct tao_shm *shm = make_shm(2, 65536);
	struct pp_board *b = kids_shared_alloc(sizeof(*b));
	struct pp_job j[2];
	pid_t pid[2];
	int efd[2], i, rc0, rc1;
	double t0;

	for (i = 0; i < 2; i++)
		if ((efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
			bail("eventfd");
	t0 = kids_now_s();
	for (i = 0; i < 2; i++) {
		j[i].shm = shm;
		j[i].b = b;
		j[i].efd[0] = efd[0];
		j[i].efd[1] = efd[1];
		j[i].me = (unsigned)i;
		pid[i] = kids_spawn(pp_player, &j[i]);
	}
	rc0 = kids_reap(pid[0], 30000);
	rc1 = kids_reap(pid[1], 5000);
	ok(rc0 == 0 && rc1 == 0, "%d ping-pong rounds completed in %.2f s",
	    PP_ROUNDS, kids_now_s() - t0);
	is_int(atomic_load(&b->lost), 0, "no lost wake-up");
	is_int(atomic_load(&b->bad), 0, "every reply was the one awaited");
	ok(atomic_load(&b->sleeps) > 0 && atomic_load(&b->writes) <=
	    2 * PP_ROUNDS, "players really slept: %llu wake-ups, %llu "
	    "eventfd writes", (unsigned long long)atomic_load(&b->sleeps),
	    (unsigned long long)atomic_load(&b->writes));
	close(efd[0]);
	close(efd[1]);
	munmap(b, sizeof(*b));
	tao__shm_destroy(shm);
}

static void
test_wake_set(void)
{
	struct tao_shm *shm = make_shm(130, 4096);
	struct tao_ring_wake w;
	struct tao_ring_rec_hdr h;

	memset(&h, 0, sizeof(h));
	h.rh_kind = TAO_RING_BROADCAST;
	tao__ring_sleep_begin(shm, 3);
	tao__ring_sleep_begin(shm, 129);
	tao__ring_sleep_begin(shm, 7);
	tao__ring_wake_clear(&w);
	tao__ring_publish(shm, 7, &h, "x", 1, &w);
	ok(tao__ring_wake_next(&w, 0) == 3 && tao__ring_wake_next(&w, 4) ==
	    129 && tao__ring_wake_next(&w, 130) == -1,
	    "publish names the sleepers (3, 129), never itself");
	tao__ring_wake_clear(&w);
	tao__ring_publish(shm, 7, &h, "x", 1, &w);
	is_int(tao__ring_wake_next(&w, 0), -1,
	    "each sleep is woken once: the flag was cleared");
	tao__ring_sleep_end(shm, 7);
	tao__shm_destroy(shm);
}

int
main(void)
{
	atexit(kids_kill_all);
	plan(0);
	test_basic();
	test_big_records();
	test_wrap();
	test_lapped();
	test_reclaim_torn();
	test_wake_set();
	test_multi_exact();
	test_multi_lapped();
	test_torn_storm();
	test_reclaim_live();
	test_wakeup();
	return done_testing();
}
