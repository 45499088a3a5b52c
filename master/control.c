/*
 * control.c - the master's control socket (taoctl's other end).
 *
 * A unix stream socket, mode 0660 (bound under umask 0117, so it never
 * exists with a wider mode), that only root and the daemon's own uid may
 * use (SO_PEERCRED).  One request per connection; see proto/ctl.h.
 *
 * The master never blocks on a client.  Each client goes
 *
 *	READING --request--> WRITING --written--> closed
 *	        \--reload--> WAITING --reply----> WRITING
 *	        \--stop----> STOPPING (reply written; the close at exit is
 *	                     the answer)
 *
 * A request must arrive within CTL_TIMEOUT_MS of the connect, and a reply
 * must make progress at least that often, else the client is dropped.  A
 * reply is built whole into the client's buffer (at most CTL_MAX_OUTPUT
 * bytes, else the client gets an error) and written as the socket takes
 * it.  At most CTL_MAX_CLIENTS are served at once.  A client that hangs
 * up while WAITING or STOPPING is closed (its EOF is read once).
 *
 * The path is only ever unlinked when it is a socket: a stale one from a
 * crash at start-up (after checking no taod answers on it), and our own
 * (same device and inode as the one we bound) when we leave or move.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/buf.h"
#include "master/master.h"
#include "master/rundir.h"
#include "core/clock.h"
#include "core/log.h"
#include "proto/ctl.h"

#define CTL_TIMEOUT_MS		10000
#define CTL_MAX_OUTPUT		(16u << 20)
#define CTL_MAX_CLIENTS		32

enum ctl_state {
	CL_READING,
	CL_WAITING,
	CL_WRITING,
	CL_STOPPING,
};

struct tao_ctl_listener {
	struct tao_watch	l_w;
	char			l_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t			l_dev;
	ino_t			l_ino;
};

struct tao_ctl_client {
	struct tao_watch	cl_w;
	int			cl_state;
	char			cl_in[TAO_CTL_MAX_REQUEST + 1];
	size_t			cl_inlen;
	struct tao_buf		cl_out;
	size_t			cl_outoff;
	uint64_t		cl_deadline;	/* 0: none */
	LIST_ENTRY(tao_ctl_client) cl_entry;
};

static tao_watch_fn on_accept, on_client;

/* ---- the listening socket ----------------------------------------------- */

static int
socket_in_use(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd == -1)
		return 0;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	return rc == 0;
}

/* Make room at the path: nothing there, or a stale socket (removed).
 * 0, or -1 with the reason in err. */
static int
clear_path(const struct sockaddr_un *sun, char *err, size_t errlen)
{
	const char *path = sun->sun_path;
	struct stat st;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "control %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "control %s: exists and is not a socket; "
		    "not replacing it", path);
		return -1;
	}
	if (socket_in_use(sun)) {
		snprintf(err, errlen, "control %s: in use by another taod",
		    path);
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {	/* stale, a crash */
		snprintf(err, errlen, "control %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
bind_socket(const struct sockaddr_un *sun)
{
	mode_t old;
	int fd, rc;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	old = umask(0117);	/* srw-rw---- from the start */
	rc = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));
	umask(old);
	if (rc == -1 || listen(fd, 16) == -1) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

struct tao_ctl_listener *
tao__ctl_bind(const char *path, char *err, size_t errlen)
{
	struct tao_ctl_listener *l;
	struct sockaddr_un sun;
	struct stat st;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control %s: path too long", path);
		return NULL;
	}
	(void)tao__rundir_ensure(path);
	if (clear_path(&sun, err, errlen) == -1)
		return NULL;
	if ((fd = bind_socket(&sun)) == -1 || lstat(path, &st) == -1 ||
	    (l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "control %s: %s", path, strerror(errno));
		if (fd != -1) {
			(void)unlink(path);
			close(fd);
		}
		return NULL;
	}
	strlcpy(l->l_path, path, sizeof(l->l_path));
	l->l_dev = st.st_dev;
	l->l_ino = st.st_ino;
	l->l_w.w_fd = fd;
	l->l_w.w_fn = on_accept;
	l->l_w.w_owner = l;
	return l;
}

void
tao__ctl_unbind(struct tao_master *m, struct tao_ctl_listener *l)
{
	struct stat st;

	if (lstat(l->l_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == l->l_dev && st.st_ino == l->l_ino)
		(void)unlink(l->l_path);
	tao__watch_kill(m, &l->l_w);
}

static int
poll_listener(struct tao_master *m, struct tao_ctl_listener *l)
{
	tao__watch_mod(m, &l->l_w, EPOLLIN);
	if (l->l_w.w_events == 0) {
		log_warn("epoll_ctl control");
		return -1;
	}
	return 0;
}

/*
 * The control socket a previous master passed down in a binary upgrade
 * (master/upgrade.c): a listening unix socket bound at path.  Not polled
 * yet.  NULL with the reason in err (fd left open).
 */
struct tao_ctl_listener *
tao__ctl_adopt(int fd, const char *path, char *err, size_t errlen)
{
	struct tao_ctl_listener *l;
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	struct stat st;
	int val = 0;
	socklen_t vlen = sizeof(val);

	memset(&sun, 0, sizeof(sun));
	if (fd < 3 || getsockname(fd, (struct sockaddr *)&sun, &len) == -1 ||
	    sun.sun_family != AF_UNIX || getsockopt(fd, SOL_SOCKET,
	    SO_ACCEPTCONN, &val, &vlen) == -1 || !val) {
		snprintf(err, errlen, "inherited control socket fd %d: not a "
		    "listening unix socket", fd);
		return NULL;
	}
	sun.sun_path[sizeof(sun.sun_path) - 1] = '\0';
	if (strcmp(sun.sun_path, path) != 0 || lstat(path, &st) == -1 ||
	    !S_ISSOCK(st.st_mode) || (l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "inherited control socket %s: not at %s",
		    sun.sun_path, path);
		return NULL;
	}
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	strlcpy(l->l_path, path, sizeof(l->l_path));
	l->l_dev = st.st_dev;
	l->l_ino = st.st_ino;
	l->l_w.w_fd = fd;
	l->l_w.w_fn = on_accept;
	l->l_w.w_owner = l;
	return l;
}

/* m_ctl is set already (adopted) or bound here; polled unless poll is 0
 * (a new master of an upgrade polls it once it takes over). */
int
tao__ctl_listen(struct tao_master *m, int poll)
{
	char err[TAO_CONFIG_ERRLEN];

	if (m->m_ctl == NULL && (m->m_ctl = tao__ctl_bind(m->m_cf.cf_control,
	    err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return -1;
	}
	return poll ? poll_listener(m, m->m_ctl) : 0;
}

/* The old master of an upgrade hands the socket (and its path) on:
 * stop accepting and close our copy without unlinking anything. */
void
tao__ctl_release(struct tao_master *m)
{
	if (m->m_ctl == NULL)
		return;
	tao__watch_kill(m, &m->m_ctl->l_w);
	m->m_ctl = NULL;
}

int
tao__ctl_fd(const struct tao_master *m)
{
	return m->m_ctl != NULL ? m->m_ctl->l_w.w_fd : -1;
}

void
tao__ctl_switch(struct tao_master *m, struct tao_ctl_listener *l)
{
	struct tao_ctl_listener *old = m->m_ctl;

	if (poll_listener(m, l) == -1) {
		tao__ctl_unbind(m, l);
		return;
	}
	log_info("control socket moved from %s to %s", old->l_path,
	    l->l_path);
	m->m_ctl = l;
	tao__ctl_unbind(m, old);
}

/* ---- clients ------------------------------------------------------------ */

static void
client_close(struct tao_master *m, struct tao_ctl_client *cl)
{
	if (m->m_reload.rl_waiter == cl)
		m->m_reload.rl_waiter = NULL;
	if (m->m_upgrade.up_waiter == cl)
		m->m_upgrade.up_waiter = NULL;
	LIST_REMOVE(cl, cl_entry);
	m->m_nclients--;
	tao__buf_free(&cl->cl_out);
	tao__watch_kill(m, &cl->cl_w);	/* freed after the batch */
}

/* Write what the socket takes now; close the client once it is all
 * written (a STOPPING client stays open, reading for its EOF). */
static void
client_flush(struct tao_master *m, struct tao_ctl_client *cl)
{
	struct tao_buf *b = &cl->cl_out;
	ssize_t n;

	while (cl->cl_outoff < b->b_len) {
		n = write(cl->cl_w.w_fd, b->b_data + cl->cl_outoff,
		    b->b_len - cl->cl_outoff);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			tao__watch_mod(m, &cl->cl_w, EPOLLOUT |
			    (cl->cl_state == CL_STOPPING ? EPOLLIN : 0));
			return;
		}
		if (n <= 0) {
			client_close(m, cl);	/* gone */
			return;
		}
		cl->cl_outoff += (size_t)n;
		if (cl->cl_deadline != 0)
			cl->cl_deadline = tao__now_ms() + CTL_TIMEOUT_MS;
	}
	tao__buf_free(b);
	cl->cl_outoff = 0;
	if (cl->cl_state == CL_STOPPING)
		tao__watch_mod(m, &cl->cl_w, EPOLLIN);
	else
		client_close(m, cl);
}

/* Take b (a whole reply) as cl's output and start writing it. */
static void
client_send(struct tao_master *m, struct tao_ctl_client *cl,
    struct tao_buf *b, int state)
{
	cl->cl_state = state;
	cl->cl_deadline = state == CL_STOPPING ? 0 : tao__now_ms() +
	    CTL_TIMEOUT_MS;
	if (b->b_failed || b->b_len > CTL_MAX_OUTPUT) {
		log_warnx("control: %s reply; dropping the client",
		    b->b_failed ? "out of memory for a" : "too large a");
		tao__buf_free(b);
		tao__buf_printf(b, TAO_CTL_REPLY_ERROR "%s\n", "reply too "
		    "large or out of memory");
	}
	tao__buf_free(&cl->cl_out);
	cl->cl_out = *b;
	cl->cl_outoff = 0;
	memset(b, 0, sizeof(*b));
	client_flush(m, cl);
}

void
tao__ctl_reply(struct tao_master *m, struct tao_ctl_client *cl, int ok,
    const char *text)
{
	struct tao_buf b = { 0 };
	size_t len = strlen(text);

	if (ok)
		tao__buf_printf(&b, TAO_CTL_REPLY_OK "%s\n", text);
	else
		tao__buf_printf(&b, TAO_CTL_REPLY_ERROR "%s%s", text,
		    len == 0 || text[len - 1] != '\n' ? "\n" : "");
	client_send(m, cl, &b, CL_WRITING);
}

static void
refuse(int fd, const char *why)
{
	char line[128];
	int n = snprintf(line, sizeof(line), TAO_CTL_REPLY_ERROR "%s\n",
	    why);

	(void)!write(fd, line, (size_t)n);	/* non-blocking, best effort */
	close(fd);
}

/* 0 if this peer may use the socket, else it was refused and closed. */
static int
admit(struct tao_master *m, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		log_warnx("control: refused uid %ld",
		    len == sizeof(cred) ? (long)cred.uid : -1L);
		refuse(fd, "permission denied");
		return -1;
	}
	if (m->m_nclients >= CTL_MAX_CLIENTS) {
		log_warnx("control: %d clients already; refusing another",
		    m->m_nclients);
		refuse(fd, "too many control clients; try again later");
		return -1;
	}
	return 0;
}

static void
on_accept(struct tao_master *m, struct tao_watch *w, uint32_t events)
{
	struct tao_ctl_client *cl;
	int fd;

	(void)events;
	while ((fd = accept4(w->w_fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) != -1) {
		if (admit(m, fd) == -1)
			continue;
		if ((cl = calloc(1, sizeof(*cl))) == NULL) {
			close(fd);
			continue;
		}
		if (tao__watch_add(m, &cl->cl_w, fd, EPOLLIN, on_client,
		    cl) == -1) {
			close(fd);
			free(cl);
			continue;
		}
		cl->cl_state = CL_READING;
		cl->cl_deadline = tao__now_ms() + CTL_TIMEOUT_MS;
		LIST_INSERT_HEAD(&m->m_clients, cl, cl_entry);
		m->m_nclients++;
	}
}

/* Build the reply to a query (status, stats, conns) and send it. */
static void
answer_query(struct tao_master *m, struct tao_ctl_client *cl,
    const struct tao_ctl_request *req)
{
	struct tao_buf b = { 0 };

	tao__buf_printf(&b, TAO_CTL_REPLY_OK);
	if (req->cmd == TAO_CTL_STATUS)
		tao__master_status(m, &b);
	else if (req->cmd == TAO_CTL_STATS)
		tao__master_stats(m, &b, req->json);
	else if (req->cmd == TAO_CTL_CONFIG)
		tao__config_print(&m->m_cf, &b, req->json);
	else
		tao__master_conns(m, &b, req->json);
	client_send(m, cl, &b, CL_WRITING);
}

static void
handle(struct tao_master *m, struct tao_ctl_client *cl,
    const struct tao_ctl_request *req)
{
	char err[TAO_CONFIG_ERRLEN];
	struct tao_buf b = { 0 };

	switch (req->cmd) {
	case TAO_CTL_STOP:
		/* The answer is the close when taod has exited. */
		tao__buf_printf(&b, TAO_CTL_REPLY_OK "stopping\n");
		client_send(m, cl, &b, CL_STOPPING);
		tao__master_stop(m, 0);
		return;
	case TAO_CTL_RELOAD:
	case TAO_CTL_UPGRADE:
		cl->cl_state = CL_WAITING;
		cl->cl_deadline = 0;	/* each has its own */
		if ((req->cmd == TAO_CTL_RELOAD ? tao__master_reload(m, cl, err,
		    sizeof(err)) : tao__master_upgrade(m, cl, err,
		    sizeof(err))) == -1) {
			log_warnx("%s", err);
			tao__ctl_reply(m, cl, 0, err);
		}
		return;
	default:
		answer_query(m, cl, req);
	}
}

/* WAITING or STOPPING: only EOF (the client gave up) or junk can come. */
static void
read_eof(struct tao_master *m, struct tao_ctl_client *cl)
{
	char sink[256];
	ssize_t n;

	while ((n = read(cl->cl_w.w_fd, sink, sizeof(sink))) > 0)
		;
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR))
		client_close(m, cl);
}

static void
read_request(struct tao_master *m, struct tao_ctl_client *cl)
{
	struct tao_ctl_request req;
	char err[128], *nl;
	ssize_t n;

	n = read(cl->cl_w.w_fd, cl->cl_in + cl->cl_inlen, sizeof(cl->cl_in) -
	    1 - cl->cl_inlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(m, cl);
		return;
	}
	cl->cl_inlen += (size_t)n;
	cl->cl_in[cl->cl_inlen] = '\0';
	nl = memchr(cl->cl_in, '\n', cl->cl_inlen);
	if (nl == NULL && cl->cl_inlen < sizeof(cl->cl_in) - 1)
		return;
	if (tao__ctl_parse(cl->cl_in, nl != NULL ? (size_t)(nl - cl->cl_in) +
	    1 : cl->cl_inlen, &req, err, sizeof(err)) == -1) {
		if (req.version != 0 && req.version != TAO_CTL_PROTO)
			log_warnx("control: refused a request in protocol %d "
			    "(taod speaks %d)", req.version, TAO_CTL_PROTO);
		tao__ctl_reply(m, cl, 0, err);
		return;
	}
	handle(m, cl, &req);
}

static void
on_client(struct tao_master *m, struct tao_watch *w, uint32_t events)
{
	struct tao_ctl_client *cl = w->w_owner;

	if ((events & EPOLLOUT) && cl->cl_out.b_len > 0)
		client_flush(m, cl);
	if (w->w_dead || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	switch (cl->cl_state) {
	case CL_READING:
		read_request(m, cl);
		break;
	case CL_WAITING:
	case CL_STOPPING:
		read_eof(m, cl);
		break;
	case CL_WRITING:
		if (!(events & EPOLLOUT))
			client_flush(m, cl);	/* HUP/ERR: fails, closes */
		break;
	}
}

uint64_t
tao__ctl_next_deadline(struct tao_master *m)
{
	struct tao_ctl_client *cl;
	uint64_t next = UINT64_MAX;

	LIST_FOREACH(cl, &m->m_clients, cl_entry)
		if (cl->cl_deadline != 0 && cl->cl_deadline < next)
			next = cl->cl_deadline;
	return next;
}

void
tao__ctl_expire(struct tao_master *m, uint64_t now)
{
	struct tao_ctl_client *cl, *next;

	LIST_FOREACH_SAFE(cl, &m->m_clients, cl_entry, next)
		if (cl->cl_deadline != 0 && cl->cl_deadline <= now) {
			log_warnx("control: client %s in %d ms; dropping it",
			    cl->cl_state == CL_READING ? "sent no request" :
			    "did not read its reply", CTL_TIMEOUT_MS);
			client_close(m, cl);
		}
}

void
tao__ctl_close_all(struct tao_master *m)
{
	struct tao_ctl_client *cl;

	/* A client waiting for `stop` is left open on purpose: the kernel
	 * closes it as the process exits, so taoctl returns only then. */
	while ((cl = LIST_FIRST(&m->m_clients)) != NULL) {
		if (cl->cl_state == CL_STOPPING) {
			cl->cl_w.w_events = 0;
			cl->cl_w.w_fd = -1;
		}
		client_close(m, cl);
	}
	if (m->m_ctl != NULL)
		tao__ctl_unbind(m, m->m_ctl);
	m->m_ctl = NULL;
}
