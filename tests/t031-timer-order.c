/*
 * t031-timer-order.c - the timer heap on the real CLOCK_MONOTONIC, driven by
 * a loop like the worker's (poll with tao__timers_timeout, then run):
 * timers are never early and at most 50 ms late, callbacks may cancel and
 * add, run_every keeps its period and its phase, and one that falls behind
 * fires once rather than a burst.
 *
 * TAO_TEST_TIMEOUT_SCALE=n (harness.h) multiplies the lateness tolerance and the time limits
 * for slow machines (default 1).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"
#include "core/clock.h"
#include "core/timer.h"

#define MS		1000000ULL	/* ns */
#define MAX_FIRES	64

static uint64_t tolerance_ns = 50 * MS;
static int scale = 1;
/*
 * The longest the kernel overslept a poll of the loop below: woke later
 * than the timeout the heap asked for.  That delay is the scheduler's
 * (a loaded machine), not the heap's, so a lateness check allows it on
 * top of tolerance_ns; a heap asking for too long a timeout, or running
 * a due timer late, is still caught.  Reset by each test.
 */
static uint64_t overslept_ns;

static uint64_t now_ns(void);

static uint64_t
allowed_ns(void)
{
	return tolerance_ns + overslept_ns;
}

/*
 * A run_every's count of firings depends on the loop waking in time:
 * a wake-up the kernel delays past a period costs a firing (the timer
 * fires once, not a burst).  Those scenarios measure again, up to TRIES
 * times, when the kernel overslept by more than 10 ms; a heap that
 * loses firings loses them on every try.
 */
#define TRIES	3

static int
stalled(int try)
{
	if (overslept_ns <= 10 * MS || try == TRIES)
		return 0;
	diag("try %d: the kernel overslept a poll by %.1f ms; measuring "
	    "again", try, (double)overslept_ns / MS);
	return 1;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * The worker loop in miniature: sleep until the next deadline, run what is
 * due, until *done, no timer is left, or limit_ms have passed (a bound,
 * not a sleep).
 */
static void
loop(struct tao_timers *ts, const int *done, int limit_ms)
{
	uint64_t end = tao__now_ms() + (uint64_t)limit_ms * scale, now;
	uint64_t before, woke;
	int timeout;

	while (!*done && tao__timers_count(ts) > 0 &&
	    (now = tao__now_ms()) < end) {
		timeout = tao__timers_timeout(ts, now);
		if (timeout == -1 || (uint64_t)timeout > end - now)
			timeout = (int)(end - now);
		before = now_ns();
		if (poll(NULL, 0, timeout) == -1 && errno != EINTR)
			bail("poll");
		woke = now_ns();
		if (woke - before > (uint64_t)timeout * MS + MS &&
		    woke - before - (uint64_t)timeout * MS > overslept_ns)
			overslept_ns = woke - before - (uint64_t)timeout * MS;
		tao__timers_run(ts, tao__now_ms());
	}
}

/* A timer whose firings are recorded. */
struct shot {
	struct tao_timers	*ts;
	int64_t			 id;
	uint64_t		 asked_ns;	/* added at + delay */
	uint64_t		 fired_ns[MAX_FIRES];
	int			 fires;
	int			 order;		/* rank among all firings */
	int			*rank;
	int			*done;
	int			 stop_after;	/* cancel self at this count */
	int			 cancel_result;
	struct shot		*victim;	/* cancel this one when fired */
	struct shot		*child;		/* add this one when fired */
	uint64_t		 child_delay_ms;
	uint64_t		 sleep_ms;	/* sleep this long ... */
	int			 sleep_at;	/* ... in this firing */
};

static void
shot_cb(void *owner, void *arg)
{
	struct shot *s = arg;
	struct timespec nap;

	(void)owner;
	if (s->fires < MAX_FIRES)
		s->fired_ns[s->fires] = now_ns();
	s->fires++;
	if (s->rank != NULL)
		s->order = (*s->rank)++;
	if (s->victim != NULL)
		s->cancel_result = tao__timers_cancel(s->ts, s->victim->id,
		    NULL);
	if (s->child != NULL) {
		s->child->asked_ns = now_ns() + s->child_delay_ms * MS;
		s->child->id = tao__timers_add(s->ts,
		    tao__now_ms_ceil() + s->child_delay_ms, 0, shot_cb, NULL,
		    s->child, NULL);
	}
	if (s->stop_after && s->fires == s->stop_after)
		s->cancel_result = tao__timers_cancel(s->ts, s->id, NULL);
	if (s->sleep_ms && s->fires == s->sleep_at) {
		nap.tv_sec = (time_t)(s->sleep_ms / 1000);
		nap.tv_nsec = (long)(s->sleep_ms % 1000) * 1000000L;
		while (nanosleep(&nap, &nap) == -1 && errno == EINTR)
			;
	}
	if (s->done != NULL)
		*s->done = 1;
}

/* Adds s to fire after delay_ms (every period_ms if not 0). */
static void
shot_add(struct tao_timers *ts, struct shot *s, uint64_t delay_ms,
    uint64_t period_ms)
{
	uint64_t base;

	s->ts = ts;
	s->asked_ns = now_ns() + delay_ms * MS;
	/* Ceiling base: the deadline is never before now + delay. */
	base = tao__now_ms_ceil();
	s->id = tao__timers_add(ts, base + delay_ms, period_ms, shot_cb, NULL,
	    s, NULL);
	if (s->id <= 0)
		bail("tao__timers_add");
}

static void
test_deadlines(struct tao_timers *ts)
{
	static const uint64_t delay[] = { 10, 200, 35, 50, 10, 150, 75, 100,
	    20, 200, 120, 180 };
	enum { N = sizeof(delay) / sizeof(delay[0]) };
	struct shot s[N];
	int i, rank = 0, done = 0, early = 0, late = 0, once = 0, ordered = 1;
	int64_t worst = 0, lateness;

	memset(s, 0, sizeof(s));
	for (i = 0; i < N; i++) {
		s[i].rank = &rank;
		shot_add(ts, &s[i], delay[i], 0);
	}
	loop(ts, &done, 1000);
	for (i = 0; i < N; i++) {
		once += s[i].fires == 1;
		if (s[i].fired_ns[0] < s[i].asked_ns)
			early++;
		lateness = (int64_t)(s[i].fired_ns[0] - s[i].asked_ns);
		if (lateness > worst)
			worst = lateness;
		if (lateness > (int64_t)allowed_ns())
			late++;
	}
	/* Rank must follow (delay, index): equal delays in insertion order. */
	for (i = 0; i < N; i++)
		for (int j = 0; j < N; j++)
			if ((delay[i] < delay[j] ||
			    (delay[i] == delay[j] && i < j)) &&
			    s[i].order > s[j].order)
				ordered = 0;
	is_int(once, N, "%d timers of 10-200 ms each fired once", N);
	is_int(early, 0, "none before its time");
	is_int(late, 0, "none more than %llu ms late (worst %.3f ms)",
	    (unsigned long long)(allowed_ns() / MS), (double)worst / MS);
	ok(ordered, "fired in (deadline, insertion) order, ties included");
}

static void
test_cancel_in_callback(struct tao_timers *ts)
{
	struct shot self = { 0 }, killer = { 0 }, victim = { 0 },
	    same_killer = { 0 }, same_victim = { 0 }, end = { 0 };
	int done = 0;

	self.stop_after = 3;
	self.cancel_result = 7;
	shot_add(ts, &self, 20, 20);
	killer.victim = &victim;
	killer.cancel_result = 7;
	shot_add(ts, &killer, 30, 0);
	shot_add(ts, &victim, 60, 0);
	/* Same deadline: both are collected in one pass. */
	same_killer.victim = &same_victim;
	same_killer.cancel_result = 7;
	shot_add(ts, &same_killer, 40, 0);
	same_victim.ts = ts;
	same_victim.asked_ns = same_killer.asked_ns;
	same_victim.id = tao__timers_add(ts, tao__now_ms_ceil() + 40, 0,
	    shot_cb, NULL, &same_victim, NULL);
	end.done = &done;
	shot_add(ts, &end, 200, 0);
	loop(ts, &done, 1000);

	is_int(self.fires, 3, "run_every that cancels itself in its 3rd "
	    "callback ran 3 times, never again");
	is_int(self.cancel_result, 0, "  its cancel returned 0");
	is_int(killer.cancel_result, 0, "a callback cancelled a later timer");
	is_int(victim.fires, 0, "  which never ran");
	is_int(same_killer.cancel_result, 0,
	    "a callback cancelled a timer of the same batch");
	is_int(same_victim.fires, 0, "  which never ran");
	is_int(tao__timers_count(ts), 0, "no timer left");
}

static void
test_add_in_callback(struct tao_timers *ts)
{
	struct shot parent = { 0 }, child = { 0 };
	int done = 0;
	int64_t lateness;

	child.done = &done;
	parent.child = &child;
	parent.child_delay_ms = 30;
	shot_add(ts, &parent, 20, 0);
	loop(ts, &done, 1000);
	is_int(child.fires, 1, "a callback added a 30 ms timer; it fired");
	ok(child.fired_ns[0] >= child.asked_ns &&
	    child.fired_ns[0] >= parent.fired_ns[0] + 30 * MS,
	    "  not before 30 ms after its parent");
	lateness = (int64_t)(child.fired_ns[0] - child.asked_ns);
	ok(lateness <= (int64_t)allowed_ns(), "  late by %.3f ms",
	    (double)lateness / MS);
}

/*
 * Firings from..to of a periodic timer are each within [due, due +
 * tolerance], firing `from` being due at from_due_ns and each next one a
 * period later.
 */
static int
on_grid(const struct shot *s, int from, int to, uint64_t from_due_ns,
    uint64_t period_ns)
{
	uint64_t due;
	int k;

	for (k = from; k <= to && k <= s->fires && k <= MAX_FIRES; k++) {
		due = from_due_ns + (uint64_t)(k - from) * period_ns;
		if (s->fired_ns[k - 1] < due ||
		    s->fired_ns[k - 1] > due + allowed_ns()) {
			diag("firing %d at %+.3f ms from its phase", k,
			    ((double)s->fired_ns[k - 1] - (double)due) / MS);
			return 0;
		}
	}
	return 1;
}

static void
test_every(struct tao_timers *ts)
{
	struct shot every = { 0 }, end = { 0 };
	uint64_t gap, min_gap = UINT64_MAX, start;
	int done = 0, k;

	for (int try = 1; try <= TRIES; try++) {
		memset(&every, 0, sizeof(every));
		memset(&end, 0, sizeof(end));
		done = 0;
		overslept_ns = 0;
		start = now_ns();
		shot_add(ts, &every, 50, 50);
		end.done = &done;
		shot_add(ts, &end, 520, 0);
		loop(ts, &done, 2000);
		tao__timers_cancel(ts, every.id, NULL);
		if (!stalled(try))
			break;
	}
	for (k = 1; k < every.fires && k < MAX_FIRES; k++) {
		gap = every.fired_ns[k] - every.fired_ns[k - 1];
		if (gap < min_gap)
			min_gap = gap;
	}
	ok(every.fires >= 9 && every.fires <= 11,
	    "run_every 50 ms over %.0f ms fired %d times (9-11)",
	    (double)(end.fired_ns[0] - start) / MS, every.fires);
	/*
	 * The k-th firing is never before start + k * 50 ms (phase kept, so
	 * no burst); the raw gap between two firings can only fall below
	 * 50 ms by the lateness of the earlier one.
	 */
	ok(on_grid(&every, 1, every.fires, every.asked_ns, 50 * MS),
	    "each firing k in [k * 50 ms, + %llu ms] from the start "
	    "(shortest gap %.3f ms)", (unsigned long long)(allowed_ns() / MS),
	    (double)min_gap / MS);
}

static double
off_grid(uint64_t fired_ns, uint64_t due_ns)
{
	return ((double)fired_ns - (double)due_ns) / MS;
}

static void
test_every_behind(struct tao_timers *ts)
{
	struct shot every = { 0 }, end = { 0 };
	uint64_t woke_ns, first;
	int done = 0, after_sleep = 0, k;

	for (int try = 1; try <= TRIES; try++) {
		memset(&every, 0, sizeof(every));
		memset(&end, 0, sizeof(end));
		done = 0;
		overslept_ns = 0;
		every.sleep_at = 2;
		every.sleep_ms = 300;
		shot_add(ts, &every, 50, 50);
		first = every.asked_ns;	/* firing k due at first + (k-1)*50 */
		end.done = &done;
		shot_add(ts, &end, 520, 0);
		loop(ts, &done, 3000);
		tao__timers_cancel(ts, every.id, NULL);
		if (!stalled(try))
			break;
	}

	/* Firing 2 slept 300 ms: it ended near first + 350 ms. */
	woke_ns = every.fired_ns[1] + 300 * MS;
	for (k = 2; k < every.fires && k < MAX_FIRES; k++)
		if (every.fired_ns[k] >= woke_ns &&
		    every.fired_ns[k] < first + 400 * MS)
			after_sleep++;
	is_int(after_sleep, 1, "after a 300 ms stall in its callback, "
	    "run_every 50 ms fired once before its next phase point");
	ok(every.fires >= 3 && every.fired_ns[2] - woke_ns <= allowed_ns(),
	    "  and that firing came at once (%.3f ms after the stall)",
	    every.fires >= 3 ?
	    ((double)every.fired_ns[2] - (double)woke_ns) / MS : -1.0);
	is_int(every.fires, 5, "  5 firings in 520 ms: 2 on time, 1 late, "
	    "then 2 on the 50 ms grid");
	/*
	 * Firing 3 (late, at about +350 ms) re-armed to the next grid point
	 * after it: firings 4 and 5 are due at first + 400 and + 450 ms.
	 */
	if (every.fires >= 5) {
		ok(on_grid(&every, 4, 5, first + 400 * MS, 50 * MS),
		    "  and kept its phase: %+.3f ms, %+.3f ms off the grid",
		    off_grid(every.fired_ns[3], first + 400 * MS),
		    off_grid(every.fired_ns[4], first + 450 * MS));
	} else
		ok(0, "  and kept its phase (too few firings)");
}

int
main(void)
{
	/* Each scenario gets its own heap: if a loaded machine makes one
	 * run out its time bound with timers still pending, those timers
	 * point into that scenario's finished stack frame and must die
	 * with its heap, not fire in the next scenario. */
	static void (*const scenario[])(struct tao_timers *) = {
		test_deadlines, test_cancel_in_callback, test_add_in_callback,
		test_every, test_every_behind,
	};
	struct tao_timers *ts;
	double factor = th_timeout_scale();
	int sound = 1;

	if (factor > 1)
		scale = (int)(factor + 0.999);
	tolerance_ns *= (uint64_t)scale;
	plan(0);
	for (size_t i = 0; i < sizeof(scenario) / sizeof(scenario[0]); i++) {
		if ((ts = tao__timers_new()) == NULL)
			bail("tao__timers_new");
		overslept_ns = 0;
		scenario[i](ts);
		if (overslept_ns > MS)
			diag("scenario %zu: the kernel overslept a poll by up to "
			    "%.1f ms; lateness checks allowed that on top",
			    i + 1, (double)overslept_ns / MS);
		if (tao__timers_check(ts) != 0 || tao__timers_count(ts) != 0)
			sound = 0;
		tao__timers_free(ts);
	}
	ok(sound, "no timer left, invariants hold");
	return done_testing();
}
