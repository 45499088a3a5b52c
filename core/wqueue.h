/*
 * wqueue.h - a connection's output: a list of byte chunks flushed with
 * writev(2).
 *
 *	q_chunks -> [start..end of 16 KiB] -> [one big frame] -> [16 KiB]
 *	            ^ written from ch_start    appended at the tail's ch_end
 *
 * Small messages are packed into standard 16 KiB chunks, so one readable
 * event's worth of replies goes out in one writev; a message larger than a
 * standard chunk gets a chunk of its own size.  An empty queue owns no
 * memory.  Standard chunks are recycled through a per-worker pool so the
 * steady state does no malloc.
 */
#ifndef TAO_CORE_WQUEUE_H
#define TAO_CORE_WQUEUE_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#define TAO_WQ_CHUNK_SIZE	(16 * 1024)
#define TAO_WQ_POOL_MAX		256

struct tao_wq_chunk {
	STAILQ_ENTRY(tao_wq_chunk) ch_next;
	size_t		ch_start, ch_end, ch_cap;
	uint8_t		ch_data[];
};

STAILQ_HEAD(tao_wq_chunks, tao_wq_chunk);

/*
 * Write-queue wait (the histogram of shm/hist.h): when each message was
 * queued, so that the time until its last byte is written can be
 * counted.  A small ring of marks, each a run of messages with the
 * offset just past its last byte (mk_in after the append):
 *
 *	mk_out ... [mark: end, base, n, rel] [mark] ... mk_in
 *	a mark is done once mk_out >= its end: all its messages are out
 *
 * Messages queued with the same timestamp (one handler's replies) share
 * one mark; when the ring is full, a message joins the newest mark, whose
 * rel adds up its messages' (stamp - base), so the sum of their waits is
 * still exact (n * (now - base) - rel) and only the bucket of such merged
 * messages is their mean.
 *
 * The marks live outside struct tao_wqueue (every connection has one,
 * and most have nothing queued most of the time): the worker keeps them
 * only while a connection has marked output in flight (worker/whist.c),
 * counting from the bytes queued when they began.
 */
#define TAO_WQ_MARKS		8

struct tao_wq_mark {
	uint64_t	m_end;		/* mk_in just after its last message */
	uint64_t	m_base;		/* stamp (ns) of its first message */
	uint64_t	m_rel;		/* sum of (stamp - m_base) */
	uint32_t	m_n;		/* messages */
};

struct tao_wq_marks {
	uint64_t		mk_in, mk_out;	/* bytes queued, written */
	const void		*mk_owner;	/* whose queue (worker/whist.c) */
	struct tao_wq_mark	mk_ring[TAO_WQ_MARKS];
	unsigned		mk_head, mk_len;
};

struct tao_wqueue {
	struct tao_wq_chunks	q_chunks;
	size_t			q_bytes;	/* queued, not yet written */
};

struct tao_wq_pool {
	struct tao_wq_chunks	p_free;
	unsigned		p_count;
};

void	tao__wq_init(struct tao_wqueue *);
void	tao__wq_pool_init(struct tao_wq_pool *);
void	tao__wq_pool_free(struct tao_wq_pool *);
/* Append head, body and tail as one contiguous message; 0 or -1 (ENOMEM). */
int	tao__wq_append(struct tao_wqueue *, struct tao_wq_pool *,
	    const void *head, size_t head_len, const void *body, size_t body_len,
	    const void *tail, size_t tail_len);
/* Write as much as the socket takes: 1 all written, 0 would block,
 * -1 error (errno set).  *written gets the bytes sent. */
int	tao__wq_flush(struct tao_wqueue *, struct tao_wq_pool *, int fd,
	    size_t *written);
void	tao__wq_clear(struct tao_wqueue *, struct tao_wq_pool *);
/* Marks that begin with queued bytes already in the queue (unmarked:
 * they go out first), none marked yet. */
void	tao__wq_marks_begin(struct tao_wq_marks *, const void *owner,
	    size_t queued);
/* The message of len bytes just appended was queued at stamp_ns. */
void	tao__wq_mark(struct tao_wq_marks *, size_t len, uint64_t stamp_ns);
/* n more bytes were written. */
static inline void
tao__wq_marks_written(struct tao_wq_marks *mk, size_t n)
{
	mk->mk_out += n;
}
/* The oldest mark whose messages are all written, if any: 1 with *n its
 * messages and *wait_ns the sum of their waits until now_ns (dropped
 * from the ring), or 0. */
int	tao__wq_mark_done(struct tao_wq_marks *, uint64_t now_ns, uint64_t *n,
	    uint64_t *wait_ns);
/*
 * For writers other than writev (TLS): the unwritten bytes of the head
 * chunk (NULL if the queue is empty), then drop the n bytes written.  The
 * head's bytes stay where they are until consumed; appends only extend
 * the tail, so a retry sees the same bytes, perhaps more of them.
 */
const void *tao__wq_peek(const struct tao_wqueue *, size_t *len);
void	tao__wq_consume(struct tao_wqueue *, struct tao_wq_pool *, size_t n);

#endif
