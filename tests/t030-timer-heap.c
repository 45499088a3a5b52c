/*
 * t030-timer-heap.c - the timer heap against a reference model, with a fake
 * clock: random add / cancel / cancel_owner / run sequences (callbacks that
 * cancel and add included) must fire the same timers in the same order;
 * 100 000 timers fire in exact (deadline, insertion) order; cancelled and
 * fired ids refuse cancel; owner lists cancel exactly their owner's timers.
 *
 * TAO_SEED=n replays a run (the seed is printed).
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tests/tap.h"
#include "core/timer.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t
rng(void)
{
	/* xorshift64*: small, seedable, good enough for test sequences */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static uint32_t
rng_below(uint32_t n)
{
	return (uint32_t)(rng() % n);
}

static void
rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

/* ---- the reference model ------------------------------------------------ */

enum action { ACT_NONE, ACT_CANCEL, ACT_CANCEL_SELF, ACT_ADD,
    ACT_CANCEL_OWNER };

#define NOWNERS		8
#define MAX_RECS	100000

struct owner {
	struct tao__timer_list	list;
};

struct rec {
	int64_t		id;		/* the real id */
	uint64_t	deadline, seq, period;
	int		owner;		/* -1: none */
	int		alive;
	int		in_batch;	/* collected, not yet run */
	enum action	action;
	int		target;		/* record or owner index */
	uint64_t	add_delta, add_period;
	int		add_owner;
};

/* What the model says one callback does. */
struct event {
	int	rec;
	int	cancel_result;
	int	new_rec;
};

static struct {
	struct tao_timers	*ts;
	struct owner		 owners[NOWNERS];
	struct rec		*recs;
	int			 nrecs;
	int			*live;		/* maybe-alive record indices */
	int			 nlive;
	uint64_t		 seq;		/* mirrors the heap's */
	uint64_t		 now;
	struct event		*expect;
	int			 nexpect, pos;
	int			 mismatch;
	int			 check_failed;
	long			 acted[ACT_CANCEL_OWNER + 1];
	long			 cancelled_in_batch;
} m;

static void *
owner_ptr(int i)
{
	return i < 0 ? NULL : &m.owners[i];
}

static struct tao__timer_list *
owner_list(int i)
{
	return i < 0 ? NULL : &m.owners[i].list;
}

static void model_cb(void *, void *);

/* Mostly one of the last records made: those are likely still pending. */
static int
recent_rec(void)
{
	uint32_t n = (uint32_t)m.nrecs;

	if (rng_below(4) == 0)
		return (int)rng_below(n);
	return (int)(n - 1 - rng_below(n < 32 ? n : 32));
}

/* A new record in the model; the caller makes the real timer. */
static int
model_new(uint64_t deadline, uint64_t period, int owner, int with_action)
{
	struct rec *r;
	int k;

	if (m.nrecs == MAX_RECS)
		bail("too many records");
	k = m.nrecs++;
	r = &m.recs[k];
	memset(r, 0, sizeof(*r));
	r->deadline = deadline;
	r->period = period;
	r->owner = owner;
	r->alive = 1;
	r->seq = m.seq++;
	r->action = ACT_NONE;
	if (with_action) {
		switch (rng_below(10)) {
		case 0:
			r->action = ACT_CANCEL;
			r->target = recent_rec();
			break;
		case 1:
			r->action = ACT_CANCEL_SELF;
			break;
		case 2:
		case 3:
			r->action = ACT_ADD;
			r->add_delta = rng_below(20);
			r->add_period = rng_below(3) ? 0 : 1 + rng_below(40);
			r->add_owner = (int)rng_below(NOWNERS + 1) - 1;
			break;
		case 4:
			r->action = ACT_CANCEL_OWNER;
			r->target = (int)rng_below(NOWNERS);
			break;
		default:
			break;
		}
		/* A periodic adder would add once per run without end. */
		if (r->action == ACT_ADD && period != 0)
			r->action = ACT_NONE;
	}
	m.live[m.nlive++] = k;
	return k;
}

static int64_t
real_add(int k)
{
	struct rec *r = &m.recs[k];

	r->id = tao__timers_add(m.ts, r->deadline, r->period, model_cb,
	    owner_ptr(r->owner), (void *)(intptr_t)k, owner_list(r->owner));
	return r->id;
}

static void
model_compact(void)
{
	int i, n = 0;

	for (i = 0; i < m.nlive; i++)
		if (m.recs[m.live[i]].alive)
			m.live[n++] = m.live[i];
	m.nlive = n;
}

static int
by_key(const void *a, const void *b)
{
	const struct rec *x = &m.recs[*(const int *)a];
	const struct rec *y = &m.recs[*(const int *)b];

	if (x->deadline != y->deadline)
		return x->deadline < y->deadline ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static uint64_t
model_next(uint64_t deadline, uint64_t period, uint64_t now)
{
	/* Written differently from the library on purpose: step and skip. */
	uint64_t next = deadline + period;

	while (next <= now)
		next += period;
	return next;
}

static void
model_action(struct event *e, uint64_t now)
{
	struct rec *r = &m.recs[e->rec], *t;
	int i;

	e->cancel_result = 0;
	e->new_rec = -1;
	switch (r->action) {
	case ACT_CANCEL:
	case ACT_CANCEL_SELF:
		t = &m.recs[r->action == ACT_CANCEL ? r->target : e->rec];
		e->cancel_result = t->alive ? 0 : -1;
		if (t->alive && t->in_batch)
			m.cancelled_in_batch++;
		t->alive = 0;
		break;
	case ACT_ADD:
		e->new_rec = model_new(now + r->add_delta, r->add_period,
		    r->add_owner, 0);
		break;
	case ACT_CANCEL_OWNER:
		for (i = 0; i < m.nlive; i++) {
			t = &m.recs[m.live[i]];
			if (t->owner == r->target)
				t->alive = 0;
		}
		break;
	case ACT_NONE:
		break;
	}
}

/* Fills m.expect with what tao__timers_run(now) must do. */
static void
model_run(uint64_t now)
{
	static int batch[MAX_RECS];
	struct rec *r;
	int i, n = 0;

	model_compact();
	for (i = 0; i < m.nlive; i++)
		if (m.recs[m.live[i]].deadline <= now)
			batch[n++] = m.live[i];
	qsort(batch, (size_t)n, sizeof(batch[0]), by_key);
	m.nexpect = 0;
	for (i = 0; i < n; i++)
		m.recs[batch[i]].in_batch = 1;
	for (i = 0; i < n; i++) {
		r = &m.recs[batch[i]];
		r->in_batch = 0;
		if (!r->alive)
			continue;
		m.expect[m.nexpect].rec = batch[i];
		if (r->period == 0)
			r->alive = 0;
		model_action(&m.expect[m.nexpect], now);
		m.nexpect++;
		if (r->period != 0 && r->alive) {
			r->deadline = model_next(r->deadline, r->period, now);
			r->seq = m.seq++;
		}
	}
}

static void
model_cb(void *owner, void *arg)
{
	int k = (int)(intptr_t)arg;
	struct rec *r = &m.recs[k], *t;
	struct event *e;
	int res;

	if (m.mismatch)
		return;
	if (m.pos >= m.nexpect || m.expect[m.pos].rec != k ||
	    owner != owner_ptr(r->owner)) {
		diag("callback %d: record %d, expected %d", m.pos, k,
		    m.pos < m.nexpect ? m.expect[m.pos].rec : -1);
		m.mismatch = 1;
		return;
	}
	e = &m.expect[m.pos++];
	m.acted[r->action]++;
	switch (r->action) {
	case ACT_CANCEL:
	case ACT_CANCEL_SELF:
		t = &m.recs[r->action == ACT_CANCEL ? r->target : k];
		res = tao__timers_cancel(m.ts, t->id, owner_ptr(t->owner));
		if (res != e->cancel_result) {
			diag("cancel in callback of %d: got %d want %d", k,
			    res, e->cancel_result);
			m.mismatch = 1;
		}
		break;
	case ACT_ADD:
		if (real_add(e->new_rec) <= 0)
			m.mismatch = 1;
		break;
	case ACT_CANCEL_OWNER:
		tao__timers_cancel_owner(m.ts, owner_list(r->target));
		break;
	case ACT_NONE:
		break;
	}
	if (tao__timers_check(m.ts) == -1)
		m.check_failed++;
}

static int
model_timeout(uint64_t now)
{
	uint64_t min = UINT64_MAX;
	int i, any = 0;
	struct rec *r;

	for (i = 0; i < m.nlive; i++) {
		r = &m.recs[m.live[i]];
		if (r->alive && (!any || r->deadline < min)) {
			min = r->deadline;
			any = 1;
		}
	}
	if (!any)
		return -1;
	if (min <= now)
		return 0;
	return min - now > INT_MAX ? INT_MAX : (int)(min - now);
}

static size_t
model_count(void)
{
	size_t n = 0;
	int i;

	for (i = 0; i < m.nlive; i++)
		n += m.recs[m.live[i]].alive;
	return n;
}

/* Cancel a recent timer, now and then as the wrong owner. */
static int
random_cancel(void)
{
	struct rec *r;
	int k, owner, want, got, wrong;

	k = recent_rec();
	r = &m.recs[k];
	wrong = rng_below(8) == 0;
	want = r->alive && !wrong ? 0 : -1;
	owner = wrong ? (r->owner == 0 ? 1 : 0) : r->owner;
	got = tao__timers_cancel(m.ts, r->id, owner_ptr(owner));
	if (got != want) {
		diag("cancel %d (alive %d, wrong owner %d): got %d",
		    k, r->alive, wrong, got);
		return -1;
	}
	if (got == 0)
		r->alive = 0;
	return 0;
}

/* Advance the clock and run what is due, as the model says. */
static int
random_run(void)
{
	int got;

	m.now += rng_below(30);
	model_run(m.now);
	m.pos = 0;
	got = tao__timers_run(m.ts, m.now);
	if (m.mismatch || got != m.nexpect || m.pos != m.nexpect) {
		diag("run at %llu: ran %d, model %d",
		    (unsigned long long)m.now, got, m.nexpect);
		return -1;
	}
	return 0;
}

/* One random operation; returns -1 on the first disagreement. */
static int
random_op(void)
{
	int k, owner, got;
	uint32_t dice = rng_below(100);

	if (dice < 45 || m.nrecs == 0) {
		owner = (int)rng_below(NOWNERS + 1) - 1;
		k = model_new(m.now + rng_below(200),
		    rng_below(4) ? 0 : 1 + rng_below(60), owner, 1);
		if (real_add(k) <= 0) {
			diag("add failed");
			return -1;
		}
	} else if (dice < 65) {
		if (random_cancel() == -1)
			return -1;
	} else if (dice < 68) {
		owner = (int)rng_below(NOWNERS);
		for (k = 0; k < m.nlive; k++)
			if (m.recs[m.live[k]].owner == owner)
				m.recs[m.live[k]].alive = 0;
		tao__timers_cancel_owner(m.ts, owner_list(owner));
	} else if (dice < 70) {
		/* Ids that never existed. */
		got = tao__timers_cancel(m.ts, (int64_t)rng(), NULL);
		got += tao__timers_cancel(m.ts, -(int64_t)rng_below(1000),
		    NULL);
		if (got != -2) {
			diag("cancel of a made-up id succeeded");
			return -1;
		}
	} else if (random_run() == -1)
		return -1;
	if (tao__timers_timeout(m.ts, m.now) != model_timeout(m.now) ||
	    tao__timers_count(m.ts) != model_count()) {
		diag("timeout %d/%d count %zu/%zu",
		    tao__timers_timeout(m.ts, m.now), model_timeout(m.now),
		    tao__timers_count(m.ts), model_count());
		return -1;
	}
	return 0;
}

static void
test_model(uint64_t seed)
{
	int s, i, bad_seed = 0, nseeds = 20, nops = 3000;
	long fired = 0;

	m.recs = calloc(MAX_RECS, sizeof(*m.recs));
	m.live = calloc(MAX_RECS, sizeof(*m.live));
	m.expect = calloc(MAX_RECS, sizeof(*m.expect));
	if (m.recs == NULL || m.live == NULL || m.expect == NULL)
		bail("calloc");
	for (s = 0; s < nseeds && !bad_seed; s++) {
		rng_seed(seed + (uint64_t)s);
		memset(m.owners, 0, sizeof(m.owners));
		m.ts = tao__timers_new();
		m.nrecs = m.nlive = 0;
		m.seq = 0;
		m.now = 1000;
		m.mismatch = m.check_failed = 0;
		for (i = 0; i < nops; i++) {
			if (random_op() == -1 || m.check_failed ||
			    tao__timers_check(m.ts) == -1) {
				diag("seed %llu op %d disagrees",
				    (unsigned long long)(seed + s), i);
				bad_seed = 1;
				break;
			}
			fired += m.nexpect;
			m.nexpect = 0;
		}
		tao__timers_free(m.ts);
	}
	diag("callbacks that cancelled %ld (one due in the same batch: "
	    "%ld), cancelled themselves %ld, added %ld, cancelled an owner %ld",
	    m.acted[ACT_CANCEL], m.cancelled_in_batch,
	    m.acted[ACT_CANCEL_SELF], m.acted[ACT_ADD],
	    m.acted[ACT_CANCEL_OWNER]);
	ok(!bad_seed, "%d random sequences of %d operations agree with the "
	    "model (%ld callbacks)", nseeds, nops, fired);
	free(m.recs);
	free(m.live);
	free(m.expect);
}

/* ---- 100 000 timers ------------------------------------------------------ */

#define BIG	100000

struct big {
	uint64_t	deadline;
	int64_t		id;
	int		fired;
	int		cancelled;
	int		owner;
};

static struct {
	struct big	*t;
	int		*order;
	int		 norder;
	uint64_t	 now;
	int		 early;
} b;

static void
big_cb(void *owner, void *arg)
{
	int k = (int)(intptr_t)arg;

	(void)owner;
	b.t[k].fired++;
	if (b.t[k].deadline > b.now)
		b.early++;
	b.order[b.norder++] = k;
}

/* Adds BIG timers with random deadlines (many ties) in index order. */
static struct tao_timers *
big_fill(struct owner *owners, int nowners)
{
	struct tao_timers *ts = tao__timers_new();
	int i;

	memset(b.t, 0, BIG * sizeof(*b.t));
	b.norder = b.early = 0;
	for (i = 0; i < BIG; i++) {
		b.t[i].deadline = 1 + rng_below(20000);
		b.t[i].owner = nowners ? (int)rng_below(nowners) : -1;
		b.t[i].id = tao__timers_add(ts, b.t[i].deadline, 0, big_cb,
		    nowners ? &owners[b.t[i].owner] : NULL,
		    (void *)(intptr_t)i,
		    nowners ? &owners[b.t[i].owner].list : NULL);
		if (b.t[i].id <= 0)
			bail("add failed");
	}
	return ts;
}

/* Runs the clock forward in uneven steps until nothing is left. */
static int
big_drain(struct tao_timers *ts)
{
	int checks_ok = 1, steps = 0;

	b.now = 0;
	while (tao__timers_timeout(ts, b.now) != -1) {
		b.now += 1 + rng_below(7);
		tao__timers_run(ts, b.now);
		if (++steps % 500 == 0 && tao__timers_check(ts) == -1)
			checks_ok = 0;
	}
	return checks_ok && tao__timers_check(ts) == 0;
}

/* Insertion index breaks ties, and big_fill adds in index order. */
static int
big_in_order(void)
{
	int i, x, y;

	for (i = 1; i < b.norder; i++) {
		x = b.order[i - 1];
		y = b.order[i];
		if (b.t[x].deadline > b.t[y].deadline ||
		    (b.t[x].deadline == b.t[y].deadline && x > y))
			return 0;
	}
	return 1;
}

static int
dead_ids_refused(struct tao_timers *ts, struct owner *owners)
{
	int i, refused = 0;

	for (i = 0; i < BIG; i++)
		refused += tao__timers_cancel(ts, b.t[i].id,
		    b.t[i].owner < 0 ? NULL : &owners[b.t[i].owner]) == -1;
	return refused;
}

/* All of them, in order. */
static void
big_all(void)
{
	struct tao_timers *ts;

	ts = big_fill(NULL, 0);
	is_int(tao__timers_count(ts), BIG, "%d timers added", BIG);
	ok(tao__timers_check(ts) == 0, "heap invariant holds after %d adds",
	    BIG);
	ok(big_drain(ts), "heap invariant holds while they fire");
	is_int(b.norder, BIG, "all %d fired", BIG);
	ok(big_in_order(), "in exact (deadline, insertion) order");
	is_int(b.early, 0, "none before its deadline");
	is_int(dead_ids_refused(ts, NULL), BIG, "fired ids refuse cancel");
	is_int(tao__timers_count(ts), 0, "count back to 0");
	tao__timers_free(ts);
}

/* Cancel half at random; the rest fire exactly once. */
static void
big_cancel_half(void)
{
	struct tao_timers *ts;
	int i, once, none, n, k;

	ts = big_fill(NULL, 0);
	for (n = 0; n < BIG / 2; ) {
		k = (int)rng_below(BIG);
		if (b.t[k].cancelled)
			continue;
		if (tao__timers_cancel(ts, b.t[k].id, NULL) == -1)
			break;
		b.t[k].cancelled = 1;
		n++;
		if (n % 5000 == 0 && tao__timers_check(ts) == -1)
			break;
	}
	is_int(n, BIG / 2, "cancelled %d of them", BIG / 2);
	is_int(tao__timers_count(ts), BIG - BIG / 2, "count is the rest");
	ok(big_drain(ts), "heap invariant holds");
	once = none = 0;
	for (i = 0; i < BIG; i++) {
		once += !b.t[i].cancelled && b.t[i].fired == 1;
		none += b.t[i].cancelled && b.t[i].fired == 0;
	}
	is_int(once, BIG - BIG / 2, "every remaining timer fired once");
	is_int(none, BIG / 2, "no cancelled timer fired");
	ok(big_in_order(), "still in (deadline, insertion) order");
	is_int(dead_ids_refused(ts, NULL), BIG,
	    "cancelled and fired ids refuse cancel");
	tao__timers_free(ts);
}

static void big_owners_fire(struct tao_timers *, struct owner *);

/* Owner lists: cancel the timers of half the owners. */
static void
big_owners(void)
{
	struct owner owners[64];
	struct tao_timers *ts;
	int i, n;
	size_t expect;

	memset(owners, 0, sizeof(owners));
	ts = big_fill(owners, 64);
	expect = BIG;
	for (i = 0; i < BIG; i++)
		if (b.t[i].owner % 2 == 0) {
			b.t[i].cancelled = 1;
			expect--;
		}
	for (i = 0; i < 64; i += 2)
		tao__timers_cancel_owner(ts, &owners[i].list);
	is_int(tao__timers_count(ts), expect,
	    "cancel_owner on 32 of 64 owners leaves the others' %zu", expect);
	n = 0;
	for (i = 0; i < 64; i++)
		n += (i % 2 == 0) != !LIST_EMPTY(&owners[i].list);
	is_int(n, 64, "cancelled owners' lists are empty, others are not");
	big_owners_fire(ts, owners);
}

/* An owner cannot cancel another owner's timer; the others' fire. */
static void
big_owners_fire(struct tao_timers *ts, struct owner *owners)
{
	int i, once, none, n, k;

	for (i = 0, n = 0, k = 0; i < BIG && k < 500; i++)
		if (!b.t[i].cancelled) {
			k++;
			n += tao__timers_cancel(ts, b.t[i].id,
			    &owners[(b.t[i].owner + 1) % 64]) == -1;
			n += tao__timers_cancel(ts, b.t[i].id, NULL) == -1;
		}
	is_int(n, 1000, "wrong owner (or NULL) cannot cancel (500 timers)");
	ok(big_drain(ts), "heap invariant holds");
	once = none = 0;
	for (i = 0; i < BIG; i++) {
		once += !b.t[i].cancelled && b.t[i].fired == 1;
		none += b.t[i].cancelled && b.t[i].fired == 0;
	}
	is_int(once + none, BIG,
	    "exactly the other owners' timers fired, once each");
	n = 0;
	for (i = 0; i < 64; i++)
		n += LIST_EMPTY(&owners[i].list);
	is_int(n, 64, "fired one-shots leave their owner lists");
	is_int(dead_ids_refused(ts, owners), BIG, "all ids refuse cancel now");
	tao__timers_free(ts);
}

static void
test_big(void)
{
	b.t = calloc(BIG, sizeof(*b.t));
	b.order = calloc(BIG, sizeof(*b.order));
	if (b.t == NULL || b.order == NULL)
		bail("calloc");
	big_all();
	big_cancel_half();
	big_owners();
	free(b.t);
	free(b.order);
}

/* ---- semantics, one by one --------------------------------------------- */

struct probe {
	struct tao_timers	*ts;
	int			 calls;
	int64_t			 self;
	int64_t			 other;
	int			 self_result;
	int			 other_result;
	int			 nested_result;
	int			 nested_errno;
	uint64_t		 add_at;
};

static void
probe_cb(void *owner, void *arg)
{
	struct probe *p = arg;

	(void)owner;
	p->calls++;
}

static void
cancel_self_cb(void *owner, void *arg)
{
	struct probe *p = arg;

	p->calls++;
	p->self_result = tao__timers_cancel(p->ts, p->self, owner);
}

static void
cancel_other_cb(void *owner, void *arg)
{
	struct probe *p = arg;

	(void)owner;
	p->calls++;
	p->other_result = tao__timers_cancel(p->ts, p->other, NULL);
}

static void
add_due_cb(void *owner, void *arg)
{
	struct probe *p = arg;

	(void)owner;
	p->calls++;
	if (p->calls == 1)
		tao__timers_add(p->ts, p->add_at, 0, add_due_cb, NULL, p,
		    NULL);
}

static void
nested_cb(void *owner, void *arg)
{
	struct probe *p = arg;

	(void)owner;
	p->calls++;
	p->nested_result = tao__timers_run(p->ts, 1000);
	p->nested_errno = errno;
}

/* Empty set, a NULL callback, never early, timeout arithmetic. */
static void
semantics_basics(struct tao_timers *ts)
{
	struct probe p = { .ts = ts };
	int64_t id;

	is_int(tao__timers_timeout(ts, 0), -1, "no timer: timeout -1");
	is_int(tao__timers_run(ts, 100), 0, "no timer: run 0");
	is_int(tao__timers_add(ts, 1, 0, NULL, NULL, NULL, NULL), -1,
	    "NULL callback refused");
	is_int(errno, EINVAL, "  with EINVAL");

	/* Never early, timeout arithmetic. */
	id = tao__timers_add(ts, 500, 0, probe_cb, NULL, &p, NULL);
	ok(id > 0, "id > 0");
	is_int(tao__timers_timeout(ts, 100), 400, "timeout 400 ms ahead");
	is_int(tao__timers_run(ts, 499), 0, "not run at 499");
	is_int(tao__timers_timeout(ts, 499), 1, "timeout 1");
	is_int(tao__timers_run(ts, 500), 1, "run at 500");
	is_int(tao__timers_timeout(ts, 10000), -1, "none left");
	is_int(tao__timers_cancel(ts, id, NULL), -1, "fired id refuses cancel");
	is_int(errno, ENOENT, "  with ENOENT");
	id = tao__timers_add(ts, UINT64_MAX - 5, 0, probe_cb, NULL, &p, NULL);
	is_int(tao__timers_timeout(ts, 0), INT_MAX, "far deadline: INT_MAX");
	is_int(tao__timers_timeout(ts, UINT64_MAX), 0, "late deadline: 0");
	is_int(tao__timers_cancel(ts, id, NULL), 0, "cancel");
	is_int(tao__timers_cancel(ts, id, NULL), -1, "second cancel refused");
}

/* Callbacks that cancel themselves, a later timer or add a due one. */
static void
semantics_callbacks(struct tao_timers *ts)
{
	struct probe p, q;
	struct tao__timer_list list = { 0 };

	/* A periodic timer cancels itself in its callback. */
	p = (struct probe){ .ts = ts };
	p.self = tao__timers_add(ts, 10, 10, cancel_self_cb, &list, &p, &list);
	is_int(tao__timers_run(ts, 10), 1, "periodic fires");
	is_int(p.self_result, 0, "  and cancels itself: 0");
	is_int(tao__timers_count(ts), 0, "  and is not re-armed");
	ok(LIST_EMPTY(&list), "  and left its owner's list");
	is_int(tao__timers_run(ts, 1000), 0, "  and does not fire again");

	/* A one-shot's id is dead inside its own callback. */
	p = (struct probe){ .ts = ts };
	p.self = tao__timers_add(ts, 2000, 0, cancel_self_cb, NULL, &p, NULL);
	tao__timers_run(ts, 2000);
	is_int(p.self_result, -1, "one-shot cancelling itself: -1 (fired)");

	/* An earlier callback of the same batch cancels a later one. */
	p = (struct probe){ .ts = ts };
	q = (struct probe){ .ts = ts };
	tao__timers_add(ts, 3000, 0, cancel_other_cb, NULL, &p, NULL);
	p.other = tao__timers_add(ts, 3000, 0, probe_cb, NULL, &q, NULL);
	is_int(tao__timers_run(ts, 3000), 1,
	    "timer cancelled by an earlier callback of its batch: not run");
	is_int(p.other_result, 0, "  cancel returned 0");
	is_int(q.calls, 0, "  its callback never ran");
	ok(tao__timers_check(ts) == 0, "  invariants hold");

	/* A timer added due now by a callback runs on the next pass. */
	p = (struct probe){ .ts = ts, .add_at = 4000 };
	tao__timers_add(ts, 4000, 0, add_due_cb, NULL, &p, NULL);
	is_int(tao__timers_run(ts, 4000), 1,
	    "callback adds a due timer: 1 run");
	is_int(tao__timers_timeout(ts, 4000), 0, "  the new one is due");
	is_int(tao__timers_run(ts, 4000), 1, "  and runs on the next pass");
}

/* A late periodic timer, a nested run, ids on a reused slot. */
static void
semantics_late_nested_reuse(struct tao_timers *ts)
{
	struct probe p;
	int64_t id, prev;
	int i, distinct;

	/* Falling behind: no burst, same phase. */
	p = (struct probe){ .ts = ts };
	id = tao__timers_add(ts, 5010, 10, probe_cb, NULL, &p, NULL);
	is_int(tao__timers_run(ts, 5055), 1, "periodic 55 ms late: fires once");
	is_int(tao__timers_timeout(ts, 5055), 5, "  next at 5060 (phase kept)");
	is_int(tao__timers_run(ts, 5059), 0, "  not at 5059");
	is_int(tao__timers_run(ts, 5060), 1, "  at 5060");
	is_int(tao__timers_run(ts, 5070), 1, "  at 5070 (exact multiple)");
	is_int(tao__timers_timeout(ts, 5070), 10, "  next at 5080");
	is_int(tao__timers_cancel(ts, id, NULL), 0, "  cancel between runs");
	is_int(tao__timers_run(ts, 6000), 0, "  stopped");

	/* tao__timers_run from a callback is refused. */
	p = (struct probe){ .ts = ts, .nested_result = 7 };
	tao__timers_add(ts, 7000, 0, nested_cb, NULL, &p, NULL);
	tao__timers_run(ts, 7000);
	ok(p.nested_result == -1 && p.nested_errno == EBUSY,
	    "nested run refused with EBUSY");

	/* Slot reuse keeps ids unique. */
	prev = 0;
	distinct = 1;
	for (i = 0; i < 100000; i++) {
		id = tao__timers_add(ts, 9000, 0, probe_cb, NULL, &p, NULL);
		if (id <= prev || tao__timers_cancel(ts, prev, NULL) != -1)
			distinct = 0;
		tao__timers_cancel(ts, id, NULL);
		prev = id;
	}
	ok(distinct, "100000 add/cancel on a reused slot: fresh ids, old "
	    "ones refused");
	is_int(tao__timers_count(ts), 0, "count 0");
	ok(tao__timers_check(ts) == 0, "invariants hold");
}

static void
test_semantics(void)
{
	struct tao_timers *ts = tao__timers_new();

	ok(ts != NULL, "tao__timers_new");
	semantics_basics(ts);
	semantics_callbacks(ts);
	semantics_late_nested_reuse(ts);
	tao__timers_free(ts);
	tao__timers_free(NULL);
}

/* Steady state: add/cancel cycles at a stable size allocate nothing. */
static void
add_cancel_round(struct tao_timers *ts)
{
	static int p;
	int64_t ids[1000];
	int i;

	for (i = 0; i < 1000; i++)
		ids[i] = tao__timers_add(ts, rng_below(1000), 0, probe_cb, NULL,
		    &p, NULL);
	for (i = 0; i < 1000; i++)
		tao__timers_cancel(ts, ids[i], NULL);
}

static void
test_no_alloc(void)
{
	struct tao_timers *ts = tao__timers_new();
	struct mallinfo2 before, after;
	int round;

	add_cancel_round(ts);		/* warm-up: the only allocations */
	before = mallinfo2();
	for (round = 0; round < 100; round++)
		add_cancel_round(ts);
	after = mallinfo2();
	if (before.uordblks == 0)
		diag("mallinfo2 reports nothing (ASan or valgrind "
		    "allocator): check is vacuous");
	ok(after.uordblks == before.uordblks && after.arena == before.arena,
	    "100 rounds of 1000 add+cancel allocate nothing after warm-up");
	tao__timers_free(ts);
}

int
main(void)
{
	const char *env = getenv("TAO_SEED");
	uint64_t seed;

	seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	plan(0);
	diag("seed %llu (TAO_SEED=%llu to replay)", (unsigned long long)seed,
	    (unsigned long long)seed);
	rng_seed(seed);
	test_semantics();
	test_no_alloc();
	test_big();
	test_model(seed);
	return done_testing();
}
