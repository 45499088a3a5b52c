/*
 * harness-client.c - buffered client connections of the integration
 * tests (harness.h): non-blocking sockets to 127.0.0.1 with an input
 * buffer each, TLV frames and lines popped from it, and bounded waits.
 * The blocking helpers of harness-net.c suit one request at a time; these
 * suit many connections polled together (chat fan-out, drippers).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"

#define IO_MS		5000	/* bound of one blocking step */

int
th_client_open(struct th_client *c, int port)
{
	struct sockaddr_in sin;
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int err = 0, one = 1;

	memset(c, 0, sizeof(*c));
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = c->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, th_ms(IO_MS)) != 1 ||
		    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0) {
			errno = err != 0 ? err : ETIMEDOUT;
			goto fail;
		}
	}
	return 0;
fail:
	close(c->fd);
	c->fd = -1;
	return -1;
}

void
th_client_close(struct th_client *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->off = c->len = c->cap = 0;
}

int
th_client_local_port(const struct th_client *c)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(c->fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	return ntohs(sin.sin_port);
}

int
th_client_write(struct th_client *c, const void *p, size_t n)
{
	const uint8_t *b = p;
	struct pollfd pfd = { c->fd, POLLOUT, 0 };
	ssize_t w;

	while (n > 0) {
		if ((w = write(c->fd, b, n)) > 0) {
			b += w;
			n -= (size_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno != EAGAIN)
			return -1;
		if (poll(&pfd, 1, th_ms(IO_MS)) != 1)
			return -1;
	}
	return 0;
}

int
th_client_send(struct th_client *c, int32_t type, const void *p, size_t n)
{
	uint8_t frame[8 + 4096];

	if (n > sizeof(frame) - 8)
		return -1;
	for (int i = 0; i < 4; i++) {
		frame[i] = (uint8_t)((uint32_t)type >> (8 * i));
		frame[4 + i] = (uint8_t)((uint32_t)n >> (8 * i));
	}
	if (n > 0)
		memcpy(frame + 8, p, n);
	return th_client_write(c, frame, 8 + n);
}

static int
make_room(struct th_client *c, size_t want)
{
	uint8_t *nb;
	size_t ncap;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->cap - c->len >= want)
		return 0;
	ncap = c->cap == 0 ? 65536 : c->cap;
	while (ncap - c->len < want)
		ncap *= 2;
	if ((nb = realloc(c->buf, ncap)) == NULL)
		return -1;
	c->buf = nb;
	c->cap = ncap;
	return 0;
}

int
th_client_read(struct th_client *c)
{
	ssize_t n;
	int total = 0;

	while (!c->eof) {
		if (make_room(c, 16384) == -1)
			return -1;
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			total += (int)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		c->eof = 1;
		c->err = n == 0 ? 0 : errno;
	}
	if (total > 0)
		return total;
	return c->eof ? -1 : 0;
}

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

int
th_client_frame(struct th_client *c, struct th_frame *f)
{
	size_t have = c->len - c->off;
	const uint8_t *p = c->buf + c->off;
	uint32_t len;

	if (have < 8)
		return 0;
	len = get_le32(p + 4);
	if (have - 8 < len)
		return 0;
	f->type = (int32_t)get_le32(p);
	f->len = len;
	f->data = p + 8;
	c->off += 8 + (size_t)len;
	return 1;
}

/* Wait until the socket has input or the deadline passes; read it. */
static int
wait_input(struct th_client *c, double deadline)
{
	struct pollfd pfd = { c->fd, POLLIN, 0 };
	double now = th_now_ms();

	if (now >= deadline)
		return 0;
	if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
		return 0;
	return th_client_read(c);
}

int
th_client_next(struct th_client *c, struct th_frame *f, int timeout_ms)
{
	double deadline = th_now_ms() + timeout_ms;

	for (;;) {
		if (th_client_frame(c, f))
			return 1;
		if (c->eof)
			return -1;
		if (th_now_ms() >= deadline)
			return 0;
		(void)wait_input(c, deadline);
	}
}

int
th_client_expect(struct th_client *c, int32_t type, struct th_frame *f,
    int timeout_ms)
{
	double deadline = th_now_ms() + timeout_ms;
	double now;
	int rc;

	for (;;) {
		now = th_now_ms();
		rc = th_client_next(c, f, now < deadline ?
		    (int)(deadline - now) : 0);
		if (rc != 1 || f->type == type)
			return rc;
	}
}

int
th_client_line(struct th_client *c, char *out, size_t outlen)
{
	uint8_t *p = c->buf + c->off, *nl;
	size_t n;

	if (c->len == c->off ||
	    (nl = memchr(p, '\n', c->len - c->off)) == NULL)
		return 0;
	n = (size_t)(nl - p);
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (outlen > 0) {
		size_t k = n < outlen - 1 ? n : outlen - 1;
		memcpy(out, p, k);
		out[k] = '\0';
	}
	c->off += (size_t)(nl - p) + 1;
	return 1;
}

int
th_client_next_line(struct th_client *c, char *out, size_t outlen,
    int timeout_ms)
{
	double deadline = th_now_ms() + timeout_ms;

	for (;;) {
		if (th_client_line(c, out, outlen))
			return 1;
		if (c->eof)
			return -1;
		if (th_now_ms() >= deadline)
			return 0;
		(void)wait_input(c, deadline);
	}
}

int
th_client_wait_closed(struct th_client *c, int timeout_ms)
{
	double deadline = th_now_ms() + timeout_ms;

	for (;;) {
		c->off = c->len;
		if (c->eof)
			return 1;
		if (th_now_ms() >= deadline)
			return 0;
		(void)wait_input(c, deadline);
	}
}

int
th_client_wait_bytes(struct th_client *c, size_t n, int timeout_ms)
{
	double deadline = th_now_ms() + timeout_ms;

	while (c->len - c->off < n) {
		if (c->eof || th_now_ms() >= deadline)
			return 0;
		(void)th_clients_poll(c, 1, 50);
	}
	return 1;
}

int
th_clients_poll(struct th_client *cs, int n, int timeout_ms)
{
	struct pollfd *pfd;
	int *idx, k = 0, ready = 0;

	if ((pfd = calloc((size_t)n + 1, sizeof(*pfd))) == NULL ||
	    (idx = calloc((size_t)n + 1, sizeof(*idx))) == NULL) {
		free(pfd);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (cs[i].fd == -1 || cs[i].eof)
			continue;
		pfd[k].fd = cs[i].fd;
		pfd[k].events = POLLIN;
		idx[k++] = i;
	}
	if (k > 0 && poll(pfd, (nfds_t)k, timeout_ms) > 0) {
		for (int j = 0; j < k; j++)
			if (pfd[j].revents != 0 &&
			    th_client_read(&cs[idx[j]]) != 0)
				ready++;
	}
	free(pfd);
	free(idx);
	return ready;
}

void
th_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t
th_get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}
