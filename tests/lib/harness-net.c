/*
 * harness-net.c - client sockets, TLV frames and payloads for the tests.
 *
 * Sockets are blocking with send and receive timeouts, but every read
 * here also polls against a deadline, so a silent server costs a test
 * at most its timeout, never a hang.  All sockets are close-on-exec: a
 * client socket leaked into a taod child would keep connections open.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"

int
th_connect(int port)
{
	struct sockaddr_in sin;
	struct timeval tv;
	int fd, ms = th_ms(5000), one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
th_local_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	return ntohs(sin.sin_port);
}

int
th_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			errno = ETIMEDOUT;	/* SO_SNDTIMEO ran out */
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
th_read_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;
	struct pollfd pfd = { fd, POLLIN, 0 };
	char *p = buf;
	ssize_t n;
	int left, rc;

	while (len > 0) {
		left = (int)(end - th_now_ms());
		if (left < 0)
			left = 0;
		rc = poll(&pfd, 1, left);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1)
			return -1;
		if (rc == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			return 1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void
th_put_header(void *dst, int32_t type, uint32_t len)
{
	uint8_t *p = dst;
	uint32_t t = (uint32_t)type;

	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(t >> (8 * i));
		p[4 + i] = (uint8_t)(len >> (8 * i));
	}
}

void
th_get_header(const void *src, int32_t *type, uint32_t *len)
{
	const uint8_t *p = src;
	uint32_t t = 0, l = 0;

	for (int i = 0; i < 4; i++) {
		t |= (uint32_t)p[i] << (8 * i);
		l |= (uint32_t)p[4 + i] << (8 * i);
	}
	*type = (int32_t)t;
	*len = l;
}

int
th_send_frame(int fd, int32_t type, const void *payload, uint32_t len)
{
	uint8_t hdr[TH_HEADER];

	th_put_header(hdr, type, len);
	if (th_write_all(fd, hdr, sizeof(hdr)) == -1)
		return -1;
	return len > 0 ? th_write_all(fd, payload, len) : 0;
}

int
th_recv_frame(int fd, int32_t *type, void *buf, size_t cap, uint32_t *len,
    int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;
	uint8_t hdr[TH_HEADER];
	int rc, left;

	if ((rc = th_read_exact(fd, hdr, sizeof(hdr), timeout_ms)) != 0)
		return rc;
	th_get_header(hdr, type, len);
	if (*len > cap) {
		errno = EMSGSIZE;
		return -1;
	}
	left = (int)(end - th_now_ms());
	return th_read_exact(fd, buf, *len, left > 0 ? left : 0);
}

int
th_echo_once(int fd, int32_t type, size_t len, uint32_t seed)
{
	uint8_t *out = malloc(len + 1), *in = malloc(len + 1);
	uint32_t got_len;
	int32_t got_type;
	int rc = -1;

	if (out == NULL || in == NULL)
		goto done;
	th_fill(out, len, seed);
	if (th_send_frame(fd, type, out, (uint32_t)len) == -1 ||
	    th_recv_frame(fd, &got_type, in, len, &got_len,
	    th_ms(10000)) != 0)
		goto done;
	rc = got_type == type && got_len == len &&
	    memcmp(in, out, len) == 0 ? 0 : -1;
done:
	free(out);
	free(in);
	return rc;
}

int
th_tlv_echoes(int port, int32_t type, size_t len, uint32_t seed)
{
	int fd = th_connect(port), rc;

	if (fd == -1)
		return 0;
	rc = th_echo_once(fd, type, len, seed) == 0;
	close(fd);
	return rc;
}

int
th_line_echoes(int port, const char *line)
{
	size_t len = strlen(line);
	char *buf = malloc(len + 1);
	int fd, rc = 0;

	if (buf == NULL)
		return 0;
	if ((fd = th_connect(port)) != -1) {
		if (th_write_all(fd, line, len) == 0 &&
		    th_read_exact(fd, buf, len, th_ms(3000)) == 0)
			rc = memcmp(buf, line, len) == 0;
		close(fd);
	}
	free(buf);
	return rc;
}

int
th_wait_closed(int fd, int timeout_ms)
{
	char sink[65536];
	int rc;

	for (;;) {
		rc = th_read_exact(fd, sink, sizeof(sink), timeout_ms);
		if (rc == 1 || (rc == -1 && errno != ETIMEDOUT))
			return 0;	/* EOF or reset */
		if (rc == -1)
			return -1;	/* still open at the deadline */
		/* a full buffer of data: keep reading */
	}
}

uint32_t
th_hash(uint32_t a, uint32_t b)
{
	uint32_t h = a * 0x9E3779B1u ^ (b + 0x7F4A7C15u + (a << 6) + (a >> 2));

	h ^= h >> 16;
	h *= 0x85EBCA6Bu;
	h ^= h >> 13;
	h *= 0xC2B2AE35u;
	h ^= h >> 16;
	return h;
}

void
th_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *p = buf;
	uint32_t x = seed | 1;
	size_t i = 0;

	for (; i + 4 <= len; i += 4) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		memcpy(p + i, &x, 4);
	}
	for (; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}
