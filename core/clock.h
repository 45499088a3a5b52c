/*
 * clock.h - the worker's notion of time: CLOCK_MONOTONIC in milliseconds.
 *
 * Every deadline in worker/ is an absolute uint64_t count of monotonic
 * milliseconds.  The monotonic clock does not jump when the wall clock is
 * stepped (NTP, date -s), which is the class of bug where Go Tao timers
 * stopped firing; wall time never enters timer arithmetic.
 *
 * Two roundings, so that "never early" holds at millisecond granularity:
 *
 *	tao__now_ms()		floor: use it for "what is due now"
 *				(tao__timers_run, tao__timers_timeout);
 *	tao__now_ms_ceil()	ceiling: use it as the base of a relative
 *				deadline (run_after(ms) = ceil + ms);
 *	tao__timespec_to_ms_ceil()  the same for an absolute monotonic time
 *				(run_at).
 *
 * With a floor "now" and a ceiling base, a timer asked for at real time
 * T + ms cannot be seen as due before real time T + ms; with the floor on
 * both sides it could run up to 1 ms early.
 */
#ifndef TAO_CORE_CLOCK_H
#define TAO_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
tao__now_ms(void)
{
	struct timespec ts;

	/* Cannot fail for CLOCK_MONOTONIC with a valid pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Nanoseconds, for durations (the histograms of shm/hist.h); never for
 * deadlines. */
static inline uint64_t
tao__now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static inline uint64_t
tao__now_ms_ceil(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 +
	    ((uint64_t)ts.tv_nsec + 999999) / 1000000;
}

/*
 * An absolute CLOCK_MONOTONIC time (tao_conn_timer_at) as a deadline,
 * rounded up for the same reason.  Times before the clock's epoch give 0 (due now).
 */
static inline uint64_t
tao__timespec_to_ms_ceil(const struct timespec *ts)
{
	if (ts->tv_sec < 0 || ts->tv_nsec < 0)
		return 0;
	return (uint64_t)ts->tv_sec * 1000 +
	    ((uint64_t)ts->tv_nsec + 999999) / 1000000;
}

#endif /* TAO_CORE_CLOCK_H */
