/*
 * reload.c - a new generation: validate the config, bind what changes,
 * fork the new workers on the same listener sockets, and when every one
 * has said READY tell the old ones to hand over and drain.  A failure at
 * any step before the commit kills the new workers and leaves the old
 * generation serving, unchanged.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "master/master.h"
#include "master/mshm.h"
#include "master/notify.h"
#include "master/tls.h"
#include "core/clock.h"
#include "core/log.h"

int
tao__reload_gens_draining(struct tao_master *m)
{
	uint32_t gens[TAO_MAX_WORKERS * 4];
	int n = 0;
	struct tao_proc *p;

	LIST_FOREACH(p, &m->m_procs, p_entry) {
		int seen = 0;
		if (p->p_state != TAO_PROC_DRAINING)
			continue;
		for (int i = 0; i < n && !seen; i++)
			seen = gens[i] == p->p_gen;
		if (!seen && n < (int)(sizeof(gens) / sizeof(gens[0])))
			gens[n++] = p->p_gen;
	}
	return n;
}

static void
reload_finish(struct tao_master *m, int ok, const char *why)
{
	struct tao_reload *rl = &m->m_reload;

	rl->rl_active = 0;
	if (rl->rl_waiter != NULL)
		tao__ctl_reply(m, rl->rl_waiter, ok, why);
	rl->rl_waiter = NULL;
	if (ok)
		log_info("reload: generation %u serving", m->m_gen);
	else
		log_warnx("reload failed: %s", why);
	(void)tao__notify(ok ? "READY=1\nSTATUS=serving" :
	    "READY=1\nSTATUS=reload failed");
}

/* Every new worker said READY: the new generation takes over. */
static void
reload_commit(struct tao_master *m)
{
	struct tao_reload *rl = &m->m_reload;
	struct tao_proc *p;

	LIST_FOREACH(p, &m->m_procs, p_entry)
		if (p->p_gen != rl->rl_gen && p->p_state != TAO_PROC_DRAINING) {
			p->p_state = TAO_PROC_DRAINING;
			tao__relay_ctl(m, p, TAO_CHAN_HANDOFF);
		}
	for (int i = 0; i < TAO_MAX_WORKERS; i++) {
		struct tao_slot *sl = &m->m_slots[i];
		sl->sl_current = NULL;
		sl->sl_respawn_at = 0;
		sl->sl_fatal = 0;
	}
	LIST_FOREACH(p, &m->m_procs, p_entry)
		if (p->p_gen == rl->rl_gen)
			m->m_slots[p->p_slot].sl_current = p;
	tao__cluster_reload(m, &m->m_next_cf);
	m->m_cf = m->m_next_cf;
	m->m_gen = rl->rl_gen;
	/* The old workers keep the context they inherited. */
	tao__mtls_ctx_free(m->m_tls);
	m->m_tls = rl->rl_tls;
	rl->rl_tls = NULL;
	if (rl->rl_ctl != NULL)
		tao__ctl_switch(m, rl->rl_ctl);
	rl->rl_ctl = NULL;
	tao__metrics_commit(m);
	m->m_nworkers = tao__config_worker_count(&m->m_cf);
	tao__relay_resume(m);	/* hand-overs go to new workers now */
	tao__log_set_level(m->m_cf.cf_log_level);
	reload_finish(m, 1, "reloaded");
}

/* Undo what a reload prepared before its workers were forked. */
static void
reload_unprepare(struct tao_master *m)
{
	struct tao_reload *rl = &m->m_reload;

	tao__mtls_ctx_free(rl->rl_tls);
	rl->rl_tls = NULL;
	if (rl->rl_ctl != NULL)
		tao__ctl_unbind(m, rl->rl_ctl);
	rl->rl_ctl = NULL;
	tao__metrics_unprepare(m);
}

void
tao__reload_abort(struct tao_master *m, const char *why)
{
	struct tao_reload *rl = &m->m_reload;
	struct tao_proc *p;

	LIST_FOREACH(p, &m->m_procs, p_entry)
		if (p->p_gen == rl->rl_gen) {
			kill(p->p_pid, SIGKILL);
			p->p_state = TAO_PROC_DRAINING;
		}
	reload_unprepare(m);
	reload_finish(m, 0, why);
}

void
tao__reload_check(struct tao_master *m)
{
	struct tao_reload *rl = &m->m_reload;
	struct tao_proc *p;
	int ready = 0;

	if (!rl->rl_active)
		return;
	LIST_FOREACH(p, &m->m_procs, p_entry)
		if (p->p_gen == rl->rl_gen && p->p_state == TAO_PROC_SERVING)
			ready++;
	if (ready == tao__config_worker_count(&m->m_next_cf))
		reload_commit(m);
}

/* Can a reload start now?  0, or -1 with the reason in err. */
static int
reload_allowed(struct tao_master *m, char *err, size_t errlen)
{
	if (m->m_stopping) {
		snprintf(err, errlen, "reload: taod is stopping");
		return -1;
	}
	if (m->m_reload.rl_active) {
		snprintf(err, errlen, "reload: another reload is in progress");
		return -1;
	}
	if (tao__upgrade_busy(m, "reload", err, errlen) == -1)
		return -1;
	if (tao__reload_gens_draining(m) >= m->m_cf.cf_max_old_generations) {
		snprintf(err, errlen, "reload: %d old generations are still "
		    "draining (max_old_generations %d); try again later",
		    tao__reload_gens_draining(m),
		    m->m_cf.cf_max_old_generations);
		return -1;
	}
	return 0;
}

/* Read and check the next config into m_next_cf; 0 or -1 (err). */
static int
reload_read_config(struct tao_master *m, char *err, size_t errlen)
{
	struct tao_config *next = &m->m_next_cf;

	tao__config_defaults(next);
	if (m->m_server->s_config_path != NULL) {
		if (tao__config_file(next, m->m_server->s_config_path, err,
		    errlen) == -1)
			return -1;
	} else
		*next = m->m_cf;
	if (m->m_server->s_workers_override > 0)
		next->cf_workers = m->m_server->s_workers_override;
	if (tao__config_codecs(next, &m->m_server->s_codecs, err,
	    errlen) == -1)
		return -1;
	if (tao__config_reload_check(&m->m_cf, next, err, errlen) == -1)
		return -1;
	return tao__mshm_check_reload(m, next, err, errlen);
}

/* What must exist before the new workers fork: certificates re-read (a
 * bad one fails the reload here, before anything changes), a moved
 * control socket bound.  0 or -1 (err), nothing left behind. */
static int
reload_prepare(struct tao_master *m, char *err, size_t errlen)
{
	struct tao_config *next = &m->m_next_cf;
	struct tao_reload *rl = &m->m_reload;

	if (tao__mtls_needed(next) && (rl->rl_tls = tao__mtls_ctx_new(next, err,
	    errlen)) == NULL)
		return -1;
	if (strcmp(next->cf_control, m->m_cf.cf_control) != 0 &&
	    (rl->rl_ctl = tao__ctl_bind(next->cf_control, err, errlen)) ==
	    NULL) {
		reload_unprepare(m);
		return -1;
	}
	if (tao__metrics_prepare(m, next, err, errlen) == -1) {
		reload_unprepare(m);
		return -1;
	}
	return 0;
}

int
tao__master_reload(struct tao_master *m, struct tao_ctl_client *waiter,
    char *err, size_t errlen)
{
	struct tao_config *next = &m->m_next_cf;
	struct tao_reload *rl = &m->m_reload;
	int n;

	if (reload_allowed(m, err, errlen) == -1 ||
	    reload_read_config(m, err, errlen) == -1 ||
	    reload_prepare(m, err, errlen) == -1)
		return -1;
	n = tao__config_worker_count(next);
	(void)tao__notify_reloading();
	if (tao__lset_apply(&m->m_lset, next, n, m->m_gen + 1, err,
	    errlen) == -1) {
		reload_unprepare(m);
		(void)tao__notify("READY=1\nSTATUS=reload failed");
		return -1;
	}
	rl->rl_active = 1;
	rl->rl_gen = m->m_gen + 1;
	rl->rl_deadline = tao__now_ms() + next->cf_reload_timeout_ms;
	rl->rl_waiter = waiter;
	log_info("reload: starting generation %u with %d worker%s",
	    rl->rl_gen, n, n == 1 ? "" : "s");
	for (int slot = 0; slot < n; slot++)
		if (tao__proc_spawn(m, next, n, slot, rl->rl_gen) == NULL) {
			tao__reload_abort(m, "cannot start new workers");
			return 0;
		}
	return 0;
}
