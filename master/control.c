/*
 * control.c - the master's control socket (taoctl's other end).
 *
 * A unix stream socket, mode 0660, that only root and the daemon's own
 * uid may use (SO_PEERCRED).  One request per connection; see ctlproto.h.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/buf.h"
#include "master/ctlproto.h"
#include "master/master.h"
#include "master/rundir.h"
#include "worker/log.h"

#define TAO_IO_CTL_CLIENT	100

struct tao_ctl_client {
	struct tao_io		io;
	char			buf[TAO_CTL_MAX_REQUEST + 1];
	size_t			len;
	int			waiting;	/* reply comes later */
	LIST_ENTRY(tao_ctl_client) entry;
};

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

int
tao__ctl_listen(struct tao_master *m)
{
	struct sockaddr_un sun;
	struct epoll_event ev;
	const char *path = m->m_cf.cf_control;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("control %s: path too long", path);
		return -1;
	}
	(void)tao__rundir_ensure(path);
	if (socket_in_use(&sun)) {
		log_warnx("control %s: in use by another taod", path);
		return -1;
	}
	(void)unlink(path);	/* stale, from a crash */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, 0660) == -1 || listen(fd, 16) == -1) {
		log_warn("control %s", path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	m->m_ctl_io.io_kind = TAO_IO_CTL_CLIENT + 1;
	m->m_ctl_io.io_fd = fd;
	ev.events = EPOLLIN;
	ev.data.ptr = &m->m_ctl_io;
	if (epoll_ctl(m->m_epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		log_warn("epoll_ctl control");
		return -1;
	}
	return 0;
}

static void
client_close(struct tao_master *m, struct tao_ctl_client *cl)
{
	if (m->m_reload.rl_waiter == cl)
		m->m_reload.rl_waiter = NULL;
	LIST_REMOVE(cl, entry);
	(void)epoll_ctl(m->m_epfd, EPOLL_CTL_DEL, cl->io.io_fd, NULL);
	close(cl->io.io_fd);
	free(cl);
}

static void
write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;		/* client gone or too slow (timeout) */
		data += n;
		len -= (size_t)n;
	}
}

static void
client_send(struct tao_ctl_client *cl, int ok, const char *text, size_t len)
{
	struct timeval tv = { 2, 0 };
	int fl;

	/* Replies may be large (conns): write them blocking, bounded by a
	 * send timeout, rather than keep per-client output state. */
	(void)setsockopt(cl->io.io_fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
	    sizeof(tv));
	if ((fl = fcntl(cl->io.io_fd, F_GETFL)) != -1)
		(void)fcntl(cl->io.io_fd, F_SETFL, fl & ~O_NONBLOCK);
	write_all(cl->io.io_fd, ok ? "ok\n" : "error ", ok ? 3 : 6);
	write_all(cl->io.io_fd, text, len);
	if (!ok && (len == 0 || text[len - 1] != '\n'))
		write_all(cl->io.io_fd, "\n", 1);
}

void
tao__ctl_reply(struct tao_master *m, struct tao_ctl_client *cl, int ok,
    const char *text)
{
	client_send(cl, ok, text, strlen(text));
	if (ok)
		write_all(cl->io.io_fd, "\n", 1);
	client_close(m, cl);
}

void
tao__ctl_on_accept(struct tao_master *m)
{
	struct tao_ctl_client *cl;
	struct epoll_event ev;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	while ((fd = accept4(m->m_ctl_io.io_fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) != -1) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ==
		    -1 || (cred.uid != 0 && cred.uid != geteuid())) {
			static const char no[] = "error permission denied\n";
			log_warnx("control: refused uid %ld",
			    len == sizeof(cred) ? (long)cred.uid : -1L);
			(void)!write(fd, no, sizeof(no) - 1);
			close(fd);
			continue;
		}
		if ((cl = calloc(1, sizeof(*cl))) == NULL) {
			close(fd);
			continue;
		}
		cl->io.io_kind = TAO_IO_CTL_CLIENT;
		cl->io.io_fd = fd;
		ev.events = EPOLLIN;
		ev.data.ptr = &cl->io;
		if (epoll_ctl(m->m_epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
			close(fd);
			free(cl);
			continue;
		}
		LIST_INSERT_HEAD(&m->m_clients, cl, entry);
	}
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
		client_send(cl, 1, "stopping\n", 9);
		cl->waiting = 1;
		tao__master_stop(m, 0);
		return;
	case TAO_CTL_RELOAD:
		cl->waiting = 1;
		if (tao__master_reload(m, cl, err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			tao__ctl_reply(m, cl, 0, err);
		}
		return;
	case TAO_CTL_STATUS:
		tao__master_status(m, &b);
		break;
	case TAO_CTL_STATS:
		tao__master_stats(m, &b, req->json);
		break;
	case TAO_CTL_CONNS:
		tao__master_conns(m, &b, req->json);
		break;
	case TAO_CTL_CONFIG:
		tao__config_print(&m->m_cf, &b, req->json);
		break;
	}
	if (b.b_failed)
		tao__ctl_reply(m, cl, 0, "out of memory");
	else {
		client_send(cl, 1, b.b_data ? b.b_data : "", b.b_len);
		client_close(m, cl);
	}
	tao__buf_free(&b);
}

void
tao__ctl_on_client(struct tao_master *m, struct tao_io *io)
{
	struct tao_ctl_client *cl = (struct tao_ctl_client *)io;
	struct tao_ctl_request req;
	char err[128];
	ssize_t n;

	if (cl->waiting) {
		/* Only EOF can come now: the client gave up waiting. */
		char sink[64];
		if (read(io->io_fd, sink, sizeof(sink)) <= 0 &&
		    errno != EAGAIN)
			client_close(m, cl);
		return;
	}
	n = read(io->io_fd, cl->buf + cl->len, sizeof(cl->buf) - 1 - cl->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(m, cl);
		return;
	}
	cl->len += (size_t)n;
	if (memchr(cl->buf, '\n', cl->len) == NULL &&
	    cl->len < sizeof(cl->buf) - 1)
		return;
	if (tao__ctl_parse(cl->buf, strcspn(cl->buf, "\n") +
	    (memchr(cl->buf, '\n', cl->len) != NULL), &req, err,
	    sizeof(err)) == -1) {
		tao__ctl_reply(m, cl, 0, err);
		return;
	}
	handle(m, cl, &req);
}

void
tao__ctl_close_all(struct tao_master *m)
{
	struct tao_ctl_client *cl;

	/* A client waiting for `stop` is left open on purpose: the kernel
	 * closes it as the process exits, so taoctl returns only then. */
	while ((cl = LIST_FIRST(&m->m_clients)) != NULL) {
		LIST_REMOVE(cl, entry);
		if (!cl->waiting)
			close(cl->io.io_fd);
		free(cl);
	}
	if (m->m_ctl_io.io_fd > 0) {
		close(m->m_ctl_io.io_fd);
		(void)unlink(m->m_cf.cf_control);
	}
}
