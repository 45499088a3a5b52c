/*
 * outq.c - the client's output queue: core/wqueue.h's chunks and chunk
 * pool, reused as they are, written by our own flush, plus the lengths of
 * the queued messages.
 *
 * Why our own flush: tao__wq_flush writes with writev(2), which raises
 * SIGPIPE when the peer has reset the connection, and a library must not
 * kill its caller for that; here plaintext goes out with
 * sendmsg(MSG_NOSIGNAL) and TLS with SSL_write_ex (whose socket BIO does
 * the same, see tls.c).
 *
 * Why the lengths: with reconnect, the queue outlives a connection, and a
 * connection can break with a message half written.  Its rest must not
 * open the next connection (the server would read it as a frame header),
 * so it is cut out; whole messages stay and go out once, in order:
 *
 *	queue:	[ msg1 rest | msg2 | msg3 ]	lengths: 40 (12 done), 8, 100
 *		  ^ cut 28 bytes		     ->  8, 100
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"

#define FLUSH_IOV	64

void
tao__frames_free(struct tao__frames *f)
{
	free(f->f_len);
	memset(f, 0, sizeof(*f));
}

int
tao__frames_push(struct tao__frames *f, size_t len)
{
	size_t cap, i, *grown;

	if (f->f_count == f->f_cap) {
		cap = f->f_cap ? f->f_cap * 2 : 16;
		if ((grown = reallocarray(NULL, cap, sizeof(*grown))) == NULL)
			return -1;
		for (i = 0; i < f->f_count; i++)
			grown[i] = f->f_len[(f->f_head + i) & (f->f_cap - 1)];
		free(f->f_len);
		f->f_len = grown;
		f->f_cap = cap;
		f->f_head = 0;
	}
	f->f_len[(f->f_head + f->f_count) & (f->f_cap - 1)] = len;
	f->f_count++;
	return 0;
}

void
tao__frames_written(struct tao__frames *f, size_t bytes)
{
	size_t rest;

	while (bytes > 0 && f->f_count > 0) {
		rest = f->f_len[f->f_head] - f->f_done;
		if (bytes < rest) {
			f->f_done += bytes;
			return;
		}
		bytes -= rest;
		f->f_done = 0;
		f->f_head = (f->f_head + 1) & (f->f_cap - 1);
		f->f_count--;
	}
}

/* The first n queued bytes are gone (written, or cut). */
static void
consume(struct tao_client *c, size_t n)
{
	tao__frames_written(&c->c_frames, n);
	tao__wq_consume(&c->c_wq, &c->c_loop->l_ev.el_pool, n);
}

void
tao__outq_cut_partial(struct tao_client *c)
{
	struct tao__frames *f = &c->c_frames;

	if (f->f_count > 0 && f->f_done > 0)
		consume(c, f->f_len[f->f_head] - f->f_done);
}

void
tao__outq_clear(struct tao_client *c)
{
	tao__wq_clear(&c->c_wq, &c->c_loop->l_ev.el_pool);
	c->c_frames.f_head = c->c_frames.f_count = c->c_frames.f_done = 0;
}

static int
flush_plain(struct tao_client *c, uint32_t *want, char *err, size_t errlen)
{
	struct iovec iov[FLUSH_IOV];
	struct tao_wq_chunk *ch;
	struct msghdr msg;
	size_t total;
	ssize_t n;

	while (c->c_wq.q_bytes > 0) {
		memset(&msg, 0, sizeof(msg));
		total = 0;
		STAILQ_FOREACH(ch, &c->c_wq.q_chunks, ch_next) {
			if (msg.msg_iovlen == FLUSH_IOV)
				break;
			iov[msg.msg_iovlen].iov_base = ch->ch_data +
			    ch->ch_start;
			iov[msg.msg_iovlen].iov_len = ch->ch_end - ch->ch_start;
			total += iov[msg.msg_iovlen++].iov_len;
		}
		msg.msg_iov = iov;
		n = sendmsg(c->c_w.lw_io.io_fd, &msg, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			strlcpy(err, strerror(errno), errlen);
			return -1;
		}
		consume(c, (size_t)n);
		if ((size_t)n < total)
			break;		/* the socket is full */
	}
	if (c->c_wq.q_bytes == 0)
		return 1;
	*want = EPOLLOUT;
	return 0;
}

static int
flush_tls(struct tao_client *c, uint32_t *want, char *err, size_t errlen)
{
	struct tao_wq_chunk *ch;
	ssize_t n;

	c->c_write_wants_read = 0;
	while ((ch = STAILQ_FIRST(&c->c_wq.q_chunks)) != NULL) {
		n = tao__tls_write(c, ch->ch_data + ch->ch_start,
		    ch->ch_end - ch->ch_start, want, err, errlen);
		if (n == -1)
			return -1;
		if (n == 0) {
			/* WANT_READ: the EPOLLIN we always ask for. */
			if (!(*want & EPOLLOUT))
				c->c_write_wants_read = 1;
			return 0;
		}
		consume(c, (size_t)n);
	}
	return 1;
}

int
tao__outq_flush(struct tao_client *c, uint32_t *want, char *err,
    size_t errlen)
{
	*want = 0;
	if (c->c_ssl != NULL)
		return flush_tls(c, want, err, errlen);
	return flush_plain(c, want, err, errlen);
}
