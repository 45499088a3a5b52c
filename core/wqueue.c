/*
 * wqueue.c - chunked output queues and their per-worker chunk pool.
 */
#include <sys/types.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/wqueue.h"

#define FLUSH_IOV	64

void
tao__wq_init(struct tao_wqueue *q)
{
	STAILQ_INIT(&q->q_chunks);
	q->q_bytes = 0;
}

void
tao__wq_pool_init(struct tao_wq_pool *p)
{
	STAILQ_INIT(&p->p_free);
	p->p_count = 0;
}

void
tao__wq_pool_free(struct tao_wq_pool *p)
{
	struct tao_wq_chunk *ch;

	while ((ch = STAILQ_FIRST(&p->p_free)) != NULL) {
		STAILQ_REMOVE_HEAD(&p->p_free, ch_next);
		free(ch);
	}
	p->p_count = 0;
}

static struct tao_wq_chunk *
chunk_get(struct tao_wq_pool *p, size_t need)
{
	struct tao_wq_chunk *ch;
	size_t cap = need <= TAO_WQ_CHUNK_SIZE ? TAO_WQ_CHUNK_SIZE : need;

	if (cap == TAO_WQ_CHUNK_SIZE && (ch = STAILQ_FIRST(&p->p_free))) {
		STAILQ_REMOVE_HEAD(&p->p_free, ch_next);
		p->p_count--;
	} else if ((ch = malloc(sizeof(*ch) + cap)) == NULL)
		return NULL;
	ch->ch_start = ch->ch_end = 0;
	ch->ch_cap = cap;
	return ch;
}

static void
chunk_put(struct tao_wq_pool *p, struct tao_wq_chunk *ch)
{
	if (ch->ch_cap == TAO_WQ_CHUNK_SIZE && p->p_count < TAO_WQ_POOL_MAX) {
		STAILQ_INSERT_HEAD(&p->p_free, ch, ch_next);
		p->p_count++;
	} else
		free(ch);
}

int
tao__wq_append(struct tao_wqueue *q, struct tao_wq_pool *p, const void *head,
    size_t head_len, const void *body, size_t body_len, const void *tail,
    size_t tail_len)
{
	struct tao_wq_chunk *ch = STAILQ_LAST(&q->q_chunks, tao_wq_chunk,
	    ch_next);
	size_t need = head_len + body_len + tail_len;
	uint8_t *dst;

	if (ch == NULL || ch->ch_cap - ch->ch_end < need) {
		if ((ch = chunk_get(p, need)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		STAILQ_INSERT_TAIL(&q->q_chunks, ch, ch_next);
	}
	dst = ch->ch_data + ch->ch_end;
	if (head_len)
		memcpy(dst, head, head_len);
	if (body_len)
		memcpy(dst + head_len, body, body_len);
	if (tail_len)
		memcpy(dst + head_len + body_len, tail, tail_len);
	ch->ch_end += need;
	q->q_bytes += need;
	return 0;
}

const void *
tao__wq_peek(const struct tao_wqueue *q, size_t *len)
{
	const struct tao_wq_chunk *ch = STAILQ_FIRST(&q->q_chunks);

	if (ch == NULL) {
		*len = 0;
		return NULL;
	}
	*len = ch->ch_end - ch->ch_start;
	return ch->ch_data + ch->ch_start;
}

void
tao__wq_consume(struct tao_wqueue *q, struct tao_wq_pool *p, size_t n)
{
	struct tao_wq_chunk *ch;

	q->q_bytes -= n;
	while (n > 0) {
		ch = STAILQ_FIRST(&q->q_chunks);
		size_t left = ch->ch_end - ch->ch_start;
		if (n < left) {
			ch->ch_start += n;
			break;
		}
		n -= left;
		STAILQ_REMOVE_HEAD(&q->q_chunks, ch_next);
		chunk_put(p, ch);
	}
}

int
tao__wq_flush(struct tao_wqueue *q, struct tao_wq_pool *p, int fd,
    size_t *written)
{
	struct iovec iov[FLUSH_IOV];
	struct tao_wq_chunk *ch;
	ssize_t n;
	size_t want;
	int iovcnt;

	*written = 0;
	while (q->q_bytes > 0) {
		iovcnt = 0;
		want = 0;
		STAILQ_FOREACH(ch, &q->q_chunks, ch_next) {
			if (iovcnt == FLUSH_IOV)
				break;
			iov[iovcnt].iov_base = ch->ch_data + ch->ch_start;
			iov[iovcnt].iov_len = ch->ch_end - ch->ch_start;
			want += iov[iovcnt++].iov_len;
		}
		n = iovcnt == 1 ? write(fd, iov[0].iov_base, iov[0].iov_len) :
		    writev(fd, iov, iovcnt);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		size_t sent = (size_t)n;
		*written += sent;
		tao__wq_consume(q, p, sent);
		if (sent < want)	/* the socket is full */
			return q->q_bytes == 0;
	}
	return 1;
}

void
tao__wq_clear(struct tao_wqueue *q, struct tao_wq_pool *p)
{
	struct tao_wq_chunk *ch;

	while ((ch = STAILQ_FIRST(&q->q_chunks)) != NULL) {
		STAILQ_REMOVE_HEAD(&q->q_chunks, ch_next);
		chunk_put(p, ch);
	}
	q->q_bytes = 0;
}

void
tao__wq_marks_begin(struct tao_wq_marks *mk, const void *owner,
    size_t queued)
{
	mk->mk_in = queued;
	mk->mk_out = 0;
	mk->mk_owner = owner;
	mk->mk_head = mk->mk_len = 0;
}

void
tao__wq_mark(struct tao_wq_marks *mk, size_t len, uint64_t stamp_ns)
{
	struct tao_wq_mark *m;

	mk->mk_in += len;
	if (mk->mk_len > 0) {
		m = &mk->mk_ring[(mk->mk_head + mk->mk_len - 1) % TAO_WQ_MARKS];
		if ((m->m_base == stamp_ns || mk->mk_len == TAO_WQ_MARKS) &&
		    m->m_n < UINT32_MAX) {
			m->m_end = mk->mk_in;
			m->m_rel += stamp_ns > m->m_base ? stamp_ns -
			    m->m_base : 0;
			m->m_n++;
			return;
		}
		if (mk->mk_len == TAO_WQ_MARKS)
			return;	/* 2^32 in one mark: not counted */
	}
	m = &mk->mk_ring[(mk->mk_head + mk->mk_len++) % TAO_WQ_MARKS];
	m->m_end = mk->mk_in;
	m->m_base = stamp_ns;
	m->m_rel = 0;
	m->m_n = 1;
}

int
tao__wq_mark_done(struct tao_wq_marks *mk, uint64_t now_ns, uint64_t *n,
    uint64_t *wait_ns)
{
	const struct tao_wq_mark *m = &mk->mk_ring[mk->mk_head];
	uint64_t total;

	if (mk->mk_len == 0 || mk->mk_out < m->m_end)
		return 0;
	*n = m->m_n;
	total = now_ns > m->m_base ? (now_ns - m->m_base) * m->m_n : 0;
	*wait_ns = total > m->m_rel ? total - m->m_rel : 0;
	mk->mk_head = (mk->mk_head + 1) % TAO_WQ_MARKS;
	mk->mk_len--;
	return 1;
}
