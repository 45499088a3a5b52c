/*
 * cluster.c - the master's side of the cluster bridge (the process is
 * cluster/bridge.c): fork it after the workers, respawn it when it dies
 * (at once, then with a growing back-off if it keeps dying), restart it
 * when a reload changes its settings, stop it after the last worker, and
 * report its link in taoctl status and stats.
 *
 * The bridge holds a shared-memory islot like a worker: the master marks
 * it used and live before the fork, publishes it in the shm header
 * (tao__shm_bridge_set) so workers route other nodes' netids to it, and
 * clears and reclaims it when the bridge is reaped.  It is not a worker:
 * no listener slot, no channel, no READY; its counters live in the shm
 * header so that a respawn never sends them backwards.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cluster/bridge.h"
#include "master/buf.h"
#include "master/master.h"
#include "master/mshm.h"
#include "shm/segment.h"
#include "core/clock.h"
#include "core/log.h"

#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		5000
#define BACKOFF_RESET_MS	10000
#define STOP_GRACE_MS		2000
#define EXIT_FATAL		2
#define BRIDGE_LSLOT		TAO_MAX_WORKERS		/* not a listener slot */

static const struct tao_cluster_conf *
conf(const struct tao_master *m)
{
	return &m->m_cf.cf_cluster;
}

static void
child_params(struct tao_master *m, int islot, struct tao_bridge_params *p)
{
	const struct tao_cluster_conf *cc = conf(m);

	memset(p, 0, sizeof(*p));
	p->bp_shm = m->m_shm;
	p->bp_eventfds = m->m_eventfds;
	p->bp_nislots = m->m_nislots;
	p->bp_islot = islot;
	strlcpy(p->bp_host, cc->cc_host, sizeof(p->bp_host));
	p->bp_port = cc->cc_port;
	p->bp_db = cc->cc_db;
	strlcpy(p->bp_password, cc->cc_password, sizeof(p->bp_password));
	strlcpy(p->bp_channel, cc->cc_channel, sizeof(p->bp_channel));
	p->bp_node_id = tao__shm_node_id(m->m_shm);
	p->bp_queue_max = cc->cc_queue_max;
	p->bp_max_frame = m->m_cf.cf_settings.st_max_frame;
}

static void __attribute__((noreturn))
child_main(struct tao_master *m, int islot)
{
	struct tao_bridge_params p;
	int rc;

	tao__log_set_role("bridge");
	tao__log_set_forked(1);
	child_params(m, islot, &p);
	if (tao__proc_helper_setup(m, &m->m_cf) == -1) {
		fflush(NULL);
		_exit(EXIT_FATAL);
	}
	tao__set_title("taod: cluster bridge");
	rc = tao__bridge_run(&p);
	fflush(NULL);
	_exit(rc);
}

static void
spawn(struct tao_master *m)
{
	struct tao_mbridge *mb = &m->m_bridge;
	int islot;
	pid_t pid;

	mb->mb_respawn_at = 0;
	if ((islot = tao__proc_alloc_islot(m)) == -1) {
		log_warnx("cluster: no free shared-memory instance for the "
		    "bridge");
		mb->mb_respawn_at = tao__now_ms() + BACKOFF_MAX_MS;
		return;
	}
	tao__mshm_islot_prepare(m, islot, BRIDGE_LSLOT, m->m_gen);
	tao__shm_bridge_set(m->m_shm, islot);
	fflush(NULL);
	if ((pid = fork()) == -1) {
		log_warn("cluster: fork");
		tao__shm_bridge_set(m->m_shm, -1);
		tao__mshm_islot_reclaim(m, islot, BRIDGE_LSLOT);
		m->m_islot_used[islot] = 0;
		mb->mb_respawn_at = tao__now_ms() + BACKOFF_MAX_MS;
		return;
	}
	if (pid == 0)
		child_main(m, islot);
	tao__mshm_islot_started(m, islot, pid);
	mb->mb_pid = pid;
	mb->mb_islot = islot;
	mb->mb_started_ms = tao__now_ms();
	mb->mb_term_sent = 0;
	mb->mb_kill_at = 0;
	log_debug("cluster: bridge %ld started", (long)pid);
}

void
tao__cluster_start(struct tao_master *m)
{
	const struct tao_cluster_conf *cc = conf(m);

	if (cc->cc_url[0] == '\0')
		return;
	log_info("cluster: node %u%s, redis %s:%d, channel prefix %s",
	    tao__shm_node_id(m->m_shm), cc->cc_node_set ? "" :
	    " (derived from the host name and first listen port; set "
	    "node_id to choose)", cc->cc_host, cc->cc_port, cc->cc_channel);
	spawn(m);
}

static void
log_exit(pid_t pid, int status)
{
	if (WIFSIGNALED(status))
		log_warnx("cluster: bridge %ld killed by signal %s", (long)pid,
		    sigabbrev_np(WTERMSIG(status)) ?
		    sigabbrev_np(WTERMSIG(status)) : "?");
	else if (WEXITSTATUS(status) != 0)
		log_warnx("cluster: bridge %ld exited with code %d", (long)pid,
		    WEXITSTATUS(status));
	else
		log_debug("cluster: bridge %ld exited", (long)pid);
}

static void
schedule_respawn(struct tao_master *m, int status)
{
	struct tao_mbridge *mb = &m->m_bridge;
	uint64_t now = tao__now_ms();

	if (m->m_stopping || conf(m)->cc_url[0] == '\0')
		return;
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_FATAL) {
		mb->mb_fatal = 1;
		log_warnx("cluster: fatal error in the bridge; not restarting "
		    "it (fix the configuration and reload)");
		return;
	}
	if (mb->mb_term_sent) {		/* restarted on purpose (reload) */
		mb->mb_respawn_at = now;
		return;
	}
	mb->mb_restarts++;
	if (now - mb->mb_started_ms >= BACKOFF_RESET_MS)
		mb->mb_backoff_ms = 0;
	mb->mb_respawn_at = now + mb->mb_backoff_ms;
	mb->mb_backoff_ms = mb->mb_backoff_ms == 0 ? BACKOFF_MIN_MS :
	    mb->mb_backoff_ms * 2;
	if (mb->mb_backoff_ms > BACKOFF_MAX_MS)
		mb->mb_backoff_ms = BACKOFF_MAX_MS;
}

int
tao__cluster_reaped(struct tao_master *m, pid_t pid, int status)
{
	struct tao_mbridge *mb = &m->m_bridge;

	if (mb->mb_pid == 0 || pid != mb->mb_pid)
		return 0;
	log_exit(pid, status);
	tao__shm_bridge_set(m->m_shm, -1);
	tao__mshm_islot_reclaim(m, mb->mb_islot, BRIDGE_LSLOT);
	m->m_islot_used[mb->mb_islot] = 0;
	mb->mb_pid = 0;
	schedule_respawn(m, status);
	mb->mb_term_sent = 0;
	return 1;
}

uint64_t
tao__cluster_next_deadline(struct tao_master *m)
{
	const struct tao_mbridge *mb = &m->m_bridge;
	uint64_t next = UINT64_MAX;

	if (mb->mb_respawn_at != 0)
		next = mb->mb_respawn_at;
	if (mb->mb_pid != 0 && mb->mb_kill_at != 0 && mb->mb_kill_at < next)
		next = mb->mb_kill_at;
	return next;
}

static void
terminate(struct tao_master *m)
{
	struct tao_mbridge *mb = &m->m_bridge;

	if (mb->mb_pid == 0 || mb->mb_term_sent)
		return;
	kill(mb->mb_pid, SIGTERM);
	mb->mb_term_sent = 1;
	mb->mb_kill_at = tao__now_ms() + STOP_GRACE_MS;
}

void
tao__cluster_check(struct tao_master *m, uint64_t now)
{
	struct tao_mbridge *mb = &m->m_bridge;

	if (mb->mb_pid == 0 && mb->mb_respawn_at != 0 &&
	    mb->mb_respawn_at <= now && !m->m_stopping)
		spawn(m);
	/* The workers' last broadcasts go out before the bridge stops. */
	if (m->m_stopping && LIST_EMPTY(&m->m_procs))
		terminate(m);
	if (mb->mb_pid != 0 && mb->mb_kill_at != 0 && mb->mb_kill_at <= now) {
		log_warnx("cluster: bridge %ld did not stop in time; killing "
		    "it", (long)mb->mb_pid);
		kill(mb->mb_pid, SIGKILL);
		mb->mb_kill_at = 0;
	}
}

int
tao__cluster_running(const struct tao_master *m)
{
	return m->m_bridge.mb_pid != 0;
}

/* ---- reload ------------------------------------------------------------- */

int
tao__cluster_check_reload(struct tao_master *m, const struct tao_config *next,
    char *err, size_t errlen)
{
	unsigned now = tao__shm_node_id(m->m_shm);

	if (next->cf_cluster.cc_node_id == now)
		return 0;
	snprintf(err, errlen, "%s: node_id cannot change on reload (%u to %u%s):"
	    " the netids of open connections carry node %u; %s",
	    next->cf_file[0] ? next->cf_file : "config", now,
	    next->cf_cluster.cc_node_id, next->cf_cluster.cc_node_set ? "" :
	    ", derived", now, next->cf_cluster.cc_node_set ? "restart taod" :
	    "set node_id explicitly, or restart taod");
	return -1;
}

static int
same_bridge(const struct tao_config *a, const struct tao_config *b)
{
	const struct tao_cluster_conf *x = &a->cf_cluster, *y = &b->cf_cluster;

	return strcmp(x->cc_url, y->cc_url) == 0 &&
	    strcmp(x->cc_password, y->cc_password) == 0 &&
	    strcmp(x->cc_channel, y->cc_channel) == 0 &&
	    x->cc_queue_max == y->cc_queue_max &&
	    a->cf_settings.st_max_frame == b->cf_settings.st_max_frame &&
	    strcmp(a->cf_user, b->cf_user) == 0;
}

void
tao__cluster_reload(struct tao_master *m, const struct tao_config *next)
{
	struct tao_mbridge *mb = &m->m_bridge;

	if (same_bridge(&m->m_cf, next) && !mb->mb_fatal)
		return;
	mb->mb_fatal = 0;
	mb->mb_backoff_ms = 0;
	if (mb->mb_pid != 0) {
		log_info("cluster: settings changed; restarting the bridge");
		terminate(m);	/* respawned with the new ones when reaped */
	} else if (next->cf_cluster.cc_url[0] != '\0')
		mb->mb_respawn_at = tao__now_ms();
	else
		mb->mb_respawn_at = 0;
}

/* ---- reports ------------------------------------------------------------ */

static const char *const counter_names[TAO_CL__COUNT] = {
	[TAO_CL_PUBLISHED] = "published",
	[TAO_CL_RECEIVED] = "received",
	[TAO_CL_DROPPED_OUT] = "dropped",
	[TAO_CL_DROPPED_IN] = "dropped_in",
	[TAO_CL_INVALID] = "invalid",
	[TAO_CL_LOST] = "lost",
	[TAO_CL_RECONNECTS] = "reconnects",
	[TAO_CL_QUEUED] = "queued",
};

static const char *
state_name(struct tao_master *m)
{
	const struct tao_cluster_block *cb = &tao__shm_hdr(m->m_shm)->h_cluster;

	if (conf(m)->cc_url[0] == '\0' && m->m_bridge.mb_pid == 0)
		return "off";
	if (m->m_bridge.mb_pid == 0)
		return m->m_bridge.mb_fatal ? "failed" : "restarting";
	switch (atomic_load_explicit(&cb->cb_state, memory_order_relaxed)) {
	case TAO_CLUSTER_CONNECTING:	return "connecting";
	case TAO_CLUSTER_UP:		return "up";
	case TAO_CLUSTER_DOWN:		return "down";
	}
	return "starting";
}

static uint64_t
counter(struct tao_master *m, int i)
{
	const struct tao_cluster_block *cb = &tao__shm_hdr(m->m_shm)->h_cluster;

	return atomic_load_explicit(&cb->cb_counter[i], memory_order_relaxed);
}

/*
 * Two lines, one link per node (the bridge), e.g.
 *	cluster up node 3 pid 4242 redis 127.0.0.1:6379 channel tao
 *	cluster published 10 received 20 dropped 0 ... restarts 0
 */
void
tao__cluster_status(struct tao_master *m, struct tao_buf *b)
{
	const struct tao_cluster_conf *cc = conf(m);

	tao__buf_printf(b, "cluster %s node %u pid %ld", state_name(m),
	    tao__shm_node_id(m->m_shm), (long)m->m_bridge.mb_pid);
	if (cc->cc_url[0] != '\0')
		tao__buf_printf(b, " redis %s:%d channel %s", cc->cc_host,
		    cc->cc_port, cc->cc_channel);
	tao__buf_printf(b, "\ncluster");
	for (int i = 0; i < TAO_CL__COUNT; i++)
		tao__buf_printf(b, " %s %" PRIu64, counter_names[i],
		    counter(m, i));
	tao__buf_printf(b, " restarts %u\n", m->m_bridge.mb_restarts);
}

void
tao__cluster_json(struct tao_master *m, struct tao_buf *b)
{
	tao__buf_printf(b, "\"cluster\":{\"state\":\"%s\",\"node_id\":%u",
	    state_name(m), tao__shm_node_id(m->m_shm));
	for (int i = 0; i < TAO_CL__COUNT; i++)
		tao__buf_printf(b, ",\"%s\":%" PRIu64, counter_names[i],
		    counter(m, i));
	tao__buf_printf(b, ",\"restarts\":%u}", m->m_bridge.mb_restarts);
}

/* The Prometheus families of the link (master/prom.c): counters
 * tao_cluster_<name>_total, gauges tao_cluster_up and _queued. */
void
tao__cluster_prometheus(struct tao_master *m, struct tao_buf *b)
{
	const char *st = state_name(m);

	tao__buf_printf(b, "# HELP tao_cluster_up 1 while the cluster link "
	    "to Redis is up (both connections, subscribed).\n"
	    "# TYPE tao_cluster_up gauge\ntao_cluster_up{node=\"%u\"} %d\n",
	    tao__shm_node_id(m->m_shm), strcmp(st, "up") == 0);
	for (int i = 0; i < TAO_CL__COUNT; i++) {
		int gauge = i == TAO_CL_QUEUED;
		tao__buf_printf(b, "# HELP tao_cluster_%s%s The cluster link's "
		    "%s (taoctl status).\n# TYPE tao_cluster_%s%s %s\n"
		    "tao_cluster_%s%s %" PRIu64 "\n", counter_names[i],
		    gauge ? "" : "_total", counter_names[i], counter_names[i],
		    gauge ? "" : "_total", gauge ? "gauge" : "counter",
		    counter_names[i], gauge ? "" : "_total", counter(m, i));
	}
}
