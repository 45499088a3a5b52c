/*
 * t292-conn-nodelay - every connection taod serves has TCP_NODELAY (a
 * small reply must not wait for the peer's delayed ACK), although the
 * worker no longer sets it per connection: the master sets it on the
 * listening sockets and accepted sockets inherit it.
 *
 * The worker's end of our connection is fetched with pidfd_getfd (Linux
 * 5.6; the test runs as the daemon's user) and asked directly: for each
 * socket descriptor of the worker, the one whose peer is our client's
 * local port.  Skipped where pidfd_getfd is refused.
 */
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

/* The worker's socket whose peer port is port, duplicated here: -1 none,
 * -2 pidfd_getfd refused. */
static int
worker_end(pid_t worker, int port)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int pidfd, found = -1;

	if ((pidfd = (int)syscall(SYS_pidfd_open, worker, 0)) == -1)
		return -2;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)worker);
	if ((dir = opendir(path)) == NULL) {
		close(pidfd);
		return -1;
	}
	while (found < 0 && (e = readdir(dir)) != NULL) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd, target = atoi(e->d_name);

		if (e->d_name[0] == '.')
			continue;
		if ((fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0)) ==
		    -1) {
			if (errno == EPERM || errno == ENOSYS)
				found = -2;
			continue;
		}
		if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
		    ss.ss_family == AF_INET &&
		    ntohs(((struct sockaddr_in *)&ss)->sin_port) == port)
			found = fd;
		else
			close(fd);
	}
	closedir(dir);
	close(pidfd);
	return found;
}

static int
nodelay(int fd)
{
	int on = -1;
	socklen_t len = sizeof(on);

	if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == -1)
		return -1;
	return on != 0;
}

int
main(void)
{
	struct th_daemon *d;
	pid_t worker;
	int c, fd;

	th_init("t292-conn-nodelay", 60);
	plan(4);
	if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 1\n")) == NULL)
		bail("taod did not start");
	if ((c = th_connect(d->port[0])) == -1)
		bail("connect");
	ok(th_echo_once(c, 1, 100, 7) == 0, "an echo");
	worker = th_worker_pid(d, 0);
	fd = worker > 0 ? worker_end(worker, th_local_port(c)) : -1;
	if (fd == -2) {
		th_daemon_stop_clean(d);
		skip_all("pidfd_getfd refused here");
	}
	ok(fd >= 0, "found the worker's end of the connection");
	is_int(fd >= 0 ? nodelay(fd) : -1, 1, "it has TCP_NODELAY");
	if (fd >= 0)
		close(fd);
	close(c);
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
