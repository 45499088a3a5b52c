/*
 * notify.c - the sd_notify(3) datagram protocol, written out so that taod
 * does not depend on libsystemd.
 *
 * The protocol: one AF_UNIX datagram of "KEY=VALUE\n..." text to the
 * address in $NOTIFY_SOCKET.  A leading '@' names an abstract socket: the
 * '@' becomes a NUL byte and the address length must not count a trailing
 * NUL, since every byte of an abstract name is significant.  The manager
 * learns our pid from the socket credentials, so nothing else is sent.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "master/notify.h"

/* Fill `sun` from $NOTIFY_SOCKET; 1 if set, 0 if not, -1 if unusable. */
static int
notify_address(struct sockaddr_un *sun, socklen_t *len)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t plen;

	if (path == NULL || path[0] == '\0')
		return 0;
	if (path[0] != '/' && path[0] != '@') {
		errno = EAFNOSUPPORT;	/* e.g. systemd 254's "vsock:" */
		return -1;
	}
	plen = strlen(path);
	if (path[0] == '@' && plen < 2) {
		errno = EINVAL;
		return -1;
	}
	/* An abstract name needs no terminating NUL, a path does. */
	if (plen > sizeof(sun->sun_path) - (path[0] == '/')) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, plen);
	if (path[0] == '@')
		sun->sun_path[0] = '\0';
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	return 1;
}

int
tao__notify(const char *state)
{
	struct sockaddr_un sun;
	socklen_t sunlen;
	size_t len = strlen(state);
	ssize_t n;
	int fd, rc, saved;

	if ((rc = notify_address(&sun, &sunlen)) <= 0)
		return rc;
	/*
	 * Non-blocking: the master runs an event loop, and a manager that
	 * stopped reading must not stall it.  A full queue is reported as
	 * EAGAIN and the caller decides whether a lost STATUS= matters.
	 */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	n = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    sunlen);
	saved = errno;
	close(fd);
	if (n == -1) {
		errno = saved;
		return -1;
	}
	if ((size_t)n != len) {
		errno = EMSGSIZE;	/* datagrams are all or nothing */
		return -1;
	}
	return 0;
}

int
tao__notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return -1;
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
	    (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
	return tao__notify(msg);
}
