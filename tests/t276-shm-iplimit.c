/*
 * t276-shm-iplimit: the per-address table in shared memory
 * (shm/iplimit.h) on its own.
 *   - the limit, per address and family, IPv4 and IPv6 apart;
 *   - release and reclaim give units back, only their own;
 *   - 20 000 random acquire/release steps over a few colliding
 *     addresses match a plain model (linear probing's backward-shift
 *     deletion keeps every address findable);
 *   - two processes racing on one address never exceed the limit;
 *   - a process killed while holding the lock, with the counts
 *     scribbled on: the next locker gets EOWNERDEAD and rebuilds the
 *     counts from the owner records.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "shm/iplimit.h"
#include "shm/segment.h"

#define ISLOTS	3
#define ROWS	64

static struct tao_shm *shm;

static void
addr_of(int k, uint8_t a[16], uint8_t *fam)
{
	memset(a, 0, 16);
	*fam = k % 3 == 2 ? 6 : 4;
	a[0] = 10;
	a[3] = (uint8_t)k;
	if (*fam == 6)
		a[15] = (uint8_t)k;
}

static struct tao_iplimit_hdr *
hdr(void)
{
	return (struct tao_iplimit_hdr *)(shm->sh_base + shm->sh_iplimit_off);
}

static void
basics(void)
{
	uint8_t a[16] = { 192, 0, 2, 1 }, b[16] = { 192, 0, 2, 1 };

	ok(tao__iplimit_acquire(shm, 0, 0, 4, a, 2) == 0 &&
	    tao__iplimit_acquire(shm, 1, 0, 4, a, 2) == 0, "two units of 2");
	ok(tao__iplimit_acquire(shm, 2, 0, 4, a, 2) == -1 && errno == EAGAIN,
	    "a third: EAGAIN");
	ok(tao__iplimit_acquire(shm, 2, 0, 6, b, 2) == 0, "the same bytes as "
	    "IPv6 are another address");
	ok(tao__iplimit_acquire(shm, 2, 1, 4, a, 0) == 0 &&
	    tao__iplimit_count(shm, 4, a) == 3, "limit 0 takes one over "
	    "(a hand-over)");
	tao__iplimit_release(shm, 2, 1);
	tao__iplimit_release(shm, 2, 1);	/* twice: no effect */
	is_int(tao__iplimit_count(shm, 4, a), 2, "release gives one back, "
	    "once");
	tao__iplimit_reclaim(shm, 1);
	is_int(tao__iplimit_count(shm, 4, a), 1, "reclaim of islot 1 gives "
	    "back its unit only");
	ok(tao__iplimit_acquire(shm, 0, ROWS, 4, a, 2) == -1 &&
	    errno == EINVAL, "a row out of range: EINVAL");
	tao__iplimit_reclaim(shm, 0);
	tao__iplimit_reclaim(shm, 2);
	ok(tao__iplimit_count(shm, 4, a) == 0 && tao__iplimit_count(shm, 6, b)
	    == 0 && hdr()->il_used == 0, "all reclaimed: the table is empty");
}

static void
model(void)
{
	int held[ISLOTS][ROWS], count[40], bad = 0;
	uint8_t a[16], fam;

	memset(held, -1, sizeof(held));
	memset(count, 0, sizeof(count));
	srandom(276);
	for (int step = 0; step < 20000 && !bad; step++) {
		int i = (int)(random() % ISLOTS), r = (int)(random() % ROWS);
		int k = (int)(random() % 40);
		if (held[i][r] >= 0) {
			tao__iplimit_release(shm, (unsigned)i, (unsigned)r);
			count[held[i][r]]--;
			held[i][r] = -1;
			continue;
		}
		addr_of(k, a, &fam);
		int rc = tao__iplimit_acquire(shm, (unsigned)i, (unsigned)r,
		    fam, a, 4);
		if ((rc == 0) != (count[k] < 4))
			bad = 1;
		if (rc == 0) {
			held[i][r] = k;
			count[k]++;
		}
		for (int j = 0; j < 40 && !bad; j++) {
			addr_of(j, a, &fam);
			bad = tao__iplimit_count(shm, fam, a) != (uint32_t)count[j];
		}
	}
	ok(!bad, "20000 random steps match the model");
	for (int i = 0; i < ISLOTS; i++)
		tao__iplimit_reclaim(shm, (unsigned)i);
	is_int(hdr()->il_used, 0, "reclaim empties it");
}

/* Two processes, 200 rounds each of acquire+release on one address with
 * limit 1: a unit is never held twice. */
static void
race(void)
{
	uint8_t a[16] = { 203, 0, 113, 5 };
	uint32_t *both = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t kid;
	int st, over = 0;

	if (both == MAP_FAILED)
		bail("mmap");
	*both = 0;
	if ((kid = fork()) == 0) {
		for (int n = 0; n < 20000; n++)
			if (tao__iplimit_acquire(shm, 1, 5, 4, a, 1) == 0) {
				if (__atomic_add_fetch(both, 1, __ATOMIC_SEQ_CST)
				    > 1)
					_exit(3);
				__atomic_sub_fetch(both, 1, __ATOMIC_SEQ_CST);
				tao__iplimit_release(shm, 1, 5);
			}
		_exit(0);
	}
	for (int n = 0; n < 20000; n++)
		if (tao__iplimit_acquire(shm, 0, 5, 4, a, 1) == 0) {
			if (__atomic_add_fetch(both, 1, __ATOMIC_SEQ_CST) > 1)
				over = 1;
			__atomic_sub_fetch(both, 1, __ATOMIC_SEQ_CST);
			tao__iplimit_release(shm, 0, 5);
		}
	ok(waitpid(kid, &st, 0) == kid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0 && !over, "two processes racing: never two "
	    "units of limit 1");
	is_int(tao__iplimit_count(shm, 4, a), 0, "  and none left");
}

static void
owner_died(void)
{
	uint8_t a[16] = { 198, 51, 100, 1 }, b[16] = { 198, 51, 100, 2 };
	pid_t kid;
	int st;

	ok(tao__iplimit_acquire(shm, 0, 1, 4, a, 3) == 0 &&
	    tao__iplimit_acquire(shm, 1, 1, 4, a, 3) == 0 &&
	    tao__iplimit_acquire(shm, 1, 2, 4, b, 3) == 0, "three units held");
	if ((kid = fork()) == 0) {
		/* Take the lock and die in the middle of "changing" it. */
		pthread_mutex_lock(&hdr()->il_lock);
		struct tao_iplimit_slot *s = (void *)((char *)hdr() + 4096);
		for (uint32_t i = 0; i < hdr()->il_nslots; i++)
			if (s[i].s_count > 0)
				s[i].s_count = 77;
		kill(getpid(), SIGKILL);
	}
	waitpid(kid, &st, 0);
	ok(WIFSIGNALED(st), "a holder of the lock was killed");
	is_int(tao__iplimit_count(shm, 4, a), 2, "the next locker rebuilt "
	    "198.51.100.1: 2");
	is_int(tao__iplimit_count(shm, 4, b), 1, "  198.51.100.2: 1");
	is_int(tao__iplimit_repairs(shm), 1, "  one repair");
	ok(tao__iplimit_acquire(shm, 2, 1, 4, a, 3) == 0 &&
	    tao__iplimit_acquire(shm, 2, 2, 4, a, 3) == -1, "  the limit "
	    "works after it");
}

int
main(void)
{
	struct tao_shm_params p = { ISLOTS, ROWS, 0 };

	plan(18);
	if ((shm = tao__shm_create(&p)) == NULL)
		bail("shm");
	/* Rows must look used for reclaim and rebuild to look at them. */
	for (unsigned i = 0; i < ISLOTS; i++)
		atomic_store(&tao__shm_part(shm, i)->tp_hwm, ROWS);
	basics();
	model();
	race();
	owner_died();
	tao__shm_destroy(shm);
	return done_testing();
}
