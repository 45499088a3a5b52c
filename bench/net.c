/*
 * net.c - client sockets, TLV framing, the payload pool and the clock.
 *
 * A bench_conn owns a read buffer (frames are parsed in place and the
 * partial tail moved to the front) and a write buffer sized by the mode
 * for the most it ever queues, so nothing grows while measuring.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define POOL_SPAN	(1u << 20)	/* power of two: offsets are masked */

uint64_t
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Burst and idle hold thousands of sockets: take every descriptor the
 * hard limit allows (the soft limit is often lower). */
void
bench_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			perror("tao-bench: setrlimit(RLIMIT_NOFILE)");
	}
}

void
bench_put32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

void
bench_put64(uint8_t *p, uint64_t v)
{
	bench_put32(p, (uint32_t)v);
	bench_put32(p + 4, (uint32_t)(v >> 32));
}

uint32_t
bench_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

uint64_t
bench_get64(const uint8_t *p)
{
	return (uint64_t)bench_get32(p) | (uint64_t)bench_get32(p + 4) << 32;
}

int
bench_conn_alloc(struct bench_conn *c, size_t rcap, size_t wcap)
{
	memset(c, 0, sizeof(*c));
	c->c_fd = -1;
	if ((c->c_rbuf = malloc(rcap)) == NULL)
		return -1;
	if ((c->c_wbuf = malloc(wcap)) == NULL) {
		free(c->c_rbuf);
		c->c_rbuf = NULL;
		return -1;
	}
	c->c_rcap = rcap;
	c->c_wcap = wcap;
	return 0;
}

void
bench_conn_free(struct bench_conn *c)
{
	if (c->c_ssl != NULL)
		bench_tls_free(c);
	if (c->c_fd != -1)
		close(c->c_fd);
	c->c_fd = -1;
	free(c->c_rbuf);
	free(c->c_wbuf);
	c->c_rbuf = c->c_wbuf = NULL;
}

int
bench_conn_start(struct bench_conn *c, int ep, const struct sockaddr_in *sa,
    uint32_t events, void *ptr)
{
	struct epoll_event ev;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	/* Requests are small and latency is measured: no Nagle delay. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1 &&
	    errno != EINPROGRESS)
		goto fail;
	ev.events = events;
	ev.data.ptr = ptr;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		goto fail;
	c->c_fd = fd;
	c->c_events = events;
	c->c_rlen = c->c_woff = c->c_wlen = 0;
	c->c_handshake = 0;
	return 0;
fail:
	close(fd);
	return -1;
}

int
bench_conn_check(struct bench_conn *c)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(c->c_fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

void
bench_conn_close(struct bench_conn *c, int ep)
{
	if (c->c_fd == -1)
		return;
	if (c->c_ssl != NULL)
		bench_tls_free(c);
	epoll_ctl(ep, EPOLL_CTL_DEL, c->c_fd, NULL);
	close(c->c_fd);
	c->c_fd = -1;
}

int
bench_conn_events(struct bench_conn *c, int ep, uint32_t events, void *ptr)
{
	struct epoll_event ev;

	if (c->c_events == events)
		return 0;
	ev.events = events;
	ev.data.ptr = ptr;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->c_fd, &ev) == -1)
		return -1;
	c->c_events = events;
	return 0;
}

uint8_t *
bench_conn_frame(struct bench_conn *c, int32_t type, size_t len)
{
	uint8_t *p;

	if (c->c_wlen - c->c_woff + BENCH_HDR + len > c->c_wcap)
		return NULL;
	/* Everything before c_woff is sent: reuse that room first. */
	if (c->c_woff == c->c_wlen)
		c->c_woff = c->c_wlen = 0;
	else if (c->c_wlen + BENCH_HDR + len > c->c_wcap) {
		memmove(c->c_wbuf, c->c_wbuf + c->c_woff,
		    c->c_wlen - c->c_woff);
		c->c_wlen -= c->c_woff;
		c->c_woff = 0;
	}
	p = c->c_wbuf + c->c_wlen;
	bench_put32(p, (uint32_t)type);
	bench_put32(p + 4, (uint32_t)len);
	c->c_wlen += BENCH_HDR + len;
	return p + BENCH_HDR;
}

int
bench_conn_flush(struct bench_conn *c)
{
	ssize_t n;

	while (c->c_woff < c->c_wlen) {
		if (c->c_ssl != NULL) {
			if ((n = bench_tls_write(c, c->c_wbuf + c->c_woff,
			    c->c_wlen - c->c_woff)) == 0)
				return 0;
			if (n == -1)
				return -1;
			c->c_woff += (size_t)n;
			continue;
		}
		n = send(c->c_fd, c->c_wbuf + c->c_woff, c->c_wlen - c->c_woff,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		c->c_woff += (size_t)n;
	}
	c->c_woff = c->c_wlen = 0;
	return 1;
}

/* Until the socket is empty or the buffer full: see bench.h. */
static ssize_t
tls_read(struct bench_conn *c)
{
	ssize_t n, total = 0;

	while (c->c_rlen < c->c_rcap) {
		n = bench_tls_read(c, c->c_rbuf + c->c_rlen,
		    c->c_rcap - c->c_rlen);
		if (n == 0)
			break;
		if (n == -1)
			return total > 0 ? total : -1;	/* EOF: next call */
		c->c_rlen += (size_t)n;
		total += n;
	}
	return total;
}

int
bench_conn_pending(const struct bench_conn *c)
{
	return c->c_fd != -1 && bench_tls_pending(c) &&
	    c->c_rlen < c->c_rcap;
}

int
bench_conn_handshake(struct bench_conn *c, int ep, void *ptr)
{
	uint32_t want = 0;
	int rv;

	if (c->c_ssl == NULL) {
		if (bench_tls_start(c) == -1)
			return -1;
		c->c_handshake = 1;
	}
	if ((rv = bench_tls_handshake(c, &want)) == 1) {
		c->c_handshake = 0;
		return bench_conn_events(c, ep, EPOLLIN, ptr) == -1 ? -1 : 1;
	}
	if (rv == 0 && bench_conn_events(c, ep, want, ptr) == -1)
		return -1;
	return rv;
}

ssize_t
bench_conn_read(struct bench_conn *c)
{
	ssize_t n;

	if (c->c_ssl != NULL)
		return tls_read(c);
	for (;;) {
		n = read(c->c_fd, c->c_rbuf + c->c_rlen, c->c_rcap - c->c_rlen);
		if (n > 0) {
			c->c_rlen += (size_t)n;
			return n;
		}
		if (n == 0) {
			errno = 0;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -1;
	}
}

int
bench_frame_next(struct bench_conn *c, size_t *off, size_t max,
    struct bench_frame *f)
{
	const uint8_t *p = c->c_rbuf + *off;
	size_t avail = c->c_rlen - *off;
	uint32_t len;

	if (avail < BENCH_HDR)
		return 0;
	len = bench_get32(p + 4);
	if (len > max)
		return -1;
	if (avail < BENCH_HDR + (size_t)len)
		return 0;
	f->f_type = (int32_t)bench_get32(p);
	f->f_len = len;
	f->f_payload = p + BENCH_HDR;
	*off += BENCH_HDR + len;
	return 1;
}

void
bench_conn_consume(struct bench_conn *c, size_t off)
{
	if (off == 0)
		return;
	if (off < c->c_rlen)
		memmove(c->c_rbuf, c->c_rbuf + off, c->c_rlen - off);
	c->c_rlen -= off;
}

/* splitmix64: a fast, well-mixed 64-bit generator step. */
static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

int
bench_pool_init(struct bench_pool *p, size_t payload, uint64_t seed)
{
	size_t i, n = POOL_SPAN + payload + 8;

	if ((p->p_bytes = malloc(n)) == NULL)
		return -1;
	for (i = 0; i + 8 <= n; i += 8)
		bench_put64(p->p_bytes + i, mix64(seed + i));
	for (; i < n; i++)
		p->p_bytes[i] = (uint8_t)mix64(seed ^ i);
	p->p_span = POOL_SPAN;
	return 0;
}

void
bench_pool_free(struct bench_pool *p)
{
	free(p->p_bytes);
	p->p_bytes = NULL;
}

static const uint8_t *
pool_at(const struct bench_pool *p, uint64_t salt, uint64_t seq)
{
	return p->p_bytes +
	    (mix64(salt * 0x100000001b3ull ^ seq) & (p->p_span - 1));
}

void
bench_pool_fill(const struct bench_pool *p, uint8_t *dst, size_t len,
    uint64_t salt, uint64_t seq)
{
	uint8_t head[8];

	bench_put64(head, seq);
	memcpy(dst, head, len < 8 ? len : 8);
	if (len > 8)
		memcpy(dst + 8, pool_at(p, salt, seq), len - 8);
}

int
bench_pool_check(const struct bench_pool *p, const uint8_t *buf, size_t len,
    uint64_t salt, uint64_t seq)
{
	uint8_t head[8];

	bench_put64(head, seq);
	if (memcmp(buf, head, len < 8 ? len : 8) != 0)
		return 0;
	if (len > 8 && memcmp(buf + 8, pool_at(p, salt, seq), len - 8) != 0)
		return 0;
	return 1;
}

/*
 * One event of a connection being connected: 1 connected, -1 failed,
 * 0 not done yet (or not an event of a pending connection).
 */
static int
connect_event(struct bench_conn *c, int ep, const struct bench_opts *o)
{
	int rv;

	if (c->c_fd == -1 || (c->c_events != EPOLLOUT && !c->c_handshake))
		return 0;
	/* --tls: connected only once the handshake is done. */
	if (!c->c_handshake && bench_conn_check(c) == -1)
		rv = -1;
	else if (o->o_tls) {
		if ((rv = bench_conn_handshake(c, ep, c)) == 0)
			return 0;
	} else
		rv = bench_conn_events(c, ep, EPOLLIN, c) == 0 ? 1 : -1;
	return rv;
}

/*
 * Connect n connections at once and wait until each is established or
 * has failed, at most o_timeout seconds.  The connections are the first
 * member of the mode's structs, `stride` bytes apart from `base` on.
 * Failed connections are closed and counted; the others are left
 * registered for EPOLLIN.  Returns how many are connected.
 */
int
bench_connect_all(void *base, size_t stride, int n, int ep,
    const struct bench_opts *o, struct bench_result *r)
{
	struct epoll_event evs[256];
	struct bench_conn *c;
	uint64_t deadline;
	int i, k, nev, rv, pending = 0, connected = 0;

#define CONN(i)	((struct bench_conn *)((char *)base + (size_t)(i) * stride))
	for (i = 0; i < n; i++) {
		c = CONN(i);
		if (bench_conn_start(c, ep, o->o_has_addr2 && (i & 1) ?
		    &o->o_addr2 : &o->o_addr, EPOLLOUT, c) == -1) {
			r->r_connect_failures++;
			continue;
		}
		pending++;
	}
	deadline = bench_now() + (uint64_t)(o->o_timeout * 1e9);
	while (pending > 0) {
		uint64_t now = bench_now();

		if (now >= deadline)
			break;
		nev = epoll_wait(ep, evs, 256,
		    (int)((deadline - now) / 1000000 + 1));
		if (nev == -1 && errno != EINTR)
			break;
		for (k = 0; k < nev; k++) {
			c = evs[k].data.ptr;
			if ((rv = connect_event(c, ep, o)) == 0)
				continue;
			pending--;
			if (rv == 1) {
				connected++;
				continue;
			}
			bench_conn_close(c, ep);
			r->r_connect_failures++;
		}
	}
	for (i = 0; i < n; i++) {
		c = CONN(i);
		if (c->c_fd != -1 && (c->c_events == EPOLLOUT ||
		    c->c_handshake)) {
			bench_conn_close(c, ep);
			r->r_connect_failures++;
		}
	}
#undef CONN
	r->r_connected += (uint64_t)connected;
	return connected;
}
