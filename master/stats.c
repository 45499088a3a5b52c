/*
 * stats.c - taoctl status, stats and conns, read from shared memory.
 *
 * Counters are per listener slot: the live workers' blocks (every
 * generation) plus the totals of that slot's workers that have exited,
 * folded in by the master when it reaps them, in the same step that frees
 * their block.  The master is the only reader, so a sum never counts a
 * dead worker twice or loses it: counters never go backwards.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "master/buf.h"
#include "master/master.h"
#include "shm/segment.h"
#include "shm/stats.h"
#include "shm/table.h"
#include "core/clock.h"

static const enum tao_stat shown[] = {
	TAO_STAT_ACCEPTED, TAO_STAT_CLOSED, TAO_STAT_CONNECTIONS,
	TAO_STAT_MSGS_IN, TAO_STAT_MSGS_OUT, TAO_STAT_BYTES_IN,
	TAO_STAT_BYTES_OUT, TAO_STAT_ERRORS, TAO_STAT_REFUSED,
	TAO_STAT_TIMEOUTS, TAO_STAT_RING_DROPS, TAO_STAT_DROPPED,
	TAO_STAT_RING_READS, TAO_STAT_PROXY_ERRORS, TAO_STAT_DENIED,
};
#define NSHOWN	(sizeof(shown) / sizeof(shown[0]))

static const char *
proc_state_name(int state)
{
	switch (state) {
	case TAO_PROC_STARTING:	return "starting";
	case TAO_PROC_SERVING:	return "serving";
	case TAO_PROC_DRAINING:	return "draining";
	}
	return "?";
}

void
tao__master_collect_dead(struct tao_master *m, struct tao_proc *p)
{
	struct tao_stats_snapshot snap;

	tao__stats_read(m->m_shm, (unsigned)p->p_islot, &snap);
	/* The connections it still held died with it: they are closed now,
	 * so accepted - closed keeps matching the live gauge. */
	snap.ss_counter[TAO_STAT_CLOSED] += snap.ss_counter[TAO_STAT_CONNECTIONS];
	for (unsigned s = 0; s < TAO_STAT__COUNT; s++)
		if (tao__stats_is_gauge(s))
			snap.ss_counter[s] = 0;	/* levels die with it */
	tao__stats_accumulate(&m->m_dead_totals[p->p_slot], &snap);
	tao__master_hist_collect(m, p);
}

int
tao__master_slots_shown(struct tao_master *m)
{
	int n = m->m_nworkers;
	struct tao_proc *p;

	LIST_FOREACH(p, &m->m_procs, p_entry)
		if (p->p_slot + 1 > n)
			n = p->p_slot + 1;
	for (int i = n; i < TAO_MAX_WORKERS; i++)
		if (m->m_dead_totals[i].ss_counter[TAO_STAT_ACCEPTED] ||
		    m->m_slots[i].sl_restarts)
			n = i + 1;
	return n;
}

void
tao__master_slot_counters(struct tao_master *m, int slot,
    struct tao_stats_snapshot *out)
{
	struct tao_stats_snapshot snap;
	struct tao_proc *p;

	*out = m->m_dead_totals[slot];
	LIST_FOREACH(p, &m->m_procs, p_entry) {
		if (p->p_slot != slot)
			continue;
		tao__stats_read(m->m_shm, (unsigned)p->p_islot, &snap);
		tao__stats_accumulate(out, &snap);
	}
}

void
tao__master_stats(struct tao_master *m, struct tao_buf *b, int json)
{
	struct tao_stats_snapshot per[TAO_MAX_WORKERS], total;
	int n = tao__master_slots_shown(m);
	unsigned restarts = 0;

	memset(&total, 0, sizeof(total));
	for (int i = 0; i < n; i++) {
		tao__master_slot_counters(m, i, &per[i]);
		tao__stats_accumulate(&total, &per[i]);
		restarts += m->m_slots[i].sl_restarts;
	}
	if (json) {
		tao__buf_printf(b, "{\"totals\":{");
		for (size_t k = 0; k < NSHOWN; k++)
			tao__buf_printf(b, "\"%s\":%" PRIu64 ",",
			    tao__stats_name(shown[k]),
			    total.ss_counter[shown[k]]);
		tao__buf_printf(b, "\"restarts\":%u},\"workers\":[", restarts);
		for (int i = 0; i < n; i++) {
			tao__buf_printf(b, "%s{\"slot\":%d,", i ? "," : "", i);
			for (size_t k = 0; k < NSHOWN; k++)
				tao__buf_printf(b, "\"%s\":%" PRIu64 ",",
				    tao__stats_name(shown[k]),
				    per[i].ss_counter[shown[k]]);
			tao__buf_printf(b, "\"restarts\":%u}",
			    m->m_slots[i].sl_restarts);
		}
		tao__buf_printf(b, "],");
		tao__cluster_json(m, b);
		tao__buf_printf(b, "}\n");
		return;
	}
	tao__buf_printf(b, "%-8s", "worker");
	for (size_t k = 0; k < NSHOWN; k++)
		tao__buf_printf(b, " %12s", tao__stats_name(shown[k]));
	tao__buf_printf(b, " %12s\n", "restarts");
	for (int i = 0; i <= n; i++) {
		const struct tao_stats_snapshot *s = i < n ? &per[i] : &total;
		if (i < n)
			tao__buf_printf(b, "%-8d", i);
		else
			tao__buf_printf(b, "%-8s", "total");
		for (size_t k = 0; k < NSHOWN; k++)
			tao__buf_printf(b, " %12" PRIu64,
			    s->ss_counter[shown[k]]);
		tao__buf_printf(b, " %12u\n", i < n ?
		    m->m_slots[i].sl_restarts : restarts);
	}
}

/*
 * "instances live": the islots set in the shm live bitmap, which ring
 * consumers walk; "instances held": the islots of the workers the master
 * knows (running, or exited and not yet reclaimed).  The two lines must
 * always be equal; tests compare them across kills and reloads.
 */
static void
status_instances(struct tao_master *m, struct tao_buf *b)
{
	struct tao_proc *p;

	tao__buf_printf(b, "instances live");
	for (int i = 0; i < m->m_nislots; i++)
		if (tao__shm_islot_live(m->m_shm, (unsigned)i))
			tao__buf_printf(b, " %d", i);
	tao__buf_printf(b, "\ninstances held");
	for (int i = 0; i < m->m_nislots; i++) {
		LIST_FOREACH(p, &m->m_procs, p_entry)
			if (p->p_islot == i)
				tao__buf_printf(b, " %d", i);
		if (m->m_bridge.mb_pid != 0 && m->m_bridge.mb_islot == i)
			tao__buf_printf(b, " %d", i);	/* cluster bridge */
	}
	tao__buf_printf(b, "\n\n");
}

void
tao__master_status(struct tao_master *m, struct tao_buf *b)
{
	struct tao_stats_snapshot snap;
	struct tao_proc *p;
	uint64_t up = (tao__now_ms() - m->m_started_ms) / 1000;

	tao__buf_printf(b, "pid %ld\nuptime %llus\ngeneration %u\nworkers %d\n"
	    "connections %llu\n", (long)getpid(), (unsigned long long)up,
	    m->m_gen, m->m_nworkers,
	    (unsigned long long)tao__shm_conn_count(m->m_shm));
	tao__cluster_status(m, b);
	status_instances(m, b);
	tao__buf_printf(b, "%-6s %-8s %-10s %-10s %11s %9s %4s\n", "slot",
	    "pid", "generation", "state", "connections", "restarts", "cpu");
	for (int i = 0; i < tao__master_slots_shown(m); i++) {
		LIST_FOREACH(p, &m->m_procs, p_entry) {
			if (p->p_slot != i)
				continue;
			tao__stats_read(m->m_shm, (unsigned)p->p_islot, &snap);
			tao__buf_printf(b, "%-6d %-8ld %-10u %-10s %11" PRIu64
			    " %9u ", i, (long)p->p_pid, p->p_gen,
			    proc_state_name(p->p_state),
			    snap.ss_counter[TAO_STAT_CONNECTIONS],
			    m->m_slots[i].sl_restarts);
			if (p->p_cpu >= 0)
				tao__buf_printf(b, "%4d\n", p->p_cpu);
			else
				tao__buf_printf(b, "%4s\n", "-");
		}
		if (m->m_slots[i].sl_current == NULL && i < m->m_nworkers)
			tao__buf_printf(b, "%-6d %-8s %-10s %-10s %11s %9u "
			    "%4s\n", i, "-", "-", m->m_slots[i].sl_fatal ?
			    "failed" : "restarting", "0",
			    m->m_slots[i].sl_restarts, "-");
	}
}

/*
 * A row's peer as tao_conn_peer() formats it: "a.b.c.d:port",
 * "[v6]:port", "?" without one.  (worker/conn_api.c has the worker's
 * copy; the master may not include worker headers, t190.)
 */
static void
row_peer_format(const struct tao_row_peer *p, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int af = p->rp_family == TAO_ROW_PEER_V6 ? AF_INET6 : AF_INET;

	if (p->rp_family == TAO_ROW_PEER_NONE) {
		snprintf(out, outlen, "?");
		return;
	}
	inet_ntop(af, p->rp_addr, host, sizeof(host));
	snprintf(out, outlen, af == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
	    (unsigned)p->rp_port);
}

void
tao__master_conns(struct tao_master *m, struct tao_buf *b, int json)
{
	struct tao_table_iter it = { 0 };
	struct tao_conn_row row;
	struct timespec ts;
	int64_t now;
	int first = 1;
	char peer[INET6_ADDRSTRLEN + 10];	/* "[v6]:port" */

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (json)
		tao__buf_printf(b, "[");
	else
		tao__buf_printf(b, "%-10s %-6s %-24s %10s %10s %10s\n", "netid",
		    "worker", "peer", "age_s", "msgs_in", "msgs_out");
	while (tao__table_next(m->m_shm, &it, &row) == 1) {
		double age = (double)(now - row.cr_connected_ms) / 1000.0;

		row_peer_format(&row.cr_peer, peer, sizeof(peer));
		if (json) {
			tao__buf_printf(b, "%s{\"netid\":%" PRIu64 ",\"worker\":"
			    "%u,\"pid\":%d,\"peer\":", first ? "" : ",",
			    row.cr_netid, row.cr_lslot, row.cr_pid);
			tao__buf_json_str(b, peer);
			tao__buf_printf(b, ",\"age_s\":%.3f,\"msgs_in\":%"
			    PRIu64 ",\"msgs_out\":%" PRIu64 "}", age,
			    row.cr_msgs_in, row.cr_msgs_out);
		} else
			tao__buf_printf(b, "%-10" PRIu64 " %-6u %-24s %10.1f %10"
			    PRIu64 " %10" PRIu64 "\n", row.cr_netid,
			    row.cr_lslot, peer, age, row.cr_msgs_in,
			    row.cr_msgs_out);
		first = 0;
	}
	if (json)
		tao__buf_printf(b, "]\n");
}
