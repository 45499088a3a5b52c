/*
 * t020-shm-segment - shm/segment.c and shm/stats.c: parameter checks, the
 * layout (alignment, no overlap, inside the mapping), header validation,
 * netids unique across 4 processes, the global connection limit exact with
 * 4 processes racing, islot reclaim (also after a SIGKILLed holder), the
 * stats block helpers.
 */
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shm/segment.h"
#include "shm/iplimit.h"
#include "shm/stats.h"
#include "tap.h"
#include "lib/kids.h"


/* ---- parameters and layout ---- */

static void
test_params(void)
{
	struct tao_shm_params p = { 2, 100, 0 };

	ok(tao__shm_size(&p) > 2 * TAO_SHM_RING_DEFAULT,
	    "ring_size 0 means the 4 MiB default");
	p.nislots = 0;
	errno = 0;
	ok(tao__shm_size(&p) == 0 && errno == EINVAL, "0 islots refused");
	p.nislots = TAO_SHM_MAX_ISLOTS + 1;
	ok(tao__shm_create(&p) == NULL && errno == EINVAL,
	    "too many islots refused");
	p.nislots = 2;
	p.max_connections = 0;
	ok(tao__shm_size(&p) == 0, "max_connections 0 refused");
	p.max_connections = 10;
	p.ring_size = 3 * 4096;
	ok(tao__shm_size(&p) == 0, "ring size not a power of two refused");
	p.ring_size = 2048;
	ok(tao__shm_size(&p) == 0, "ring size below the minimum refused");
}

static int
inside(const struct tao_shm *shm, const void *p, size_t len)
{
	const unsigned char *c = p;

	return c >= shm->sh_base && c + len <= shm->sh_base + shm->sh_size;
}

static void
test_layout(void)
{
	struct tao_shm_params p = { 6, 100, 65536 };
	struct tao_shm *shm = tao__shm_create(&p);
	struct tao_shm_hdr *h;
	int good = 1;
	unsigned i;

	if (shm == NULL)
		bail("tao__shm_create");
	h = tao__shm_hdr(shm);
	ok(h->h_magic == TAO_SHM_MAGIC && h->h_version == TAO_SHM_VERSION,
	    "header: magic and version");
	is_int(h->h_total_size, tao__shm_size(&p), "header: total size");
	is_int(shm->sh_size, h->h_total_size, "handle: mapped size");
	ok(h->h_nislots == 6 && h->h_max_connections == 100 &&
	    h->h_ring_size == 65536, "header: parameters");
	ok(h->h_stats_off % TAO_SHM_PAGE == 0 &&
	    h->h_table_off % TAO_SHM_PAGE == 0 &&
	    h->h_ringctl_off % TAO_SHM_PAGE == 0 &&
	    h->h_ringdata_off % TAO_SHM_PAGE == 0, "sections page-aligned");
	ok(h->h_stats_off >= sizeof(*h) &&
	    h->h_table_off >= h->h_stats_off + 6 * sizeof(struct tao_stats_block) &&
	    h->h_ringctl_off >= h->h_table_off + 6 * h->h_table_part_size &&
	    h->h_iplimit_off >= h->h_ringctl_off + 6 * sizeof(struct tao_ring_ctl) &&
	    h->h_iplimit_off % TAO_SHM_PAGE == 0 &&
	    h->h_hist_off >= h->h_iplimit_off + tao__iplimit_size(6, 100) &&
	    h->h_hist_off % TAO_SHM_PAGE == 0 &&
	    h->h_ringdata_off >= h->h_hist_off + 6 * sizeof(struct tao_hist_block) &&
	    h->h_ringdata_off + 6 * 65536 == h->h_total_size,
	    "sections in order, not overlapping, rings end the segment");
	ok(h->h_table_part_size >= sizeof(struct tao_table_part) +
	    100 * sizeof(struct tao_shm_row), "a partition holds max_connections rows");
	ok(((uintptr_t)&h->h_netid - (uintptr_t)h) % TAO_SHM_LINE == 0 &&
	    ((uintptr_t)&h->h_conns - (uintptr_t)&h->h_netid) >= TAO_SHM_LINE,
	    "netid and connection count on lines of their own");
	for (i = 0; i < 6; i++) {
		struct tao_stats_block *b = tao__shm_stats(shm, i);

		if ((uintptr_t)b % TAO_SHM_LINE != 0 ||
		    (uintptr_t)&b->sb_pid - (uintptr_t)b !=
		    sizeof(*b) - TAO_SHM_LINE ||
		    !inside(shm, b, sizeof(*b)) ||
		    (uintptr_t)tao__shm_part(shm, i) % TAO_SHM_LINE != 0 ||
		    !inside(shm, tao__shm_row(shm, i, 99),
		    sizeof(struct tao_shm_row)) ||
		    (uintptr_t)tao__shm_ringdata(shm, i) % TAO_SHM_PAGE != 0 ||
		    !inside(shm, (const void *)tao__shm_ringdata(shm, i), 65536) ||
		    !inside(shm, tao__shm_ringctl(shm, i),
		    sizeof(struct tao_ring_ctl)))
			good = 0;
	}
	ok(good, "every per-islot block aligned and inside the mapping");
	ok((char *)(tao__shm_row(shm, 0, 99) + 1) <=
	    (char *)tao__shm_part(shm, 1), "partition 0 ends before 1");
	tao__shm_destroy(shm);
}

static void
test_attach_check(void)
{
	struct tao_shm_params p = { 3, 10, 8192 };
	struct tao_shm *shm = tao__shm_create(&p), *view;
	struct tao_shm_hdr *h;
	uint64_t save;

	if (shm == NULL)
		bail("tao__shm_create");
	h = tao__shm_hdr(shm);
	is_int(tao__shm_attach_check(shm->sh_base, shm->sh_size), 0,
	    "attach_check accepts a fresh segment");
	errno = 0;
	ok(tao__shm_attach_check(shm->sh_base, shm->sh_size - 4096) == -1 &&
	    errno == EINVAL, "size mismatch: EINVAL");
	h->h_magic ^= 1;
	ok(tao__shm_attach_check(shm->sh_base, shm->sh_size) == -1 &&
	    errno == EINVAL, "bad magic: EINVAL");
	h->h_magic ^= 1;
	h->h_version++;
	ok(tao__shm_attach_check(shm->sh_base, shm->sh_size) == -1 &&
	    errno == EPROTO, "other layout version: EPROTO");
	h->h_version--;
	save = h->h_table_off;
	h->h_table_off += 4096;
	ok(tao__shm_attach_check(shm->sh_base, shm->sh_size) == -1 &&
	    errno == EINVAL, "moved section offset: EINVAL");
	h->h_table_off = save;
	h->h_nislots = 4;
	ok(tao__shm_attach_check(shm->sh_base, shm->sh_size) == -1,
	    "islot count not matching the size: refused");
	h->h_nislots = 3;
	ok(tao__shm_attach_check(shm->sh_base, 64) == -1,
	    "mapping smaller than a header: refused");
	view = tao__shm_attach(shm->sh_base, shm->sh_size);
	ok(view != NULL && view->sh_nislots == 3 &&
	    view->sh_ringdata_off == shm->sh_ringdata_off &&
	    tao__shm_next_netid(view) == 1 && tao__shm_next_netid(shm) == 2,
	    "attach: a second handle on the same memory");
	tao__shm_destroy(view);		/* does not unmap: not its mapping */
	is_int(tao__shm_next_netid(shm), 3, "segment still mapped after it");
	tao__shm_destroy(shm);
}

/* ---- netids across processes ---- */

#define NETID_KIDS	4
#define NETIDS_EACH	10000

struct netid_job {
	struct tao_shm	*shm;
	uint64_t	*out;
};

static int
take_netids(void *arg)
{
	struct netid_job *j = arg;
	unsigned i;

	for (i = 0; i < NETIDS_EACH; i++)
		j->out[i] = tao__shm_next_netid(j->shm);
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
test_netids(void)
{
	struct tao_shm_params p = { NETID_KIDS, 10, 4096 };
	struct tao_shm *shm = tao__shm_create(&p);
	uint64_t *all, first;
	struct netid_job job[NETID_KIDS];
	pid_t pid[NETID_KIDS];
	unsigned i, k, rising = 1, unique = 1, done = 0;

	if (shm == NULL)
		bail("tao__shm_create");
	all = kids_shared_alloc(NETID_KIDS * NETIDS_EACH * sizeof(*all));
	first = tao__shm_next_netid(shm);
	is_int(first, 1, "the first netid is 1");
	for (k = 0; k < NETID_KIDS; k++) {
		job[k].shm = shm;
		job[k].out = all + k * NETIDS_EACH;
		pid[k] = kids_spawn(take_netids, &job[k]);
	}
	for (k = 0; k < NETID_KIDS; k++)
		done += kids_reap(pid[k], 5000) == 0;
	is_int(done, NETID_KIDS, "4 processes took 10 000 netids each");
	for (k = 0; k < NETID_KIDS; k++)
		for (i = 1; i < NETIDS_EACH; i++)
			if (all[k * NETIDS_EACH + i] <=
			    all[k * NETIDS_EACH + i - 1])
				rising = 0;
	ok(rising, "each process saw its netids rise");
	qsort(all, NETID_KIDS * NETIDS_EACH, sizeof(*all), cmp_u64);
	for (i = 0; i < NETID_KIDS * NETIDS_EACH; i++)
		if (all[i] != first + 1 + i)
			unique = 0;
	ok(unique, "40 000 netids: all distinct, exactly 2..40001");
	is_int(tao__shm_next_netid(shm), first + 1 + NETID_KIDS * NETIDS_EACH,
	    "the counter went on after them");
	munmap(all, NETID_KIDS * NETIDS_EACH * sizeof(*all));
	tao__shm_destroy(shm);
}

/* ---- the global connection limit ---- */

#define LIMIT		50
#define LIMIT_KIDS	4
#define LIMIT_SECONDS	0.3
#define LIMIT_HOLD_MAX	20	/* 4 x 20 > 50: they must collide */

struct limit_board {
	_Atomic int64_t		inside;		/* acquired, not yet released */
	_Atomic int64_t		peak;		/* of the shared count */
	_Atomic uint64_t	violations;
	_Atomic uint64_t	refused;
	_Atomic uint64_t	granted;
	_Atomic int		go;
};

struct limit_job {
	struct tao_shm		*shm;
	struct limit_board	*b;
	unsigned		 islot;
};

static int
race_limit(void *arg)
{
	struct limit_job *j = arg;
	struct limit_board *b = j->b;
	unsigned held = 0, i, rnd = j->islot * 2654435761u + 1;
	int64_t now, peak;
	double t0;

	while (!atomic_load(&b->go))
		;
	/* Biased to acquire, so every process sits near LIMIT_HOLD_MAX and
	 * the four together keep pressing on the limit, also while some of
	 * them are descheduled; timed, so they surely overlap. */
	t0 = kids_now_s();
	for (i = 0; (i & 1023) != 0 || kids_now_s() - t0 < LIMIT_SECONDS; i++) {
		rnd = rnd * 1103515245u + 12345u;
		if (held < LIMIT_HOLD_MAX &&
		    (held == 0 || (rnd >> 16) % 4 != 0)) {
			if (tao__shm_conn_acquire(j->shm, j->islot) == -1) {
				if (errno != EAGAIN)
					return 2;
				atomic_fetch_add(&b->refused, 1);
				continue;
			}
			atomic_fetch_add(&b->granted, 1);
			/* inside <= units really held <= the count */
			now = atomic_fetch_add(&b->inside, 1) + 1;
			if (now > LIMIT)
				atomic_fetch_add(&b->violations, 1);
			now = (int64_t)tao__shm_conn_count(j->shm);
			if (now > LIMIT)
				atomic_fetch_add(&b->violations, 1);
			peak = atomic_load(&b->peak);
			while (now > peak &&
			    !atomic_compare_exchange_weak(&b->peak, &peak, now))
				;
			held++;
		} else {
			atomic_fetch_sub(&b->inside, 1);
			tao__shm_conn_release(j->shm, j->islot);
			held--;
		}
	}
	while (held-- > 0) {
		atomic_fetch_sub(&b->inside, 1);
		tao__shm_conn_release(j->shm, j->islot);
	}
	return 0;
}

static void
test_limit_race(void)
{
	struct tao_shm_params p = { LIMIT_KIDS, LIMIT, 4096 };
	struct tao_shm *shm = tao__shm_create(&p);
	struct limit_board *b;
	struct limit_job job[LIMIT_KIDS];
	struct tao_stats_snapshot ss;
	pid_t pid[LIMIT_KIDS];
	unsigned k, done = 0, held = 0;

	if (shm == NULL)
		bail("tao__shm_create");
	b = kids_shared_alloc(sizeof(*b));
	for (k = 0; k < LIMIT_KIDS; k++) {
		job[k].shm = shm;
		job[k].b = b;
		job[k].islot = k;
		pid[k] = kids_spawn(race_limit, &job[k]);
	}
	atomic_store(&b->go, 1);
	for (k = 0; k < LIMIT_KIDS; k++)
		done += kids_reap(pid[k], 10000) == 0;
	is_int(done, LIMIT_KIDS, "4 processes raced acquire/release");
	is_int(atomic_load(&b->violations), 0,
	    "never more than max_connections held at once");
	is_int(atomic_load(&b->peak), LIMIT, "the limit was reached");
	ok(atomic_load(&b->refused) > 0, "and refusals happened (%llu of %llu)",
	    (unsigned long long)atomic_load(&b->refused),
	    (unsigned long long)(atomic_load(&b->refused) +
	    atomic_load(&b->granted)));
	is_int(tao__shm_conn_count(shm), 0, "count back to 0 after release");
	for (k = 0; k < LIMIT_KIDS; k++) {
		tao__stats_read(shm, k, &ss);
		held += (unsigned)ss.ss_held;
	}
	is_int(held, 0, "every islot's held count back to 0");
	munmap(b, sizeof(*b));
	tao__shm_destroy(shm);
}

static void
test_limit_exact(void)
{
	struct tao_shm_params p = { 2, 5, 4096 };
	struct tao_shm *shm = tao__shm_create(&p);
	int i, got = 0;

	if (shm == NULL)
		bail("tao__shm_create");
	for (i = 0; i < 5; i++)
		got += tao__shm_conn_acquire(shm, i % 2) == 0;
	is_int(got, 5, "5 acquisitions under a limit of 5");
	errno = 0;
	ok(tao__shm_conn_acquire(shm, 1) == -1 && errno == EAGAIN,
	    "the 6th: -1 EAGAIN");
	tao__shm_conn_release(shm, 0);
	is_int(tao__shm_conn_acquire(shm, 1), 0, "one released, one admitted");
	tao__shm_conn_release(shm, 0);
	tao__shm_conn_release(shm, 0);
	tao__shm_conn_release(shm, 0);	/* islot 0 held 3: one too many */
	is_int(tao__shm_conn_count(shm), 3,
	    "an unbalanced release does not lower the count");
	tao__shm_destroy(shm);
}

/* ---- reclaim ---- */

struct hold_job {
	struct tao_shm	*shm;
	unsigned	 islot, n;
};

static int
hold_and_die(void *arg)
{
	struct hold_job *j = arg;
	unsigned i;

	for (i = 0; i < j->n; i++)
		if (tao__shm_conn_acquire(j->shm, j->islot) == -1)
			return 2;
	tao__stats_add(tao__shm_stats(j->shm, j->islot), TAO_STAT_ACCEPTED,
	    j->n);
	raise(SIGKILL);
	return 3;
}

static void
test_reclaim(void)
{
	struct tao_shm_params p = { 3, 20, 4096 };
	struct tao_shm *shm = tao__shm_create(&p);
	struct tao_stats_snapshot ss;
	struct hold_job job;
	int i, rc;

	if (shm == NULL)
		bail("tao__shm_create");
	for (i = 0; i < 4; i++)
		tao__shm_conn_acquire(shm, 0);
	job.shm = shm;
	job.islot = 2;
	job.n = 7;
	rc = kids_reap(kids_spawn(hold_and_die, &job), 5000);
	is_int(rc, 128 + SIGKILL, "a holder of 7 connections was SIGKILLed");
	is_int(tao__shm_conn_count(shm), 11, "global count 4 + 7");
	tao__stats_read(shm, 2, &ss);
	ok(ss.ss_held == 7 && ss.ss_counter[TAO_STAT_ACCEPTED] == 7,
	    "its stats block shows what it held");
	tao__shm_islot_reclaim(shm, 2);
	is_int(tao__shm_conn_count(shm), 4, "reclaim gave its 7 back");
	tao__stats_read(shm, 2, &ss);
	ok(ss.ss_held == 0 && ss.ss_counter[TAO_STAT_ACCEPTED] == 0 &&
	    ss.ss_state == TAO_ISLOT_FREE, "and zeroed its stats block");
	tao__stats_read(shm, 0, &ss);
	is_int(ss.ss_held, 4, "another islot's share untouched");
	tao__shm_islot_reclaim(shm, 0);
	is_int(tao__shm_conn_count(shm), 0, "reclaiming it empties the count");
	for (i = 0; i < 20; i++)
		if (tao__shm_conn_acquire(shm, 1) == -1)
			break;
	is_int(i, 20, "the full limit is available again");
	tao__shm_destroy(shm);
}

/* ---- stats helpers ---- */

static void
test_stats(void)
{
	struct tao_shm_params p = { 2, 10, 4096 };
	struct tao_shm *shm = tao__shm_create(&p);
	struct tao_stats_block *b;
	struct tao_stats_snapshot ss, sum;
	unsigned i;
	int named = 1;

	if (shm == NULL)
		bail("tao__shm_create");
	b = tao__shm_stats(shm, 1);
	tao__stats_inc(b, TAO_STAT_ACCEPTED);
	tao__stats_add(b, TAO_STAT_BYTES_IN, 1000);
	tao__stats_add(b, TAO_STAT_ERRORS, 3);
	tao__stats_sub(b, TAO_STAT_ERRORS, 1);
	(void)tao__shm_conn_acquire(shm, 1);	/* the gauge is sb_held */
	(void)tao__shm_conn_acquire(shm, 1);
	tao__stats_sub(b, TAO_STAT_TIMEOUTS, 1);
	tao__stats_set(b, TAO_STAT_RING_DROPS, 42);
	tao__shm_islot_assign(shm, 1, 4321, 7, 3);
	tao__shm_islot_set_state(shm, 1, TAO_ISLOT_RUNNING);
	tao__stats_read(shm, 1, &ss);
	ok(ss.ss_counter[TAO_STAT_ACCEPTED] == 1 &&
	    ss.ss_counter[TAO_STAT_BYTES_IN] == 1000 &&
	    ss.ss_counter[TAO_STAT_ERRORS] == 2 &&
	    ss.ss_counter[TAO_STAT_CONNECTIONS] == 2 &&
	    ss.ss_counter[TAO_STAT_TIMEOUTS] == 0 &&
	    ss.ss_counter[TAO_STAT_RING_DROPS] == 42 &&
	    tao__stats_get(b, TAO_STAT_BYTES_IN) == 1000,
	    "inc, add, sub (floored at 0), set, get");
	ok(ss.ss_pid == 4321 && ss.ss_lslot == 7 && ss.ss_generation == 3 &&
	    ss.ss_state == TAO_ISLOT_RUNNING, "islot identity and state");
	memset(&sum, 0, sizeof(sum));
	tao__stats_accumulate(&sum, &ss);
	tao__stats_accumulate(&sum, &ss);
	is_int(sum.ss_counter[TAO_STAT_BYTES_IN], 2000, "accumulate sums");
	for (i = 0; i < TAO_STAT__COUNT; i++)
		if (tao__stats_name(i) == NULL)
			named = 0;
	ok(named && tao__stats_name(TAO_STAT__COUNT) == NULL,
	    "every counter has a name");
	is_str(tao__stats_name(TAO_STAT_RING_DROPS), "ring_drops",
	    "ring_drops name");
	is_str(tao__stats_state_name(TAO_ISLOT_DRAINING), "draining",
	    "state name");
	ok(tao__stats_is_gauge(TAO_STAT_CONNECTIONS) &&
	    !tao__stats_is_gauge(TAO_STAT_CLOSED), "connections is the gauge");
	tao__stats_read(shm, 0, &ss);
	is_int(ss.ss_counter[TAO_STAT_ACCEPTED], 0, "islot 0 untouched");
	tao__shm_destroy(shm);
}

int
main(void)
{
	atexit(kids_kill_all);
	plan(0);
	test_params();
	test_layout();
	test_attach_check();
	test_netids();
	test_limit_exact();
	test_limit_race();
	test_reclaim();
	test_stats();
	return done_testing();
}
