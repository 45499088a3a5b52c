/*
 * channel.c - fixed-size records on the master/worker socketpair, with an
 * optional descriptor (SCM_RIGHTS) for connections that change hands.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "worker/channel.h"

int
tao__chan_send_fd(int fd, uint32_t type, uint32_t arg, uint64_t value,
    int passed_fd)
{
	struct tao_chan_msg m = { type, arg, value };
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr msg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (passed_fd >= 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &passed_fd, sizeof(int));
	}
	do {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
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
tao__chan_send(int fd, uint32_t type, uint32_t arg, uint64_t value)
{
	return tao__chan_send_fd(fd, type, arg, value, -1);
}

int
tao__chan_recv(int fd, struct tao_chan_msg *m, int *passed_fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { m, sizeof(*m) };
	struct msghdr msg;
	struct cmsghdr *cm;
	ssize_t n;

	*passed_fd = -1;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	do {
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type ==
		    SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(passed_fd, CMSG_DATA(cm), sizeof(int));
	if (n == 0) {
		errno = 0;
		return -1;
	}
	if ((size_t)n != sizeof(*m) || (msg.msg_flags & MSG_CTRUNC)) {
		if (*passed_fd >= 0)
			close(*passed_fd);
		*passed_fd = -1;
		errno = EBADMSG;
		return -1;
	}
	return 1;
}
