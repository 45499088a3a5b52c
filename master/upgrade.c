/*
 * upgrade.c - binary upgrade (`taoctl upgrade`, SIGUSR2): start the taod
 * binary on disk as a new master on the same sockets, hand everything
 * over to it without closing a listener, and leave.  This file is the old
 * master's side; inherit.c is the new master's.
 *
 * Which binary.  The path and argv are saved when the master starts
 * (tao__upgrade_init): readlink(/proc/self/exe) and /proc/self/cmdline.
 * After a package upgrade /proc/self/exe names the deleted old inode
 * ("/usr/sbin/taod (deleted)"), so it is read at start, when it still
 * names the path the new package writes to; argv too, before
 * setproctitle overwrites it.  The master never chdir()s, so a relative
 * `-c` still means the same file.
 *
 *	old master                              new master (fork + execve)
 *	----------                              --------------------------
 *	socketpair U; fork; child: close all
 *	but stdio + what is passed, clear
 *	FD_CLOEXEC on those, $TAO_UPGRADE,  -->  parse + validate $TAO_UPGRADE
 *	execve (failure: EXECFAIL on U)          adopt listeners (by address),
 *	keeps serving, answering taoctl          bind new ones, own shm segment,
 *	                                         fork workers (they accept on
 *	                                         the shared reuseport sockets)
 *	                                    <--  UP_READY (all workers READY)
 *	commit: pidfile removed,
 *	UP_COMMIT                           -->  pidfile written, control and
 *	stop polling control + metrics           metrics sockets polled,
 *	(close our copies, no unlink),           MAINPID=self READY=1
 *	MAINPID=new to systemd              <--  UP_TAKEN
 *	old workers: HANDOFF (as a reload)
 *	  worker -> old master -> U: CONN   -->  -> a serving new worker
 *	  (TLS: finishes its exchange, closes)
 *	all old workers gone, U flushed:
 *	exit (closes U)                     -->  EOF: old master gone; close
 *	                                         inherited sockets no config
 *	                                         line matched
 *
 * What is passed.  $TAO_UPGRADE is one line of space-separated words:
 *
 *	v=1 ppid=PID chan=FD ctl=FD metrics=FD netid=BOUND rec=V,SIZE
 *	L=FD,FD,...@HEX  (one per socket set: its fds, slot order, and the
 *	                  sockaddr it was configured with, in hex, port 0
 *	                  kept, so port-0 listeners match as on a reload)
 *
 * (ctl and metrics -1: none.)  The fds keep their numbers across execve:
 * the child closes everything else (stdio stays, for the log) and clears
 * FD_CLOEXEC on these only; the new master sets it again, and
 * O_NONBLOCK, on what it takes.
 *
 * The new master trusts nothing in it: every fd must be open, of the
 * kind named (listening TCP socket bound to that address, listening unix
 * socket at the control path, SEQPACKET unix channel), at most once; a
 * word it does not know, a malformed number or a wrong fd makes it exit
 * 1 at once, which the old master reports.  Listener sets are matched to
 * the new config by configured address (tao__lset_adopt/tao__lset_apply);
 * addresses it does not have are kept, unpolled, until the old master is
 * gone (its workers may still accept on them), then closed.  A control
 * socket at another path is likewise unlinked (if still ours) after.
 *
 * Shared memory is not inherited: it is MAP_ANONYMOUS (nothing to pass
 * across execve) and the new binary's layout may differ.  The new master
 * makes its own segment; handed-over connections get rows there and keep
 * their netid.  To keep netids unique across both segments the old master
 * passes BOUND: above every netid it gave out plus 2^24 more births;
 * the new segment's sequence starts above it whatever the layout
 * (tao__shm_netid_seed).  The old generation would have to accept 16 M
 * connections between the fork and its hand-off for a duplicate to be
 * possible; that is logged if it happens.  Counters and histograms go on
 * from the old master's (uptotals.c: a batch before UP_COMMIT, the final
 * one when every old worker is gone); rec=V,SIZE is the channel record
 * layout (proto/channel.h), refused by the new master if not its own.
 *
 * Failures before the commit leave the old master as it was: a missing or
 * non-executable binary is refused before fork (taoctl prints the
 * reason); execve failing is reported by the child over U; the new master
 * exiting (or killed) before READY, closing U, or not READY within
 * reload_timeout_ms + UPGRADE_EXEC_MS (then killed) fails the upgrade,
 * which taoctl prints with a non-zero exit.  Its workers, if any, see
 * their master gone and drain.  One upgrade at a time; none during a
 * reload or a stop, and no reload during an upgrade.  SIGUSR2 and taoctl
 * take the same path (tao__master_upgrade; SIGUSR2 only logs).
 *
 * Connections.  The old workers hand over exactly as in a reload
 * (worker/handoff.c); the old master relays each CONN record (codec id,
 * netid, fd) to the new master over U instead of to a worker of its own
 * (tao__upgrade_relay), queued without blocking like any channel, with
 * room for every worker's share; the new master deals them round-robin
 * to its serving workers (tao__relay_conn).  A worker that exits right
 * after its last hand-over has its channel read to the end first
 * (tao__relay_read_dead).  The old master exits only once what it queued
 * for U is sent (bounded by drain_timeout_ms + 2 s), and taoctl's reply
 * waits for UP_TAKEN, so when `taoctl upgrade` returns the pidfile holds
 * the new pid.
 *
 * After the commit there is no way back: if the new master dies then,
 * what is still queued for it is closed, the old master finishes its
 * drain and exits, and the service manager sees the new MAINPID die.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <libutil.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/buf.h"
#include "master/master.h"
#include "master/notify.h"
#include "shm/segment.h"
#include "core/clock.h"
#include "core/log.h"

#define UPGRADE_EXEC_MS		2000	/* exec and set-up, on top of READY */
#define UPGRADE_EOF_MS		1000	/* after EOF, for its exit status */
#define UPGRADE_NETID_MARGIN	(UINT64_C(1) << 24)
#define UPGRADE_MAX_ARGS	256
#define UPGRADE_MAX_CMDLINE	65536
#define UPGRADE_MAX_KEEP	(TAO_MAX_LSOCKS * TAO_MAX_WORKERS + 4)

static char	 up_exe[PATH_MAX];
static char	 up_cmdline[UPGRADE_MAX_CMDLINE];
static char	*up_argv[UPGRADE_MAX_ARGS + 1];
static char	 up_noexe[128];		/* why no upgrade is possible */

static int
read_cmdline(void)
{
	ssize_t n, len = 0;
	int fd, argc = 0;

	if ((fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (len < (ssize_t)sizeof(up_cmdline) - 1 && (n = read(fd,
	    up_cmdline + len, sizeof(up_cmdline) - 1 - (size_t)len)) > 0)
		len += n;
	close(fd);
	if (len == 0 || len >= (ssize_t)sizeof(up_cmdline) - 1)
		return -1;
	up_cmdline[len] = '\0';
	for (ssize_t i = 0; i < len && argc < UPGRADE_MAX_ARGS;
	    i += (ssize_t)strlen(up_cmdline + i) + 1)
		up_argv[argc++] = up_cmdline + i;
	up_argv[argc] = NULL;
	return 0;
}

void
tao__upgrade_init(struct tao_master *m)
{
	ssize_t n = readlink("/proc/self/exe", up_exe, sizeof(up_exe) - 1);

	m->m_upgrade.up_parent_fd = m->m_upgrade.up_metrics_fd = -1;
	if (n <= 0 || n >= (ssize_t)sizeof(up_exe) - 1) {
		snprintf(up_noexe, sizeof(up_noexe), "cannot read "
		    "/proc/self/exe at start-up");
		return;
	}
	up_exe[n] = '\0';
	if (read_cmdline() == -1)
		snprintf(up_noexe, sizeof(up_noexe), "cannot read "
		    "/proc/self/cmdline at start-up");
}

/* ---- the environment word list ----------------------------------------- */

static void
put_hex(struct tao_buf *b, const void *p, size_t len)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < len; i++)
		tao__buf_printf(b, "%02x", c[i]);
}

/* $TAO_UPGRADE for a child whose end of the channel is chan; keep[] gets
 * every fd passed.  0, or -1 (out of memory). */
static int
build_env(struct tao_master *m, int chan, struct tao_buf *b, int *keep,
    int *nkeep)
{
	*nkeep = 0;
	keep[(*nkeep)++] = chan;
	m->m_upgrade.up_netid_bound = tao__shm_netid_bound(m->m_shm,
	    UPGRADE_NETID_MARGIN);
	tao__buf_printf(b, "v=1 ppid=%ld chan=%d ctl=%d metrics=%d netid=%llu "
	    "rec=%d,%zu", (long)getpid(), chan, tao__ctl_fd(m),
	    tao__metrics_fd(m), (unsigned long long)
	    m->m_upgrade.up_netid_bound, TAO_CHAN_VERSION,
	    sizeof(struct tao_chan_msg));
	if (tao__ctl_fd(m) >= 0)
		keep[(*nkeep)++] = tao__ctl_fd(m);
	if (tao__metrics_fd(m) >= 0)
		keep[(*nkeep)++] = tao__metrics_fd(m);
	for (int i = 0; i < m->m_lset.lset_n; i++) {
		const struct tao_lsock *ls = &m->m_lset.lset_socks[i];

		if (ls->ls_nfd == 0)
			continue;
		tao__buf_printf(b, " L=");
		for (int j = 0; j < ls->ls_nfd; j++) {
			tao__buf_printf(b, "%s%d", j ? "," : "", ls->ls_fd[j]);
			keep[(*nkeep)++] = ls->ls_fd[j];
		}
		tao__buf_printf(b, "@");
		put_hex(b, &ls->ls_asked.lc_addr, ls->ls_asked.lc_addrlen);
	}
	return b->b_failed ? -1 : 0;
}

/* ---- the child --------------------------------------------------------- */

static void __attribute__((noreturn))
child_exec(struct tao_master *m, int chan, const char *env, int *keep,
    int nkeep)
{
	int rc;

	tao__proc_close_except(keep, nkeep);
	for (int i = 0; i < nkeep; i++)
		(void)fcntl(keep[i], F_SETFD, 0);
	/* The signal state the program had before tao_server_run. */
	sigprocmask(SIG_SETMASK, &m->m_sig_mask, NULL);
	sigaction(SIGPIPE, &m->m_sig_pipe, NULL);
	if (setenv("TAO_UPGRADE", env, 1) == 0)
		execv(up_exe, up_argv);
	rc = errno;
	(void)tao__chan_send(chan, TAO_CHAN_UP_EXECFAIL, (uint32_t)rc, 0);
	_exit(127);
}

/* ---- the outcome ------------------------------------------------------- */

static void
waiter_reply(struct tao_master *m, int ok, const char *text)
{
	struct tao_upgrade *up = &m->m_upgrade;

	if (up->up_waiter != NULL)
		tao__ctl_reply(m, up->up_waiter, ok, text);
	up->up_waiter = NULL;
}

static void
peer_close(struct tao_master *m)
{
	struct tao_proc *p = m->m_upgrade.up_peer;

	if (p == NULL)
		return;
	tao__relay_clear(p);
	tao__watch_kill(m, &p->p_w);	/* p freed after the batch */
	m->m_upgrade.up_peer = NULL;
}

/* Before the commit: the new master is not coming; we go on serving. */
static void
upgrade_fail(struct tao_master *m, const char *why)
{
	struct tao_upgrade *up = &m->m_upgrade;
	char text[TAO_CONFIG_ERRLEN + 64];

	if (!up->up_active)
		return;
	up->up_active = 0;
	if (up->up_pid > 0)
		(void)kill(up->up_pid, SIGKILL);	/* reaped by SIGCHLD */
	peer_close(m);
	snprintf(text, sizeof(text), "upgrade failed: %s; the running "
	    "master (pid %ld) keeps serving", why, (long)getpid());
	log_warnx("%s", text);
	waiter_reply(m, 0, text);
	(void)tao__notify("STATUS=serving (upgrade failed)");
}

void
tao__upgrade_abort(struct tao_master *m, const char *why)
{
	upgrade_fail(m, why);
}

/* The new master serves: hand everything over (see the top). */
static void
upgrade_commit(struct tao_master *m)
{
	struct tao_upgrade *up = &m->m_upgrade;
	struct tao_proc *p;
	char msg[64];

	up->up_active = 0;
	up->up_committed = 1;
	if (m->m_pidfh != NULL)
		pidfile_remove(m->m_pidfh);	/* free for the new master */
	m->m_pidfh = NULL;
	tao__uptotals_send(m, up->up_peer);	/* applied before COMMIT */
	tao__relay_ctl(m, up->up_peer, TAO_CHAN_UP_COMMIT);
	tao__ctl_release(m);
	tao__metrics_release(m);
	snprintf(msg, sizeof(msg), "MAINPID=%ld", (long)up->up_pid);
	(void)tao__notify(msg);
	log_info("upgrade: new master %ld serves; handing over and leaving",
	    (long)up->up_pid);
	LIST_FOREACH(p, &m->m_procs, p_entry)
		if (p->p_state != TAO_PROC_DRAINING) {
			p->p_state = TAO_PROC_DRAINING;
			tao__relay_ctl(m, p, TAO_CHAN_HANDOFF);
		}
	/* No respawn, and the exit when every old worker is gone. */
	m->m_stopping = 1;
	m->m_stop_deadline = tao__now_ms() +
	    m->m_cf.cf_settings.st_drain_timeout_ms + 2000;
}

static void
peer_record(struct tao_master *m, const struct tao_chan_msg *msg)
{
	struct tao_upgrade *up = &m->m_upgrade;
	char why[PATH_MAX + 64];

	switch (msg->cm_type) {
	case TAO_CHAN_UP_READY:
		if (up->up_active)
			upgrade_commit(m);
		break;
	case TAO_CHAN_UP_TAKEN:
		snprintf(why, sizeof(why), "upgraded: master pid %ld",
		    (long)up->up_pid);
		waiter_reply(m, 1, why);
		break;
	case TAO_CHAN_UP_EXECFAIL:
		snprintf(why, sizeof(why), "cannot execute %s: %s", up_exe,
		    strerror((int)msg->cm_arg));
		upgrade_fail(m, why);
		break;
	}
}

static void
peer_read(struct tao_master *m, struct tao_proc *p)
{
	struct tao_chan_msg msg;
	int rc = 0, fd;

	while (m->m_upgrade.up_peer == p &&
	    (rc = tao__chan_recv(p->p_w.w_fd, &msg, &fd)) == 1) {
		if (fd >= 0)
			close(fd);	/* nothing comes this way with one */
		peer_record(m, &msg);
	}
	if (m->m_upgrade.up_peer != p || rc != -1)
		return;
	if (m->m_upgrade.up_active) {
		/* It is exiting, most likely: its exit status (SIGCHLD)
		 * says more than the EOF; wait a little for it. */
		tao__watch_mod(m, &p->p_w, 0);
		m->m_upgrade.up_eof = 1;
		if (m->m_upgrade.up_deadline > tao__now_ms() + UPGRADE_EOF_MS)
			m->m_upgrade.up_deadline = tao__now_ms() +
			    UPGRADE_EOF_MS;
		return;
	}
	log_warnx("upgrade: the new master %ld is gone; closing what was "
	    "left for it", (long)m->m_upgrade.up_pid);
	waiter_reply(m, 0, "upgrade: the new master died while taking over");
	peer_close(m);
}

static void
on_peer(struct tao_master *m, struct tao_watch *w, uint32_t events)
{
	struct tao_proc *p = w->w_owner;

	if (events & EPOLLOUT)
		tao__relay_flush(m, p);
	if (!w->w_dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		peer_read(m, p);
}

/* ---- starting ---------------------------------------------------------- */

int
tao__upgrade_busy(struct tao_master *m, const char *what, char *err,
    size_t errlen)
{
	struct tao_upgrade *up = &m->m_upgrade;

	if (up->up_active || up->up_committed)
		snprintf(err, errlen, "%s: a binary upgrade is in progress",
		    what);
	else if (up->up_inherit && !up->up_taken)
		snprintf(err, errlen, "%s: this master is still taking over "
		    "from the previous one", what);
	else
		return 0;
	return -1;
}

static int
upgrade_allowed(struct tao_master *m, char *err, size_t errlen)
{
	if (tao__upgrade_busy(m, "upgrade", err, errlen) == -1)
		return -1;
	if (m->m_stopping)
		snprintf(err, errlen, "upgrade: taod is stopping");
	else if (m->m_reload.rl_active)
		snprintf(err, errlen, "upgrade: a reload is in progress");
	else if (up_noexe[0] != '\0')
		snprintf(err, errlen, "upgrade: %s", up_noexe);
	else if (access(up_exe, X_OK) == -1)
		snprintf(err, errlen, "upgrade: cannot execute %s: %s", up_exe,
		    strerror(errno));
	else
		return 0;
	return -1;
}

/* The child is forked: watch our end of its channel. */
static void
upgrade_started(struct tao_master *m, struct tao_ctl_client *waiter,
    pid_t pid, int fd)
{
	struct tao_upgrade *up = &m->m_upgrade;
	struct tao_proc *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("upgrade");
	p->p_pid = pid;
	p->p_slot = -1;
	/* Every old worker's connections go through this one channel. */
	p->p_outq.q_limit = TAO_CHAN_QUEUE_MAX * TAO_MAX_WORKERS;
	p->p_state = TAO_PROC_STARTING;
	if (tao__watch_add(m, &p->p_w, fd, EPOLLIN, on_peer, p) == -1)
		fatal("epoll_ctl upgrade channel");
	up->up_peer = p;
	up->up_pid = pid;
	up->up_active = 1;
	up->up_bound_warned = 0;
	up->up_eof = up->up_final_sent = 0;
	up->up_waiter = waiter;
	up->up_deadline = tao__now_ms() + m->m_cf.cf_reload_timeout_ms +
	    UPGRADE_EXEC_MS;
	log_info("upgrade: started %s as pid %ld", up_exe, (long)pid);
	(void)tao__notify("STATUS=upgrading");
}

int
tao__master_upgrade(struct tao_master *m, struct tao_ctl_client *waiter,
    char *err, size_t errlen)
{
	static int keep[UPGRADE_MAX_KEEP];
	struct tao_buf env = { 0 };
	int sv[2], nkeep;
	pid_t pid;

	if (upgrade_allowed(m, err, errlen) == -1)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0, sv) == -1) {
		snprintf(err, errlen, "upgrade: socketpair: %s",
		    strerror(errno));
		return -1;
	}
	if (build_env(m, sv[1], &env, keep, &nkeep) == -1) {
		snprintf(err, errlen, "upgrade: out of memory");
		goto fail;
	}
	fflush(NULL);
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "upgrade: fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		child_exec(m, sv[1], env.b_data, keep, nkeep);
	close(sv[1]);
	tao__buf_free(&env);
	upgrade_started(m, waiter, pid, sv[0]);
	return 0;
fail:
	tao__buf_free(&env);
	close(sv[0]);
	close(sv[1]);
	return -1;
}

/* ---- the loop's hooks -------------------------------------------------- */

int
tao__upgrade_reaped(struct tao_master *m, pid_t pid, int status)
{
	struct tao_upgrade *up = &m->m_upgrade;
	char why[96];

	if (pid != up->up_pid || pid <= 0)
		return 0;
	up->up_pid = 0;
	/* An EXECFAIL or READY still in the channel says more. */
	if (up->up_peer != NULL)
		peer_read(m, up->up_peer);
	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "the new master was killed by "
		    "signal %s", sigabbrev_np(WTERMSIG(status)) ?
		    sigabbrev_np(WTERMSIG(status)) : "?");
	else
		snprintf(why, sizeof(why), "the new master exited with code "
		    "%d", WEXITSTATUS(status));
	if (up->up_active) {
		snprintf(why + strlen(why), sizeof(why) - strlen(why),
		    " before READY");
		upgrade_fail(m, why);
	} else if (up->up_committed)
		log_warnx("upgrade: %s", why);
	return 1;
}

uint64_t
tao__upgrade_next_deadline(struct tao_master *m)
{
	return m->m_upgrade.up_active ? m->m_upgrade.up_deadline : UINT64_MAX;
}

void
tao__upgrade_expire(struct tao_master *m, uint64_t now)
{
	char why[64];

	if (!m->m_upgrade.up_active || m->m_upgrade.up_deadline > now)
		return;
	if (m->m_upgrade.up_eof)
		snprintf(why, sizeof(why), "the new master closed its channel "
		    "before READY");
	else
		snprintf(why, sizeof(why), "the new master was not READY "
		    "within %llu ms", (unsigned long long)
		    (m->m_cf.cf_reload_timeout_ms + UPGRADE_EXEC_MS));
	upgrade_fail(m, why);
}

int
tao__upgrade_relay(struct tao_master *m, const struct tao_chan_msg *msg,
    int fd)
{
	struct tao_upgrade *up = &m->m_upgrade;

	if (!up->up_committed)
		return 0;
	if (up->up_peer == NULL) {
		close(fd);
		log_warnx("upgrade: no new master to take a connection; "
		    "closed it");
		return 1;
	}
	if (msg->cm_value >= up->up_netid_bound && !up->up_bound_warned) {
		up->up_bound_warned = 1;
		log_warnx("upgrade: netid %llu is above the bound the new "
		    "master was given; it may not be unique",
		    (unsigned long long)msg->cm_value);
	}
	/* The whole record: a PROXY peer crosses with its connection. */
	if (tao__relay_send_msg(m, up->up_peer, msg, fd) == -1)
		log_warn("upgrade: passing a connection to the new master");
	return 1;
}

int
tao__upgrade_may_exit(struct tao_master *m)
{
	struct tao_proc *p = m->m_upgrade.up_peer;

	/* Every old worker is folded: their last counts (uptotals.c). */
	if (m->m_upgrade.up_committed && !m->m_upgrade.up_final_sent) {
		m->m_upgrade.up_final_sent = 1;
		tao__uptotals_send(m, p);
	}
	/* Bounded by the stop deadline the commit set. */
	return !m->m_upgrade.up_committed || p == NULL ||
	    (p->p_outq.q_len == 0 && m->m_upgrade.up_waiter == NULL) ||
	    tao__now_ms() >= m->m_stop_deadline;
}

void
tao__upgrade_close(struct tao_master *m)
{
	peer_close(m);
	tao__uptotals_free(m);
}
