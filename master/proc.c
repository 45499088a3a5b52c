/*
 * proc.c - starting a worker: the shared-memory instance, the channel,
 * fork, and in the child the descriptors it keeps, the signal mask and
 * the privilege drop before tao__worker_run().
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <grp.h>
#include <libutil.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/master.h"
#include "master/mshm.h"
#include "master/tls.h"
#include "core/clock.h"
#include "core/log.h"

#define BACKOFF_MAX_MS		5000
#define EXIT_FATAL_CONFIG	2

int
tao__proc_alloc_islot(struct tao_master *m)
{
	for (int i = 0; i < m->m_nislots; i++)
		if (!m->m_islot_used[i]) {
			m->m_islot_used[i] = 1;
			return i;
		}
	return -1;
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

static void
close_range_slow(unsigned from, unsigned to)
{
	struct rlimit rl;

	if (to == ~0U) {
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
			rl.rlim_cur = 65536;
		to = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1u << 20 ?
		    1u << 20 : (unsigned)rl.rlim_cur;
	}
	for (unsigned fd = from; fd <= to && fd != ~0U; fd++)
		(void)close((int)fd);
}

static void
close_gap(unsigned from, unsigned to)
{
	if (close_range(from, to, 0) == -1)
		close_range_slow(from, to);
}

/* In the child: close every descriptor but stdio and keep[] (which is
 * sorted in place), however high its number: close_range(2) on the gaps
 * (no upper bound, unlike a scan of a fixed-size list). */
static void
close_inherited(int *keep, int nkeep)
{
	unsigned next = 3;

	qsort(keep, (size_t)nkeep, sizeof(*keep), cmp_int);
	for (int i = 0; i < nkeep; i++) {
		if (keep[i] < 3 || (unsigned)keep[i] < next)
			continue;	/* stdio, or a duplicate */
		if ((unsigned)keep[i] > next)
			close_gap(next, (unsigned)keep[i] - 1);
		next = (unsigned)keep[i] + 1;
	}
	close_gap(next, ~0U);
}

void
tao__proc_close_except(int *keep, int nkeep)
{
	close_inherited(keep, nkeep);
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

void
tao__proc_free_tls(struct tao_master *m)
{
	tao__mtls_ctx_free(m->m_tls);
	tao__mtls_ctx_free(m->m_reload.rl_tls);
	m->m_tls = m->m_reload.rl_tls = NULL;
}

static void
child_params(struct tao_master *m, const struct tao_config *cf, int nworkers,
    struct tao_worker_params *p)
{
	p->wp_server = m->m_server;
	p->wp_bind = &m->m_server->s_worker;
	p->wp_registry = &m->m_server->s_registry;
	p->wp_settings = cf->cf_settings;
	p->wp_settings.st_histograms = cf->cf_metrics[0] != '\0';
	p->wp_shm = m->m_shm;
	p->wp_eventfds = m->m_eventfds;
	p->wp_nislots = m->m_nislots;
	tao__log_set_level(cf->cf_log_level);	/* its generation's */
	p->wp_nlisteners = tao__lset_worker_fds(&m->m_lset, cf, p->wp_slot,
	    nworkers, p->wp_listen_fd, p->wp_codec, p->wp_tls, p->wp_access,
	    TAO_WORKER_MAX_LISTENERS);
	p->wp_tls_ctx = gen_tls(m, p->wp_generation);
}

/* Sized from the real counts: up to TAO_SHM_MAX_ISLOTS eventfds. */
static void
child_close_fds(struct tao_master *m, const struct tao_worker_params *p)
{
	int *keep, nkeep = 0;

	keep = calloc((size_t)p->wp_nlisteners + (size_t)m->m_nislots + 1,
	    sizeof(*keep));
	if (keep == NULL)
		fatal("worker setup");
	for (int i = 0; i < p->wp_nlisteners; i++)
		keep[nkeep++] = p->wp_listen_fd[i];
	for (int i = 0; i < m->m_nislots; i++)
		keep[nkeep++] = m->m_eventfds[i];
	keep[nkeep++] = p->wp_channel_fd;
	close_inherited(keep, nkeep);
	free(keep);
}

int
tao__proc_helper_setup(struct tao_master *m, const struct tao_config *cf)
{
	sigset_t none;
	int *keep;

	if ((keep = calloc((size_t)m->m_nislots + 1, sizeof(*keep))) == NULL)
		fatal("helper setup");
	for (int i = 0; i < m->m_nislots; i++)
		keep[i] = m->m_eventfds[i];
	if (m->m_pidfh != NULL)
		pidfile_close(m->m_pidfh);
	close_inherited(keep, m->m_nislots);
	free(keep);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGCHLD, SIG_DFL);
	return drop_privileges(cf->cf_user);
}

/*
 * A worker leaves with _exit after its own teardown: exit() would run the
 * embedding program's atexit handlers (and flush its stdio) once per
 * worker.  What the worker itself printed is flushed first; the buffers
 * the master had are empty, it flushes them before every fork.
 */
static void __attribute__((noreturn))
child_exit(int rc)
{
	fflush(NULL);
	_exit(rc);
}

/* Pin the worker to its slot's CPU (worker_cpu_affinity); a failure
 * (a CPU gone offline since the check, a cpuset of the cgroup) leaves it
 * where it may run, which serves all the same. */
static void
child_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == -1)
		log_warn("cannot pin to CPU %d", cpu);
}

static void __attribute__((noreturn))
child_main(struct tao_master *m, const struct tao_config *cf, int nworkers,
    int slot, int islot, uint32_t gen, int chan)
{
	struct tao_worker_params p;
	sigset_t none;
	int rc;

	memset(&p, 0, sizeof(p));
	tao__log_set_role("worker %d", slot);
	tao__log_set_forked(1);
	p.wp_slot = slot;
	p.wp_islot = islot;
	p.wp_generation = gen;
	p.wp_channel_fd = chan;
	child_params(m, cf, nworkers, &p);
	if (m->m_pidfh != NULL)
		pidfile_close(m->m_pidfh);
	child_close_fds(m, &p);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGCHLD, SIG_DFL);
	tao__set_title("taod: worker process %d", slot);
	child_pin(tao__config_worker_cpu(cf, slot));
	if (drop_privileges(cf->cf_user) == -1)
		child_exit(EXIT_FATAL_CONFIG);
	rc = tao__worker_run(&p);
	tao__proc_free_tls(m);	/* every SSL is gone with its connection */
	child_exit(rc);
}

static void
proc_register(struct tao_master *m, struct tao_proc *p, int fd)
{
	if (tao__watch_add(m, &p->p_w, fd, EPOLLIN, tao__relay_on_channel,
	    p) == -1)
		fatal("epoll_ctl channel");
	LIST_INSERT_HEAD(&m->m_procs, p, p_entry);
	tao__mshm_islot_started(m, p->p_islot, p->p_pid);
	log_debug("slot %d: worker %ld started (generation %u)", p->p_slot,
	    (long)p->p_pid, p->p_gen);
}

struct tao_proc *
tao__proc_spawn(struct tao_master *m, const struct tao_config *cf,
    int nworkers, int slot, uint32_t gen)
{
	struct tao_proc *p;
	int sv[2], islot;
	pid_t pid;

	if ((islot = tao__proc_alloc_islot(m)) == -1) {
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
	fflush(NULL);	/* or the child would print the caller's buffers */
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
	p->p_pid = pid;
	p->p_slot = slot;
	p->p_islot = islot;
	p->p_gen = gen;
	p->p_cpu = tao__config_worker_cpu(cf, slot);	/* as the child's */
	p->p_state = TAO_PROC_STARTING;
	p->p_started_ms = tao__now_ms();
	proc_register(m, p, sv[0]);
	return p;
}

void
tao__proc_spawn_current(struct tao_master *m, int slot)
{
	struct tao_slot *sl = &m->m_slots[slot];

	sl->sl_respawn_at = 0;
	sl->sl_current = tao__proc_spawn(m, &m->m_cf, m->m_nworkers, slot,
	    m->m_gen);
	if (sl->sl_current == NULL) {
		sl->sl_backoff_ms = BACKOFF_MAX_MS;
		sl->sl_respawn_at = tao__now_ms() + sl->sl_backoff_ms;
	}
}

void
tao__proc_drain(struct tao_master *m, struct tao_proc *p)
{
	if (p->p_state == TAO_PROC_DRAINING)
		return;
	p->p_state = TAO_PROC_DRAINING;
	tao__relay_ctl(m, p, TAO_CHAN_DRAIN);
}

/* The memory goes after the event batch (tao__watch_kill). */
void
tao__proc_free(struct tao_master *m, struct tao_proc *p)
{
	LIST_REMOVE(p, p_entry);
	tao__relay_clear(p);
	tao__watch_kill(m, &p->p_w);
	tao__mshm_islot_reclaim(m, p->p_islot, p->p_slot);
	m->m_islot_used[p->p_islot] = 0;
	tao__relay_resume(m);	/* it may have been where others' went */
}

/* How long a worker of the serving generation may take to say READY
 * (the same bound a reload gives its new workers). */
uint64_t
tao__proc_ready_timeout(const struct tao_master *m)
{
	return m->m_cf.cf_reload_timeout_ms;
}
