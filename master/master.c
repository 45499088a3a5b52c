/*
 * master.c - the master's loop: signals, reaping and respawning workers,
 * deadlines, graceful and fast stop.
 *
 * The master is single-threaded and event driven: one epoll set holds a
 * signalfd (SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP), the control socket
 * and its clients, and one socketpair per worker, each registered through
 * a struct tao_watch (master.h).  One turn of the loop:
 *
 *	epoll_wait (timeout: the nearest deadline)
 *	-> dispatch every event whose watch is still alive
 *	-> deadlines: respawn back-off, READY timeouts, reload and stop
 *	   timeouts, idle control clients
 *	-> free what the turn closed (tao__watch_reap)
 *
 * A worker slot i always runs one serving worker.  A reload (reload.c)
 * forks a new generation; each new worker says READY on its channel, and
 * only then is the old worker of its slot told to drain.  Workers exiting
 * with code 2 report a fatal configuration error and are not respawned.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <libutil.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/master.h"
#include "master/notify.h"
#include "master/mshm.h"
#include "master/tls.h"
#include "master/rundir.h"
#include "core/clock.h"
#include "core/log.h"

#define BACKOFF_MIN_MS		10
#define BACKOFF_MAX_MS		5000
#define BACKOFF_RESET_MS	10000
#define FAST_STOP_GRACE_MS	1000
#define EXIT_FATAL_CONFIG	2

static uint32_t
oldest_gen_alive(struct tao_master *m)
{
	uint32_t oldest = m->m_gen;
	struct tao_proc *p;

	LIST_FOREACH(p, &m->m_procs, p_entry)
		if (p->p_gen < oldest)
			oldest = p->p_gen;
	return oldest;
}

/* ---- stop ------------------------------------------------------------- */

void
tao__master_stop(struct tao_master *m, int fast)
{
	struct tao_proc *p;

	if (m->m_stopping >= (fast ? 2 : 1))
		return;
	log_info("%s stop requested", fast ? "fast" : "graceful");
	(void)tao__notify("STOPPING=1");
	m->m_stopping = fast ? 2 : 1;
	m->m_stop_deadline = tao__now_ms() + (fast ? FAST_STOP_GRACE_MS :
	    m->m_cf.cf_settings.st_drain_timeout_ms + 2000);
	if (m->m_reload.rl_active)
		tao__reload_abort(m, "taod is stopping");
	tao__upgrade_abort(m, "taod is stopping");
	LIST_FOREACH(p, &m->m_procs, p_entry) {
		if (fast)
			tao__relay_ctl(m, p, TAO_CHAN_STOP);
		else
			tao__proc_drain(m, p);
	}
}

/* ---- children --------------------------------------------------------- */

static void
log_exit(struct tao_proc *p, int status)
{
	if (WIFSIGNALED(status))
		log_warnx("slot %d: worker %ld killed by signal %s%s",
		    p->p_slot, (long)p->p_pid, sigabbrev_np(WTERMSIG(status)) ?
		    sigabbrev_np(WTERMSIG(status)) : "?",
		    WCOREDUMP(status) ? " (core dumped)" : "");
	else if (WEXITSTATUS(status) != 0)
		log_warnx("slot %d: worker %ld exited with code %d", p->p_slot,
		    (long)p->p_pid, WEXITSTATUS(status));
	else
		log_debug("slot %d: worker %ld exited", p->p_slot,
		    (long)p->p_pid);
}

/* A current worker of slot died: respawn it, at once the first time,
 * with a growing back-off if it keeps crashing. */
static void
respawn_later(struct tao_master *m, int slot, int status, int starting,
    uint64_t lived)
{
	struct tao_slot *sl = &m->m_slots[slot];
	uint64_t now = tao__now_ms();

	sl->sl_current = NULL;
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_FATAL_CONFIG) {
		sl->sl_fatal = 1;
		log_warnx("slot %d: fatal configuration error in the worker; "
		    "not restarting it", slot);
		return;
	}
	sl->sl_restarts++;
	/* First crash (or one after 10 s serving): replace at once.  A slot
	 * that keeps crashing (or never gets READY) waits 10 ms, 20 ms, ...
	 * up to 5 s. */
	if (lived >= BACKOFF_RESET_MS && !starting)
		sl->sl_backoff_ms = 0;
	if (sl->sl_backoff_ms == 0) {
		sl->sl_backoff_ms = BACKOFF_MIN_MS;
		tao__proc_spawn_current(m, slot);
		return;
	}
	sl->sl_respawn_at = now + sl->sl_backoff_ms;
	log_warnx("slot %d: crashing repeatedly; restarting in %llu ms", slot,
	    (unsigned long long)sl->sl_backoff_ms);
	sl->sl_backoff_ms *= 2;
	if (sl->sl_backoff_ms > BACKOFF_MAX_MS)
		sl->sl_backoff_ms = BACKOFF_MAX_MS;
}

static void
on_worker_exit(struct tao_master *m, struct tao_proc *p, int status)
{
	int was_current = m->m_slots[p->p_slot].sl_current == p;
	uint64_t lived = tao__now_ms() - p->p_started_ms;
	int starting = p->p_state == TAO_PROC_STARTING;
	uint32_t gen = p->p_gen;
	int slot = p->p_slot;

	log_exit(p, status);
	/* Connections it handed over may still sit in its channel: all of
	 * them must reach the new generation before the channel closes. */
	tao__relay_read_dead(m, p);
	tao__master_collect_dead(m, p);
	tao__proc_free(m, p);	/* p stays readable until the batch ends */
	if (m->m_reload.rl_active && gen == m->m_reload.rl_gen && starting) {
		tao__reload_abort(m, WIFEXITED(status) && WEXITSTATUS(status) ==
		    EXIT_FATAL_CONFIG ? "a new worker reported a fatal "
		    "configuration error" : "a new worker died before READY");
		return;
	}
	if (was_current && !m->m_stopping)
		respawn_later(m, slot, status, starting, lived);
}

static void
reap(struct tao_master *m)
{
	struct tao_proc *p;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		LIST_FOREACH(p, &m->m_procs, p_entry)
			if (p->p_pid == pid)
				break;
		if (p != NULL)
			on_worker_exit(m, p, status);
		else if (!tao__upgrade_reaped(m, pid, status))
			(void)tao__cluster_reaped(m, pid, status);
	}
}

static void
on_signal(struct tao_master *m, struct tao_watch *w, uint32_t events)
{
	struct signalfd_siginfo si;
	char err[TAO_CONFIG_ERRLEN];

	(void)events;
	while (read(w->w_fd, &si, sizeof(si)) ==
	    (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap(m);
			break;
		case SIGTERM:
		case SIGINT:
			tao__master_stop(m, 0);
			break;
		case SIGQUIT:
			tao__master_stop(m, 1);
			break;
		case SIGHUP:
			if (tao__master_reload(m, NULL, err, sizeof(err)) == -1)
				log_warnx("%s", err);
			break;
		case SIGUSR2:	/* as nginx; the same path as taoctl's */
			if (tao__master_upgrade(m, NULL, err, sizeof(err)) ==
			    -1)
				log_warnx("%s", err);
			break;
		}
	}
}

/* ---- the loop ----------------------------------------------------------- */

/* The nearest deadline, or UINT64_MAX. */
static uint64_t
next_deadline(struct tao_master *m)
{
	uint64_t next = tao__ctl_next_deadline(m), ready_to;
	uint64_t metrics = tao__metrics_next_deadline(m);
	uint64_t upgrade = tao__upgrade_next_deadline(m);
	struct tao_proc *p;

	if (metrics < next)
		next = metrics;
	if (upgrade < next)
		next = upgrade;
	if (tao__cluster_next_deadline(m) < next)
		next = tao__cluster_next_deadline(m);
	for (int i = 0; i < m->m_nworkers; i++)
		if (m->m_slots[i].sl_respawn_at && m->m_slots[i].sl_respawn_at <
		    next)
			next = m->m_slots[i].sl_respawn_at;
	if (m->m_reload.rl_active && m->m_reload.rl_deadline < next)
		next = m->m_reload.rl_deadline;
	if (m->m_stopping && m->m_stop_deadline < next)
		next = m->m_stop_deadline;
	ready_to = tao__proc_ready_timeout(m);
	LIST_FOREACH(p, &m->m_procs, p_entry)
		if (p->p_state == TAO_PROC_STARTING && p->p_gen == m->m_gen &&
		    !p->p_ready_killed && p->p_started_ms + ready_to < next)
			next = p->p_started_ms + ready_to;
	return next;
}

static int
next_timeout(struct tao_master *m, uint64_t now)
{
	uint64_t next = next_deadline(m);

	if (!m->m_notified_ready)
		next = now + 50 < next ? now + 50 : next;
	if (next == UINT64_MAX)
		return 1000;	/* stats housekeeping */
	return next <= now ? 0 : (int)(next - now > 60000 ? 60000 :
	    next - now);
}

/* A worker of the serving generation that hangs at start is killed; its
 * exit is a crash (respawn with back-off).  A reload's new workers have
 * the reload's own deadline, which keeps the old generation. */
static void
check_ready_timeouts(struct tao_master *m, uint64_t now)
{
	uint64_t ready_to = tao__proc_ready_timeout(m);
	struct tao_proc *p;

	LIST_FOREACH(p, &m->m_procs, p_entry)
		if (p->p_state == TAO_PROC_STARTING && p->p_gen == m->m_gen &&
		    !p->p_ready_killed && p->p_started_ms + ready_to <= now) {
			log_warnx("slot %d: worker %ld did not report READY "
			    "within %llu ms; killing it", p->p_slot,
			    (long)p->p_pid, (unsigned long long)ready_to);
			p->p_ready_killed = 1;
			kill(p->p_pid, SIGKILL);
		}
}

static void
check_ready_notify(struct tao_master *m)
{
	struct tao_proc *p;
	int serving = 0;

	if (m->m_notified_ready)
		return;
	LIST_FOREACH(p, &m->m_procs, p_entry)
		serving += p->p_state == TAO_PROC_SERVING;
	if (serving >= m->m_nworkers) {
		m->m_notified_ready = 1;
		log_info("serving with %d worker%s", serving,
		    serving == 1 ? "" : "s");
		tao__upgrade_serving(m);	/* systemd, or the old master */
	}
}

static void
check_deadlines(struct tao_master *m, uint64_t now)
{
	struct tao_proc *p;

	for (int i = 0; i < m->m_nworkers; i++) {
		struct tao_slot *sl = &m->m_slots[i];
		if (sl->sl_respawn_at && sl->sl_respawn_at <= now &&
		    !m->m_stopping)
			tao__proc_spawn_current(m, i);
	}
	if (m->m_reload.rl_active && m->m_reload.rl_deadline <= now)
		tao__reload_abort(m, "new workers did not report READY in "
		    "time");
	check_ready_timeouts(m, now);
	if (m->m_stopping && m->m_stop_deadline <= now) {
		LIST_FOREACH(p, &m->m_procs, p_entry) {
			log_warnx("slot %d: worker %ld did not stop in time; "
			    "killing it", p->p_slot, (long)p->p_pid);
			kill(p->p_pid, SIGKILL);
		}
		m->m_stop_deadline = now + 1000;
	}
	tao__cluster_check(m, now);
	tao__ctl_expire(m, now);
	tao__metrics_expire(m, now);
	tao__upgrade_expire(m, now);
	check_ready_notify(m);
	/* Inherited sockets no config line claimed wait for the old master
	 * to be gone (its workers may still accept on them). */
	if (!m->m_upgrade.up_inherit)
		tao__lset_gc(&m->m_lset, oldest_gen_alive(m));
}

static int
setup_pidfile_user(struct tao_master *m)
{
	pid_t other;

	/* A new master of an upgrade writes it when it takes over. */
	if (m->m_cf.cf_pidfile[0] != '\0' && !m->m_upgrade.up_inherit) {
		(void)tao__rundir_ensure(m->m_cf.cf_pidfile);
		m->m_pidfh = pidfile_open(m->m_cf.cf_pidfile, 0644, &other);
		if (m->m_pidfh == NULL) {
			if (errno == EEXIST)
				log_warnx("already running (pid %ld, pidfile "
				    "%s)", (long)other, m->m_cf.cf_pidfile);
			else
				log_warn("pidfile %s", m->m_cf.cf_pidfile);
			return -1;
		}
	}
	if (m->m_cf.cf_user[0] != '\0' && getpwnam(m->m_cf.cf_user) == NULL) {
		log_warnx("user %s: no such user", m->m_cf.cf_user);
		return -1;
	}
	if (m->m_cf.cf_user[0] != '\0' && geteuid() != 0) {
		log_warnx("user %s: taod must start as root to switch user",
		    m->m_cf.cf_user);
		return -1;
	}
	return 0;
}

static int
setup_listeners(struct tao_master *m)
{
	char err[TAO_CONFIG_ERRLEN];

	/* Before fork: every worker inherits the context (master/tls.h). */
	if (tao__mtls_needed(&m->m_cf) && (m->m_tls = tao__mtls_ctx_new(
	    &m->m_cf, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return -1;
	}
	if (tao__lset_apply(&m->m_lset, &m->m_cf, m->m_nworkers, m->m_gen,
	    err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	for (int i = 0; i < m->m_cf.cf_nlistens; i++)
		log_info("listening on %s (%s%s)",
		    m->m_cf.cf_listens[i].lc_text,
		    m->m_cf.cf_listens[i].lc_codec->name,
		    m->m_cf.cf_listens[i].lc_tls ? ", tls" : "");
	return 0;
}

static void
master_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR2);
}

/*
 * Give the caller back the signal state it had before tao_server_run:
 * the mask and SIGPIPE's disposition.  Signals of our set that the
 * caller had not blocked and that are still pending were meant for the
 * server (a second SIGTERM during the drain): they are consumed here, so
 * unblocking them does not kill the program that embeds libtao.
 */
static void
restore_signals(struct tao_master *m)
{
	struct timespec zero = { 0, 0 };
	sigset_t ours;

	if (!m->m_sig_saved)
		return;
	master_signal_set(&ours);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&ours, sig) == 1 &&
		    sigismember(&m->m_sig_mask, sig) == 1)
			sigdelset(&ours, sig);
	while (sigtimedwait(&ours, NULL, &zero) > 0)
		;
	sigprocmask(SIG_SETMASK, &m->m_sig_mask, NULL);
	sigaction(SIGPIPE, &m->m_sig_pipe, NULL);
	m->m_sig_saved = 0;
}

static int
setup_signals(struct tao_master *m)
{
	struct sigaction ign;
	sigset_t set;
	int sfd;

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	master_signal_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, &m->m_sig_mask) == -1 ||
	    sigaction(SIGPIPE, &ign, &m->m_sig_pipe) == -1) {
		log_warn("master setup");
		return -1;
	}
	m->m_sig_saved = 1;
	if ((sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    (m->m_epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_warn("master setup");
		return -1;
	}
	if (tao__watch_add(m, &m->m_sig_w, sfd, EPOLLIN, on_signal,
	    NULL) == -1) {
		log_warn("epoll_ctl");
		return -1;
	}
	return 0;
}

static int
master_setup(struct tao_master *m)
{
	if (tao__upgrade_inherit(m) == -1 || setup_pidfile_user(m) == -1)
		return -1;
	m->m_nworkers = tao__config_worker_count(&m->m_cf);
	if (setup_listeners(m) == -1 ||
	    tao__mshm_create(m) == -1 || setup_signals(m) == -1 ||
	    tao__upgrade_attach(m) == -1 ||
	    tao__ctl_listen(m, !m->m_upgrade.up_inherit) == -1 ||
	    tao__metrics_start(m) == -1)
		return -1;
	if (m->m_pidfh != NULL && pidfile_write(m->m_pidfh) == -1)
		log_warn("pidfile %s", m->m_cf.cf_pidfile);
	return 0;
}

static void
master_teardown(struct tao_master *m)
{
	tao__lset_close_all(&m->m_lset);
	if (m->m_pidfh != NULL)
		pidfile_remove(m->m_pidfh);
	close(m->m_sig_w.w_fd);
	close(m->m_epfd);
	tao__mshm_destroy(m);
	tao__proc_free_tls(m);
	tao__metrics_close_all(m);
	tao__upgrade_close(m);
	/* Last: closing the control socket answers a waiting `taoctl stop`,
	 * which must find the pidfile and the listeners gone. */
	tao__ctl_close_all(m);
	tao__watch_reap(m);
}

/* One turn of the loop (see the top of this file). */
static void
master_turn(struct tao_master *m)
{
	struct epoll_event events[64];
	int n;

	m->m_now_ms = tao__now_ms();
	n = epoll_wait(m->m_epfd, events, 64, next_timeout(m, m->m_now_ms));
	if (n == -1 && errno != EINTR)
		fatal("epoll_wait");
	for (int i = 0; i < n; i++) {
		struct tao_watch *w = events[i].data.ptr;
		if (!w->w_dead)
			w->w_fn(m, w, events[i].events);
	}
	check_deadlines(m, tao__now_ms());
	tao__watch_reap(m);
}

int
tao__master_run(struct tao_server *s)
{
	static struct tao_master master;
	struct tao_master *m = &master;

	memset(m, 0, sizeof(*m));
	m->m_server = s;
	m->m_cf = s->s_config;
	m->m_gen = 1;
	m->m_started_ms = tao__now_ms();
	m->m_started_wall = time(NULL);
	m->m_epfd = -1;
	LIST_INIT(&m->m_procs);
	LIST_INIT(&m->m_clients);
	SLIST_INIT(&m->m_dead);
	tao__log_set_role("master");
	tao__log_set_level(m->m_cf.cf_log_level);
	tao__upgrade_init(m);	/* before setproctitle rewrites argv */
	if (master_setup(m) == -1) {
		restore_signals(m);
		return -1;
	}
	for (int i = 0; i < m->m_nworkers; i++)
		tao__proc_spawn_current(m, i);
	tao__cluster_start(m);
	tao__set_title("taod: master process");
	while (!(m->m_stopping && LIST_EMPTY(&m->m_procs) &&
	    tao__upgrade_may_exit(m) && !tao__cluster_running(m)))
		master_turn(m);
	log_info("stopped");
	master_teardown(m);
	restore_signals(m);
	return 0;
}
