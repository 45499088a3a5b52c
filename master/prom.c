/*
 * prom.c - the Prometheus text exposition (format 0.0.4) of what
 * `taoctl stats` and `taoctl status` show, for GET /metrics.
 *
 * Every counter of shm/stats (accepted, closed, ...) is a family
 * tao_<name>_total with one sample per worker slot, label worker="N";
 * the connections gauge is tao_connections.  The values are those of
 * taoctl stats (tao__master_slot_counters): the slot's dead workers'
 * totals, folded in by the master when it reaps them, plus every live
 * worker of the slot.  That sum only grows, so a counter never goes
 * backwards across crashes, respawns and reloads (the reaping and the
 * scrape run in the same single-threaded loop: a dead worker is counted
 * either in its block or in the totals, never both, never neither).
 * A counter added to enum tao_stat appears here by itself.  The latency
 * histograms, with their own base of dead workers, are in hist.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "master/buf.h"
#include "master/master.h"
#include "shm/segment.h"
#include "shm/stats.h"

static const char *const help[TAO_STAT__COUNT] = {
	[TAO_STAT_ACCEPTED] = "Connections accepted.",
	[TAO_STAT_CLOSED] = "Connections closed.",
	[TAO_STAT_REFUSED] = "Connections accepted then closed at once "
	    "(over a limit).",
	[TAO_STAT_MSGS_IN] = "Messages received.",
	[TAO_STAT_MSGS_OUT] = "Messages sent.",
	[TAO_STAT_BYTES_IN] = "Bytes received.",
	[TAO_STAT_BYTES_OUT] = "Bytes sent.",
	[TAO_STAT_ERRORS] = "Connection errors (bad frames, I/O errors).",
	[TAO_STAT_TIMEOUTS] = "Connections closed by a timeout.",
	[TAO_STAT_RING_DROPS] = "Broadcast ring records lost by lapping.",
	[TAO_STAT_DROPPED] = "Messages dropped (unregistered type, full "
	    "queue).",
	[TAO_STAT_RING_READS] = "Records read from other workers' rings.",
	[TAO_STAT_PROXY_ERRORS] = "Connections closed for a missing, "
	    "malformed or slow PROXY protocol header.",
	[TAO_STAT_DENIED] = "Connections refused by allow/deny rules.",
	[TAO_STAT_CONNECTIONS] = "Open connections.",
	[TAO_STAT_QUEUE_BYTES] = "Bytes queued for writing, not yet "
	    "written (all connections of the slot).",
};

static void
family(struct tao_buf *b, const char *name, const char *suffix,
    const char *type, const char *text)
{
	tao__buf_printf(b, "# HELP tao_%s%s %s\n# TYPE tao_%s%s %s\n", name,
	    suffix, text, name, suffix, type);
}

static void
per_worker(struct tao_master *m, struct tao_buf *b,
    const struct tao_stats_snapshot *per, int n)
{
	for (unsigned s = 0; s < TAO_STAT__COUNT; s++) {
		const char *name = tao__stats_name(s);
		int gauge = tao__stats_is_gauge(s);
		char fallback[96];

		if (name == NULL)
			continue;
		snprintf(fallback, sizeof(fallback), "The %s counter of "
		    "taoctl stats.", name);
		family(b, name, gauge ? "" : "_total", gauge ? "gauge" :
		    "counter", help[s] != NULL ? help[s] : fallback);
		for (int i = 0; i < n; i++)
			tao__buf_printf(b, "tao_%s%s{worker=\"%d\"} %" PRIu64
			    "\n", name, gauge ? "" : "_total", i,
			    per[i].ss_counter[s]);
	}
	family(b, "restarts", "_total", "counter", "Times the slot's worker "
	    "was replaced after it died.");
	for (int i = 0; i < n; i++)
		tao__buf_printf(b, "tao_restarts_total{worker=\"%d\"} %u\n", i,
		    m->m_slots[i].sl_restarts);
}

/* Per slot: the generation of its serving (or starting) worker. */
static void
worker_generations(struct tao_master *m, struct tao_buf *b, int n)
{
	family(b, "worker_generation", "", "gauge", "Configuration "
	    "generation of the slot's current worker (0: none).");
	for (int i = 0; i < n; i++) {
		const struct tao_proc *p = m->m_slots[i].sl_current;
		tao__buf_printf(b, "tao_worker_generation{worker=\"%d\"} %u\n",
		    i, p != NULL ? p->p_gen : 0);
	}
}

static void
server_gauges(struct tao_master *m, struct tao_buf *b)
{
	struct tao_proc *p;
	int procs = 0;

	LIST_FOREACH(p, &m->m_procs, p_entry)
		procs++;
	family(b, "generation", "", "gauge", "Configuration generation "
	    "serving (1 at start, +1 per reload).");
	tao__buf_printf(b, "tao_generation %u\n", m->m_gen);
	family(b, "workers", "", "gauge", "Worker slots configured.");
	tao__buf_printf(b, "tao_workers %d\n", m->m_nworkers);
	family(b, "worker_processes", "", "gauge", "Worker processes alive, "
	    "draining old generations included.");
	tao__buf_printf(b, "tao_worker_processes %d\n", procs);
	family(b, "server_connections", "", "gauge", "Open connections of "
	    "the whole server (the max_connections count).");
	tao__buf_printf(b, "tao_server_connections %" PRIu64 "\n",
	    (uint64_t)tao__shm_conn_count(m->m_shm));
	family(b, "max_connections", "", "gauge", "The max_connections "
	    "limit.");
	tao__buf_printf(b, "tao_max_connections %u\n",
	    m->m_cf.cf_max_connections);
	family(b, "start_time_seconds", "", "gauge", "When the master "
	    "started, seconds since the epoch.");
	tao__buf_printf(b, "tao_start_time_seconds %lld\n",
	    (long long)m->m_started_wall);
}

void
tao__master_prometheus(struct tao_master *m, struct tao_buf *b)
{
	struct tao_stats_snapshot per[TAO_MAX_WORKERS];
	int n = tao__master_slots_shown(m);

	for (int i = 0; i < n; i++)
		tao__master_slot_counters(m, i, &per[i]);
	per_worker(m, b, per, n);
	worker_generations(m, b, n);
	tao__master_prom_hist(m, b, n);
	server_gauges(m, b);
	tao__cluster_prometheus(m, b);
}
