/*
 * log.h - one line per event on stderr, in the OpenBSD manner.
 *
 *	2026-11-22T12:00:00.123Z taod[1234] worker 1: message
 *
 * log_warn() appends strerror(errno), log_warnx() does not.  fatal() and
 * fatalx() never return; use them only in start-up paths and for broken
 * invariants.  systemd captures stderr, so there are no log files.
 */
#ifndef TAO_CORE_LOG_H
#define TAO_CORE_LOG_H

#include <stdarg.h>

enum tao_log_level {
	TAO_LOG_ERROR = 0,
	TAO_LOG_WARN,
	TAO_LOG_INFO,
	TAO_LOG_DEBUG,
};

/* Name of the calling process in every line: "master", "worker 2". */
void	tao__log_set_role(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	tao__log_set_level(int level);
int	tao__log_level(void);
int	tao__log_level_parse(const char *name);	/* -1 if unknown */

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * How fatal() leaves: exit(1) by default; after tao__log_set_forked(1)
 * (a worker, forked by tao_server_run) fflush(NULL) and _exit(1), so the
 * embedding program's atexit handlers run only in its own process.
 */
void	tao__log_set_forked(int forked);

/* taod's main sets this after setproctitle_init(); a plain libtao
 * program's process titles are left alone. */
extern int tao__proctitle_ok;
void	tao__set_title(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
