/*
 * tap.h - a tiny Test Anything Protocol producer for our C tests.
 *
 *	plan(n); ok(cond, "name"); is_int(got, want, "name");
 *	is_str(got, want, "name"); is_blob(got, gotlen, want, wantlen, "name");
 *	diag("fmt", ...); bail("fmt", ...); skip_all("why");
 *	return done_testing();
 *
 * plan(0) means "no plan up front": done_testing() prints 1..N at the end.
 * bail() and skip_all() leave through exit(), so atexit clean-ups (the
 * harness's) still run.
 */
#ifndef TAO_TESTS_TAP_H
#define TAO_TESTS_TAP_H

#include <stdarg.h>
#include <stddef.h>
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

/* Where two byte strings first differ (the shorter length if one is a
 * prefix of the other), shown as hex around that offset. */
static inline void
tap_blob_diff(const unsigned char *got, size_t gotlen,
    const unsigned char *want, size_t wantlen)
{
	size_t at = 0, from, n = gotlen < wantlen ? gotlen : wantlen;

	while (at < n && got[at] == want[at])
		at++;
	from = at > 8 ? at - 8 : 0;
	diag("  got %zu bytes, want %zu; first difference at offset %zu",
	    gotlen, wantlen, at);
	for (int side = 0; side < 2; side++) {
		const unsigned char *p = side ? want : got;
		size_t len = side ? wantlen : gotlen;
		char hex[3 * 24 + 1] = "";

		for (size_t i = from; i < len && i < from + 24; i++)
			snprintf(hex + 3 * (i - from), 4, " %02x", p[i]);
		diag("  %s @%zu:%s", side ? "want" : "got ", from, hex);
	}
}

#define is_blob(got, gotlen, want, wantlen, ...) do {			\
	const void *gotb_ = (got), *wantb_ = (want);			\
	size_t gotn_ = (size_t)(gotlen), wantn_ = (size_t)(wantlen);	\
	int same_ = gotn_ == wantn_ && (gotn_ == 0 ||			\
	    (gotb_ != NULL && wantb_ != NULL &&				\
	    memcmp(gotb_, wantb_, gotn_) == 0));			\
	if (!ok_at(same_, __FILE__, __LINE__, __VA_ARGS__) &&		\
	    gotb_ != NULL && wantb_ != NULL)				\
		tap_blob_diff(gotb_, gotn_, wantb_, wantn_);		\
} while (0)

static inline void __attribute__((noreturn, format(printf, 1, 2)))
bail(const char *fmt, ...)
{
	va_list ap;

	fputs("Bail out! ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	exit(255);
}

/* The whole test does not apply here: "1..0 # SKIP why", exit 0. */
static inline void __attribute__((noreturn))
skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	fflush(stdout);
	exit(0);
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
