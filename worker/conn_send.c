/*
 * conn_send.c - queueing a message on a connection: encode its frame
 * header and tail with the listener's codec, append to the write queue
 * (bounded by write_queue_max for handlers), and put the connection on
 * the loop's flush list; the write itself happens in the flush phase
 * (tao__conn_flush, conn.c), so the small replies of one input batch
 * leave in one write.  A large message to a plaintext connection with
 * nothing queued is the exception: it is written at once from the
 * caller's buffer (send_direct), which saves copying it into the queue
 * and, over TAO_WQ_CHUNK_SIZE, a chunk allocated and freed per message;
 * only what the socket does not take is queued.  From a pool thread a
 * send is handed to the loop (worker/pool.c).
 */
#include <sys/uio.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "worker/conn.h"
#include "worker/pool.h"
#include "worker/tls.h"
#include "worker/whist.h"

/* From this payload size up a direct write costs less than the copy. */
#define SEND_DIRECT_MIN		(32 * 1024)

/* len bytes were queued and sent of them went out at once. */
static void
direct_account(struct tao_worker *w, struct tao_conn *c, size_t len,
    size_t sent)
{
	tao__whist_queued(w, c, len);
	if (sent == 0)
		return;
	tao__whist_written(w, c, sent);
	TAO_STAT_ADD(w, BYTES_OUT, sent);
	tao__conn_count(c, &c->c_bytes_out, sent);
}

/*
 * Write head, data and tail now; queue the rest.  A write error leaves
 * everything queued: the flush phase meets it again and closes the
 * connection there, as for any other send.  No memory for the rest of a
 * frame already partly sent: the stream cannot go on, so the connection
 * closes once the handler has returned (the peer sees a cut frame).
 */
static int
send_direct(struct tao_conn *c, const uint8_t *head, size_t head_len,
    const void *data, size_t len, const uint8_t *tail, size_t tail_len)
{
	struct tao_worker *w = tao__conn_worker(c);
	struct iovec iov[3] = {
		{ (void *)head, head_len }, { (void *)data, len },
		{ (void *)tail, tail_len }
	};
	size_t total = head_len + len + tail_len, sent, left;
	ssize_t n;

	do
		n = writev(c->c_io.io_fd, iov, tail_len > 0 ? 3 : 2);
	while (n == -1 && errno == EINTR);
	sent = left = n > 0 ? (size_t)n : 0;
	if (sent == total) {
		direct_account(w, c, total, sent);
		return 0;
	}
	for (int i = 0; i < 3; i++) {	/* past the bytes that went out */
		size_t skip = left < iov[i].iov_len ? left : iov[i].iov_len;
		iov[i].iov_base = (uint8_t *)iov[i].iov_base + skip;
		iov[i].iov_len -= skip;
		left -= skip;
	}
	if (tao__wq_append(&c->c_wq, &w->w_loop.el_pool, iov[0].iov_base,
	    iov[0].iov_len, iov[1].iov_base, iov[1].iov_len, iov[2].iov_base,
	    iov[2].iov_len) == -1) {
		direct_account(w, c, sent, sent);
		if (sent > 0) {
			TAO_STAT_ADD(w, ERRORS, 1);
			c->c_flags |= TAO_CONN_CLOSING;
			tao__evloop_flush_add(&w->w_loop, &c->c_pending);
		}
		return TAO_ENOMEM;
	}
	direct_account(w, c, total, sent);
	tao__evloop_flush_add(&w->w_loop, &c->c_pending);
	return 0;
}

/* Queue one message; bounded: refuse over write_queue_max. */
static int
conn_send(struct tao_conn *c, int32_t type, const void *data, size_t len,
    int bounded)
{
	uint8_t head[TAO_CODEC_MAX_HEAD], tail[TAO_CODEC_MAX_TAIL];
	size_t head_len, tail_len;
	struct tao_worker *w = tao__conn_worker(c);

	if (len > w->w_p.wp_settings.st_max_frame)
		return TAO_ETOOBIG;
	if (bounded && c->c_wq.q_bytes >= w->w_p.wp_settings.st_write_queue_max)
		return TAO_EWOULDBLOCK;
	if (c->c_wq.q_bytes == 0 && (tao__conn_tls(c) == NULL ||
	    tao__wtls_pending(c) == 0))
		/* send_timeout_ms from here (kept TLS output is pending) */
		c->c_last_tx_ms = tao__conn_stamp(w->w_loop.el_now_ms);
	tao__conn_listener(c)->l_codec->encode(type, len, head, &head_len,
	    tail, &tail_len);
	if (len >= SEND_DIRECT_MIN && c->c_wq.q_bytes == 0 &&
	    tao__conn_tls(c) == NULL) {
		int rc = send_direct(c, head, head_len, data, len, tail,
		    tail_len);
		if (rc == 0) {
			tao__conn_count_msg(c, &c->c_msgs_out);
			TAO_STAT_ADD(w, MSGS_OUT, 1);
		}
		return rc;
	}
	if (tao__wq_append(&c->c_wq, &w->w_loop.el_pool, head, head_len, data, len,
	    tail, tail_len) == -1)
		return TAO_ENOMEM;
	tao__whist_queued(w, c, head_len + len + tail_len);
	tao__conn_count_msg(c, &c->c_msgs_out);
	TAO_STAT_ADD(w, MSGS_OUT, 1);
	tao__evloop_flush_add(&w->w_loop, &c->c_pending);
	return 0;
}

int
tao_conn_send(struct tao_conn *c, int32_t type, const void *data, size_t len)
{
	struct tao_job *j;

	if (c == NULL || (data == NULL && len > 0))
		return TAO_EINVAL;
	if ((j = tao__pool_current()) != NULL)
		return tao__pool_send(j, c, type, data, len);
	if (c->c_flags & (TAO_CONN_CLOSED | TAO_CONN_CLOSING))
		return TAO_ECLOSED;
	return conn_send(c, type, data, len, 1);
}

/* The job's sends go out even while a graceful close waits for it. */
int
tao__conn_send_job(struct tao_conn *c, int32_t type, const void *data,
    size_t len)
{
	if (c->c_flags & TAO_CONN_CLOSED)
		return TAO_ECLOSED;
	return conn_send(c, type, data, len, 0);
}
