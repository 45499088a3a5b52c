/*
 * reconnect.c - what follows the end of a connection: the next attempt
 * (the lookup's next address at once, else after a back-off with jitter)
 * or CLOSED; the attempt itself (socket, connect) and the deadline that
 * bounds a connect, a TLS handshake or a closing flush.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "core/clock.h"

/* A connection up this long, or on which a frame arrived, was healthy:
 * the back-off starts again from reconnect_min_ms after it. */
#define HEALTHY_MS			5000

static void	attempt_fire(void *owner, void *arg);

/* Back-off before the next attempt, with jitter in [delay/2, delay]. */
static uint64_t
backoff_ms(struct tao_client *c)
{
	uint64_t delay = c->c_opts.reconnect_min_ms;
	uint64_t max = c->c_opts.reconnect_max_ms;

	for (uint64_t i = 0; i < c->c_failures && delay < max; i++)
		delay *= 2;
	if (delay > max)
		delay = max;
	if (delay > UINT32_MAX)
		delay = UINT32_MAX;
	c->c_failures++;
	return delay / 2 + arc4random_uniform((uint32_t)(delay - delay / 2)
	    + 1);
}

void
tao__client_schedule(struct tao_client *c, uint64_t ms)
{
	c->c_state = TAO_CLIENT_WAITING;
	c->c_attempt_timer = tao__client_timer_add(c, ms, 0, attempt_fire);
	if (c->c_attempt_timer == -1) {
		/* Out of memory for one timer node: give up rather than
		 * leave a client that will never try again. */
		c->c_state = TAO_CLIENT_CLOSED;
		tao__outq_clear(c);
	}
}
/*
 * After conn_end: what next, then the callbacks.  An error (kind != 0)
 * goes to on_error; on_close runs if on_connect had run for this
 * connection.
 */
void
tao__client_after_end(struct tao_client *c, int was_open, int kind,
    const char *msg)
{
	int by_user = c->c_state == TAO_CLIENT_CLOSING ||
	    c->c_state == TAO_CLIENT_CLOSED;

	if (by_user || !c->c_opts.reconnect) {
		c->c_state = TAO_CLIENT_CLOSED;
		tao__outq_clear(c);
	} else if (!was_open && c->c_round_left > 0) {
		c->c_round_left--;	/* the lookup's next address, now */
		tao__client_schedule(c, 0);
	} else {
		/* A server that accepts and closes at once (full, or
		 * refusing us) is a failure like a refused connect: only a
		 * healthy connection resets the back-off, else clients
		 * would storm an overloaded server. */
		if (was_open && (c->c_healthy ||
		    tao__now_ms() - c->c_open_ms >= HEALTHY_MS))
			c->c_failures = 0;
		c->c_round_left = c->c_naddrs - 1;
		tao__client_schedule(c, backoff_ms(c));
	}
	if (kind != 0 && c->c_on_error != NULL) {
		c->c_on_error(c, (enum tao_client_error)kind, msg,
		    c->c_on_error_arg);
		if (tao__client_is_zombie(c))
			return;
	}
	if (was_open && c->c_on_close != NULL)
		c->c_on_close(c, c->c_on_close_arg);
}

static void
attempt_fire(void *owner, void *arg)
{
	struct tao_client *c = owner;
	int i = c->c_addr_next, fd, one = 1;
	const struct sockaddr *sa = (struct sockaddr *)&c->c_addrs[i];

	(void)arg;
	c->c_attempt_timer = -1;
	c->c_addr_next = (i + 1) % c->c_naddrs;
	c->c_state = TAO_CLIENT_CONNECTING;
	c->c_deadline_timer = tao__client_timer_add(c,
	    c->c_opts.connect_timeout_ms, 0, tao__client_deadline_fire);
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		tao__client_fail(c, TAO_CLIENT_ERR_CONNECT, "socket: %s",
		    strerror(errno));
		return;
	}
	c->c_w.lw_io.io_fd = fd;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, sa, c->c_addrlens[i]) == -1 && errno != EINPROGRESS) {
		char where[64];

		tao__client_format_addr(sa, where, sizeof(where));
		tao__client_fail(c, TAO_CLIENT_ERR_CONNECT,
		    "connect to %s (%s): %s", c->c_addr, where,
		    strerror(errno));
		return;
	}
	/* Even a connect that completed at once is finished in io.c, on
	 * the EPOLLOUT that follows. */
	tao__client_want(c, EPOLLOUT);
}

void
tao__client_deadline_fire(void *owner, void *arg)
{
	struct tao_client *c = owner;

	(void)arg;
	c->c_deadline_timer = -1;
	switch (c->c_state) {
	case TAO_CLIENT_CONNECTING:
		tao__client_fail(c, TAO_CLIENT_ERR_CONNECT,
		    "connect to %s: timed out after %llu ms", c->c_addr,
		    (unsigned long long)c->c_opts.connect_timeout_ms);
		break;
	case TAO_CLIENT_HANDSHAKE:
		tao__client_fail(c, TAO_CLIENT_ERR_TLS,
		    "TLS handshake with %s: timed out after %llu ms",
		    c->c_addr,
		    (unsigned long long)c->c_opts.connect_timeout_ms);
		break;
	case TAO_CLIENT_CLOSING:
		/* The server did not take our last messages in time. */
		tao__client_conn_end(c, 0);
		tao__client_after_end(c, 1, 0, NULL);
		break;
	default:
		break;
	}
}
