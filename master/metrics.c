/*
 * metrics.c - the master's Prometheus endpoint (`metrics HOST:PORT`).
 *
 * A plain-HTTP/1.x listener polled by the master's own epoll loop
 * (struct tao_watch, master.h); workers never see it (every descriptor
 * but their own is closed in the child, master/proc.c).  One request per
 * connection, then the connection is closed; each client goes
 *
 *	READING --request head--> WRITING --written--> LINGER --EOF--> closed
 *	    \--5 s, no head: 408 best effort, closed      \--1 s: closed
 *
 * and nothing blocks the master: the reply (200 with the exposition,
 * 404 for another path, 405 for another method, 400 for junk, 431 for a
 * head over HTTP_MAX_REQUEST) is built whole in a buffer and written as
 * the socket takes it, with HTTP_TIMEOUT_MS for the request and for each
 * step of progress of the reply.  LINGER half-closes and reads what the
 * client still sends, so a client that sent more than we read does not
 * get a reset in place of its reply.  At most HTTP_MAX_CLIENTS at once;
 * one more gets a 503 and lingers the same way (up to HTTP_MAX_CLIENTS
 * such refusals at once, each for at most HTTP_LINGER_MS; beyond that a
 * client is closed at once).
 *
 * Reload: a moved address is bound before anything changes (a bind
 * failure refuses the reload), switched to at the commit; "off" closes
 * it.  Clients of the old listener finish their reply.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netdb.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/buf.h"
#include "master/master.h"
#include "core/clock.h"
#include "core/log.h"

#define HTTP_MAX_REQUEST	8192
#define HTTP_TIMEOUT_MS		5000
#define HTTP_LINGER_MS		1000
#define HTTP_MAX_CLIENTS	64

enum mc_state { MC_READING, MC_WRITING, MC_LINGER };

struct mlistener {
	struct tao_watch	 ml_w;
	char			 ml_text[80];	/* as configured */
};

struct mclient {
	struct tao_watch	 mc_w;
	int			 mc_state;
	char			 mc_in[HTTP_MAX_REQUEST];
	size_t			 mc_inlen;
	struct tao_buf		 mc_out;
	size_t			 mc_outoff;
	uint64_t		 mc_deadline;
	int			 mc_refused;	/* counted in mt_nrefused */
	LIST_ENTRY(mclient)	 mc_entry;
};

struct tao_metrics {
	struct mlistener	*mt_listener;	/* NULL: off */
	struct mlistener	*mt_next;	/* a reload's, not polled yet */
	int			 mt_next_set;	/* the reload changes it */
	LIST_HEAD(, mclient)	 mt_clients;
	int			 mt_nclients;
	int			 mt_nrefused;	/* lingering after a 503 */
};

static tao_watch_fn on_accept, on_client;

/* ---- the listener ------------------------------------------------------ */

static void
describe(int fd, char *buf, size_t len)
{
	char host[64], port[8];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1 ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port,
	    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf, len, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
	    host, port);
}

/* Bound and listening, not yet polled; NULL with the reason in err. */
static struct mlistener *
listener_bind(const struct tao_config *cf, char *err, size_t errlen)
{
	struct mlistener *l;
	int fd, on = 1;

	fd = socket(cf->cf_metrics_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) == -1 || bind(fd, (const struct sockaddr *)
	    &cf->cf_metrics_addr, cf->cf_metrics_addrlen) == -1 ||
	    listen(fd, 128) == -1 || (l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "metrics %s: %s", cf->cf_metrics,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return NULL;
	}
	strlcpy(l->ml_text, cf->cf_metrics, sizeof(l->ml_text));
	l->ml_w.w_fd = fd;
	l->ml_w.w_fn = on_accept;
	l->ml_w.w_owner = l;
	return l;
}

static void
listener_close(struct tao_master *m, struct mlistener *l)
{
	if (l != NULL)
		tao__watch_kill(m, &l->ml_w);	/* freed after the batch */
}

static int
listener_poll(struct tao_master *m, struct mlistener *l)
{
	char where[96];

	tao__watch_mod(m, &l->ml_w, EPOLLIN);
	if (l->ml_w.w_events == 0) {
		log_warn("metrics %s: epoll_ctl", l->ml_text);
		return -1;
	}
	describe(l->ml_w.w_fd, where, sizeof(where));
	log_info("metrics on http://%s/metrics", where);
	return 0;
}

int
tao__metrics_start(struct tao_master *m)
{
	char err[TAO_CONFIG_ERRLEN];
	struct tao_metrics *mt;
	int fd;

	if ((mt = calloc(1, sizeof(*mt))) == NULL) {
		log_warn("metrics");
		return -1;
	}
	LIST_INIT(&mt->mt_clients);
	m->m_metrics = mt;
	fd = tao__upgrade_metrics_fd(m);	/* -1 unless upgrading */
	if (m->m_cf.cf_metrics[0] == '\0')
		return 0;
	if (fd >= 0) {
		/* Passed down by the previous master (master/inherit.c). */
		if ((mt->mt_listener = calloc(1, sizeof(*mt->mt_listener))) ==
		    NULL) {
			log_warn("metrics");
			close(fd);
			return -1;
		}
		strlcpy(mt->mt_listener->ml_text, m->m_cf.cf_metrics,
		    sizeof(mt->mt_listener->ml_text));
		mt->mt_listener->ml_w.w_fd = fd;
		mt->mt_listener->ml_w.w_fn = on_accept;
		mt->mt_listener->ml_w.w_owner = mt->mt_listener;
	} else if ((mt->mt_listener = listener_bind(&m->m_cf, err,
	    sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return -1;
	}
	/* A new master of an upgrade polls it once it takes over. */
	return m->m_upgrade.up_inherit ? 0 : listener_poll(m, mt->mt_listener);
}

int
tao__metrics_poll(struct tao_master *m)
{
	struct tao_metrics *mt = m->m_metrics;

	return mt == NULL || mt->mt_listener == NULL ? 0 :
	    listener_poll(m, mt->mt_listener);
}

void
tao__metrics_release(struct tao_master *m)
{
	struct tao_metrics *mt = m->m_metrics;

	if (mt == NULL)
		return;
	listener_close(m, mt->mt_listener);	/* the new master's now */
	mt->mt_listener = NULL;
}

int
tao__metrics_fd(const struct tao_master *m)
{
	const struct tao_metrics *mt = m->m_metrics;

	return mt == NULL || mt->mt_listener == NULL ? -1 :
	    mt->mt_listener->ml_w.w_fd;
}

int
tao__metrics_prepare(struct tao_master *m, const struct tao_config *next,
    char *err, size_t errlen)
{
	struct tao_metrics *mt = m->m_metrics;

	tao__metrics_unprepare(m);
	if (strcmp(next->cf_metrics, m->m_cf.cf_metrics) == 0)
		return 0;	/* same text: same socket, even for port 0 */
	mt->mt_next_set = 1;
	if (next->cf_metrics[0] == '\0')
		return 0;
	if ((mt->mt_next = listener_bind(next, err, errlen)) == NULL) {
		mt->mt_next_set = 0;
		return -1;
	}
	return 0;
}

void
tao__metrics_commit(struct tao_master *m)
{
	struct tao_metrics *mt = m->m_metrics;

	if (!mt->mt_next_set)
		return;
	if (mt->mt_next != NULL && listener_poll(m, mt->mt_next) == -1) {
		listener_close(m, mt->mt_next);
		mt->mt_next = NULL;
	}
	if (mt->mt_listener != NULL)
		log_info("metrics %s closed", mt->mt_listener->ml_text);
	listener_close(m, mt->mt_listener);
	mt->mt_listener = mt->mt_next;
	mt->mt_next = NULL;
	mt->mt_next_set = 0;
}

void
tao__metrics_unprepare(struct tao_master *m)
{
	struct tao_metrics *mt = m->m_metrics;

	listener_close(m, mt->mt_next);
	mt->mt_next = NULL;
	mt->mt_next_set = 0;
}

/* ---- clients ------------------------------------------------------------ */

static void
client_close(struct tao_master *m, struct mclient *c)
{
	LIST_REMOVE(c, mc_entry);
	if (c->mc_refused)
		m->m_metrics->mt_nrefused--;
	else
		m->m_metrics->mt_nclients--;
	tao__buf_free(&c->mc_out);
	tao__watch_kill(m, &c->mc_w);	/* freed after the batch */
}

static void
client_linger(struct tao_master *m, struct mclient *c)
{
	c->mc_state = MC_LINGER;
	c->mc_deadline = tao__now_ms() + HTTP_LINGER_MS;
	tao__buf_free(&c->mc_out);
	(void)shutdown(c->mc_w.w_fd, SHUT_WR);
	tao__watch_mod(m, &c->mc_w, EPOLLIN);
}

static void
client_flush(struct tao_master *m, struct mclient *c)
{
	struct tao_buf *b = &c->mc_out;
	ssize_t n;

	while (c->mc_outoff < b->b_len) {
		n = send(c->mc_w.w_fd, b->b_data + c->mc_outoff, b->b_len -
		    c->mc_outoff, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			tao__watch_mod(m, &c->mc_w, EPOLLOUT);
			return;
		}
		if (n <= 0) {
			client_close(m, c);
			return;
		}
		c->mc_outoff += (size_t)n;
		c->mc_deadline = tao__now_ms() + HTTP_TIMEOUT_MS;
	}
	client_linger(m, c);
}

/* Queue a whole response (body may be NULL) and start writing it. */
static void
respond(struct tao_master *m, struct mclient *c, const char *status,
    const char *extra, const struct tao_buf *body, int head_only)
{
	struct tao_buf *b = &c->mc_out;
	size_t len = body != NULL ? body->b_len : 0;

	tao__buf_printf(b, "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%sConnection: close\r\n\r\n", status,
	    body != NULL ? "text/plain; version=0.0.4; charset=utf-8" :
	    "text/plain; charset=utf-8", body != NULL ? len :
	    strlen(status) + 1, extra);
	if (body == NULL && !head_only)
		tao__buf_printf(b, "%s\n", status);
	else if (!head_only && len > 0)
		tao__buf_printf(b, "%.*s", (int)len, body->b_data);
	if (b->b_failed) {
		log_warnx("metrics: out of memory for a reply");
		client_close(m, c);
		return;
	}
	c->mc_state = MC_WRITING;
	c->mc_outoff = 0;
	c->mc_deadline = tao__now_ms() + HTTP_TIMEOUT_MS;
	tao__watch_mod(m, &c->mc_w, 0);
	client_flush(m, c);
}

/* The request line of a complete head; answer it. */
static void
answer(struct tao_master *m, struct mclient *c)
{
	char method[16], target[256], version[16];
	struct tao_buf body = { 0 };
	size_t plen;
	int head;

	if (sscanf(c->mc_in, "%15[A-Z] %255[^ \r\n] %15[^ \r\n]", method,
	    target, version) != 3 || strncmp(version, "HTTP/1.", 7) != 0) {
		respond(m, c, "400 Bad Request", "", NULL, 0);
		return;
	}
	head = strcmp(method, "HEAD") == 0;
	if (!head && strcmp(method, "GET") != 0) {
		respond(m, c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
		    NULL, 0);
		return;
	}
	plen = strcspn(target, "?");
	if (plen != strlen("/metrics") || strncmp(target, "/metrics",
	    plen) != 0) {
		respond(m, c, "404 Not Found", "", NULL, head);
		return;
	}
	if (m->m_upgrade.up_committed) {
		/* The new master answers now, from the totals we passed it
		 * (uptotals.c); ours go on growing until our workers hand
		 * over, and a scrape of them would then go backwards. */
		respond(m, c, "503 Service Unavailable", "Retry-After: 1\r\n",
		    NULL, head);
		return;
	}
	tao__master_prometheus(m, &body);
	if (body.b_failed)
		respond(m, c, "500 Internal Server Error", "", NULL, head);
	else
		respond(m, c, "200 OK", "", &body, head);
	tao__buf_free(&body);
}

static void
read_request(struct tao_master *m, struct mclient *c)
{
	ssize_t n;

	n = read(c->mc_w.w_fd, c->mc_in + c->mc_inlen, sizeof(c->mc_in) - 1 -
	    c->mc_inlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(m, c);
		return;
	}
	c->mc_inlen += (size_t)n;
	c->mc_in[c->mc_inlen] = '\0';
	if (strstr(c->mc_in, "\r\n\r\n") != NULL ||
	    strstr(c->mc_in, "\n\n") != NULL)
		answer(m, c);
	else if (c->mc_inlen == sizeof(c->mc_in) - 1 ||
	    memchr(c->mc_in, '\0', c->mc_inlen) != NULL)
		respond(m, c, "431 Request Header Fields Too Large", "", NULL,
		    0);
}

/* LINGER: discard what comes until EOF. */
static void
read_discard(struct tao_master *m, struct mclient *c)
{
	char sink[1024];
	ssize_t n;

	while ((n = read(c->mc_w.w_fd, sink, sizeof(sink))) > 0)
		;
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		client_close(m, c);
}

static void
on_client(struct tao_master *m, struct tao_watch *w, uint32_t events)
{
	struct mclient *c = w->w_owner;

	switch (c->mc_state) {
	case MC_READING:
		read_request(m, c);
		break;
	case MC_WRITING:
		if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			client_flush(m, c);
		break;
	case MC_LINGER:
		read_discard(m, c);
		break;
	}
}

static struct mclient *
client_new(struct tao_master *m, int fd)
{
	struct mclient *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return NULL;
	}
	if (tao__watch_add(m, &c->mc_w, fd, EPOLLIN, on_client, c) == -1) {
		close(fd);
		free(c);
		return NULL;
	}
	c->mc_state = MC_READING;
	c->mc_deadline = tao__now_ms() + HTTP_TIMEOUT_MS;
	LIST_INSERT_HEAD(&m->m_metrics->mt_clients, c, mc_entry);
	return c;
}

/* Over HTTP_MAX_CLIENTS: a 503, then the lingering close (the request it
 * sent stays unread, and closing on it would reset the connection). */
static void
refuse(struct tao_master *m, int fd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n";
	struct mclient *c;

	(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (m->m_metrics->mt_nrefused >= HTTP_MAX_CLIENTS ||
	    (c = client_new(m, fd)) == NULL) {
		close(fd);
		return;
	}
	c->mc_refused = 1;
	m->m_metrics->mt_nrefused++;
	client_linger(m, c);
}

static void
on_accept(struct tao_master *m, struct tao_watch *w, uint32_t events)
{
	struct tao_metrics *mt = m->m_metrics;
	int fd;

	(void)events;
	while ((fd = accept4(w->w_fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) != -1) {
		if (mt->mt_nclients >= HTTP_MAX_CLIENTS)
			refuse(m, fd);
		else if (client_new(m, fd) != NULL)
			mt->mt_nclients++;
	}
}

uint64_t
tao__metrics_next_deadline(struct tao_master *m)
{
	struct mclient *c;
	uint64_t next = UINT64_MAX;

	if (m->m_metrics == NULL)
		return next;
	LIST_FOREACH(c, &m->m_metrics->mt_clients, mc_entry)
		if (c->mc_deadline < next)
			next = c->mc_deadline;
	return next;
}

void
tao__metrics_expire(struct tao_master *m, uint64_t now)
{
	static const char slow[] = "HTTP/1.1 408 Request Timeout\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n";
	struct mclient *c, *next;

	if (m->m_metrics == NULL)
		return;
	LIST_FOREACH_SAFE(c, &m->m_metrics->mt_clients, mc_entry, next) {
		if (c->mc_deadline > now)
			continue;
		if (c->mc_state == MC_READING)
			(void)!send(c->mc_w.w_fd, slow, sizeof(slow) - 1,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		client_close(m, c);
	}
}

void
tao__metrics_close_all(struct tao_master *m)
{
	struct tao_metrics *mt = m->m_metrics;
	struct mclient *c;

	if (mt == NULL)
		return;
	while ((c = LIST_FIRST(&mt->mt_clients)) != NULL)
		client_close(m, c);
	tao__metrics_unprepare(m);
	listener_close(m, mt->mt_listener);
	free(mt);
	m->m_metrics = NULL;
}
