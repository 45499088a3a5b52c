/*
 * channel.c - fixed-size records on the master/worker socketpair, with an
 * optional descriptor (SCM_RIGHTS) for connections that change hands.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "proto/channel.h"
#include "proto/codec.h"

#define CHAN_FDS_ROOM	8	/* descriptors the control buffer holds */

int
tao__chan_send_fd(int fd, uint32_t type, uint32_t arg, uint64_t value,
    int passed_fd)
{
	struct tao_chan_msg m;

	memset(&m, 0, sizeof(m));
	m.cm_type = type;
	m.cm_arg = arg;
	m.cm_value = value;
	return tao__chan_send_msg(fd, &m, passed_fd);
}

int
tao__chan_send_msg(int fd, const struct tao_chan_msg *mp, int passed_fd)
{
	struct tao_chan_msg m = *mp;
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

/*
 * Every descriptor the kernel installed for this message, whatever the
 * sender claimed: each SCM_RIGHTS record may carry several, a message may
 * carry several records, and a truncated control buffer (MSG_CTRUNC) still
 * holds the ones that fitted.  Keep at most the first and only when keep
 * is set; close all others.  Returns the kept descriptor or -1.
 */
static int
take_fds(struct msghdr *msg, int keep)
{
	const unsigned char *end = (const unsigned char *)msg->msg_control +
	    msg->msg_controllen;
	struct cmsghdr *cm;
	const unsigned char *data;
	size_t len, i;
	int kept = -1, fd;

	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0))
			continue;
		data = CMSG_DATA(cm);
		len = cm->cmsg_len - CMSG_LEN(0);
		if (len > (size_t)(end - data))	/* never past the buffer */
			len = (size_t)(end - data);
		for (i = 0; i + sizeof(int) <= len; i += sizeof(int)) {
			memcpy(&fd, data + i, sizeof(int));
			if (fd < 0)
				continue;
			if (keep && kept == -1)
				kept = fd;
			else
				close(fd);
		}
	}
	return kept;
}

/* A connection handed over must be a connected stream socket: anything
 * else (a file, a pipe, a listening socket) a peer sent is refused. */
static int
is_conn_socket(int fd)
{
	int type = 0, listening = 1;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_STREAM)
		return 0;
	len = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
	    &len) == -1 || listening)
		return 0;
	return 1;
}

int
tao__chan_recv(int fd, struct tao_chan_msg *m, int *passed_fd)
{
	union {
		struct cmsghdr	hdr;
		/* Room for a few more than we accept, so that a peer sending
		 * extras is seen (and its descriptors closed) without
		 * truncation; what does not fit the kernel closes itself. */
		char		buf[CMSG_SPACE(CHAN_FDS_ROOM * sizeof(int))];
	} control;
	struct tao_chan_msg rec;
	struct iovec iov = { &rec, sizeof(rec) };
	struct msghdr msg;
	ssize_t n;
	int good, kept;

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
	/* Odd-sized (short, or cut by MSG_TRUNC: SEQPACKET records are
	 * never merged) and truncated-control messages are refused whole. */
	good = (size_t)n == sizeof(rec) &&
	    (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0;
	kept = take_fds(&msg, good && rec.cm_type == TAO_CHAN_CONN &&
	    tao__codec_by_id(rec.cm_arg) != NULL);
	if (kept != -1 && !is_conn_socket(kept)) {
		close(kept);
		kept = -1;
	}
	if (n == 0 && (msg.msg_flags & MSG_TRUNC) == 0) {
		errno = 0;
		return -1;
	}
	if (!good) {
		errno = EBADMSG;
		return -1;
	}
	*m = rec;
	*passed_fd = kept;
	return 1;
}
