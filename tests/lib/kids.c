/*
 * kids.c - bounded child processes for multi-process unit tests.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/kids.h"
#include "tests/tap.h"

#define MAX_KIDS	16

static pid_t kids[MAX_KIDS];

void
kids_kill_all(void)
{
	for (unsigned i = 0; i < MAX_KIDS; i++) {
		if (kids[i] <= 0)
			continue;
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
		kids[i] = 0;
	}
}

pid_t
kids_spawn(int (*fn)(void *), void *arg)
{
	pid_t pid;
	unsigned i;

	fflush(stdout);
	if ((pid = fork()) == -1)
		bail("fork");
	if (pid == 0) {
		alarm((unsigned)(30 * th_timeout_scale()));
		_exit(fn(arg));
	}
	for (i = 0; i < MAX_KIDS && kids[i] > 0; i++)
		;
	if (i == MAX_KIDS)
		bail("too many children");
	kids[i] = pid;
	return pid;
}

int
kids_reap(pid_t pid, long ms)
{
	struct timespec tick = { 0, 1000000 };
	long waited = 0, limit = (long)(ms * th_timeout_scale());
	int st, rc = -1;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			rc = WIFEXITED(st) ? WEXITSTATUS(st) :
			    128 + WTERMSIG(st);
			break;
		}
		if (r == -1 || waited++ >= limit) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			break;
		}
		nanosleep(&tick, NULL);
	}
	for (unsigned i = 0; i < MAX_KIDS; i++)
		if (kids[i] == pid)
			kids[i] = 0;
	return rc;
}

void *
kids_shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		bail("mmap");
	return p;
}

double
kids_now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}
