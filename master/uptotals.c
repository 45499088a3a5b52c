/*
 * uptotals.c - a binary upgrade carries the counters and histograms of
 * GET /metrics and taoctl stats from the old master to the new one, so
 * that no _total, _bucket, _sum or _count goes backwards (issue 15).
 * Records and their checks: proto/channel.h.
 *
 *	old master                              new master
 *	UP_TOTALS .. records .. TOTALS_END -->  each total above the last one
 *	UP_COMMIT (the same channel, after) -->  taken for its key: the excess
 *	old workers hand over and exit,          into the persistent base
 *	  folded into the old base               (m_dead_totals, sl_restarts,
 *	every old worker gone: the batch   -->   hist.c), so it is counted
 *	  again, final; exit once flushed        once; then polls metrics
 *
 * The first batch is what a scrape of the old master shows at the commit
 * (its base plus its live workers), queued before UP_COMMIT: the new
 * master has applied it before it answers a scrape.  Old workers keep
 * serving until they hand over, so their last counts are only known when
 * they exit: the second batch has them, and a value of it can only be
 * higher.  The receiver keeps the last total per key (one fixed table,
 * allocated once), not the records, so a repeated or hostile batch can
 * neither allocate nor count anything twice.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "master/master.h"
#include "proto/channel.h"
#include "shm/hist-t.h"
#include "shm/stats.h"
#include "core/log.h"

#define NCOUNTERS	(TAO_STAT__COUNT + 1)	/* and "restarts" */

struct tao_up_recv {
	int		 r_batch;	/* in a batch of a known version */
	uint32_t	 r_left;	/* records it may still bring */
	uint64_t	 r_taken, r_ignored;
	uint64_t	 r_counter[TAO_MAX_WORKERS][NCOUNTERS];
	struct tao_hist_snapshot r_handler[TAO_MAX_WORKERS][TAO_HIST_SERIES];
	struct tao_hist_snapshot r_wqwait[TAO_MAX_WORKERS];
};

/* ---- the old master: one batch ---------------------------------------- */

/* Every record a batch can hold: each counter and, per series, each
 * bucket and the sum, for every slot. */
#define BATCH_MAX	(TAO_MAX_WORKERS * (NCOUNTERS + (TAO_HIST_SERIES + 1) * \
			    (TAO_HIST_BUCKETS + 1)))

/* The records are gathered first, from one reading of each slot, then
 * sent: the count announced is the count sent even though the live
 * workers' values move meanwhile. */
struct batch {
	struct tao_chan_msg	*b_rec;
	uint32_t		 b_n;
};

static void
emit(struct batch *b, uint32_t type, int slot, uint64_t value,
    const void *key, size_t keylen)
{
	struct tao_chan_msg *msg;

	if (value == 0 || b->b_n == BATCH_MAX)
		return;
	msg = &b->b_rec[b->b_n++];
	msg->cm_type = type;
	msg->cm_arg = (uint32_t)slot;
	msg->cm_value = value;
	memcpy(msg->cm_peer, key, keylen);
}

static void
emit_series(struct batch *b, int slot, int kind,
    const struct tao_hist_snapshot *s)
{
	uint8_t key[8] = { 0 };
	int32_t type = kind == TAO_UP_HIST_TYPED ? s->hs_type : 0;

	memcpy(key, &type, sizeof(type));
	key[4] = (uint8_t)kind;
	for (unsigned i = 0; i < TAO_HIST_BUCKETS; i++) {
		key[5] = i < TAO_HIST_FINITE ? (uint8_t)i : TAO_UP_HIST_INF;
		emit(b, TAO_CHAN_UP_HIST, slot, s->hs_bucket[i], key, 6);
	}
	key[5] = TAO_UP_HIST_SUM;
	emit(b, TAO_CHAN_UP_HIST, slot, s->hs_sum_ns, key, 6);
}

static void
emit_slot(struct tao_master *m, struct batch *b, int slot)
{
	struct tao_hist_snapshot v[TAO_HIST_SERIES], wq;
	struct tao_stats_snapshot snap;
	const char *name;

	tao__master_slot_counters(m, slot, &snap);
	for (unsigned s = 0; s < TAO_STAT__COUNT; s++)
		if (!tao__stats_is_gauge(s) && (name = tao__stats_name(s)) !=
		    NULL && strlen(name) < TAO_CHAN_PEER_LEN)
			emit(b, TAO_CHAN_UP_COUNTER, slot, snap.ss_counter[s],
			    name, strlen(name));
	emit(b, TAO_CHAN_UP_COUNTER, slot, m->m_slots[slot].sl_restarts,
	    "restarts", 8);
	if (tao__master_hist_slot(m, slot, v, &wq) == -1)
		return;
	for (unsigned i = 0; i < TAO_HIST_TYPES; i++)
		if (v[i].hs_used)
			emit_series(b, slot, TAO_UP_HIST_TYPED, &v[i]);
	emit_series(b, slot, TAO_UP_HIST_OTHER, &v[TAO_HIST_OTHER]);
	emit_series(b, slot, TAO_UP_HIST_WQWAIT, &wq);
}

void
tao__uptotals_send(struct tao_master *m, struct tao_proc *peer)
{
	struct batch b = { NULL, 0 };
	int n = tao__master_slots_shown(m), rc;

	_Static_assert(BATCH_MAX <= TAO_UP_TOTALS_MAX, "a batch fits");
	if (peer == NULL)
		return;
	if ((b.b_rec = calloc(BATCH_MAX, sizeof(*b.b_rec))) == NULL) {
		log_warn("upgrade: totals for the new master");
		return;
	}
	for (int i = 0; i < n; i++)
		emit_slot(m, &b, i);
	rc = tao__relay_send(m, peer, TAO_CHAN_UP_TOTALS, TAO_UP_TOTALS_V,
	    b.b_n, -1);
	for (uint32_t i = 0; i < b.b_n && rc == 0; i++)
		rc = tao__relay_send_msg(m, peer, &b.b_rec[i], -1);
	if (rc == 0)
		rc = tao__relay_send(m, peer, TAO_CHAN_UP_TOTALS_END, 0, b.b_n,
		    -1);
	if (rc == -1)
		log_warn("upgrade: totals to the new master");
	free(b.b_rec);
}

/* ---- the new master: one record --------------------------------------- */

/* What the total is above the last one taken for its key; the key now
 * holds it. */
static uint64_t
excess(uint64_t *last, uint64_t total)
{
	uint64_t d = total > *last ? total - *last : 0;

	if (total > *last)
		*last = total;
	return d;
}

static int
take_counter(struct tao_master *m, struct tao_up_recv *r,
    const struct tao_chan_msg *msg)
{
	const char *name = (const char *)msg->cm_peer, *s;
	unsigned slot = msg->cm_arg;
	uint64_t d;

	if (memchr(msg->cm_peer, '\0', TAO_CHAN_PEER_LEN) == NULL)
		return -1;
	if (strcmp(name, "restarts") == 0) {
		d = excess(&r->r_counter[slot][TAO_STAT__COUNT], msg->cm_value);
		m->m_slots[slot].sl_restarts += (unsigned)d;
		return 0;
	}
	for (unsigned k = 0; k < TAO_STAT__COUNT; k++) {
		if ((s = tao__stats_name(k)) == NULL || tao__stats_is_gauge(k) ||
		    strcmp(s, name) != 0)
			continue;
		d = excess(&r->r_counter[slot][k], msg->cm_value);
		m->m_dead_totals[slot].ss_counter[k] += d;
		return 0;
	}
	return -1;
}

/* The series of r for a key: by type (the first free one for a new type;
 * none left: NULL, never "other", whose last totals are its own). */
static struct tao_hist_snapshot *
recv_series(struct tao_up_recv *r, unsigned slot, int kind, int32_t type)
{
	struct tao_hist_snapshot *v = r->r_handler[slot];

	if (kind == TAO_UP_HIST_WQWAIT)
		return &r->r_wqwait[slot];
	if (kind == TAO_UP_HIST_OTHER)
		return &v[TAO_HIST_OTHER];
	for (unsigned i = 0; i < TAO_HIST_TYPES; i++)
		if (v[i].hs_used && v[i].hs_type == type)
			return &v[i];
	for (unsigned i = 0; i < TAO_HIST_TYPES; i++)
		if (!v[i].hs_used) {
			v[i].hs_used = 1;
			v[i].hs_type = type;
			return &v[i];
		}
	return NULL;
}

static int
take_hist(struct tao_master *m, struct tao_up_recv *r,
    const struct tao_chan_msg *msg)
{
	const uint8_t *k = msg->cm_peer;
	struct tao_hist_snapshot *last, add;
	uint64_t *lf, *af;
	int32_t type;
	int kind = k[4];

	memcpy(&type, k, sizeof(type));
	for (unsigned i = 6; i < TAO_CHAN_PEER_LEN; i++)
		if (k[i] != 0)
			return -1;
	if (kind > TAO_UP_HIST_WQWAIT || (kind != TAO_UP_HIST_TYPED &&
	    type != 0) || (k[5] >= TAO_HIST_FINITE && k[5] != TAO_UP_HIST_INF &&
	    k[5] != TAO_UP_HIST_SUM) ||
	    (last = recv_series(r, msg->cm_arg, kind, type)) == NULL)
		return -1;
	memset(&add, 0, sizeof(add));
	add.hs_used = 1;
	add.hs_type = type;
	if (k[5] == TAO_UP_HIST_SUM) {
		lf = &last->hs_sum_ns;
		af = &add.hs_sum_ns;
	} else {
		unsigned i = k[5] == TAO_UP_HIST_INF ? TAO_HIST_FINITE : k[5];
		lf = &last->hs_bucket[i];
		af = &add.hs_bucket[i];
	}
	if ((*af = excess(lf, msg->cm_value)) != 0)
		tao__master_hist_add(m, (int)msg->cm_arg, kind ==
		    TAO_UP_HIST_WQWAIT ? -1 : kind == TAO_UP_HIST_OTHER, &add);
	return 0;
}

static void
batch_begin(struct tao_up_recv *r, const struct tao_chan_msg *msg)
{
	if (r->r_batch)
		log_warnx("upgrade: a totals batch from the old master did "
		    "not end");
	r->r_batch = msg->cm_arg == TAO_UP_TOTALS_V &&
	    msg->cm_value <= TAO_UP_TOTALS_MAX;
	r->r_left = r->r_batch ? (uint32_t)msg->cm_value : 0;
	r->r_taken = r->r_ignored = 0;
	if (!r->r_batch)
		log_warnx("upgrade: the old master's totals are version %u "
		    "with %llu records (this binary takes version %d, at most "
		    "%u): ignored", msg->cm_arg, (unsigned long long)
		    msg->cm_value, TAO_UP_TOTALS_V, TAO_UP_TOTALS_MAX);
}

static void
batch_end(struct tao_up_recv *r, const struct tao_chan_msg *msg)
{
	if (!r->r_batch) {
		r->r_ignored++;
		return;
	}
	r->r_batch = 0;
	if (r->r_ignored != 0 || r->r_taken != msg->cm_value)
		log_warnx("upgrade: totals from the old master: %llu taken, "
		    "%llu ignored, %llu announced",
		    (unsigned long long)r->r_taken,
		    (unsigned long long)r->r_ignored,
		    (unsigned long long)msg->cm_value);
	else
		log_info("upgrade: totals from the old master: %llu taken",
		    (unsigned long long)r->r_taken);
}

void
tao__uptotals_take(struct tao_master *m, const struct tao_chan_msg *msg)
{
	struct tao_up_recv *r = m->m_upgrade.up_recv;
	int rc;

	if (r == NULL && (r = m->m_upgrade.up_recv = calloc(1,
	    sizeof(*r))) == NULL) {
		log_warn("upgrade: totals from the old master");
		return;
	}
	if (msg->cm_type == TAO_CHAN_UP_TOTALS) {
		batch_begin(r, msg);
		return;
	}
	if (msg->cm_type == TAO_CHAN_UP_TOTALS_END) {
		batch_end(r, msg);
		return;
	}
	if (!r->r_batch || r->r_left == 0) {
		r->r_ignored++;
		return;
	}
	r->r_left--;
	if (msg->cm_arg >= TAO_MAX_WORKERS)
		rc = -1;
	else if (msg->cm_type == TAO_CHAN_UP_COUNTER)
		rc = take_counter(m, r, msg);
	else
		rc = take_hist(m, r, msg);
	if (rc == 0)
		r->r_taken++;
	else
		r->r_ignored++;
}

void
tao__uptotals_free(struct tao_master *m)
{
	free(m->m_upgrade.up_recv);
	m->m_upgrade.up_recv = NULL;
}
