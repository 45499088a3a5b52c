/*
 * hist.c - the latency histograms of GET /metrics, and the persistent
 * base that keeps them monotonic.
 *
 * Per worker slot the master keeps, in its own memory, the histograms of
 * that slot's workers that have exited (crashed, killed, retired by a
 * reload), folded in by tao__master_hist_collect in the same step that
 * folds their counters (tao__master_collect_dead), before the islot's
 * block is zeroed.  A scrape shows base + every live worker of the slot,
 * summed per message type: each bucket of each term only grows, so every
 * _bucket, _sum and _count only grows.  Series are matched by type, not
 * by position, so generations need not agree on where a type sits; a
 * type the base has no room for goes to "other", like in the workers.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/buf.h"
#include "master/master.h"
#include "core/registry.h"
#include "shm/hist.h"
#include "shm/segment.h"

struct tao_master_hist {
	struct tao_hist_snapshot mh_handler[TAO_MAX_WORKERS][TAO_HIST_SERIES];
	struct tao_hist_snapshot mh_wqwait[TAO_MAX_WORKERS];
};

/* One slot's handler series, by type ("other" last). */
struct view {
	struct tao_hist_snapshot v_s[TAO_HIST_SERIES];
};

int
tao__master_hist_init(struct tao_master *m)
{
	if ((m->m_hist = calloc(1, sizeof(*m->m_hist))) == NULL)
		return -1;
	for (int i = 0; i < TAO_MAX_WORKERS; i++)
		m->m_hist->mh_handler[i][TAO_HIST_OTHER].hs_used = 1;
	return 0;
}

void
tao__master_hist_free(struct tao_master *m)
{
	free(m->m_hist);
	m->m_hist = NULL;
}

static void
publish(struct tao_hist_block *b, const struct tao_handler *h)
{
	struct tao_hist *s;

	if (!h->h_used || h->h_seq >= TAO_HIST_TYPES)
		return;
	s = &b->hb_handler[h->h_seq];
	atomic_store_explicit(&s->hi_type, h->h_type, memory_order_relaxed);
	atomic_store_explicit(&s->hi_used, 1, memory_order_relaxed);
}

/* Before an islot's worker is forked: its series get their types (the
 * registry is the same for every worker), so a scrape shows them from
 * the start, also while the worker is starting. */
void
tao__master_hist_prepare(struct tao_master *m, int islot)
{
	const struct tao_registry *r = &m->m_server->s_registry;
	struct tao_hist_block *b = tao__shm_hist(m->m_shm, (unsigned)islot);

	tao__hist_block_reset(b);
	for (size_t i = 0; i < TAO_REGISTRY_DIRECT; i++)
		publish(b, &r->r_direct[i]);
	for (size_t i = 0; i < r->r_nsorted; i++)
		publish(b, &r->r_sorted[i]);
}

/* Add one series (index i of a worker's block, or of a base) into v. */
static void
merge(struct tao_hist_snapshot *v, unsigned i,
    const struct tao_hist_snapshot *src)
{
	unsigned k = TAO_HIST_OTHER;

	if (!src->hs_used)
		return;
	if (i < TAO_HIST_TYPES) {
		for (unsigned j = 0; j < TAO_HIST_TYPES; j++) {
			if (v[j].hs_used && v[j].hs_type == src->hs_type) {
				k = j;
				break;
			}
			if (!v[j].hs_used && k == TAO_HIST_OTHER)
				k = j;	/* the first free one, if no match */
		}
		if (k != TAO_HIST_OTHER && !v[k].hs_used) {
			v[k].hs_used = 1;
			v[k].hs_type = src->hs_type;
		}
	}
	tao__hist_accumulate(&v[k], src);
}

/* A worker's block into handler series v and write-queue series wq. */
static void
merge_block(struct tao_hist_snapshot *v, struct tao_hist_snapshot *wq,
    const struct tao_hist_block *b)
{
	struct tao_hist_snapshot s;

	for (unsigned i = 0; i < TAO_HIST_SERIES; i++) {
		tao__hist_read(&b->hb_handler[i], &s);
		merge(v, i, &s);
	}
	tao__hist_read(&b->hb_wqwait, &s);
	tao__hist_accumulate(wq, &s);
}

void
tao__master_hist_collect(struct tao_master *m, const struct tao_proc *p)
{
	if (m->m_hist == NULL || p->p_slot < 0 || p->p_slot >= TAO_MAX_WORKERS)
		return;
	merge_block(m->m_hist->mh_handler[p->p_slot],
	    &m->m_hist->mh_wqwait[p->p_slot],
	    tao__shm_hist(m->m_shm, (unsigned)p->p_islot));
}

static void
slot_view(struct tao_master *m, int slot, struct view *v,
    struct tao_hist_snapshot *wq);

int
tao__master_hist_slot(struct tao_master *m, int slot,
    struct tao_hist_snapshot *v, struct tao_hist_snapshot *wq)
{
	struct view view;

	if (m->m_hist == NULL || slot < 0 || slot >= TAO_MAX_WORKERS)
		return -1;
	slot_view(m, slot, &view, wq);
	memcpy(v, view.v_s, sizeof(view.v_s));
	return 0;
}

void
tao__master_hist_add(struct tao_master *m, int slot, int other,
    const struct tao_hist_snapshot *src)
{
	if (m->m_hist == NULL || slot < 0 || slot >= TAO_MAX_WORKERS)
		return;
	if (other < 0)
		tao__hist_accumulate(&m->m_hist->mh_wqwait[slot], src);
	else
		merge(m->m_hist->mh_handler[slot], other ? TAO_HIST_OTHER : 0,
		    src);
}

static void
slot_view(struct tao_master *m, int slot, struct view *v,
    struct tao_hist_snapshot *wq)
{
	struct tao_proc *p;

	memset(v, 0, sizeof(*v));
	v->v_s[TAO_HIST_OTHER].hs_used = 1;
	*wq = m->m_hist->mh_wqwait[slot];
	for (unsigned i = 0; i < TAO_HIST_SERIES; i++)
		merge(v->v_s, i, &m->m_hist->mh_handler[slot][i]);
	LIST_FOREACH(p, &m->m_procs, p_entry)
		if (p->p_slot == slot)
			merge_block(v->v_s, wq, tao__shm_hist(m->m_shm,
			    (unsigned)p->p_islot));
}

/* Microseconds as exact decimal seconds: 1 -> 0.000001, 2^20 ->
 * 1.048576. */
static void
seconds_us(char *buf, size_t len, uint64_t us)
{
	size_t n;

	n = (size_t)snprintf(buf, len, "%" PRIu64 ".%06" PRIu64, us / 1000000,
	    us % 1000000);
	while (n > 2 && n < len && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 1 && n < len && buf[n - 1] == '.')
		buf[n - 1] = '\0';
}

static void
series(struct tao_buf *b, const char *name, const char *labels,
    const struct tao_hist_snapshot *s)
{
	uint64_t cum = 0;
	char le[32];

	for (unsigned i = 0; i < TAO_HIST_FINITE; i++) {
		cum += s->hs_bucket[i];
		seconds_us(le, sizeof(le), tao__hist_bound_us(i));
		tao__buf_printf(b, "tao_%s_bucket{%s,le=\"%s\"} %" PRIu64 "\n",
		    name, labels, le, cum);
	}
	cum += s->hs_bucket[TAO_HIST_FINITE];
	tao__buf_printf(b, "tao_%s_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n"
	    "tao_%s_sum{%s} %" PRIu64 ".%09" PRIu64 "\n"
	    "tao_%s_count{%s} %" PRIu64 "\n", name, labels, cum, name, labels,
	    s->hs_sum_ns / 1000000000, s->hs_sum_ns % 1000000000, name, labels,
	    cum);
}

static int
by_type(const void *a, const void *b)
{
	const struct tao_hist_snapshot *x = a, *y = b;

	return (x->hs_type > y->hs_type) - (x->hs_type < y->hs_type);
}

static void
slot_series(struct tao_buf *b, int slot, struct view *v)
{
	char labels[64];
	unsigned n = 0;

	/* Used series first, by type; "other" stays last. */
	for (unsigned i = 0; i < TAO_HIST_TYPES; i++)
		if (v->v_s[i].hs_used)
			v->v_s[n++] = v->v_s[i];
	qsort(v->v_s, n, sizeof(v->v_s[0]), by_type);
	for (unsigned i = 0; i < n; i++) {
		snprintf(labels, sizeof(labels), "worker=\"%d\",type=\"%" PRId32
		    "\"", slot, v->v_s[i].hs_type);
		series(b, "handler_seconds", labels, &v->v_s[i]);
	}
	snprintf(labels, sizeof(labels), "worker=\"%d\",type=\"other\"", slot);
	series(b, "handler_seconds", labels, &v->v_s[TAO_HIST_OTHER]);
}

void
tao__master_prom_hist(struct tao_master *m, struct tao_buf *b, int nslots)
{
	struct tao_hist_snapshot wq[TAO_MAX_WORKERS];
	struct view v;
	char labels[32];

	if (m->m_hist == NULL)
		return;
	tao__buf_printf(b, "# HELP tao_handler_seconds Time from a frame's "
	    "dispatch to its handler's return, by message type (\"other\": "
	    "types past the first %d registered, and on_message).\n"
	    "# TYPE tao_handler_seconds histogram\n", TAO_HIST_TYPES);
	for (int i = 0; i < nslots; i++) {
		slot_view(m, i, &v, &wq[i]);
		slot_series(b, i, &v);
	}
	tao__buf_printf(b, "# HELP tao_write_queue_wait_seconds Time from a "
	    "message being queued to its last byte written.\n"
	    "# TYPE tao_write_queue_wait_seconds histogram\n");
	for (int i = 0; i < nslots; i++) {
		snprintf(labels, sizeof(labels), "worker=\"%d\"", i);
		series(b, "write_queue_wait_seconds", labels, &wq[i]);
	}
}
