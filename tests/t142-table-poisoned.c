/*
 * t142-table-poisoned - issue 12 #9: what a worker writes into shared
 * memory must not cost a reader (the master answering `taoctl conns` and
 * `stats`, a worker looking up a netid or consuming a ring) unbounded
 * time, nor make it read outside the segment.
 *
 * Table: every row of every partition left with an odd sequence (a
 * writer killed mid-update, or a hostile one), high-water marks and free
 * lists scribbled: a full iteration (what `taoctl conns` does) takes less
 * than 100 ms and reports every row as torn; a netid search likewise; one
 * row read gives up within a millisecond or so, without sleeping (the old
 * reader yielded for 5 ms per row: 12 000 poisoned rows stalled the
 * master for a minute).  A child process that bumps every row's sequence
 * non-stop (never odd, never equal twice) is no worse.  Stable rows among
 * poisoned ones are still returned.
 *
 * Stats: a block full of 0xff reads and sums in constant time, and its
 * state has no name (NULL, not out of bounds).
 *
 * Ring: a ring of 8-byte PAD records (a producer writing only PADs) costs
 * one consume call a bounded number of steps, not a walk over the whole
 * ring; a ring whose control words and data are random garbage, placed
 * last in a private copy of the segment followed by a PROT_NONE guard
 * page, is consumed thousands of times without a crash, without reading
 * past the ring, within a bounded time per call, and every record it
 * delivers is self-consistent (payload inside the record).
 */
#include <sys/mman.h>
#include <sys/types.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shm/ring.h"
#include "shm/segment.h"
#include "shm/stats.h"
#include "shm/row.h"
#include "shm/table.h"
#include "tap.h"
#include "lib/harness.h"
#include "lib/kids.h"

#define NISLOTS		4
#define ROWS		3000		/* 12 000 rows in all */

static double
now_ms(void)
{
	return kids_now_s() * 1000.0;
}

static double
limit_ms(double ms)
{
	return ms * th_timeout_scale();
}

/* Every row of every partition: OPEN, netid set, sequence odd; hwm and
 * free list scribbled. */
static void
poison_table(struct tao_shm *shm, uint64_t netid)
{
	struct tao_conn_row img;
	uint64_t w[TAO_ROW_WORDS];

	memset(&img, 0x41, sizeof(img));
	img.cr_state = TAO_ROW_OPEN;
	img.cr_netid = netid;
	tao__row_encode(&img, w);
	for (unsigned i = 0; i < shm->sh_nislots; i++) {
		struct tao_table_part *p = tao__shm_part(shm, i);

		atomic_store(&p->tp_hwm, UINT32_MAX);
		atomic_store(&p->tp_free, 12345);
		for (unsigned j = 0; j < shm->sh_max_connections; j++) {
			struct tao_shm_row *r = tao__shm_row(shm, i, j);

			for (size_t k = 0; k < TAO_ROW_WORDS; k++)
				atomic_store(&r->sr_word[k], w[k]);
			atomic_store(&r->sr_seq, 2 * j + 1);
		}
	}
}

/* A full walk, as `taoctl conns` does: rows returned, rows torn, ms. */
static double
walk(const struct tao_shm *shm, unsigned *rows, unsigned *torn)
{
	struct tao_table_iter it = { 0 };
	struct tao_conn_row r;
	double t0 = now_ms();

	*rows = 0;
	while (tao__table_next(shm, &it, &r) == 1)
		++*rows;
	*torn = it.ti_torn;
	return now_ms() - t0;
}

struct walk_job {
	struct tao_shm	*shm;
	double		*took;		/* shared */
};

static int
walk_child(void *arg)
{
	struct walk_job *j = arg;
	unsigned rows, torn;

	*j->took = walk(j->shm, &rows, &torn);
	return rows == 0 && torn == NISLOTS * ROWS ? 0 : 1;
}

/* One row: gives up fast, without sleeping. */
static void
poisoned_rows(struct tao_shm *shm)
{
	struct tao_conn_row r;
	double t0, took;
	int n;

	t0 = now_ms();
	for (n = 0; n < 100; n++) {
		errno = 0;
		if (tao__table_read(shm, 1, (unsigned)n, &r) != -1 ||
		    errno != EAGAIN)
			break;
	}
	took = now_ms() - t0;
	is_int(n, 100, "100 poisoned rows: each read gives up with EAGAIN");
	ok(took < limit_ms(50), "in %.2f ms for all 100 (the old reader "
	    "waited 5 ms per row)", took);
}

/* The whole table, in a child so that an old reader cannot hang us. */
static void
poisoned_walk(struct tao_shm *shm)
{
	struct walk_job job;
	double took, *shared;
	int rc;

	shared = kids_shared_alloc(sizeof(double));
	job.shm = shm;
	job.took = shared;
	*shared = -1;
	rc = kids_reap(kids_spawn(walk_child, &job), 5000);
	took = *shared;
	ok(rc == 0, "a full walk of %d fully poisoned rows returned none and "
	    "counted each as torn (child exit %d)", NISLOTS * ROWS, rc);
	ok(rc == 0 && took >= 0 && took < limit_ms(100), "in %.1f ms (under "
	    "100 ms)", took);
	munmap(shared, sizeof(double));
}

static void
test_poisoned_table(void)
{
	struct tao_shm_params p = { NISLOTS, ROWS, 4096 };
	struct tao_shm *shm = tao__shm_create(&p);
	unsigned rows, torn, islot, row;
	double t0, took;
	int rc;

	if (shm == NULL)
		bail("tao__shm_create");
	poison_table(shm, 77);
	poisoned_rows(shm);
	poisoned_walk(shm);

	/* netid search over rows that all claim the netid */
	t0 = now_ms();
	errno = 0;
	rc = tao__table_find_netid(shm, 77, &islot, &row);
	took = now_ms() - t0;
	ok(rc == -1 && errno == ENOENT, "a netid search over them finds "
	    "nothing");
	ok(took < limit_ms(100), "in %.1f ms", took);

	/* stable rows among poisoned ones still come back */
	for (unsigned j = 0; j < ROWS; j += 100) {
		struct tao_shm_row *sr = tao__shm_row(shm, 2, j);

		atomic_store(&sr->sr_seq, 10);
	}
	took = walk(shm, &rows, &torn);
	is_int(rows, ROWS / 100, "the %d stable rows are returned",
	    ROWS / 100);
	is_int(torn, NISLOTS * ROWS - ROWS / 100, "the others are counted "
	    "torn");
	ok(took < limit_ms(100), "in %.1f ms", took);
	tao__shm_destroy(shm);
}

/* A writer that never lets a row settle: every sequence bumped by 2
 * (even, but never the same twice) as fast as it can. */
struct churn_job {
	struct tao_shm	*shm;
	_Atomic int	*stop;		/* shared: [0] stop, [1] started */
};

static int
churn(void *arg)
{
	struct churn_job *j = arg;

	atomic_store(&j->stop[1], 1);
	while (!atomic_load_explicit(j->stop, memory_order_relaxed))
		for (unsigned i = 0; i < j->shm->sh_nislots; i++)
			for (unsigned k = 0; k < j->shm->sh_max_connections;
			    k++)
				atomic_fetch_add_explicit(&tao__shm_row(j->shm,
				    i, k)->sr_seq, 2, memory_order_relaxed);
	return 0;
}

static void
test_churning_table(void)
{
	struct tao_shm_params p = { NISLOTS, 16, 4096 };
	struct tao_shm *shm = tao__shm_create(&p);
	struct churn_job job;
	unsigned rows, torn;
	double worst = 0, took, t0;
	pid_t kid;

	if (shm == NULL)
		bail("tao__shm_create");
	poison_table(shm, 5);
	for (unsigned i = 0; i < NISLOTS; i++)
		for (unsigned k = 0; k < 16; k++)
			atomic_store(&tao__shm_row(shm, i, k)->sr_seq, 0);
	job.shm = shm;
	job.stop = kids_shared_alloc(2 * sizeof(*job.stop));
	kid = kids_spawn(churn, &job);
	t0 = now_ms();
	while (!atomic_load(&job.stop[1]) && now_ms() - t0 < limit_ms(5000))
		usleep(1000);
	for (int n = 0; n < 2000; n++) {
		took = walk(shm, &rows, &torn);
		if (took > worst)
			worst = took;
	}
	atomic_store(&job.stop[0], 1);
	is_int(kids_reap(kid, 5000), 0, "the churning writer ran and exited");
	diag("2000 walks against a writer bumping every sequence: worst %.1f ms "
	    "(last: %u rows, %u torn)", worst, rows, torn);
	ok(worst < limit_ms(100), "each walk stays bounded (worst %.1f ms)",
	    worst);
	munmap((void *)job.stop, 2 * sizeof(*job.stop));
	tao__shm_destroy(shm);
}

static void
test_poisoned_stats(void)
{
	struct tao_shm_params p = { NISLOTS, 8, 4096 };
	struct tao_shm *shm = tao__shm_create(&p);
	struct tao_stats_snapshot snap, sum;

	if (shm == NULL)
		bail("tao__shm_create");
	memset(tao__shm_stats(shm, 3), 0xff, sizeof(struct tao_stats_block));
	memset(&sum, 0, sizeof(sum));
	tao__stats_read(shm, 3, &snap);
	tao__stats_accumulate(&sum, &snap);
	tao__stats_accumulate(&sum, &snap);
	ok(snap.ss_counter[TAO_STAT_ACCEPTED] == UINT64_MAX &&
	    snap.ss_state == UINT32_MAX, "a block of 0xff reads as it is");
	ok(tao__stats_state_name((enum tao_islot_state)snap.ss_state) == NULL,
	    "its state has no name (not read out of bounds)");
	tao__stats_read(shm, 99, &snap);
	is_int((int)snap.ss_counter[0], 0, "an islot out of range reads zero");
	tao__shm_islot_reclaim(shm, 3);
	tao__stats_read(shm, 3, &snap);
	ok(snap.ss_counter[TAO_STAT_ACCEPTED] == 0 && snap.ss_held == 0,
	    "reclaim repairs it");
	ok(tao__shm_conn_count(shm) == 0, "and the scribbled held count did "
	    "not wrap the global count");
	tao__shm_destroy(shm);
}

/* ---- rings ------------------------------------------------------------ */

struct seen {
	unsigned	n;
	unsigned	bad;
	size_t		max_len;
};

static int
on_rec(void *arg, const struct tao_ring_rec_hdr *h, const void *payload)
{
	struct seen *s = arg;
	const unsigned char *p = payload;
	volatile unsigned char sink = 0;

	s->n++;
	if (h->rh_payload_len > s->max_len ||
	    (h->rh_kind != TAO_RING_BROADCAST &&
	    h->rh_kind != TAO_RING_UNICAST) ||
	    h->rh_len < sizeof(*h) + h->rh_payload_len)
		s->bad++;
	else
		for (uint32_t i = 0; i < h->rh_payload_len; i++)
			sink ^= p[i];	/* the whole payload is readable */
	(void)sink;
	return 0;
}

static uint64_t
pad_word(uint32_t len)
{
	struct tao_ring_rec_hdr h;
	uint64_t w;

	memset(&h, 0, sizeof(h));
	h.rh_len = len;
	h.rh_kind = TAO_RING_PAD;
	memcpy(&w, &h, sizeof(w));
	return w;
}

static void
test_pad_ring(void)
{
	struct tao_shm_params p = { 2, 8, 1u << 22 };	/* 4 MiB rings */
	struct tao_shm *shm = tao__shm_create(&p);
	struct tao_ring_cursor cur;
	struct tao_ring_ctl *ctl;
	_Atomic uint64_t *data;
	struct seen s = { 0, 0, 0 };
	size_t size = p.ring_size, i;
	double t0, took;
	int n;

	if (shm == NULL)
		bail("tao__shm_create");
	ctl = tao__shm_ringctl(shm, 1);
	data = tao__shm_ringdata(shm, 1);
	for (i = 0; i < size / 8; i++)
		atomic_store(&data[i], pad_word(8));
	tao__ring_cursor_init(shm, 1, &cur);
	atomic_store(&ctl->rg_claim, size);
	atomic_store(&ctl->rg_head, size);
	t0 = now_ms();
	n = tao__ring_consume(shm, 1, &cur, on_rec, &s, 16);
	took = now_ms() - t0;
	is_int(n, 0, "a ring of %zu 8-byte PADs delivers nothing", size / 8);
	ok(cur.rc_pos < size / 64, "and one call walks a bounded part of it "
	    "(%llu of %zu bytes) in %.2f ms", (unsigned long long)cur.rc_pos,
	    size, took);
	tao__shm_destroy(shm);
}

static uint64_t
rnd64(void)
{
	return ((uint64_t)(uint32_t)random() << 33) ^
	    ((uint64_t)(uint32_t)random() << 11) ^ (uint64_t)random();
}

/* A word that may look like a record header: lengths near the limits. */
static uint64_t
tricky_word(size_t size)
{
	static const uint32_t lens[] = { 0, 8, 16, 24, 32, 40, 64, 4096,
	    65536, 1u << 21, 1u << 22, (1u << 22) - 8, (1u << 22) + 8,
	    UINT32_MAX, UINT32_MAX - 7 };
	struct tao_ring_rec_hdr h;
	uint64_t w;

	memset(&h, 0, sizeof(h));
	h.rh_len = random() % 4 == 0 ? (uint32_t)(random() % size) & ~7u :
	    lens[(size_t)random() % (sizeof(lens) / sizeof(lens[0]))];
	h.rh_kind = (uint16_t)(random() % 5);
	memcpy(&w, &h, sizeof(w));
	return w;
}

/* A header that passes the first look, with a payload length that may
 * lie. */
static void
plausible(_Atomic uint64_t *data, size_t size, uint64_t pos)
{
	struct tao_ring_rec_hdr h;
	uint64_t w[4], off = pos & (size - 1) & ~(uint64_t)7;

	memset(&h, 0, sizeof(h));
	h.rh_len = 32 + 8 * (uint32_t)(random() % 64);
	h.rh_kind = TAO_RING_BROADCAST + (uint16_t)(random() % 2);
	h.rh_payload_len = random() % 2 ? h.rh_len - 32 - (uint32_t)(random()
	    % 8) : (uint32_t)random();
	h.rh_seq = rnd64();
	memcpy(w, &h, sizeof(w));
	for (int i = 0; i < 4 && off / 8 + (size_t)i < size / 8; i++)
		atomic_store(&data[off / 8 + (size_t)i], w[i]);
}

/* A private copy of a new segment between two PROT_NONE pages, at
 * *region (size + 2 pages long). */
static struct tao_shm *
guarded_segment(const struct tao_shm_params *p, unsigned char **regionp)
{
	size_t size = tao__shm_size(p), page = (size_t)getpagesize();
	struct tao_shm *made = tao__shm_create(p), *shm;
	unsigned char *region;

	if (made == NULL || size % page != 0)
		bail("segment");
	region = mmap(NULL, size + 2 * page, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED)
		bail("mmap");
	memcpy(region + page, made->sh_base, size);
	tao__shm_destroy(made);
	if (mprotect(region, page, PROT_NONE) == -1 ||
	    mprotect(region + page + size, page, PROT_NONE) == -1)
		bail("mprotect");
	if ((shm = tao__shm_attach(region + page, size)) == NULL)
		bail("tao__shm_attach");
	*regionp = region;
	return shm;
}

static void
test_garbage_ring(void)
{
	struct tao_shm_params p = { 3, 8, 1u << 16 };	/* 64 KiB rings */
	size_t size = tao__shm_size(&p), page = (size_t)getpagesize(), i;
	unsigned char *region;
	struct tao_shm *shm = guarded_segment(&p, &region);
	struct tao_ring_cursor cur;
	struct tao_ring_ctl *ctl;
	_Atomic uint64_t *data;
	struct seen s = { 0, 0, 0 };
	double worst = 0, t0, took;
	int rounds = 3000, crashed = 0;
	unsigned ring = p.nislots - 1;		/* last: next to the guard */

	ctl = tao__shm_ringctl(shm, ring);
	data = tao__shm_ringdata(shm, ring);
	s.max_len = tao__ring_max_payload(shm);
	srandom(142);
	for (int r = 0; r < rounds; r++) {
		uint64_t base = r % 3 == 0 ? rnd64() : (uint64_t)r * 4096;
		unsigned shape = (unsigned)random() % 4;

		memset(&cur, 0, sizeof(cur));

		/* data: garbage, or record-looking words at random places */
		for (i = 0; i < p.ring_size / 8; i++)
			atomic_store(&data[i], shape == 0 ? rnd64() :
			    random() % 8 == 0 ? tricky_word(p.ring_size) :
			    rnd64());
		cur.rc_pos = r % 5 == 0 ? rnd64() : base +
		    (uint64_t)(random() % 512) * 8;
		if (random() % 2 == 0)	/* a plausible record where we are */
			plausible(data, p.ring_size, cur.rc_pos);
		atomic_store(&ctl->rg_head, base + (rnd64() % (4 * p.ring_size))
		    - (r % 2 ? 0 : (uint64_t)random() % 64));
		atomic_store(&ctl->rg_claim, shape == 1 ? rnd64() :
		    atomic_load(&ctl->rg_head) + (uint64_t)random() % 128);
		atomic_store(&ctl->rg_head_seq, rnd64());
		atomic_store(&ctl->rg_gen, (uint32_t)random());
		cur.rc_seq = rnd64();
		t0 = now_ms();
		if (tao__ring_consume(shm, ring, &cur, on_rec, &s, 64) < -1)
			crashed++;
		(void)tao__ring_readable(shm, ring, &cur);
		took = now_ms() - t0;
		if (took > worst)
			worst = took;
		if (r % 10 == 0)	/* the master's repair of such a ring */
			tao__ring_reclaim(shm, ring);
	}
	diag("%d garbage rings: %u records delivered, worst call %.2f ms",
	    rounds, s.n, worst);
	is_int(crashed, 0, "%d consumes of garbage rings, last ring next to a "
	    "guard page: no crash, no read outside", rounds);
	is_int((int)s.bad, 0, "every record delivered is self-consistent "
	    "(%u delivered)", s.n);
	ok(worst < limit_ms(50), "each call bounded (worst %.2f ms)", worst);
	tao__shm_destroy(shm);
	munmap(region, size + 2 * page);
}

int
main(void)
{
	plan(0);
	test_poisoned_table();
	test_churning_table();
	test_poisoned_stats();
	test_pad_ring();
	test_garbage_ring();
	return done_testing();
}
