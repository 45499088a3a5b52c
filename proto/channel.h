/*
 * channel.h - the wire contract between the master and one worker, over
 * the SOCK_SEQPACKET socketpair made at fork.  Every message is one
 * fixed-size record (the receiver checks the size before using it); a
 * record may carry one descriptor (SCM_RIGHTS) when a connection changes
 * hands.  Both ends use these functions, so the layout and its checks
 * live in one place; they work on a descriptor they are given and know
 * nothing of the processes at either end.
 */
#ifndef TAO_PROTO_CHANNEL_H
#define TAO_PROTO_CHANNEL_H

#include <stdint.h>

enum tao_chan_type {
	TAO_CHAN_READY = 1,	/* worker -> master: serving */
	TAO_CHAN_DRAIN,		/* master -> worker: stop accepting, drain */
	TAO_CHAN_STOP,		/* master -> worker: close everything, exit */
	TAO_CHAN_HANDOFF,	/* master -> old worker: reload; hand every
				 * connection over, then exit */
	TAO_CHAN_CONN,		/* a connection changing hands, with its fd:
				 * arg = codec id (proto/codec.h),
				 * value = netid */
	/* Between two masters during a binary upgrade (master/upgrade.c),
	 * over the socketpair the new master inherits: */
	TAO_CHAN_UP_READY,	/* new -> old: my workers serve */
	TAO_CHAN_UP_COMMIT,	/* old -> new: you are the master now (the
				 * pidfile is free); CONN records follow */
	TAO_CHAN_UP_TAKEN,	/* new -> old: pidfile written, control
				 * socket polled */
	TAO_CHAN_UP_EXECFAIL,	/* the forked child -> old: execve failed,
				 * arg = errno */
};

#define TAO_CHAN_PEER_LEN	20

struct tao_chan_msg {
	uint32_t	cm_type;
	uint32_t	cm_arg;
	uint64_t	cm_value;
	/* TAO_CHAN_CONN: the peer as the sending worker knows it (its
	 * PROXY header's client, worker/conn.h struct tao__peer: family in
	 * host order, port in network order, 16 address bytes); all zero
	 * for the other types, and the receiver then asks the socket. */
	uint8_t		cm_peer[TAO_CHAN_PEER_LEN];
};

/* 0, or -1 with errno (EAGAIN if the socket is full). */
int	tao__chan_send(int fd, uint32_t type, uint32_t arg, uint64_t value);
/* A whole record (cm_peer included), with a descriptor if passed_fd
 * >= 0. */
int	tao__chan_send_msg(int fd, const struct tao_chan_msg *, int passed_fd);
/* The same with a descriptor attached (SCM_RIGHTS), cm_peer zero. */
int	tao__chan_send_fd(int fd, uint32_t type, uint32_t arg, uint64_t value,
	    int passed_fd);
/*
 * 1 message read, 0 nothing to read, -1 EOF or error (errno: 0 = EOF,
 * EBADMSG = the peer broke the protocol: a record of the wrong size or a
 * truncated one; stop reading from it).  The peer is not trusted: only a
 * TAO_CHAN_CONN record may bring a descriptor, only one, and only a
 * connected stream socket; it is stored in *passed_fd (else -1) and the
 * caller owns it; a TAO_CHAN_CONN record whose codec id is not a
 * built-in codec (tao__codec_by_id) is returned without its descriptor,
 * so *passed_fd >= 0 means the id is valid.  Every other descriptor that arrived (extra ones in one
 * SCM_RIGHTS record, several records, a truncated control buffer, any on
 * a malformed or other message) is closed here.  The record's type is
 * not checked: callers ignore types they do not know.
 */
int	tao__chan_recv(int fd, struct tao_chan_msg *, int *passed_fd);

#endif
