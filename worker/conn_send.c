/*
 * conn_send.c - queueing a message on a connection: encode its frame
 * header and tail with the listener's codec, append to the write queue
 * (bounded by write_queue_max for handlers), and put the connection on
 * the loop's flush list; the write itself happens in the flush phase
 * (tao__conn_flush, conn.c), so the replies of one input batch leave in
 * one writev, large ones too: writing a large message at once from the
 * caller's buffer saved its copy but cost a system call per message,
 * 15 % more server CPU per MB on the 64 KiB stream (8a20cb5, reverted).
 * From a pool thread a send is handed to the loop (worker/pool.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "worker/conn.h"
#include "worker/pool.h"
#include "worker/tls.h"
#include "worker/whist.h"

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
