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
	/* old -> new: the old master's counters and histograms, so the new
	 * one's continue from them (layout below, master/uptotals.c). */
	TAO_CHAN_UP_TOTALS,	/* a batch begins: arg = TAO_UP_TOTALS_V,
				 * value = records that follow */
	TAO_CHAN_UP_COUNTER,	/* one counter of one slot */
	TAO_CHAN_UP_HIST,	/* one field of one histogram series */
	TAO_CHAN_UP_TOTALS_END,	/* value = records sent in the batch */
};

/*
 * The layout of these records, and the meaning of the types between two
 * masters.  The old master passes both in $TAO_UPGRADE (rec=V,SIZE) and
 * the new one refuses an upgrade when either differs from its own: bump
 * TAO_CHAN_VERSION whenever struct tao_chan_msg or a type changes.
 */
#define TAO_CHAN_VERSION	2	/* 1: before cm_peer */

/*
 * Totals of a binary upgrade.  A batch is TAO_CHAN_UP_TOTALS, at most
 * TAO_UP_TOTALS_MAX records, TAO_CHAN_UP_TOTALS_END.  Each value is the
 * old master's whole total for that key as a scrape would show it (its
 * folded base, its own inherited totals and its live workers), never a
 * delta, so a batch sent again later (the final one, once every old
 * worker has been folded) only raises values: the receiver adds what is
 * above the last value it took for the key.  Keys are by name and by
 * message type, never by array index.
 *
 *	COUNTER	arg = worker slot (< 64), value = the total,
 *		cm_peer = the counter's name as in taoctl stats
 *		("msgs_in", ... , "restarts"), NUL-padded, NUL within 20
 *	HIST	arg = worker slot, value = the total,
 *		cm_peer[0..3] = message type (int32, host order: one host),
 *		cm_peer[4] = series: TAO_UP_HIST_TYPED (a handler series with
 *		that type), TAO_UP_HIST_OTHER (handler "other"),
 *		TAO_UP_HIST_WQWAIT (write-queue wait; type 0)
 *		cm_peer[5] = field: i < 64 the bucket le = 2^i us (not
 *		cumulative), TAO_UP_HIST_INF the +Inf bucket, TAO_UP_HIST_SUM
 *		the sum in nanoseconds; other bytes zero
 *
 * Anything else (unknown version, slot, name, series or field, records
 * outside a batch or beyond its count) is ignored and counted; nothing
 * is allocated per record.
 */
#define TAO_UP_TOTALS_V		1
#define TAO_UP_TOTALS_MAX	(1u << 17)
#define TAO_UP_HIST_TYPED	0
#define TAO_UP_HIST_OTHER	1
#define TAO_UP_HIST_WQWAIT	2
#define TAO_UP_HIST_INF		0xff
#define TAO_UP_HIST_SUM		0xfe

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
