/*
 * redis.c - a redis-server per test (tests/lib/redis.h).
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/redis.h"
#include "tests/tap.h"

static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, port = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* A round trip of one command (RESP text) and the first reply line. */
static int
roundtrip(int port, const void *cmd, size_t len, char *reply, size_t cap,
    int timeout_ms)
{
	int fd, n, got = 0;

	if ((fd = th_connect(port)) == -1)
		return -1;
	if (th_write_all(fd, cmd, len) == -1) {
		close(fd);
		return -1;
	}
	while (got < (int)cap - 1) {
		if (th_read_exact(fd, reply + got, 1, timeout_ms) == -1)
			break;
		if (reply[got++] == '\n')
			break;
	}
	n = got;
	reply[n] = '\0';
	close(fd);
	return n > 0 ? 0 : -1;
}

static void __attribute__((noreturn))
child(struct th_redis *r)
{
	char port[16];
	int fd;

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(port, sizeof(port), "%d", r->port);
	if ((fd = open(r->log, O_WRONLY | O_CREAT | O_APPEND, 0644)) != -1) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	execlp("redis-server", "redis-server", "--port", port, "--bind",
	    "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize",
	    "no", (char *)NULL);
	_exit(127);
}

int
th_redis_start(struct th_redis *r, int port)
{
	char reply[64];
	double deadline;

	r->port = port > 0 ? port : free_port();
	snprintf(r->log, sizeof(r->log), "%s/redis-%d.log", th_dir(), r->port);
	if (r->port <= 0 || (r->pid = fork()) == -1) {
		r->pid = -1;
		return -1;
	}
	if (r->pid == 0)
		child(r);
	deadline = th_now_ms() + th_ms(5000);
	while (th_now_ms() < deadline) {
		if (roundtrip(r->port, "PING\r\n", 6, reply, sizeof(reply),
		    500) == 0 && strncmp(reply, "+PONG", 5) == 0)
			return 0;
		if (waitpid(r->pid, NULL, WNOHANG) == r->pid)
			break;
		th_sleep_ms(20);
	}
	diag("redis-server on port %d did not answer", r->port);
	th_redis_kill(r);
	return -1;
}

int
th_redis_signal(struct th_redis *r, int sig)
{
	return r->pid > 0 ? kill(r->pid, sig) : -1;
}

int
th_redis_kill(struct th_redis *r)
{
	if (r->pid <= 0)
		return -1;
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
	r->pid = -1;
	return 0;
}

void
th_redis_stop(struct th_redis *r)
{
	double deadline = th_now_ms() + 3000;

	if (r->pid <= 0)
		return;
	kill(r->pid, SIGCONT);
	kill(r->pid, SIGTERM);
	while (th_now_ms() < deadline)
		if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
			r->pid = -1;
			return;
		} else
			th_sleep_ms(20);
	th_redis_kill(r);
}

const char *
th_redis_url(const struct th_redis *r)
{
	static char url[64];

	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", r->port);
	return url;
}

long
th_redis_publish(const struct th_redis *r, const char *channel,
    const void *data, size_t len)
{
	char head[256], reply[64];
	size_t hl;
	char *cmd;
	int rc;

	hl = (size_t)snprintf(head, sizeof(head), "*3\r\n$7\r\nPUBLISH\r\n"
	    "$%zu\r\n%s\r\n$%zu\r\n", strlen(channel), channel, len);
	if (hl >= sizeof(head) || (cmd = malloc(hl + len + 2)) == NULL)
		return -1;
	memcpy(cmd, head, hl);
	memcpy(cmd + hl, data, len);
	memcpy(cmd + hl + len, "\r\n", 2);
	rc = roundtrip(r->port, cmd, hl + len + 2, reply, sizeof(reply),
	    th_ms(3000));
	free(cmd);
	if (rc == -1 || reply[0] != ':')
		return -1;
	return strtol(reply + 1, NULL, 10);
}

long long
th_cluster_stat(struct th_daemon *d, const char *key)
{
	char out[8192], pat[64], *p;
	long long v;

	if (th_ctl(d, out, sizeof(out), "status", (char *)NULL) != 0)
		return -1;
	snprintf(pat, sizeof(pat), " %s ", key);
	for (p = out; (p = strstr(p, "cluster ")) != NULL; p++) {
		char *eol = strchr(p, '\n'), *k = strstr(p, pat);
		if (k != NULL && (eol == NULL || k < eol) &&
		    sscanf(k + strlen(pat), "%lld", &v) == 1)
			return v;
	}
	return -1;
}

int
th_cluster_state_is(struct th_daemon *d, const char *state)
{
	char out[8192], want[64];

	if (th_ctl(d, out, sizeof(out), "status", (char *)NULL) != 0)
		return 0;
	snprintf(want, sizeof(want), "\ncluster %s ", state);
	return strstr(out, want) != NULL;
}

int
th_cluster_wait_state(struct th_daemon *d, const char *state, int timeout_ms)
{
	double deadline = th_now_ms() + timeout_ms;

	while (th_now_ms() < deadline) {
		if (th_cluster_state_is(d, state))
			return 0;
		th_sleep_ms(50);
	}
	return -1;
}
