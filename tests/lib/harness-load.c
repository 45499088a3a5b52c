/*
 * harness-load.c - echo load and connect storms, each in its own thread,
 * so that a test can kill, stop or reload taod while clients talk to it.
 *
 * The load thread drives every connection from one poll() loop.  Each
 * connection keeps a ring of the requests it has in flight:
 *
 *	q[head] ... q[head + qlen - 1]    oldest first; replies must come
 *	{type, len, seed, sent_at}         back in this order
 *
 * A request is generated only when the previous one has been written
 * whole, so a connection holds at most one frame of output, and its
 * payload is th_fill(seed): the reply is checked by regenerating it.
 * sent_at (0 until the last byte is written) is what "lost before the
 * mark" compares against th_load_mark()'s time.
 *
 * Only the load thread touches the connections until th_load_stop() has
 * joined it; the counters other threads read are atomics.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

#define READ_CHUNK	65536

struct pending {
	int32_t		 type;
	uint32_t	 len;
	uint32_t	 seed;
	double		 sent_at;
};

struct lconn {
	struct th_load_conn pub;
	int		 fd;
	int		 connecting;
	uint32_t	 seq;		/* requests generated */
	long long	 replies_here;	/* on this connection */
	struct pending	*q;
	int		 qhead, qlen;
	uint8_t		*out;
	size_t		 outlen, outoff;
	uint8_t		*in;
	size_t		 inlen, incap;
	double		 last_progress;
};

struct th_load {
	struct th_load_opts o;
	struct lconn	*c;
	pthread_t	 thread;
	int		 started;
	int		 stop;		/* atomic */
	int64_t		 mark_us;	/* atomic; 0 = no mark */
	long long	 replies;	/* atomic */
	int		 connected;	/* atomic */
	int		 finished;	/* atomic: the thread is done */
	struct th_load_totals t;
	struct th_load_break breaks[TH_LOAD_BREAKS_MAX];
	int		 nbreaks;	/* all breaks; the first ones kept */
	uint8_t		*expect;	/* scratch for the expected payload */
};

static int
open_conn(struct th_load *l, struct lconn *c)
{
	struct sockaddr_in sin;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	c->connecting = 1;
	c->qhead = c->qlen = 0;
	c->outlen = c->outoff = c->inlen = 0;
	c->replies_here = 0;
	c->pub.state = TH_CONN_OPEN;
	c->pub.err = 0;
	c->pub.port = -1;
	c->last_progress = th_now_ms();
	if (c->fd == -1)
		goto fail;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)l->o.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 ||
	    errno == EINPROGRESS)
		return 0;
fail:
	c->pub.err = errno;
	c->pub.state = TH_CONN_FAILED;
	l->t.connect_failed++;
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	return -1;
}

/* The connection ended in state st: count what it still owed us. */
static void
conn_break(struct th_load *l, struct lconn *c, enum th_conn_state st,
    int err)
{
	double mark = __atomic_load_n(&l->mark_us, __ATOMIC_ACQUIRE) / 1e3;
	int lost = 0;

	for (int i = 0; i < c->qlen; i++) {
		const struct pending *p = &c->q[(c->qhead + i) % l->o.depth];

		if (p->sent_at == 0)
			continue;	/* never wholly written */
		lost++;
		if (mark > 0 && p->sent_at < mark) {
			c->pub.lost_before_mark++;
			l->t.lost_before_mark++;
		}
	}
	c->pub.lost += lost;
	l->t.lost += lost;
	if (l->nbreaks < TH_LOAD_BREAKS_MAX)
		l->breaks[l->nbreaks] = (struct th_load_break){
			.conn = (int)(c - l->c), .port = c->pub.port,
			.state = st, .err = err, .at_ms = th_now_ms(),
			.replies = c->replies_here, .lost = lost,
		};
	l->nbreaks++;
	c->qlen = 0;
	c->pub.state = st;
	c->pub.err = err;
	c->pub.breaks++;
	switch (st) {
	case TH_CONN_CLOSED:	l->t.closed++; break;
	case TH_CONN_RESET:	l->t.reset++; break;
	case TH_CONN_BAD:	l->t.bad++; break;
	case TH_CONN_TIMEOUT:	l->t.timeout++; break;
	default:		break;
	}
	close(c->fd);
	c->fd = -1;
}

static int
can_send(struct th_load *l, struct lconn *c, int stopping)
{
	if (c->fd == -1 || c->connecting || c->outoff < c->outlen ||
	    c->qlen >= l->o.depth)
		return 0;
	if (l->o.msgs > 0)
		return !stopping && (long long)c->seq < l->o.msgs;
	return !stopping;
}

/* Put the next request into c->out. */
static void
make_request(struct th_load *l, struct lconn *c, int idx)
{
	struct pending *p = &c->q[(c->qhead + c->qlen) % l->o.depth];
	uint32_t h = th_hash(l->o.seed ^ (uint32_t)idx * 2654435761u, c->seq);

	p->seed = th_hash(h, 1);
	p->type = (int32_t)th_hash(h, 2);
	if (p->type == 0)
		p->type = 1;
	p->len = (uint32_t)(th_hash(h, 3) % (l->o.max_size + 1));
	p->sent_at = 0;
	th_put_header(c->out, p->type, p->len);
	th_fill(c->out + TH_HEADER, p->len, p->seed);
	c->outlen = TH_HEADER + p->len;
	c->outoff = 0;
	c->qlen++;
	c->seq++;
}

/* Check every whole reply in c->in; 0, or -1 after a break. */
static int
take_replies(struct th_load *l, struct lconn *c)
{
	double mark = __atomic_load_n(&l->mark_us, __ATOMIC_ACQUIRE) / 1e3;
	size_t off = 0;
	struct pending *p;
	uint32_t len;
	int32_t type;

	while (c->inlen - off >= TH_HEADER) {
		th_get_header(c->in + off, &type, &len);
		p = &c->q[c->qhead];
		if (c->qlen == 0 || type != p->type || len != p->len) {
			conn_break(l, c, TH_CONN_BAD, 0);
			return -1;
		}
		if (c->inlen - off < TH_HEADER + len)
			break;
		th_fill(l->expect, len, p->seed);
		if (memcmp(c->in + off + TH_HEADER, l->expect, len) != 0) {
			conn_break(l, c, TH_CONN_BAD, 0);
			return -1;
		}
		off += TH_HEADER + len;
		c->qhead = (c->qhead + 1) % l->o.depth;
		c->qlen--;
		c->pub.replies++;
		c->replies_here++;
		if (mark > 0 && th_now_ms() >= mark)
			c->pub.replies_after_mark++;
		__atomic_add_fetch(&l->replies, 1, __ATOMIC_RELAXED);
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
	return 0;
}

/* Read what is there (a few chunks at most, to be fair to the others). */
static void
on_readable(struct th_load *l, struct lconn *c)
{
	ssize_t n;

	for (int i = 0; i < 4 && c->fd != -1; i++) {
		n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen,
		    MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == 0) {
			conn_break(l, c, TH_CONN_CLOSED, 0);
			return;
		}
		if (n == -1) {
			conn_break(l, c, errno == ECONNRESET ? TH_CONN_RESET :
			    TH_CONN_CLOSED, errno);
			return;
		}
		c->inlen += (size_t)n;
		c->last_progress = th_now_ms();
		if (take_replies(l, c) == -1)
			return;
	}
}

static void
on_writable(struct th_load *l, struct lconn *c, int idx, int stopping)
{
	ssize_t n;
	int err;

	for (;;) {
		if (c->outoff == c->outlen) {
			if (!can_send(l, c, stopping))
				return;
			make_request(l, c, idx);
		}
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == -1) {
			/* The server is gone; replies may still wait in our
			 * receive buffer: take them before counting losses. */
			err = errno;
			c->outoff = c->outlen = 0;
			c->qlen -= c->q[(c->qhead + c->qlen - 1) %
			    l->o.depth].sent_at == 0;
			on_readable(l, c);
			if (c->fd != -1)
				conn_break(l, c, TH_CONN_RESET, err);
			return;
		}
		c->outoff += (size_t)n;
		c->last_progress = th_now_ms();
		if (c->outoff == c->outlen) {
			c->q[(c->qhead + c->qlen - 1) % l->o.depth].sent_at =
			    th_now_ms();
			c->pub.sent++;
			l->t.sent++;
		}
	}
}

static void
on_connected(struct th_load *l, struct lconn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		c->pub.state = TH_CONN_FAILED;
		c->pub.err = err;
		l->t.connect_failed++;
		close(c->fd);
		c->fd = -1;
		return;
	}
	c->connecting = 0;
	c->pub.port = th_local_port(c->fd);
	c->last_progress = th_now_ms();
	__atomic_add_fetch(&l->connected, 1, __ATOMIC_RELAXED);
}

/* Does c still need the loop?  Breaks it if it is stuck. */
static int
conn_active(struct th_load *l, struct lconn *c, int stopping, double now)
{
	int waiting;

	if (c->fd == -1)
		return 0;
	waiting = c->connecting || c->qlen > 0 || c->outoff < c->outlen;
	if (waiting && now - c->last_progress > l->o.timeout_ms) {
		conn_break(l, c, TH_CONN_TIMEOUT, ETIMEDOUT);
		return 0;
	}
	return waiting || can_send(l, c, stopping);
}

/* Reopen what may reconnect and fill pfd/which with the connections
 * to poll; returns how many. */
static int
load_poll_set(struct th_load *l, struct pollfd *pfd, int *which,
    int stopping, double now)
{
	int n = 0;

	for (int i = 0; i < l->o.conns; i++) {
		struct lconn *c = &l->c[i];

		if (c->fd == -1 && l->o.reconnect && !stopping &&
		    c->pub.state != TH_CONN_OPEN) {
			l->t.reconnects++;
			(void)open_conn(l, c);
		}
		if (!conn_active(l, c, stopping, now))
			continue;
		pfd[n].fd = c->fd;
		pfd[n].events = POLLIN;
		if (c->connecting || c->outoff < c->outlen ||
		    can_send(l, c, stopping))
			pfd[n].events |= POLLOUT;
		which[n++] = i;
	}
	return n;
}

static void *
load_main(void *arg)
{
	struct th_load *l = arg;
	struct pollfd *pfd = calloc((size_t)l->o.conns, sizeof(*pfd));
	int *which = calloc((size_t)l->o.conns, sizeof(*which));
	double stop_deadline = 0, now;
	int n, stopping;

	if (pfd == NULL || which == NULL)
		goto out;
	for (int i = 0; i < l->o.conns; i++)
		(void)open_conn(l, &l->c[i]);
	for (;;) {
		stopping = __atomic_load_n(&l->stop, __ATOMIC_ACQUIRE);
		now = th_now_ms();
		if (stopping && stop_deadline == 0)
			stop_deadline = now + l->o.timeout_ms;
		n = load_poll_set(l, pfd, which, stopping, now);
		if (n == 0 || (stopping && now > stop_deadline))
			break;
		if (poll(pfd, (nfds_t)n, 20) == -1 && errno != EINTR)
			break;
		for (int k = 0; k < n; k++) {
			struct lconn *c = &l->c[which[k]];

			if (pfd[k].revents == 0 || c->fd != pfd[k].fd)
				continue;
			if (c->connecting) {
				on_connected(l, c);
				continue;
			}
			if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
				on_readable(l, c);
			if (c->fd != -1 && (pfd[k].revents & POLLOUT))
				on_writable(l, c, which[k], stopping);
		}
	}
	/* Whatever still owes replies now has timed out. */
	for (int i = 0; i < l->o.conns; i++) {
		struct lconn *c = &l->c[i];

		if (c->fd != -1 && (c->qlen > 0 || c->connecting))
			conn_break(l, c, TH_CONN_TIMEOUT, ETIMEDOUT);
	}
out:
	free(pfd);
	free(which);
	__atomic_store_n(&l->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct th_load *
th_load_start(const struct th_load_opts *o)
{
	struct th_load *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->o = *o;
	if (l->o.depth < 1)
		l->o.depth = 1;
	if (l->o.timeout_ms <= 0)
		l->o.timeout_ms = th_ms(10000);
	if ((l->c = calloc((size_t)o->conns, sizeof(*l->c))) == NULL ||
	    (l->expect = malloc(o->max_size + 1)) == NULL)
		goto fail;
	for (int i = 0; i < o->conns; i++) {
		struct lconn *c = &l->c[i];

		c->fd = -1;
		c->incap = TH_HEADER + o->max_size + READ_CHUNK;
		if ((c->q = calloc((size_t)l->o.depth, sizeof(*c->q))) ==
		    NULL || (c->out = malloc(TH_HEADER + o->max_size)) ==
		    NULL || (c->in = malloc(c->incap)) == NULL)
			goto fail;
	}
	if (pthread_create(&l->thread, NULL, load_main, l) != 0)
		goto fail;
	l->started = 1;
	return l;
fail:
	th_load_free(l);
	return NULL;
}

long long
th_load_replies(struct th_load *l)
{
	return __atomic_load_n(&l->replies, __ATOMIC_RELAXED);
}

int
th_load_connected(struct th_load *l)
{
	return __atomic_load_n(&l->connected, __ATOMIC_RELAXED);
}

int
th_load_wait_replies(struct th_load *l, long long n, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;

	while (th_load_replies(l) < n) {
		if (th_now_ms() >= end ||
		    __atomic_load_n(&l->finished, __ATOMIC_ACQUIRE))
			return -1;
		th_sleep_ms(5);
	}
	return 0;
}

int
th_load_wait(struct th_load *l, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;

	while (!__atomic_load_n(&l->finished, __ATOMIC_ACQUIRE)) {
		if (th_now_ms() >= end)
			return -1;
		th_sleep_ms(5);
	}
	return 0;
}

void
th_load_mark(struct th_load *l)
{
	__atomic_store_n(&l->mark_us, (int64_t)(th_now_ms() * 1e3),
	    __ATOMIC_RELEASE);
}

/*
 * The load thread stops polling a connection with nothing in flight, so
 * an EOF or reset the server sent just before the stop may still sit
 * unread in the kernel.  Look once, without consuming data: a pending
 * EOF or reset is the server's close; unread bytes leave it open.
 */
static void
settle_conn(struct th_load *l, struct lconn *c)
{
	char byte;
	ssize_t n;

	if (c->fd == -1 || c->pub.state != TH_CONN_OPEN || c->connecting)
		return;
	n = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		conn_break(l, c, TH_CONN_CLOSED, 0);
	else if (n == -1 && (errno == ECONNRESET || errno == EPIPE))
		conn_break(l, c, TH_CONN_RESET, errno);
}

void
th_load_stop(struct th_load *l, struct th_load_totals *t)
{
	if (l->started) {
		__atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
		pthread_join(l->thread, NULL);
		l->started = 0;
	}
	l->t.replies = th_load_replies(l);
	l->t.open = 0;
	for (int i = 0; i < l->o.conns; i++) {
		settle_conn(l, &l->c[i]);
		if (l->c[i].fd != -1 && l->c[i].pub.state == TH_CONN_OPEN)
			l->t.open++;
	}
	if (t != NULL)
		*t = l->t;
}

void
th_load_diag(const char *what, const struct th_load_totals *t)
{
	diag("%s: sent %lld, replies %lld, lost %lld (%lld before the mark); "
	    "broken: %d closed, %d reset, %d bad, %d timed out; "
	    "%d connects failed, %d reconnects, %d open", what, t->sent,
	    t->replies, t->lost, t->lost_before_mark, t->closed, t->reset,
	    t->bad, t->timeout, t->connect_failed, t->reconnects, t->open);
}

int
th_load_breaks(struct th_load *l, const struct th_load_break **b, int *total)
{
	*b = l->breaks;
	if (total != NULL)
		*total = l->nbreaks;
	return l->nbreaks < TH_LOAD_BREAKS_MAX ? l->nbreaks :
	    TH_LOAD_BREAKS_MAX;
}

const struct th_load_conn *
th_load_conn(struct th_load *l, int i)
{
	return &l->c[i].pub;
}

void
th_load_free(struct th_load *l)
{
	if (l == NULL)
		return;
	if (l->started)
		th_load_stop(l, NULL);
	for (int i = 0; l->c != NULL && i < l->o.conns; i++) {
		if (l->c[i].fd != -1)
			close(l->c[i].fd);
		free(l->c[i].q);
		free(l->c[i].out);
		free(l->c[i].in);
	}
	free(l->c);
	free(l->expect);
	free(l);
}

/* ---- connect storm -------------------------------------------------- */

struct th_storm {
	int		 port;
	pthread_t	 thread;
	int		 stop;		/* atomic */
	long long	 attempts;	/* atomic */
	struct th_storm_totals t;
};

static void
storm_fail(struct th_storm *s, long long *counter, int err, double t0)
{
	(*counter)++;
	if (s->t.first_err == 0)
		s->t.first_err = err != 0 ? err : -1;
	if (s->t.nfail < (int)(sizeof(s->t.fail_at) / sizeof(s->t.fail_at[0])))
		s->t.fail_at[s->t.nfail++] = t0;
}

/* One connection's life; counts its outcome. */
static void
storm_once(struct th_storm *s, uint32_t n)
{
	uint8_t out[64], in[64];
	char sink[256];
	double t0 = th_now_ms();
	uint32_t len;
	int32_t type;
	ssize_t r;
	int fd, rc;

	if ((fd = th_connect(s->port)) == -1) {
		storm_fail(s, &s->t.connect_failed, errno, t0);
		return;
	}
	th_fill(out, sizeof(out), n);
	if (th_send_frame(fd, 7, out, sizeof(out)) == -1) {
		storm_fail(s, errno == ECONNRESET || errno == EPIPE ?
		    &s->t.reset : &s->t.no_reply, errno, t0);
		goto done;
	}
	rc = th_recv_frame(fd, &type, in, sizeof(in), &len, th_ms(5000));
	if (rc != 0) {
		storm_fail(s, rc == -1 && errno == ECONNRESET ? &s->t.reset :
		    &s->t.no_reply, rc == 1 ? 0 : errno, t0);
		goto done;
	}
	if (type != 7 || len != sizeof(out) || memcmp(in, out, len) != 0) {
		storm_fail(s, &s->t.bad, 0, t0);
		goto done;
	}
	/* Half-close and let the server close first: its side keeps the
	 * TIME_WAIT, so our ephemeral ports do not run out. */
	(void)shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };

		if (poll(&pfd, 1, th_ms(5000)) <= 0) {
			storm_fail(s, &s->t.no_close, ETIMEDOUT, t0);
			goto done;
		}
		r = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (r == 0)
			break;
		if (r == -1 && errno == ECONNRESET) {
			storm_fail(s, &s->t.reset, errno, t0);
			goto done;
		}
		if (r == -1 && errno != EAGAIN && errno != EINTR) {
			storm_fail(s, &s->t.no_close, errno, t0);
			goto done;
		}
	}
	s->t.ok++;
done:
	close(fd);
}

static void *
storm_main(void *arg)
{
	struct th_storm *s = arg;
	uint32_t n = 0;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		__atomic_add_fetch(&s->attempts, 1, __ATOMIC_RELAXED);
		storm_once(s, n++);
	}
	return NULL;
}

struct th_storm *
th_storm_start(int port)
{
	struct th_storm *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->port = port;
	if (pthread_create(&s->thread, NULL, storm_main, s) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

void
th_storm_diag(const char *what, const struct th_storm_totals *t)
{
	diag("%s: %lld connections, %lld ok, %lld connects failed, "
	    "%lld reset, %lld without reply, %lld bad, %lld not closed%s%s",
	    what, t->attempts, t->ok, t->connect_failed, t->reset,
	    t->no_reply, t->bad, t->no_close, t->first_err ? "; first: " : "",
	    t->first_err > 0 ? strerror(t->first_err) :
	    t->first_err < 0 ? "EOF" : "");
}

long long
th_storm_attempts(struct th_storm *s)
{
	return __atomic_load_n(&s->attempts, __ATOMIC_RELAXED);
}

int
th_storm_wait(struct th_storm *s, long long n, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;

	while (th_storm_attempts(s) < n) {
		if (th_now_ms() >= end)
			return -1;
		th_sleep_ms(2);
	}
	return 0;
}

void
th_storm_stop(struct th_storm *s, struct th_storm_totals *t)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	pthread_join(s->thread, NULL);
	s->t.attempts = th_storm_attempts(s);
	if (t != NULL)
		*t = s->t;
	free(s);
}
