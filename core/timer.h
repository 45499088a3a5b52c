/*
 * timer.h - one timer structure per worker: a binary min-heap of timers
 * keyed by (deadline, insertion sequence), with O(1) lookup by id and a
 * per-owner list so that closing a connection cancels its timers in time
 * proportional to its own timer count.
 *
 * Time is absolute CLOCK_MONOTONIC milliseconds (see core/clock.h); this
 * module never reads a clock itself, every "now" is an argument, so tests
 * drive it with a fake clock.  It depends on nothing else in worker/.
 *
 * Contracts:
 * - Never early: a timer runs only in a tao__timers_run(now) with
 *   now >= its deadline.  Pass now = tao__now_ms() (floor) and build
 *   relative deadlines on tao__now_ms_ceil(), or a timer can run up to
 *   1 ms before the time asked (core/clock.h).
 * - Order: by deadline; equal deadlines in the order they were added.  A
 *   periodic timer counts as added again each time it is re-armed.
 * - tao__timers_run collects every timer due at `now` before it runs any
 *   callback: a timer added by a callback runs in a later pass even when it
 *   is already due.  A callback may add and cancel timers freely, its own
 *   included; a timer of the current batch cancelled by an earlier callback
 *   does not run.
 * - A periodic timer's next deadline is deadline + period; if the loop fell
 *   behind, the missed periods are skipped (the first deadline + k * period
 *   after now), so it never fires a burst and keeps its phase.
 * - Ids are > 0 and never reused during the life of a struct tao_timers.
 *   Once a timer has fired (one-shot) or been cancelled its id is dead and
 *   cancel returns -1; a one-shot's id is already dead inside its callback.
 * - Memory: nodes are kept on a free list and reused, the heap array grows
 *   geometrically; in steady state adding a timer does not allocate.  Only
 *   tao__timers_add allocates, so re-arming a periodic timer cannot fail.
 * - Not thread-safe (one per worker).  A callback must not call
 *   tao__timers_run or tao__timers_free.
 */
#ifndef TAO_CORE_TIMER_H
#define TAO_CORE_TIMER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct tao_timers;		/* opaque: one per worker */
struct tao__timer;		/* opaque: one node per live timer */

/*
 * The list of one owner's timers.  The owner (a connection) embeds one,
 * zero-initialised (or LIST_INIT), passes it to every tao__timers_add for
 * that owner and to tao__timers_cancel_owner when it closes.  The list
 * points into the embedding object: that object must not move or be freed
 * while the list is non-empty.
 */
LIST_HEAD(tao__timer_list, tao__timer);

/* owner and arg are the pointers given to tao__timers_add. */
typedef void	(*tao__timer_cb)(void *owner, void *arg);

struct tao_timers *tao__timers_new(void);
/* Frees every timer; calls no callback.  NULL is accepted. */
void		 tao__timers_free(struct tao_timers *);

/*
 * Adds a timer due at deadline_ms (absolute monotonic ms); period_ms 0 is a
 * one-shot, else it repeats every period_ms.  fn(owner, arg) runs when it
 * is due.  owner identifies who may cancel it (NULL for worker timers);
 * list, if not NULL, is the owner's list, for tao__timers_cancel_owner.
 * Returns the timer's id (> 0), or -1 with errno ENOMEM, or EINVAL if fn is
 * NULL.
 */
int64_t		 tao__timers_add(struct tao_timers *, uint64_t deadline_ms,
		    uint64_t period_ms, tao__timer_cb fn, void *owner,
		    void *arg, struct tao__timer_list *list);

/*
 * Cancels timer `id` if it is live and was added with this owner (so one
 * connection cannot cancel another's timer).  Returns 0, or -1 with errno
 * ENOENT: no such live timer (fired one-shot, cancelled, never existed) or
 * owner mismatch.  Cancelling a periodic timer inside its own callback
 * returns 0 and stops it.  O(log n).
 */
int		 tao__timers_cancel(struct tao_timers *, int64_t id,
		    void *owner);

/* The deadline of a live timer, UINT64_MAX for a dead id.  O(1). */
uint64_t	 tao__timers_deadline(const struct tao_timers *, int64_t id);

/*
 * Cancels every timer on this owner's list and leaves it empty.
 * O(number of timers on the list * log n).
 */
void		 tao__timers_cancel_owner(struct tao_timers *,
		    struct tao__timer_list *);

/*
 * Milliseconds from now_ms until the earliest deadline, for epoll_wait: -1
 * if there is no timer, 0 if one is already due, at most INT_MAX.
 */
int		 tao__timers_timeout(const struct tao_timers *,
		    uint64_t now_ms);

/*
 * Runs every timer due at now_ms, in (deadline, insertion) order, with the
 * collection rule above.  Returns the number of callbacks run, or -1 with
 * errno EBUSY when called from inside a callback.
 */
int		 tao__timers_run(struct tao_timers *, uint64_t now_ms);

/* Live timers: armed, plus those collected or running in the current pass. */
size_t		 tao__timers_count(const struct tao_timers *);

/*
 * Debug check of the internal invariants (heap order, every node's heap
 * index, node states and the live count).  O(n) over all nodes ever made:
 * meant for tests and assertions, never called by the library itself.
 * Returns 0, or -1 with errno EINVAL and nothing else changed.
 */
int		 tao__timers_check(const struct tao_timers *);

#endif /* TAO_CORE_TIMER_H */
