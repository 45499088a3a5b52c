/*
 * log.c - stderr logging with an ISO 8601 UTC timestamp, the pid and the
 * process role.  Each line is formatted into one buffer and written with a
 * single write(2), so lines of concurrent processes never interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

static char	log_role[32] = "master";
static int	log_current_level = TAO_LOG_INFO;
static int	log_forked;	/* fatal(): _exit, not exit */

void
tao__log_set_forked(int forked)
{
	log_forked = forked;
}

static void __attribute__((noreturn))
log_die(void)
{
	if (log_forked) {
		fflush(NULL);
		_exit(1);
	}
	exit(1);
}

void
tao__log_set_role(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(log_role, sizeof(log_role), fmt, ap);
	va_end(ap);
}

void
tao__log_set_level(int level)
{
	log_current_level = level;
}

int
tao__log_level(void)
{
	return log_current_level;
}

int
tao__log_level_parse(const char *name)
{
	static const char *names[] = { "error", "warn", "info", "debug" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

static void
log_emit(int level, int with_errno, int saved_errno, const char *fmt,
    va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	size_t len;
	int n;

	if (level > log_current_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + len, sizeof(line) - len, ".%03ldZ taod[%ld] %s: ",
	    ts.tv_nsec / 1000000, (long)getpid(), log_role);
	if (n > 0)
		len += (size_t)n;
	if (len < sizeof(line)) {
		n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
		if (n > 0)
			len += (size_t)n;
	}
	if (with_errno && len < sizeof(line)) {
		n = snprintf(line + len, sizeof(line) - len, ": %s",
		    strerror(saved_errno));
		if (n > 0)
			len += (size_t)n;
	}
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;		/* truncated, keep the newline */
	line[len++] = '\n';
	(void)!write(STDERR_FILENO, line, len);
}

#define LOG_FN(name, level, with_errno)					\
void									\
name(const char *fmt, ...)						\
{									\
	int saved_errno = errno;					\
	va_list ap;							\
									\
	va_start(ap, fmt);						\
	log_emit(level, with_errno, saved_errno, fmt, ap);		\
	va_end(ap);							\
	errno = saved_errno;						\
}

LOG_FN(log_warn, TAO_LOG_WARN, 1)
LOG_FN(log_warnx, TAO_LOG_WARN, 0)
LOG_FN(log_info, TAO_LOG_INFO, 0)
LOG_FN(log_debug, TAO_LOG_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	int saved_errno = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(TAO_LOG_ERROR, 1, saved_errno, fmt, ap);
	va_end(ap);
	log_die();
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(TAO_LOG_ERROR, 0, 0, fmt, ap);
	va_end(ap);
	log_die();
}

int tao__proctitle_ok;

void
tao__set_title(const char *fmt, ...)
{
	char title[128];
	va_list ap;

	if (!tao__proctitle_ok)
		return;
	va_start(ap, fmt);
	vsnprintf(title, sizeof(title), fmt, ap);
	va_end(ap);
	setproctitle("-%s", title);
}
