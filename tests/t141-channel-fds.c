/*
 * t141-channel-fds - issue 12 #8: the master/worker channel receive code
 * (tao__chan_recv, used by both sides) against a hostile peer.
 *
 * A peer on the SOCK_SEQPACKET pair sends, with raw sendmsg: records with
 * two descriptors in one SCM_RIGHTS cmsg (the old code installed both and
 * closed neither: 100 records leaked 200 fds), several cmsgs, more
 * descriptors than the control buffer holds (MSG_CTRUNC), descriptors on
 * records that must not carry any, odd-sized, oversize and empty records,
 * unknown types, and a CONN record whose descriptor is a pipe or a
 * listening socket.  After each batch the receiver's descriptor count
 * (/proc/self/fd) must be what it was: nothing it did not ask for stays
 * open.  Records that are well-formed still arrive, and a CONN record's
 * connection socket is handed to the caller.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/channel.h"
#include "tests/lib/harness.h"
#include "tests/tap.h"

#define ROUNDS		100
#define MAX_SEND_FDS	64

static int
fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		bail("opendir /proc/self/fd");
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;		/* the directory's own descriptor */
}

/*
 * Send len bytes of rec with nfds descriptors, split into ncmsg SCM_RIGHTS
 * control messages (ncmsg 0: none).  The sender's copies are closed.
 */
static void
raw_send(int fd, const void *rec, size_t len, int *fds, int nfds, int ncmsg)
{
	union {
		struct cmsghdr	hdr;
		char		buf[4 * CMSG_SPACE(MAX_SEND_FDS * sizeof(int))];
	} control;
	struct iovec iov = { (void *)rec, len };
	struct msghdr msg;
	struct cmsghdr *cm;
	int per, done = 0, i;

	memset(&msg, 0, sizeof(msg));
	memset(&control, 0, sizeof(control));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (ncmsg > 0 && nfds > 0) {
		msg.msg_control = control.buf;
		msg.msg_controllen = 0;
		per = (nfds + ncmsg - 1) / ncmsg;
		cm = (struct cmsghdr *)control.buf;
		for (i = 0; i < ncmsg && done < nfds; i++) {
			int k = nfds - done < per ? nfds - done : per;

			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN((size_t)k * sizeof(int));
			memcpy(CMSG_DATA(cm), fds + done, (size_t)k *
			    sizeof(int));
			msg.msg_controllen += CMSG_SPACE((size_t)k *
			    sizeof(int));
			cm = (struct cmsghdr *)((char *)cm +
			    CMSG_SPACE((size_t)k * sizeof(int)));
			done += k;
		}
	}
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) != (ssize_t)len)
		{ diag("sendmsg: %s", strerror(errno)); bail("sendmsg"); }
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

/* A connected TCP socket, the kind a CONN record really carries. */
static int
tcp_pair(int *a, int *b)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l == -1 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1 ||
	    (*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(*a, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (*b = accept4(l, NULL, NULL, SOCK_CLOEXEC)) == -1)
		bail("tcp pair");
	close(l);
	return 0;
}

static int
devnull(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		bail("/dev/null");
	return fd;
}

struct outcome {
	int	rc[4];		/* tally of returns: [0] -1, [1] 0, [2] 1 */
	int	got_fd;		/* records that handed over a descriptor */
	int	badmsg;		/* -1 with EBADMSG */
};

static void
recv_one(int fd, struct outcome *o, struct tao_chan_msg *m)
{
	int rc, passed = -2;

	errno = 0;
	rc = tao__chan_recv(fd, m, &passed);
	o->rc[rc + 1]++;
	if (rc == -1 && errno == EBADMSG)
		o->badmsg++;
	if (passed >= 0) {
		o->got_fd++;
		close(passed);
	}
}

static void
test_two_fds_per_record(int sv[2])
{
	struct tao_chan_msg rec = { TAO_CHAN_READY, 0, 0, { 0 } }, m;
	struct outcome o;
	int before = fd_count(), fds[2], i;

	memset(&o, 0, sizeof(o));
	for (i = 0; i < ROUNDS; i++) {
		fds[0] = devnull();
		fds[1] = devnull();
		raw_send(sv[0], &rec, sizeof(rec), fds, 2, 1);
		recv_one(sv[1], &o, &m);
	}
	is_int(o.rc[2], ROUNDS, "%d READY records with 2 fds in one cmsg "
	    "still read as records", ROUNDS);
	is_int(o.got_fd, 0, "none hands a descriptor to the caller (READY "
	    "carries none)");
	is_int(fd_count(), before, "receiver's fd count unchanged (%d)",
	    before);
}

/* The real descriptor first, then an extra, in one or two cmsgs. */
static void
conn_with_extra(int sv[2], int before)
{
	struct tao_chan_msg rec = { TAO_CHAN_CONN, 1, 42, { 0 } }, m;
	int fds[MAX_SEND_FDS], a, b, i, first_ok = 1;

	for (i = 0; i < ROUNDS; i++) {
		int rc, passed = -1, type = 0;
		socklen_t len = sizeof(type);

		tcp_pair(&a, &b);
		fds[0] = b;
		fds[1] = devnull();
		raw_send(sv[0], &rec, sizeof(rec), fds, 2, 1 + i % 2);
		rc = tao__chan_recv(sv[1], &m, &passed);
		if (rc != 1 || passed < 0 || m.cm_type != TAO_CHAN_CONN ||
		    m.cm_value != 42 || getsockopt(passed, SOL_SOCKET,
		    SO_TYPE, &type, &len) == -1 || type != SOCK_STREAM)
			first_ok = 0;
		if (passed >= 0)
			close(passed);
		close(a);
	}
	ok(first_ok, "%d CONN records with socket + extra fd (one or two "
	    "cmsgs): the socket is handed over each time", ROUNDS);
	is_int(fd_count(), before, "and every extra was closed");
}

static void
test_conn_records(int sv[2])
{
	struct tao_chan_msg rec = { TAO_CHAN_CONN, 1, 42, { 0 } }, m;
	struct outcome o;
	int before = fd_count(), fds[MAX_SEND_FDS], i, k;

	conn_with_extra(sv, before);

	/* more than the control buffer holds: MSG_CTRUNC */
	memset(&o, 0, sizeof(o));
	for (i = 0; i < 20; i++) {
		for (k = 0; k < MAX_SEND_FDS; k++)
			fds[k] = devnull();
		raw_send(sv[0], &rec, sizeof(rec), fds, MAX_SEND_FDS,
		    1 + i % 4);
		recv_one(sv[1], &o, &m);
	}
	is_int(o.badmsg, 20, "20 records with %d fds (truncated control): "
	    "each refused with EBADMSG", MAX_SEND_FDS);
	is_int(o.got_fd, 0, "no descriptor handed over");
	is_int(fd_count(), before, "the ones that arrived were closed");

	/* a CONN whose descriptor is no connection */
	memset(&o, 0, sizeof(o));
	for (i = 0; i < 20; i++) {
		int p[2], l;

		if (pipe2(p, O_CLOEXEC) == -1)
			bail("pipe");
		close(p[1]);
		fds[0] = p[0];
		raw_send(sv[0], &rec, sizeof(rec), fds, 1, 1);
		recv_one(sv[1], &o, &m);
		if ((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
		    -1 || listen(l, 1) == -1)
			bail("listening socket");
		fds[0] = l;
		raw_send(sv[0], &rec, sizeof(rec), fds, 1, 1);
		recv_one(sv[1], &o, &m);
		fds[0] = devnull();
		raw_send(sv[0], &rec, sizeof(rec), fds, 1, 1);
		recv_one(sv[1], &o, &m);
	}
	is_int(o.got_fd, 0, "a pipe, a listening socket or a file on a CONN "
	    "record is never handed over");
	is_int(fd_count(), before, "and is closed");
}

static void
test_malformed(int sv[2])
{
	struct tao_chan_msg rec = { TAO_CHAN_CONN, 0, 7, { 0 } }, m;
	unsigned char big[sizeof(rec) + 64];
	struct outcome o;
	int before = fd_count(), fds[4], i;

	memset(&o, 0, sizeof(o));
	memset(big, 0, sizeof(big));
	memcpy(big, &rec, sizeof(rec));
	for (i = 0; i < ROUNDS; i++) {
		fds[0] = devnull();
		fds[1] = devnull();
		switch (i % 4) {
		case 0:		/* short */
			raw_send(sv[0], big, sizeof(rec) / 2, fds, 2, 1);
			break;
		case 1:		/* oversize: cut by MSG_TRUNC */
			raw_send(sv[0], big, sizeof(big), fds, 2, 1);
			break;
		case 2:		/* one byte too many */
			raw_send(sv[0], big, sizeof(rec) + 1, fds, 2, 2);
			break;
		default:	/* one byte short */
			raw_send(sv[0], big, sizeof(rec) - 1, fds, 2, 2);
			break;
		}
		recv_one(sv[1], &o, &m);
	}
	is_int(o.badmsg, ROUNDS, "%d short, odd and oversize records with "
	    "fds: each refused with EBADMSG", ROUNDS);
	is_int(o.got_fd, 0, "none hands over a descriptor");
	is_int(fd_count(), before, "all their fds closed");

	/* unknown types: read (callers ignore them), descriptors closed */
	memset(&o, 0, sizeof(o));
	for (i = 0; i < ROUNDS; i++) {
		struct tao_chan_msg u = { 1000u + (unsigned)i, 1, 2, { 0 } };

		fds[0] = devnull();
		raw_send(sv[0], &u, sizeof(u), fds, 1, 1);
		recv_one(sv[1], &o, &m);
	}
	is_int(o.rc[2], ROUNDS, "unknown record types are read as records");
	ok(m.cm_type == 1000u + ROUNDS - 1, "with their type intact");
	is_int(o.got_fd, 0, "but their fds are not handed over");
	is_int(fd_count(), before, "and are closed");

	/* an empty record reads as end of channel; its fds still closed */
	memset(&o, 0, sizeof(o));
	fds[0] = devnull();
	raw_send(sv[0], big, 0, fds, 1, 1);
	recv_one(sv[1], &o, &m);
	ok(o.rc[0] == 1 && o.got_fd == 0, "an empty record: -1, no fd");
	is_int(fd_count(), before, "its fd closed");
}

static void
test_flood_is_cheap(int sv[2])
{
	struct tao_chan_msg rec = { TAO_CHAN_READY, 0, 0, { 0 } }, m;
	struct outcome o;
	int before = fd_count(), fds[8], i, k;
	double t0, took, sent_ms = 0;

	memset(&o, 0, sizeof(o));
	t0 = th_now_ms();
	for (i = 0; i < 1000; i++) {
		double s0 = th_now_ms();

		for (k = 0; k < 8; k++)
			fds[k] = devnull();
		raw_send(sv[0], &rec, sizeof(rec), fds, 8, 3);
		sent_ms += th_now_ms() - s0;
		recv_one(sv[1], &o, &m);
	}
	took = th_now_ms() - t0 - sent_ms;
	diag("1000 records with 8 fds each: %.1f ms in the receiver", took);
	ok(took < th_ms(2000), "receiving them is cheap (%.1f ms)", took);
	is_int(fd_count(), before, "no fd left behind");
}

int
main(void)
{
	int sv[2];

	th_init("t141-channel-fds", 60);
	plan(0);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		bail("socketpair");
	test_two_fds_per_record(sv);
	test_conn_records(sv);
	test_malformed(sv);
	test_flood_is_cheap(sv);
	close(sv[0]);
	close(sv[1]);
	return th_exit(done_testing());
}
