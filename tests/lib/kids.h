/*
 * kids.h - child processes for multi-process unit tests (shm): each is
 * bounded by an alarm, reaped with a deadline, and killed by pid at exit.
 */
#ifndef TAO_TESTS_KIDS_H
#define TAO_TESTS_KIDS_H

#include <sys/types.h>
#include <stddef.h>

/* Times are scaled by th_timeout_scale() (harness.h). */
/* Fork a child running fn(arg) as its exit code (alarm after 30 s x scale). */
pid_t	kids_spawn(int (*fn)(void *), void *arg);
/* Exit code of pid (128 + signal if killed); -1 if it did not end within
 * ms x scale (it is then killed). */
int	kids_reap(pid_t pid, long ms);
/* SIGKILL and reap every child still running; registered with atexit. */
void	kids_kill_all(void);
/* Anonymous shared memory for results children report. */
void	*kids_shared_alloc(size_t size);
double	kids_now_s(void);

#endif
