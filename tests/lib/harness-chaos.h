/*
 * harness-chaos.h - what the chaos test (t160) adds to harness.h and
 * harness-fault.h: a watcher that follows a daemon's log as it grows
 * (sanitizer reports, the pids the master saw die by a signal or had to
 * kill, drain timeouts), and a pool of misbehaving control clients
 * (requests cut short, requests whose answer is never read, clients that
 * hang up while their reload is pending, silence, garbage).
 *
 * All of it lives in harness-chaos.c.  Main thread only.
 */
#ifndef TAO_TESTS_HARNESS_CHAOS_H
#define TAO_TESTS_HARNESS_CHAOS_H

#include <sys/types.h>

#include "tests/lib/harness.h"

/* ---- log watcher ---------------------------------------------------- */

#define TH_WATCH_PIDS	4096

struct th_logwatch {
	struct th_daemon *d;
	long long	 offset;	/* bytes of the log taken so far */
	char		 partial[1024];	/* a line not yet ended */
	size_t		 plen;
	int		 sanitizer;	/* report lines seen */
	int		 drain_timeouts; /* "drain timeout: closed" lines */
	int		 reload_failed;	/* "reload failed" lines */
	int		 npids;
	pid_t		 killed[TH_WATCH_PIDS];	/* died by a signal */
	char		 first_report[512];	/* first sanitizer line */
	char		 first_drain[512];	/* first drain timeout line */
};

void		 th_logwatch_init(struct th_logwatch *w, struct th_daemon *d);
/* Take what the log gained since the last call; the number of new
 * sanitizer report lines. */
int		 th_logwatch_poll(struct th_logwatch *w);
/* pid was logged as "killed by signal" or "did not stop in time". */
int		 th_logwatch_killed(const struct th_logwatch *w, pid_t pid);

/* ---- misbehaving control clients ------------------------------------ */

enum th_badctl_kind {
	TH_BADCTL_CUT,		/* half a request, then hang up */
	TH_BADCTL_NOREAD,	/* a big request, the answer never read */
	TH_BADCTL_RELOAD_HUP,	/* "reload", hang up while it is pending */
	TH_BADCTL_SILENT,	/* connect, say nothing */
	TH_BADCTL_GARBAGE,	/* 300 bytes without a newline */
	TH_BADCTL_NKINDS
};

#define TH_BADCTL_MAX	16

struct th_badctl {
	int		 fd[TH_BADCTL_MAX];
	double		 close_at[TH_BADCTL_MAX];
	int		 opened;	/* clients made, by all kinds */
	int		 failed;	/* connects refused */
};

void		 th_badctl_init(struct th_badctl *b);
/* One client of that kind against d's control socket; those that stay
 * open are closed by th_badctl_tick after hold_ms.  0, or -1. */
int		 th_badctl_start(struct th_badctl *b, struct th_daemon *d,
		    enum th_badctl_kind kind, int hold_ms);
const char	*th_badctl_name(enum th_badctl_kind kind);
/* Close the clients whose time is up (all if force); how many are left. */
int		 th_badctl_tick(struct th_badctl *b, int force);

#endif
