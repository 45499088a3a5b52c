/*
 * tap.h - a tiny Test Anything Protocol producer for our C tests.
 *
 *	plan(n); ok(cond, "name"); is_int(got, want, "name");
 *	is_str(got, want, "name"); diag("fmt", ...); bail("why");
 *	return done_testing();
 *
 * plan(0) means "no plan up front": done_testing() prints 1..N at the end.
 */
#ifndef TAO_TESTS_TAP_H
#define TAO_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_run, tap_failed, tap_planned;

static inline void
plan(int n)
{
	tap_planned = n;
	if (n > 0)
		printf("1..%d\n", n);
	fflush(stdout);
}

static inline void
diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static inline int
ok_at(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_run++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	if (!cond)
		printf("#   failed at %s:%d\n", file, line);
	fflush(stdout);
	return cond;
}

#define ok(cond, ...)	ok_at(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...) do {					\
	long long got_ = (long long)(got), want_ = (long long)(want);	\
	if (!ok_at(got_ == want_, __FILE__, __LINE__, __VA_ARGS__))	\
		diag("  got %lld, want %lld", got_, want_);		\
} while (0)

#define is_str(got, want, ...) do {					\
	const char *got_ = (got), *want_ = (want);			\
	int same_ = got_ && want_ ? strcmp(got_, want_) == 0 : got_ == want_; \
	if (!ok_at(same_, __FILE__, __LINE__, __VA_ARGS__))		\
		diag("  got '%s', want '%s'", got_ ? got_ : "(null)",	\
		    want_ ? want_ : "(null)");				\
} while (0)

static inline void
bail(const char *why)
{
	printf("Bail out! %s\n", why);
	fflush(stdout);
	exit(255);
}

static inline int
done_testing(void)
{
	if (tap_planned <= 0)
		printf("1..%d\n", tap_run);
	else if (tap_planned != tap_run)
		diag("planned %d tests but ran %d", tap_planned, tap_run);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

#endif
