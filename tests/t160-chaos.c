/*
 * t160-chaos - a seeded random schedule of faults against two running
 * taod while echo, large-frame and chat clients talk to them, with the
 * invariants checked after every step.
 *
 * Two taod (app echo and app chat), 3 workers each, two port-0
 * listeners each (the clients' tlv one and a spare one whose codec the
 * reloads flip).  Clients: 4 echo connections with frames up to 1 MiB,
 * 24 with frames up to 4 KiB (2 in flight), 12 chat clients broadcasting
 * every 20 ms; every client reconnects when its connection breaks.
 *
 * For CHAOS_SECONDS (default 10; `make chaos` runs 60) the schedule,
 * drawn from the seed (CHAOS_SEED, else TAO_TEST_SEED, else the clock;
 * printed first), does one of these at a time, 0-200 ms apart:
 *  - SIGKILL of a random subset of one daemon's workers, of all of them
 *    at once, or of every worker of both daemons at once (the schedule
 *    always opens with five rounds of that one, while each daemon
 *    runs 3 workers);
 *  - SIGSTOP of a worker, SIGCONT 100-800 ms later;
 *  - a reload to a random valid config (workers 1-3, max_frame,
 *    write_queue_max, heartbeat/idle/frame/drain/reload timeouts,
 *    max_old_generations, log_level, the spare listener's codec);
 *  - a reload to an invalid config (bad directive, bad value, a change
 *    that cannot be made on reload): it must be refused with the file's
 *    name and nothing may change (same generation, same workers);
 *  - a misbehaving control client: a request cut short, a request whose
 *    answer is never read, a reload whose client hangs up while it is
 *    pending, a silent client, 300 bytes of garbage.
 * After every step, for each daemon:
 *  - the master lives;
 *  - no new sanitizer report in the log ("ERROR: AddressSanitizer",
 *    "ERROR: LeakSanitizer", "runtime error:");
 *  - `taoctl status` answers within th_ms(1000);
 *  - no counter of `taoctl stats --json` (totals and the per-slot sums
 *    the master keeps) went down;
 *  - every client connection that broke since the last step sat on a
 *    worker that died by a signal (ours, or one the master logged as
 *    killed), or broke right after a kill while `taoctl conns` could not
 *    place it / it was moving in a reload; any other break is a loss.
 * After a successful reload the spare listener must speak the codec the
 * new config names (a probe, skipped while a worker is stopped).
 * At the end (every worker continued, the control clients closed, each
 * daemon reloaded back to its first config and settled):
 *  - no echo reply was wrong or missing on a connection that was not
 *    excused, no chat frame garbled; the loads made progress;
 *  - a new broadcast reaches every connected chat client;
 *  - the master's fd count is back to its baseline (+2) and its RSS
 *    within a margin of it; its CPU use during the chaos stayed under
 *    half a core;
 *  - both taod stop with exit 0 and their logs hold no sanitizer report.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/harness-chaos.h"
#include "tests/lib/harness-fault.h"
#include "tests/tap.h"

#define BIG		4
#define SMALL		24
#define CHATS		12
#define NPLACES		(BIG + SMALL + CHATS)
#define MAXROWS		512
#define MAXKIDS		64
#define MAXSTOPPED	8
#define MAXOURS		4096
#define FIRST_WORKERS	3
#define FIRST_OLD_GENS	3

enum { ECHO, CHAT, ND };
enum { K_BIG, K_SMALL, K_CHAT };

struct cfg {
	int		 workers;
	int		 old_gens;
	long long	 max_frame;
	long long	 wq_max;
	int		 heartbeat_ms;
	int		 idle_ms;
	int		 frame_ms;
	int		 drain_ms;
	int		 reload_ms;
	int		 spare_line;	/* spare listener speaks line */
	int		 debug;		/* log_level debug, else info */
};

/* A client place of a load and what the last check saw of it. */
struct place {
	int		 kind, idx, daemon;
	int		 breaks;	/* at the last check */
	int		 port;
	pid_t		 owner;		/* -1: not placed */
	int		 owner_moving;	/* its worker was not "serving" */
	int		 excused, unexplained;
};

struct dstate {
	struct th_daemon *d;
	const char	*app;
	struct cfg	 first, cur;
	struct th_logwatch lw;
	struct th_counters prev;
	int		 have_prev;
	int		 gen;
	double		 t_check[2];	/* the last two checks */
	double		 last_kill;	/* ours, or a master kill logged */
	double		 last_reload;
	int		 lw_npids;
	pid_t		 ours[MAXOURS];	/* pids we SIGKILLed */
	int		 nours;
	int		 base_fds;
	long		 base_rss;
	long		 cpu0;
};

struct stopped {
	pid_t		 pid;
	int		 daemon;
	double		 cont_at;
};

static struct dstate	 ds[ND];
static struct th_load	*big, *small;
static struct th_chat	*chat;
static struct place	 places[NPLACES];
static struct stopped	 stopped[MAXSTOPPED];
static int		 nstopped;
static struct th_badctl	 badctl;
static double		 t_start;

/* What the schedule did and what the checks found. */
static struct {
	int	 steps, kills, killed, stops, reloads, reloads_ok;
	int	 reloads_refused_busy, bad_reloads, bad_refused, bad_changed;
	int	 bad_accepted, reload_odd, ctl[TH_BADCTL_NKINDS];
	int	 master_dead, sanitizer, status_slow, status_failed;
	int	 counters_down, excused_dead, excused_near, codec_probes;
	int	 codec_wrong, codec_skipped;
	double	 status_max_ms;
} r;

static double
elapsed_s(void)
{
	return (th_now_ms() - t_start) / 1000.0;
}

/* ---- config ----------------------------------------------------------- */

static const char *
cfg_text(const struct dstate *s, const struct cfg *c, const char *extra)
{
	static char text[1024];

	snprintf(text, sizeof(text),
	    "listen 127.0.0.1:0 tlv\n"
	    "listen 127.0.0.1:0 %s\n"
	    "app %s\n"
	    "workers %d\n"
	    "max_old_generations %d\n"
	    "max_frame %lld\n"
	    "write_queue_max %lld\n"
	    "heartbeat_ms %d\n"
	    "idle_timeout_ms %d\n"
	    "frame_timeout_ms %d\n"
	    "drain_timeout_ms %d\n"
	    "reload_timeout_ms %d\n"
	    "log_level %s\n"
	    "%s%s",
	    c->spare_line ? "line" : "tlv", s->app, c->workers, c->old_gens,
	    c->max_frame, c->wq_max, c->heartbeat_ms, c->idle_ms, c->frame_ms,
	    c->drain_ms, c->reload_ms, c->debug ? "debug" : "info",
	    extra != NULL ? extra : "", extra != NULL ? "\n" : "");
	return text;
}

static int
pick(const int *v, int n)
{
	return v[th_rand() % (unsigned)n];
}

#define PICK(...) pick((const int[]){ __VA_ARGS__ }, \
    (int)(sizeof((const int[]){ __VA_ARGS__ }) / sizeof(int)))

/*
 * A valid config the clients can live with: frames up to 1 MiB must
 * pass, the queue must hold a 1 MiB echo, and no timeout may close a
 * client that pauses while its worker is stopped.
 */
static void
cfg_random(struct cfg *c)
{
	c->workers = 1 + (int)(th_rand() % 3);
	c->old_gens = 1 + (int)(th_rand() % 3);
	c->max_frame = (long long)PICK(2, 4, 8, 16) << 20;
	c->wq_max = (long long)PICK(4, 8, 16) << 20;
	c->heartbeat_ms = PICK(0, 0, 15000, 30000);
	c->idle_ms = PICK(0, 0, 30000, 60000);
	c->frame_ms = PICK(10000, 30000, 0);
	c->drain_ms = PICK(6000, 8000, 10000);
	c->reload_ms = PICK(1500, 2000, 3000);
	c->spare_line = (int)(th_rand() % 2);
	c->debug = th_rand() % 4 == 0;
}

static void
cfg_first(struct cfg *c)
{
	c->workers = FIRST_WORKERS;
	c->old_gens = FIRST_OLD_GENS;
	c->max_frame = 8 << 20;
	c->wq_max = 8 << 20;
	c->heartbeat_ms = 0;
	c->idle_ms = 0;
	c->frame_ms = 30000;
	c->drain_ms = 10000;
	c->reload_ms = 3000;
	c->spare_line = 0;
	c->debug = 0;
}

/* ---- processes -------------------------------------------------------- */

static int
workers_of(struct dstate *s, pid_t *kids)
{
	if (s->d->pid <= 0)
		return 0;
	return th_children(s->d->pid, kids, MAXKIDS);
}

static int
is_ours(const struct dstate *s, pid_t pid)
{
	for (int i = 0; i < s->nours; i++)
		if (s->ours[i] == pid)
			return 1;
	return 0;
}

static void
forget_stopped(pid_t pid)
{
	for (int i = 0; i < nstopped; i++)
		if (stopped[i].pid == pid) {
			stopped[i] = stopped[--nstopped];
			return;
		}
}

static int
stopped_in(int daemon)
{
	int n = 0;

	for (int i = 0; i < nstopped; i++)
		n += stopped[i].daemon == daemon;
	return n;
}

/* SIGCONT what is due (everything if force). */
static void
cont_due(int force)
{
	double now = th_now_ms();

	for (int i = 0; i < nstopped;) {
		if (force || now >= stopped[i].cont_at) {
			(void)kill(stopped[i].pid, SIGCONT);
			stopped[i] = stopped[--nstopped];
		} else
			i++;
	}
}

/* Sleep ms while continuing stopped workers and closing control
 * clients on time. */
static void
chaos_sleep(int ms)
{
	double end = th_now_ms() + ms;

	for (;;) {
		cont_due(0);
		(void)th_badctl_tick(&badctl, 0);
		if (th_now_ms() >= end)
			return;
		th_sleep_ms(10);
	}
}

/* ---- actions ---------------------------------------------------------- */

static void
kill_workers(int daemon, int all)
{
	struct dstate *s = &ds[daemon];
	pid_t kids[MAXKIDS], victims[MAXKIDS];
	int n = workers_of(s, kids), nv = 0;
	char list[256] = "";

	if (n == 0)
		return;
	for (int i = 0; i < n; i++)
		if (all || th_rand() % 2 == 0)
			victims[nv++] = kids[i];
	if (nv == 0)
		victims[nv++] = kids[th_rand() % (unsigned)n];
	/* In one burst: the master must take them all in one batch. */
	for (int i = 0; i < nv; i++)
		(void)kill(victims[i], SIGKILL);
	for (int i = 0; i < nv; i++) {
		char one[16];

		forget_stopped(victims[i]);
		if (s->nours < MAXOURS)
			s->ours[s->nours++] = victims[i];
		snprintf(one, sizeof(one), " %d", (int)victims[i]);
		strlcat(list, one, sizeof(list));
	}
	s->last_kill = th_now_ms();
	r.kills++;
	r.killed += nv;
	diag("%7.2fs %s: SIGKILL %d of %d workers%s:%s", elapsed_s(),
	    s->app, nv, n, nv == n ? " (all)" : "", list);
}

static void
stop_worker(int daemon)
{
	struct dstate *s = &ds[daemon];
	pid_t kids[MAXKIDS], pid;
	int n = workers_of(s, kids), ms;

	if (n == 0 || nstopped == MAXSTOPPED || stopped_in(daemon) > 0)
		return;
	pid = kids[th_rand() % (unsigned)n];
	ms = 100 + (int)(th_rand() % 701);
	if (kill(pid, SIGSTOP) == -1)
		return;
	stopped[nstopped].pid = pid;
	stopped[nstopped].daemon = daemon;
	stopped[nstopped++].cont_at = th_now_ms() + ms;
	r.stops++;
	diag("%7.2fs %s: SIGSTOP worker %d for %d ms", elapsed_s(), s->app,
	    (int)pid, ms);
}

/* Reload refusals that chaos makes legitimate. */
static int
busy_refusal(const char *out)
{
	return strstr(out, "another reload is in progress") != NULL ||
	    strstr(out, "still draining") != NULL ||
	    strstr(out, "did not report READY") != NULL ||
	    strstr(out, "died before READY") != NULL ||
	    strstr(out, "worker instances") != NULL ||
	    strstr(out, "cannot start new workers") != NULL;
}

static void	probe_codec(struct dstate *s);

static void
reload_valid(int daemon)
{
	struct dstate *s = &ds[daemon];
	struct cfg next;
	char out[2048];
	double t0;
	int rc;

	cfg_random(&next);
	if (th_daemon_config(s->d, cfg_text(s, &next, NULL)) == -1)
		bail("cannot write the config");
	t0 = th_now_ms();
	rc = th_ctl(s->d, out, sizeof(out), "reload", NULL);
	out[strcspn(out, "\n")] = '\0';
	r.reloads++;
	s->last_reload = th_now_ms();
	diag("%7.2fs %s: reload to workers %d, spare %s, max_frame %lld, "
	    "drain %d: %s (%d, %.0f ms)", elapsed_s(), s->app, next.workers,
	    next.spare_line ? "line" : "tlv", next.max_frame, next.drain_ms,
	    out, rc, th_now_ms() - t0);
	if (rc == 0 && strstr(out, "reloaded") != NULL) {
		r.reloads_ok++;
		s->cur = next;
		probe_codec(s);
		return;
	}
	/* Not taken: the file goes back to what runs. */
	(void)th_daemon_config(s->d, cfg_text(s, &s->cur, NULL));
	if (rc != 0 && busy_refusal(out))
		r.reloads_refused_busy++;
	else {
		r.reload_odd++;
		diag("  ^ unexpected answer to a valid reload");
	}
}

static void
reload_invalid(int daemon)
{
	static const char *const bad[] = {
		"bogus_directive 1", "workers lots", "max_frame 12abc",
		"listen 127.0.0.1:99999 tlv", "app %s", "max_connections 77",
		"ring_size 65536", "listen 127.0.0.1:0 tls", "log_level loud",
		"max_old_generations 99", "heartbeat_reply maybe",
		"drain_timeout_ms -5",
	};
	struct dstate *s = &ds[daemon];
	struct th_status before, after;
	char line[64], out[2048];
	int k = (int)(th_rand() % (sizeof(bad) / sizeof(bad[0]))), rc;
	int have_before, have_after;

	snprintf(line, sizeof(line), bad[k], daemon == ECHO ? "chat" :
	    "echo");
	have_before = th_status(s->d, &before) == 0;
	if (th_daemon_config(s->d, cfg_text(s, &s->cur, line)) == -1)
		bail("cannot write the config");
	rc = th_ctl(s->d, out, sizeof(out), "reload", NULL);
	out[strcspn(out, "\n")] = '\0';
	(void)th_daemon_config(s->d, cfg_text(s, &s->cur, NULL));
	have_after = th_status(s->d, &after) == 0;
	r.bad_reloads++;
	diag("%7.2fs %s: reload with '%s': %s (%d)", elapsed_s(), s->app,
	    line, out, rc);
	if (rc == 0) {
		r.bad_accepted++;
		diag("  ^ an invalid config was accepted");
		return;
	}
	r.bad_refused++;
	if (strstr(out, "another reload is in progress") != NULL ||
	    strstr(out, "still draining") != NULL)
		return;		/* refused before the file was read */
	if (strstr(out, s->d->conf) == NULL && strstr(out, "config") ==
	    NULL) {
		r.reload_odd++;
		diag("  ^ the refusal does not name the config file");
	}
	if (have_before && have_after && (before.generation !=
	    after.generation || before.workers != after.workers)) {
		r.bad_changed++;
		diag("  ^ refused, yet generation %d -> %d, workers %d -> %d",
		    before.generation, after.generation, before.workers,
		    after.workers);
	}
}

static void
bad_control_client(int daemon)
{
	struct dstate *s = &ds[daemon];
	enum th_badctl_kind k = (enum th_badctl_kind)(th_rand() %
	    TH_BADCTL_NKINDS);
	int hold = 200 + (int)(th_rand() % 2800);

	if (th_badctl_start(&badctl, s->d, k, hold) == 0) {
		r.ctl[k]++;
		if (k == TH_BADCTL_RELOAD_HUP)
			s->last_reload = th_now_ms();
	}
	diag("%7.2fs %s: control client: %s", elapsed_s(), s->app,
	    th_badctl_name(k));
}

/* ---- the spare listener's codec ------------------------------------- */

/* 1 the listener answered in codec `line`, 0 it did not answer so,
 * -1 the connection broke (a kill, say): no verdict. */
static int
probe_once(int port, int line)
{
	static const char text[] = "chaos-probe\n";
	uint8_t payload[16], back[64];
	uint32_t len;
	int32_t type;
	int fd, rc, got = 0;

	if ((fd = th_connect(port)) == -1)
		return -1;
	if (line) {
		if (th_write_all(fd, text, sizeof(text) - 1) == -1)
			rc = -1;
		else {
			rc = th_read_exact(fd, back, sizeof(text) - 1,
			    th_ms(1000));
			got = rc == 0 && memcmp(back, text, sizeof(text) - 1)
			    == 0;
		}
	} else {
		th_fill(payload, sizeof(payload), 160);
		if (th_send_frame(fd, 5, payload, sizeof(payload)) == -1)
			rc = -1;
		else {
			rc = th_recv_frame(fd, &type, back, sizeof(back),
			    &len, th_ms(1000));
			got = rc == 0 && type == 5 && len == sizeof(payload) &&
			    memcmp(back, payload, len) == 0;
		}
	}
	close(fd);
	if (got)
		return 1;
	return rc == -1 && errno != ETIMEDOUT ? -1 : 0;
}

/*
 * Right after "reloaded" an old worker may still accept for a moment
 * (it shares the slot's socket until it reads its hand-off), so a
 * wrong answer counts only if three tries over about a second all get
 * one.
 */
static void
probe_codec(struct dstate *s)
{
	int verdict = -1;

	if (s != &ds[ECHO])
		return;
	for (int i = 0; i < 3 && verdict != 1; i++) {
		int v;

		if (i > 0)
			chaos_sleep(300);
		if (stopped_in(ECHO) > 0)
			break;
		if ((v = probe_once(s->d->port[1], s->cur.spare_line)) != -1)
			verdict = v;
	}
	if (verdict == -1 || stopped_in(ECHO) > 0 ||
	    th_now_ms() - s->last_kill < th_ms(1500)) {
		r.codec_skipped++;
		return;
	}
	r.codec_probes++;
	if (verdict == 0) {
		r.codec_wrong++;
		diag("  ^ the spare listener does not speak %s after the "
		    "reload", s->cur.spare_line ? "line" : "tlv");
	}
}

/* ---- checks ----------------------------------------------------------- */

static int
place_port(const struct place *p)
{
	if (p->kind == K_BIG)
		return th_load_conn(big, p->idx)->port;
	if (p->kind == K_SMALL)
		return th_load_conn(small, p->idx)->port;
	return __atomic_load_n(&th_chat_conn(chat, p->idx)->port,
	    __ATOMIC_RELAXED);
}

static int
place_breaks(const struct place *p)
{
	if (p->kind == K_BIG)
		return th_load_conn(big, p->idx)->breaks;
	if (p->kind == K_SMALL)
		return th_load_conn(small, p->idx)->breaks;
	return __atomic_load_n(&th_chat_conn(chat, p->idx)->breaks,
	    __ATOMIC_RELAXED);
}

static const char *
kind_name(int kind)
{
	return kind == K_BIG ? "echo 1 MiB" : kind == K_SMALL ?
	    "echo 4 KiB" : "chat";
}

static int
pid_serving(const struct th_status *st, pid_t pid)
{
	for (int i = 0; i < st->nslots; i++)
		if (st->slot[i].pid == pid)
			return strcmp(st->slot[i].state, "serving") == 0;
	return 0;
}

/*
 * Breaks since the last check, judged by what that check saw: excused
 * if the connection's worker died by a signal, or if a kill came in the
 * last two intervals while the connection could not be placed or was
 * moving between workers (a reload); a loss otherwise.
 */
static void
judge_places(struct dstate *s, int daemon, const struct th_status *st,
    const struct th_conn_info *ci, int nci)
{
	int recent_kill = s->last_kill >= s->t_check[0] && s->last_kill > 0;
	int recent_reload = s->last_reload >= s->t_check[0] &&
	    s->last_reload > 0;

	for (int i = 0; i < NPLACES; i++) {
		struct place *p = &places[i];
		int b, port;

		if (p->daemon != daemon)
			continue;
		b = place_breaks(p);
		if (b > p->breaks) {
			int dead = p->owner > 0 && (is_ours(s, p->owner) ||
			    th_logwatch_killed(&s->lw, p->owner));

			if (dead || (recent_kill && (p->owner <= 0 ||
			    p->owner_moving || recent_reload))) {
				p->excused += b - p->breaks;
				if (dead)
					r.excused_dead += b - p->breaks;
				else
					r.excused_near += b - p->breaks;
			} else {
				p->unexplained += b - p->breaks;
				diag("%7.2fs %s: client %d (%s, port %d, "
				    "worker %d) broke %d time(s) with no "
				    "kill under it", elapsed_s(), s->app,
				    p->idx, kind_name(p->kind), p->port,
				    (int)p->owner, b - p->breaks);
			}
			p->breaks = b;
		}
		port = place_port(p);
		p->port = port;
		p->owner = ci != NULL ? th_conn_owner(ci, nci, port) : -1;
		p->owner_moving = p->owner > 0 && !pid_serving(st, p->owner);
	}
}

static void
check_counters(struct dstate *s, const struct th_counters *c)
{
	if (s->have_prev) {
		for (int k = 0; k < TH_NCOUNTERS; k++)
			if (c->total[k] < s->prev.total[k]) {
				r.counters_down++;
				diag("%7.2fs %s: totals.%s went down: %lld -> "
				    "%lld", elapsed_s(), s->app,
				    th_counter_names[k], s->prev.total[k],
				    c->total[k]);
			}
	}
	s->prev = *c;
	s->have_prev = 1;
}

/* Every invariant of one daemon; 0, or -1 once its master is dead. */
static int
check(int daemon)
{
	static struct th_conn_info ci[MAXROWS];
	struct dstate *s = &ds[daemon];
	struct th_status st;
	struct th_counters c;
	double t0, dt;
	int n, reports;

	if (s->d->pid <= 0 || th_daemon_wait(s->d, 0) != -1) {
		if (r.master_dead++ == 0)
			diag("%7.2fs %s: the master is gone (status %d)",
			    elapsed_s(), s->app, s->d->status);
		return -1;
	}
	if ((reports = th_logwatch_poll(&s->lw)) > 0) {
		if (r.sanitizer == 0)
			diag("%7.2fs %s: sanitizer: %s", elapsed_s(), s->app,
			    s->lw.first_report);
		r.sanitizer += reports;
	}
	if (s->lw.npids > s->lw_npids) {
		s->lw_npids = s->lw.npids;
		s->last_kill = th_now_ms();
	}
	t0 = th_now_ms();
	if (th_status(s->d, &st) == -1) {
		r.status_failed++;
		memset(&st, 0, sizeof(st));
	}
	dt = th_now_ms() - t0;
	if (dt > r.status_max_ms)
		r.status_max_ms = dt;
	if (dt > th_ms(1000)) {
		r.status_slow++;
		diag("%7.2fs %s: taoctl status took %.0f ms", elapsed_s(),
		    s->app, dt);
	}
	if (st.generation > 0)
		s->gen = st.generation;
	if (th_counters(s->d, &c) == 0)
		check_counters(s, &c);
	n = th_conns(s->d, ci, MAXROWS);
	judge_places(s, daemon, &st, n >= 0 ? ci : NULL, n);
	s->t_check[0] = s->t_check[1];
	s->t_check[1] = th_now_ms();
	return 0;
}

static int
check_all(void)
{
	int rc = 0;

	r.steps++;
	for (int i = 0; i < ND; i++)
		if (check(i) == -1)
			rc = -1;
	return rc;
}

/* ---- settling --------------------------------------------------------- */

/* Exactly the configured workers, all serving one generation, nothing
 * old left: 0, or -1 on timeout. */
static int
settle(struct dstate *s, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;
	struct th_status st;

	while (th_now_ms() < end) {
		if (th_status(s->d, &st) == 0 && st.workers == s->cur.workers &&
		    st.nslots == s->cur.workers &&
		    th_status_serving(&st, -1, NULL) == s->cur.workers)
			return 0;
		chaos_sleep(50);
	}
	return -1;
}

/* Reload d back to its first config, waiting out busy refusals. */
static int
reload_home(struct dstate *s)
{
	double end = th_now_ms() + th_ms(40000);
	char out[2048];

	if (th_daemon_config(s->d, cfg_text(s, &s->first, NULL)) == -1)
		return -1;
	while (th_now_ms() < end) {
		if (th_ctl(s->d, out, sizeof(out), "reload", NULL) == 0) {
			s->cur = s->first;
			s->last_reload = th_now_ms();
			return 0;
		}
		if (!busy_refusal(out)) {
			diag("%s: reload home: %s", s->app, out);
			return -1;
		}
		chaos_sleep(200);
	}
	return -1;
}

/* fds back to the baseline (+2): 0, or -1 with the count in *fds. */
static int
fds_back(struct dstate *s, int *fds)
{
	double end = th_now_ms() + th_ms(5000);

	for (;;) {
		*fds = th_fd_count(s->d->pid);
		if (*fds >= 0 && *fds <= s->base_fds + 2)
			return 0;
		if (th_now_ms() >= end)
			return -1;
		th_sleep_ms(50);
	}
}

/* ---- main ------------------------------------------------------------- */

static void
start_daemons(void)
{
	for (int i = 0; i < ND; i++) {
		struct dstate *s = &ds[i];

		s->app = i == ECHO ? "echo" : "chat notices";
		cfg_first(&s->first);
		s->cur = s->first;
		if ((s->d = th_daemon_start(cfg_text(s, &s->first, NULL))) ==
		    NULL)
			bail(i == ECHO ? "taod (echo) did not start" :
			    "taod (chat) did not start");
		if (s->d->nports != 2)
			bail("taod does not listen on 2 ports");
		th_logwatch_init(&s->lw, s->d);
	}
}

static void
start_loads(void)
{
	struct th_load_opts ob = { .port = ds[ECHO].d->port[0], .conns = BIG,
	    .depth = 1, .max_size = 1 << 20, .reconnect = 1,
	    .timeout_ms = th_ms(20000), .seed = th_rand() };
	struct th_load_opts os = { .port = ds[ECHO].d->port[0],
	    .conns = SMALL, .depth = 2, .max_size = 4096, .reconnect = 1,
	    .timeout_ms = th_ms(20000), .seed = th_rand() };
	struct th_chat_opts oc = { .port = ds[CHAT].d->port[0],
	    .conns = CHATS, .interval_ms = 20, .size = 64, .reconnect = 1 };
	int n = 0;

	if ((big = th_load_start(&ob)) == NULL ||
	    (small = th_load_start(&os)) == NULL ||
	    (chat = th_chat_start(&oc)) == NULL)
		bail("cannot start the loads");
	for (int i = 0; i < BIG; i++, n++)
		places[n] = (struct place){ K_BIG, i, ECHO, 0, -1, -1, 0, 0,
		    0 };
	for (int i = 0; i < SMALL; i++, n++)
		places[n] = (struct place){ K_SMALL, i, ECHO, 0, -1, -1, 0, 0,
		    0 };
	for (int i = 0; i < CHATS; i++, n++)
		places[n] = (struct place){ K_CHAT, i, CHAT, 0, -1, -1, 0, 0,
		    0 };
	ok(th_load_wait_replies(big, 2 * BIG, th_ms(15000)) == 0 &&
	    th_load_wait_replies(small, 10 * SMALL, th_ms(15000)) == 0 &&
	    th_chat_wait_ready(chat, th_ms(15000)) == 0,
	    "echo (1 MiB and 4 KiB frames) and chat clients are busy");
}

/* A reload to the first config, a settle, then the master's fds and
 * RSS as the baseline. */
static void
baseline(void)
{
	for (int i = 0; i < ND; i++) {
		struct dstate *s = &ds[i];

		if (reload_home(s) == -1 || settle(s, th_ms(20000)) == -1)
			bail("the warm-up reload did not settle");
		(void)check(i);
		s->base_fds = th_fd_count(s->d->pid);
		s->base_rss = th_rss_kb(s->d->pid);
		s->cpu0 = th_cpu_ticks(s->d->pid);
		diag("%s: master %d baseline: %d fds, RSS %ld KiB", s->app,
		    (int)s->d->pid, s->base_fds, s->base_rss);
	}
}

static void
one_action(void)
{
	int daemon = (int)(th_rand() % ND);
	unsigned x = th_rand() % 100;

	if (x < 5)
		kill_workers(daemon, 0);
	else if (x < 9)
		kill_workers(daemon, 1);
	else if (x < 10) {
		kill_workers(ECHO, 1);
		kill_workers(CHAT, 1);
	} else if (x < 22)
		stop_worker(daemon);
	else if (x < 39)
		reload_valid(daemon);
	else if (x < 47)
		reload_invalid(daemon);
	else if (x < 67)
		bad_control_client(daemon);
	/* else: nothing this time */
}

static void
chaos(int seconds)
{
	double end = th_now_ms() + seconds * 1000.0;

	t_start = th_now_ms();
	/* The schedule opens with the worst case: every worker of both
	 * daemons killed in one instant (3 each, all serving). */
	for (int round = 0; round < 5; round++) {
		kill_workers(ECHO, 1);
		kill_workers(CHAT, 1);
		chaos_sleep(100);
		if (check_all() == -1 || settle(&ds[ECHO], th_ms(3000)) == -1 ||
		    settle(&ds[CHAT], th_ms(3000)) == -1)
			break;
	}
	while (r.master_dead == 0 && th_now_ms() < end) {
		one_action();
		chaos_sleep((int)(th_rand() % 201));
		if (check_all() == -1)
			break;		/* a master died: no point going on */
	}
	cont_due(1);
	(void)th_badctl_tick(&badctl, 1);
	diag("chaos over after %.1f s: %d steps, %d kill rounds (%d workers), "
	    "%d stops, %d reloads (%d taken, %d refused as busy), %d invalid "
	    "reloads, control clients: %d cut, %d never read, %d hung up on "
	    "a reload, %d silent, %d garbage", elapsed_s(), r.steps, r.kills,
	    r.killed, r.stops, r.reloads, r.reloads_ok,
	    r.reloads_refused_busy, r.bad_reloads, r.ctl[TH_BADCTL_CUT],
	    r.ctl[TH_BADCTL_NOREAD], r.ctl[TH_BADCTL_RELOAD_HUP],
	    r.ctl[TH_BADCTL_SILENT], r.ctl[TH_BADCTL_GARBAGE]);
}

static void
report_continuous(void)
{
	is_int(r.master_dead, 0, "both masters lived through the chaos");
	is_int(r.sanitizer, 0, "no sanitizer report appeared in the logs");
	is_int(r.status_slow, 0, "taoctl status always answered within %d "
	    "ms (slowest %.0f ms)", th_ms(1000), r.status_max_ms);
	is_int(r.status_failed, 0, "taoctl status never failed");
	is_int(r.counters_down, 0, "no counter ever went down");
	is_int(r.bad_accepted + r.bad_changed, 0, "%d invalid reloads: all "
	    "refused, none changed anything", r.bad_reloads);
	is_int(r.reload_odd, 0, "every reload answer was expected");
	is_int(r.codec_wrong, 0, "after each reload the spare listener spoke "
	    "its new codec (%d probes, %d skipped)", r.codec_probes,
	    r.codec_skipped);
}

static void
final_books(void)
{
	struct th_load_totals tb, ts;
	struct th_chat_totals tc;
	int unexplained = 0, excused = 0, got, open;

	for (int i = 0; i < ND; i++)
		(void)check(i);
	th_load_stop(big, &tb);
	th_load_stop(small, &ts);
	th_chat_stop(chat, &tc);
	th_load_diag("echo, frames up to 1 MiB", &tb);
	th_load_diag("echo, frames up to 4 KiB", &ts);
	th_chat_diag("chat", &tc);
	for (int i = 0; i < NPLACES; i++) {
		/* Breaks after the last check, at the stop, are losses. */
		int b = place_breaks(&places[i]);

		unexplained += places[i].unexplained + (b - places[i].breaks);
		excused += places[i].excused;
	}
	is_int(tb.bad + ts.bad + tb.timeout + ts.timeout, 0, "no echo was "
	    "wrong, out of order or stuck");
	is_int(tc.bad, 0, "no chat frame was garbled");
	diag("breaks excused: %d on a worker that died by a signal, %d "
	    "unplaced or moving right after a kill", r.excused_dead,
	    r.excused_near);
	is_int(unexplained, 0, "every broken connection was on a killed "
	    "worker (%d breaks excused by kills)", excused);
	ok(tb.replies > BIG && ts.replies > SMALL && tc.received > 0,
	    "the loads made progress (%lld + %lld echoes, %lld chat "
	    "deliveries)", tb.replies, ts.replies, tc.received);
	got = th_chat_probe(chat, &open, th_ms(3000));
	is_int(got, open, "a new broadcast reaches every connected chat "
	    "client (%d)", open);
}

static void
final_resources(void)
{
	long margin = th_sanitized() ? 32768 : 4096;
	double secs = (th_now_ms() - t_start) / 1000.0;

	for (int i = 0; i < ND; i++) {
		struct dstate *s = &ds[i];
		long rss, cpu = th_cpu_ticks(s->d->pid);
		double share;
		int fds;

		if (s->d->pid <= 0)
			continue;
		ok(reload_home(s) == 0 && settle(s, th_ms(30000)) == 0,
		    "%s: reloaded back to the first config, settled", s->app);
		is_int(fds_back(s, &fds), 0, "%s: master fds back to the "
		    "baseline (%d now, %d before)", s->app, fds, s->base_fds);
		rss = th_rss_kb(s->d->pid);
		ok(rss > 0 && rss <= s->base_rss + s->base_rss / 10 + margin,
		    "%s: master RSS back near the baseline (%ld KiB now, %ld "
		    "before)", s->app, rss, s->base_rss);
		share = (double)(cpu - s->cpu0) / (double)sysconf(_SC_CLK_TCK)
		    / (secs > 0 ? secs : 1);
		ok(cpu >= 0 && share < 0.5, "%s: the master used %.0f%% of a "
		    "core during the chaos", s->app, share * 100);
	}
}

int
main(void)
{
	const char *e;
	char seed[32];
	int seconds = 10;

	if ((e = getenv("CHAOS_SEED")) != NULL && *e != '\0')
		strlcpy(seed, e, sizeof(seed));
	else if ((e = getenv("TAO_TEST_SEED")) != NULL && *e != '\0')
		strlcpy(seed, e, sizeof(seed));
	else
		snprintf(seed, sizeof(seed), "%u", (unsigned)time(NULL) ^
		    ((unsigned)getpid() << 16));
	setenv("TAO_TEST_SEED", seed, 1);
	if ((e = getenv("CHAOS_SECONDS")) != NULL && atoi(e) > 0)
		seconds = atoi(e);
	printf("# chaos seed %s, %d s: replay with CHAOS_SEED=%s "
	    "CHAOS_SECONDS=%d\n", seed, seconds, seed, seconds);
	fflush(stdout);
	th_init("t160-chaos", 150 + 2 * seconds);
	plan(0);
	th_badctl_init(&badctl);
	start_daemons();
	start_loads();
	baseline();
	chaos(seconds);
	report_continuous();
	if (r.master_dead == 0) {
		final_resources();
		final_books();
	}
	th_load_free(big);
	th_load_free(small);
	th_chat_free(chat);
	for (int i = 0; i < ND; i++) {
		int rc = th_daemon_stop(ds[i].d);

		if (r.master_dead == 0)
			is_int(rc, 0, "%s taod stops with exit 0", ds[i].app);
		(void)th_logwatch_poll(&ds[i].lw);
	}
	is_int(th_sanitizer_reports(ds[ECHO].d) +
	    th_sanitizer_reports(ds[CHAT].d), 0, "no sanitizer report in "
	    "either log, start to stop (seed %s)", seed);
	if (ds[ECHO].lw.drain_timeouts + ds[CHAT].lw.drain_timeouts > 0)
		diag("drain timeouts closed connections: %s",
		    ds[ECHO].lw.first_drain[0] ? ds[ECHO].lw.first_drain :
		    ds[CHAT].lw.first_drain);
	if (r.sanitizer > 0 || r.master_dead > 0)
		diag("replay: CHAOS_SEED=%s CHAOS_SECONDS=%d", seed, seconds);
	return th_exit(done_testing());
}
