/*
 * master.c - prefork, respawn, graceful stop and reload.
 *
 * The master is single-threaded and event driven: one epoll set holds a
 * signalfd (SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP), the control socket
 * and its clients, and one socketpair per worker.  Deadlines (respawn
 * back-off, READY timeout, stop timeout) are checked after every wake-up;
 * the poll timeout is the nearest of them.
 *
 * A worker slot i always runs one serving worker.  A reload forks a new
 * generation; each new worker says READY on its channel, and only then is
 * the old worker of its slot told to drain.  Workers exiting with code 2
 * report a fatal configuration error and are not respawned.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <libutil.h>
#include <poll.h>
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
#include "worker/channel.h"
#include "worker/clock.h"
#include "worker/log.h"

#define BACKOFF_MIN_MS		10
#define BACKOFF_MAX_MS		5000
#define BACKOFF_RESET_MS	10000
#define FAST_STOP_GRACE_MS	1000
#define EXIT_FATAL_CONFIG	2


static int
alloc_islot(struct tao_master *m)
{
	for (int i = 0; i < m->m_nislots; i++)
		if (!m->m_islot_used[i]) {
			m->m_islot_used[i] = 1;
			return i;
		}
	return -1;
}

/* In the child: keep stdio, the channel, the eventfds and our sockets. */
static void
close_inherited(int keep_max, const int *keep, int nkeep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int dfd, fds[4096], n = 0;

	if (d == NULL)
		return;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL && n < (int)(sizeof(fds) /
	    sizeof(fds[0]))) {
		int fd = atoi(de->d_name);
		int kept = fd <= 2 || fd == dfd || de->d_name[0] == '.';
		for (int i = 0; i < nkeep && !kept; i++)
			kept = keep[i] == fd;
		if (!kept)
			fds[n++] = fd;
	}
	closedir(d);
	(void)keep_max;
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static int
drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user[0] == '\0')
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		log_warnx("user %s: no such user", user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1) {
		log_warn("cannot switch to user %s", user);
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		log_warnx("user %s: privileges could be regained", user);
		return -1;
	}
	return 0;
}

/* The TLS context of generation gen: the serving one's, or the one a
 * reload in progress is starting. */
static struct ssl_ctx_st *
gen_tls(struct tao_master *m, uint32_t gen)
{
	return gen == m->m_gen ? m->m_tls : m->m_reload.rl_tls;
}

static void
free_tls(struct tao_master *m)
{
	tao__mtls_ctx_free(m->m_tls);
	tao__mtls_ctx_free(m->m_reload.rl_tls);
	m->m_tls = m->m_reload.rl_tls = NULL;
}

static void __attribute__((noreturn))
child_main(struct tao_master *m, const struct tao_config *cf, int nworkers,
    int slot, int islot, uint32_t gen, int chan)
{
	struct tao_worker_params p;
	int keep[TAO_WORKER_MAX_LISTENERS + 4 * TAO_MAX_WORKERS + 2];
	int nkeep = 0;
	sigset_t none;
	int rc;

	memset(&p, 0, sizeof(p));
	tao__log_set_role("worker %d", slot);
	p.wp_server = m->m_server;
	p.wp_registry = &m->m_server->s_registry;
	p.wp_settings = cf->cf_settings;
	p.wp_slot = slot;
	p.wp_islot = islot;
	p.wp_generation = gen;
	p.wp_channel_fd = chan;
	p.wp_shm = m->m_shm;
	p.wp_eventfds = m->m_eventfds;
	p.wp_nislots = m->m_nislots;
	tao__log_set_level(cf->cf_log_level);	/* its generation's */
	p.wp_nlisteners = tao__lset_worker_fds(&m->m_lset, cf, slot, nworkers,
	    p.wp_listen_fd, p.wp_codec, p.wp_tls, TAO_WORKER_MAX_LISTENERS);
	p.wp_tls_ctx = gen_tls(m, gen);
	for (int i = 0; i < p.wp_nlisteners; i++)
		keep[nkeep++] = p.wp_listen_fd[i];
	for (int i = 0; i < m->m_nislots; i++)
		keep[nkeep++] = m->m_eventfds[i];
	keep[nkeep++] = chan;
	if (m->m_pidfh != NULL)
		pidfile_close(m->m_pidfh);
	close_inherited(0, keep, nkeep);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGCHLD, SIG_DFL);
	tao__set_title("taod: worker process %d", slot);
	if (drop_privileges(cf->cf_user) == -1)
		exit(EXIT_FATAL_CONFIG);
	rc = tao__worker_run(&p);
	free_tls(m);	/* every SSL is gone with its connection */
	exit(rc);
}

static struct tao_proc *
spawn(struct tao_master *m, const struct tao_config *cf, int nworkers,
    int slot, uint32_t gen)
{
	struct epoll_event ev;
	struct tao_proc *p;
	int sv[2], islot;
	pid_t pid;

	if ((islot = alloc_islot(m)) == -1) {
		log_warnx("slot %d: no free shared-memory instance (too many "
		    "generations draining)", slot);
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("socketpair");
		m->m_islot_used[islot] = 0;
		return NULL;
	}
	tao__mshm_islot_prepare(m, islot, slot, gen);
	if ((pid = fork()) == -1) {
		log_warn("fork");
		close(sv[0]);
		close(sv[1]);
		m->m_islot_used[islot] = 0;
		return NULL;
	}
	if (pid == 0) {
		close(sv[0]);
		child_main(m, cf, nworkers, slot, islot, gen, sv[1]);
	}
	close(sv[1]);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("spawn");
	p->p_io.io_kind = TAO_IO_CHANNEL;
	p->p_io.io_fd = sv[0];
	p->p_pid = pid;
	p->p_slot = slot;
	p->p_islot = islot;
	p->p_gen = gen;
	p->p_state = TAO_PROC_STARTING;
	p->p_started_ms = tao__now_ms();
	ev.events = EPOLLIN;
	ev.data.ptr = &p->p_io;
	if (epoll_ctl(m->m_epfd, EPOLL_CTL_ADD, sv[0], &ev) == -1)
		fatal("epoll_ctl channel");
	LIST_INSERT_HEAD(&m->m_procs, p, p_entry);
	tao__mshm_islot_started(m, islot, pid);
	log_debug("slot %d: worker %ld started (generation %u)", slot,
	    (long)pid, gen);
	return p;
}

static void
spawn_current(struct tao_master *m, int slot)
{
	struct tao_slot *sl = &m->m_slots[slot];

	sl->sl_respawn_at = 0;
	sl->sl_current = spawn(m, &m->m_cf, m->m_nworkers, slot, m->m_gen);
	if (sl->sl_current == NULL) {
		sl->sl_backoff_ms = BACKOFF_MAX_MS;
		sl->sl_respawn_at = tao__now_ms() + sl->sl_backoff_ms;
	}
}

static void
proc_send(struct tao_proc *p, uint32_t type)
{
	if (tao__chan_send(p->p_io.io_fd, type, 0, 0) == -1) {
		log_warn("slot %d: channel to %ld", p->p_slot, (long)p->p_pid);
		kill(p->p_pid, type == TAO_CHAN_STOP ? SIGQUIT : SIGTERM);
	}
}

static void
proc_drain(struct tao_proc *p)
{
	if (p->p_state == TAO_PROC_DRAINING)
		return;
	p->p_state = TAO_PROC_DRAINING;
	proc_send(p, TAO_CHAN_DRAIN);
}

static void
proc_free(struct tao_master *m, struct tao_proc *p)
{
	LIST_REMOVE(p, p_entry);
	(void)epoll_ctl(m->m_epfd, EPOLL_CTL_DEL, p->p_io.io_fd, NULL);
	close(p->p_io.io_fd);
	tao__mshm_islot_reclaim(m, p->p_islot, p->p_slot);
	m->m_islot_used[p->p_islot] = 0;
	free(p);
}

static int
count_gens_draining(struct tao_master *m)
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

/* ---- reload ----------------------------------------------------------- */

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
			proc_send(p, TAO_CHAN_HANDOFF);
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
	m->m_cf = m->m_next_cf;
	m->m_gen = rl->rl_gen;
	/* The old workers keep the context they inherited. */
	tao__mtls_ctx_free(m->m_tls);
	m->m_tls = rl->rl_tls;
	rl->rl_tls = NULL;
	m->m_nworkers = tao__config_worker_count(&m->m_cf);
	tao__log_set_level(m->m_cf.cf_log_level);
	reload_finish(m, 1, "reloaded");
}

static void
reload_abort(struct tao_master *m, const char *why)
{
	struct tao_reload *rl = &m->m_reload;
	struct tao_proc *p;

	LIST_FOREACH(p, &m->m_procs, p_entry)
		if (p->p_gen == rl->rl_gen) {
			kill(p->p_pid, SIGKILL);
			p->p_state = TAO_PROC_DRAINING;
		}
	tao__mtls_ctx_free(rl->rl_tls);
	rl->rl_tls = NULL;
	reload_finish(m, 0, why);
}

static void
reload_check(struct tao_master *m)
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

int
tao__master_reload(struct tao_master *m, struct tao_ctl_client *waiter,
    char *err, size_t errlen)
{
	struct tao_config *next = &m->m_next_cf;
	struct tao_reload *rl = &m->m_reload;
	int n;

	if (m->m_stopping) {
		snprintf(err, errlen, "reload: taod is stopping");
		return -1;
	}
	if (rl->rl_active) {
		snprintf(err, errlen, "reload: another reload is in progress");
		return -1;
	}
	if (count_gens_draining(m) >= m->m_cf.cf_max_old_generations) {
		snprintf(err, errlen, "reload: %d old generations are still "
		    "draining (max_old_generations %d); try again later",
		    count_gens_draining(m), m->m_cf.cf_max_old_generations);
		return -1;
	}
	tao__config_defaults(next);
	if (m->m_server->s_config_path != NULL) {
		if (tao__config_file(next, m->m_server->s_config_path, err,
		    errlen) == -1)
			return -1;
	} else
		*next = m->m_cf;
	if (m->m_server->s_workers_override > 0)
		next->cf_workers = m->m_server->s_workers_override;
	if (tao__config_reload_check(&m->m_cf, next, err, errlen) == -1)
		return -1;
	if (tao__mshm_check_reload(m, next, err, errlen) == -1)
		return -1;
	/* Certificates are re-read now: a bad one fails the reload here,
	 * before anything changes. */
	if (tao__mtls_needed(next) && (rl->rl_tls = tao__mtls_ctx_new(next, err,
	    errlen)) == NULL)
		return -1;
	n = tao__config_worker_count(next);
	(void)tao__notify_reloading();
	if (tao__lset_apply(&m->m_lset, next, n, m->m_gen + 1, err,
	    errlen) == -1) {
		tao__mtls_ctx_free(rl->rl_tls);
		rl->rl_tls = NULL;
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
		if (spawn(m, next, n, slot, rl->rl_gen) == NULL) {
			reload_abort(m, "cannot start new workers");
			return 0;
		}
	return 0;
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
		reload_abort(m, "taod is stopping");
	LIST_FOREACH(p, &m->m_procs, p_entry) {
		if (fast)
			proc_send(p, TAO_CHAN_STOP);
		else
			proc_drain(p);
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

static void	on_channel(struct tao_master *, struct tao_proc *);

static void
on_worker_exit(struct tao_master *m, struct tao_proc *p, int status)
{
	struct tao_slot *sl = &m->m_slots[p->p_slot];
	int was_current = sl->sl_current == p;
	uint64_t now = tao__now_ms(), lived = now - p->p_started_ms;
	int starting = p->p_state == TAO_PROC_STARTING;
	uint32_t gen = p->p_gen;
	int slot = p->p_slot;

	log_exit(p, status);
	/* Connections it handed over may still sit in its channel. */
	on_channel(m, p);
	tao__master_collect_dead(m, p);
	proc_free(m, p);
	if (m->m_reload.rl_active && gen == m->m_reload.rl_gen && starting) {
		reload_abort(m, WIFEXITED(status) && WEXITSTATUS(status) ==
		    EXIT_FATAL_CONFIG ? "a new worker reported a fatal "
		    "configuration error" : "a new worker died before READY");
		return;
	}
	if (!was_current || m->m_stopping)
		return;
	sl->sl_current = NULL;
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_FATAL_CONFIG) {
		sl->sl_fatal = 1;
		log_warnx("slot %d: fatal configuration error in the worker; "
		    "not restarting it", slot);
		return;
	}
	sl->sl_restarts++;
	/* First crash (or one after 10 s up): replace at once.  A slot
	 * that keeps crashing waits 10 ms, 20 ms, ... up to 5 s. */
	if (lived >= BACKOFF_RESET_MS)
		sl->sl_backoff_ms = 0;
	if (sl->sl_backoff_ms == 0) {
		sl->sl_backoff_ms = BACKOFF_MIN_MS;
		spawn_current(m, slot);
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
	}
}

/*
 * An old worker hands a connection over: pass it to the serving worker of
 * the same slot (or any serving worker of the current generation).  The
 * new worker reads its channel all the time, so a full channel is only a
 * short wait; past a second the connection is given up and logged.
 */
static void
relay_conn(struct tao_master *m, struct tao_proc *from,
    const struct tao_chan_msg *msg, int fd)
{
	struct tao_proc *to = m->m_slots[from->p_slot % m->m_nworkers]
	    .sl_current, *p;
	struct pollfd pfd;

	if (to == NULL || to->p_state != TAO_PROC_SERVING)
		LIST_FOREACH(p, &m->m_procs, p_entry)
			if (p->p_gen == m->m_gen &&
			    p->p_state == TAO_PROC_SERVING) {
				to = p;
				break;
			}
	if (to == NULL || to->p_state != TAO_PROC_SERVING) {
		log_warnx("reload: no serving worker to take a connection; "
		    "closing it");
		return;
	}
	for (int tries = 0; tries < 2; tries++) {
		if (tao__chan_send_fd(to->p_io.io_fd, TAO_CHAN_CONN,
		    msg->cm_arg, msg->cm_value, fd) == 0)
			return;
		if (errno != EAGAIN && errno != ENOBUFS)
			break;
		pfd.fd = to->p_io.io_fd;
		pfd.events = POLLOUT;
		(void)poll(&pfd, 1, 1000);
	}
	log_warn("reload: passing a connection to worker %ld",
	    (long)to->p_pid);
}

static void
on_channel(struct tao_master *m, struct tao_proc *p)
{
	struct tao_chan_msg msg;
	int rc, fd;

	while ((rc = tao__chan_recv(p->p_io.io_fd, &msg, &fd)) == 1) {
		if (msg.cm_type == TAO_CHAN_CONN && fd >= 0)
			relay_conn(m, p, &msg, fd);
		else if (msg.cm_type == TAO_CHAN_READY) {
			if (p->p_state == TAO_PROC_STARTING)
				p->p_state = TAO_PROC_SERVING;
			reload_check(m);
		}
		if (fd >= 0)
			close(fd);
	}
	if (rc == -1)	/* the worker is exiting; SIGCHLD will follow */
		(void)epoll_ctl(m->m_epfd, EPOLL_CTL_DEL, p->p_io.io_fd, NULL);
}

static void
on_signal(struct tao_master *m)
{
	struct signalfd_siginfo si;
	char err[TAO_CONFIG_ERRLEN];

	while (read(m->m_sig_io.io_fd, &si, sizeof(si)) ==
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
		}
	}
}

/* ---- the loop ----------------------------------------------------------- */

static int
next_timeout(struct tao_master *m, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (int i = 0; i < m->m_nworkers; i++)
		if (m->m_slots[i].sl_respawn_at && m->m_slots[i].sl_respawn_at <
		    next)
			next = m->m_slots[i].sl_respawn_at;
	if (m->m_reload.rl_active && m->m_reload.rl_deadline < next)
		next = m->m_reload.rl_deadline;
	if (m->m_stopping && m->m_stop_deadline < next)
		next = m->m_stop_deadline;
	if (!m->m_notified_ready)
		next = now + 50 < next ? now + 50 : next;
	if (next == UINT64_MAX)
		return 1000;	/* stats housekeeping */
	return next <= now ? 0 : (int)(next - now > 60000 ? 60000 :
	    next - now);
}

static void
check_deadlines(struct tao_master *m, uint64_t now)
{
	struct tao_proc *p;

	for (int i = 0; i < m->m_nworkers; i++) {
		struct tao_slot *sl = &m->m_slots[i];
		if (sl->sl_respawn_at && sl->sl_respawn_at <= now &&
		    !m->m_stopping)
			spawn_current(m, i);
	}
	if (m->m_reload.rl_active && m->m_reload.rl_deadline <= now)
		reload_abort(m, "new workers did not report READY in time");
	if (m->m_stopping && m->m_stop_deadline <= now) {
		LIST_FOREACH(p, &m->m_procs, p_entry) {
			log_warnx("slot %d: worker %ld did not stop in time; "
			    "killing it", p->p_slot, (long)p->p_pid);
			kill(p->p_pid, SIGKILL);
		}
		m->m_stop_deadline = now + 1000;
	}
	if (!m->m_notified_ready) {
		int serving = 0;
		LIST_FOREACH(p, &m->m_procs, p_entry)
			serving += p->p_state == TAO_PROC_SERVING;
		if (serving >= m->m_nworkers) {
			m->m_notified_ready = 1;
			log_info("serving with %d worker%s", serving,
			    serving == 1 ? "" : "s");
			(void)tao__notify("READY=1\nSTATUS=serving");
		}
	}
	tao__lset_gc(&m->m_lset, oldest_gen_alive(m));
}

static int
master_setup(struct tao_master *m)
{
	char err[TAO_CONFIG_ERRLEN];
	sigset_t set;
	struct epoll_event ev;
	pid_t other;
	int sfd;

	if (m->m_cf.cf_pidfile[0] != '\0') {
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
	m->m_nworkers = tao__config_worker_count(&m->m_cf);
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
	if (tao__mshm_create(m) == -1)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    (m->m_epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_warn("master setup");
		return -1;
	}
	m->m_sig_io.io_kind = TAO_IO_SIGNAL;
	m->m_sig_io.io_fd = sfd;
	ev.events = EPOLLIN;
	ev.data.ptr = &m->m_sig_io;
	if (epoll_ctl(m->m_epfd, EPOLL_CTL_ADD, sfd, &ev) == -1) {
		log_warn("epoll_ctl");
		return -1;
	}
	if (tao__ctl_listen(m) == -1)
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
	close(m->m_sig_io.io_fd);
	close(m->m_epfd);
	tao__mshm_destroy(m);
	free_tls(m);
	/* Last: closing the control socket answers a waiting `taoctl stop`,
	 * which must find the pidfile and the listeners gone. */
	tao__ctl_close_all(m);
}

int
tao__master_run(struct tao_server *s)
{
	static struct tao_master master;
	struct tao_master *m = &master;
	struct epoll_event events[64];
	int n;

	memset(m, 0, sizeof(*m));
	m->m_server = s;
	m->m_cf = s->s_config;
	m->m_gen = 1;
	m->m_started_ms = tao__now_ms();
	m->m_started_wall = time(NULL);
	LIST_INIT(&m->m_procs);
	LIST_INIT(&m->m_clients);
	tao__log_set_role("master");
	tao__log_set_level(m->m_cf.cf_log_level);
	if (master_setup(m) == -1)
		return -1;
	for (int i = 0; i < m->m_nworkers; i++)
		spawn_current(m, i);
	tao__set_title("taod: master process");

	while (!(m->m_stopping && LIST_EMPTY(&m->m_procs))) {
		m->m_now_ms = tao__now_ms();
		n = epoll_wait(m->m_epfd, events, 64,
		    next_timeout(m, m->m_now_ms));
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		for (int i = 0; i < n; i++) {
			struct tao_io *io = events[i].data.ptr;
			if (io == &m->m_sig_io)
				on_signal(m);
			else if (io == &m->m_ctl_io)
				tao__ctl_on_accept(m);
			else if (io->io_kind == TAO_IO_CHANNEL)
				on_channel(m, (struct tao_proc *)io);
			else
				tao__ctl_on_client(m, io);
		}
		check_deadlines(m, tao__now_ms());
	}
	log_info("stopped");
	master_teardown(m);
	return 0;
}
