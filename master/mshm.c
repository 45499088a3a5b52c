/*
 * mshm.c - the shared-memory segment seen from the master.
 *
 * Sizing: a listener slot may have one serving worker, one starting
 * (reload) and up to max_old_generations draining, so the segment holds
 * (workers + 1) * (max_old_generations + 2) instances, computed once at
 * start-up from the larger of `workers` and the CPU count.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "master/master.h"
#include "master/mshm.h"
#include "shm/segment.h"
#include "shm/stats.h"
#include "core/log.h"

static size_t
round_pow2(size_t v)
{
	size_t p = 4096;

	while (p < v && p < ((size_t)1 << 30))
		p <<= 1;
	return p;
}

static int
instances_for(const struct tao_config *cf, int nworkers)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int base = nworkers > ncpu ? nworkers : (int)ncpu;

	(void)cf;
	/* + 1: the cluster bridge (master/cluster.c). */
	return (base + 1) * (cf->cf_max_old_generations + 2) + 1;
}

int
tao__mshm_create(struct tao_master *m)
{
	struct tao_shm_params sp;

	m->m_nislots = instances_for(&m->m_cf, m->m_nworkers);
	if (m->m_nislots > TAO_SHM_MAX_ISLOTS)
		m->m_nislots = TAO_SHM_MAX_ISLOTS;
	sp.nislots = (unsigned)m->m_nislots;
	sp.max_connections = m->m_cf.cf_max_connections;
	sp.ring_size = round_pow2(m->m_cf.cf_ring_size);
	if ((m->m_shm = tao__shm_create(&sp)) == NULL) {
		log_warn("shared memory (%d instances, %u connections, %zu "
		    "byte rings)", m->m_nislots, sp.max_connections,
		    sp.ring_size);
		return -1;
	}
	if (tao__master_hist_init(m) == -1) {
		log_warn("histograms");
		return -1;
	}
	(void)tao__shm_set_node_id(m->m_shm, m->m_cf.cf_cluster.cc_node_id);
	m->m_eventfds = calloc((size_t)m->m_nislots, sizeof(int));
	m->m_islot_used = calloc((size_t)m->m_nislots, 1);
	if (m->m_eventfds == NULL || m->m_islot_used == NULL) {
		log_warn("shared memory");
		return -1;
	}
	for (int i = 0; i < m->m_nislots; i++)
		if ((m->m_eventfds[i] = eventfd(0, EFD_NONBLOCK |
		    EFD_CLOEXEC)) == -1) {
			log_warn("eventfd");
			return -1;
		}
	log_debug("shared memory: %zu bytes, %d instances",
	    tao__shm_size(&sp), m->m_nislots);
	return 0;
}

void
tao__mshm_destroy(struct tao_master *m)
{
	/* The mapping stays until exit (see shm/segment.h). */
	for (int i = 0; m->m_eventfds != NULL && i < m->m_nislots; i++)
		close(m->m_eventfds[i]);
	free(m->m_eventfds);
	free(m->m_islot_used);
	tao__master_hist_free(m);
	m->m_eventfds = NULL;
	m->m_islot_used = NULL;
}

void
tao__mshm_islot_prepare(struct tao_master *m, int islot, int slot,
    uint32_t gen)
{
	tao__shm_islot_assign(m->m_shm, (unsigned)islot, 0, (unsigned)slot,
	    gen);
	tao__shm_islot_set_state(m->m_shm, (unsigned)islot,
	    TAO_ISLOT_STARTING);
	tao__master_hist_prepare(m, islot);
	/* Drain a wake-up left over from the previous holder. */
	uint64_t junk;
	(void)!read(m->m_eventfds[islot], &junk, sizeof(junk));
}

void
tao__mshm_islot_started(struct tao_master *m, int islot, pid_t pid)
{
	struct tao_stats_block *b = tao__shm_stats(m->m_shm, (unsigned)islot);

	atomic_store(&b->sb_pid, (int32_t)pid);
}

void
tao__mshm_islot_reclaim(struct tao_master *m, int islot, int slot)
{
	(void)slot;
	tao__shm_islot_reclaim(m->m_shm, (unsigned)islot);
}

int
tao__mshm_check_reload(struct tao_master *m, const struct tao_config *next,
    char *err, size_t errlen)
{
	int n = tao__config_worker_count(next);

	if (next->cf_max_connections != m->m_cf.cf_max_connections ||
	    round_pow2(next->cf_ring_size) != round_pow2(m->m_cf.cf_ring_size)) {
		snprintf(err, errlen, "%s: max_connections and ring_size size "
		    "the shared memory and cannot change on reload; restart "
		    "taod", next->cf_file[0] ? next->cf_file : "config");
		return -1;
	}
	/* The instance count was sized for the start-up value. */
	if (next->cf_max_old_generations >
	    m->m_server->s_config.cf_max_old_generations) {
		snprintf(err, errlen, "%s: max_old_generations cannot grow "
		    "beyond %d on reload (it sized the shared memory at "
		    "start-up); restart taod", next->cf_file[0] ?
		    next->cf_file : "config",
		    m->m_server->s_config.cf_max_old_generations);
		return -1;
	}
	int live = tao__cluster_running(m);
	struct tao_proc *p;

	if (tao__cluster_check_reload(m, next, err, errlen) == -1)
		return -1;

	LIST_FOREACH(p, &m->m_procs, p_entry)
		live++;
	if (live + n > m->m_nislots) {
		snprintf(err, errlen, "%s: %d new workers next to the %d still "
		    "running exceed the %d worker instances the shared memory "
		    "was sized for at start-up; wait for old generations to "
		    "finish, or restart taod",
		    next->cf_file[0] ? next->cf_file : "config", n, live,
		    m->m_nislots);
		return -1;
	}
	return 0;
}
