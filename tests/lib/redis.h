/*
 * redis.h - a private redis-server for a cluster test: on a free
 * loopback port, no persistence, killed by pid (and by the kernel when
 * the test process dies: PR_SET_PDEATHSIG), its log in th_dir().
 */
#ifndef TAO_TESTS_REDIS_H
#define TAO_TESTS_REDIS_H

#include <sys/types.h>
#include <stddef.h>

struct th_redis {
	pid_t	pid;		/* -1: not running */
	int	port;
	char	log[256];
};

/* Start on a free port (port 0) or on r->port; 0 once it answers PING,
 * -1 (with a diag) if it does not within a few seconds. */
int	th_redis_start(struct th_redis *r, int port);
/* Send sig to it (SIGSTOP, SIGCONT ...): 0 or -1. */
int	th_redis_signal(struct th_redis *r, int sig);
/* SIGKILL and reap: the "crash" of a test; 0 or -1. */
int	th_redis_kill(struct th_redis *r);
/* SIGTERM, reap (SIGKILL after 3 s). */
void	th_redis_stop(struct th_redis *r);
/* "redis://127.0.0.1:PORT" */
const char *th_redis_url(const struct th_redis *r);
/* PUBLISH channel data on a fresh connection: the receiver count Redis
 * replied, or -1. */
long	th_redis_publish(const struct th_redis *r, const char *channel,
	    const void *data, size_t len);



struct th_daemon;
/* A counter of the "cluster" lines of `taoctl status` (published,
 * received, dropped, lost, ...; "node" too), or -1. */
long long th_cluster_stat(struct th_daemon *d, const char *key);
/* 1 if the link state is `state` ("up", "down", ...), else 0. */
int	th_cluster_state_is(struct th_daemon *d, const char *state);
/* Wait for that state: 0, or -1 on timeout. */
int	th_cluster_wait_state(struct th_daemon *d, const char *state,
	    int timeout_ms);
#endif
