/*
 * channel.c - fixed-size records on the master/worker socketpair.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <string.h>

#include "worker/channel.h"

int
tao__chan_send(int fd, uint32_t type, uint32_t arg, uint64_t value)
{
	struct tao_chan_msg m = { type, arg, value };
	ssize_t n;

	do {
		n = send(fd, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != sizeof(m)) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int
tao__chan_recv(int fd, struct tao_chan_msg *m)
{
	ssize_t n;

	do {
		n = recv(fd, m, sizeof(*m), MSG_DONTWAIT);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	if (n == 0) {
		errno = 0;
		return -1;
	}
	if ((size_t)n != sizeof(*m)) {
		errno = EBADMSG;
		return -1;
	}
	return 1;
}
