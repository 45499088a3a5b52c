/*
 * baseline-echo - the reference Tao is measured against: a small, honest
 * edge-triggered epoll echo server with no framework at all.
 *
 *   baseline-echo -p PORT [-h HOST] [-n PROCS]
 *
 * It echoes raw bytes, which for TLV frames is the same as echoing every
 * frame.  Per connection it keeps nothing but the descriptor and, only
 * while the peer is not reading, the bytes it could not write yet; while
 * those are pending it stops reading that connection (backpressure) and
 * resumes when EPOLLOUT says the socket drained.  Reads go through one
 * 64 KiB buffer per process.
 *
 * With -n N it forks N processes, each with its own SO_REUSEPORT
 * listening socket (made before the fork, so a bind error is reported at
 * once), and the kernel spreads new connections over them.  SIGTERM or
 * SIGINT stops it; the parent passes the signal on and waits.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PROCS	64
#define READ_BUF	65536

struct conn {
	int		 fd;
	uint8_t		*pend;		/* bytes not yet written, or NULL */
	size_t		 pend_off;
	size_t		 pend_len;
};

static uint8_t	 rbuf[READ_BUF];
static int	 ep;

static void
usage(void)
{
	fprintf(stderr, "usage: baseline-echo -p PORT [-h HOST] [-n PROCS]\n");
	exit(2);
}

static int
number(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535)
		return -1;
	return (int)v;
}

static void
conn_close(struct conn *c)
{
	close(c->fd);		/* also leaves the epoll set */
	free(c->pend);
	free(c);
}

/* Write what is pending: 1 all written, 0 still pending, -1 error. */
static int
flush_pending(struct conn *c)
{
	ssize_t n;

	while (c->pend_off < c->pend_len) {
		n = write(c->fd, c->pend + c->pend_off,
		    c->pend_len - c->pend_off);
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->pend_off += (size_t)n;
	}
	free(c->pend);
	c->pend = NULL;
	c->pend_off = c->pend_len = 0;
	return 1;
}

/* Echo data[0..len); keep what the socket does not take.  -1 on error. */
static int
echo(struct conn *c, const uint8_t *data, size_t len)
{
	ssize_t n = 0;

	while ((size_t)n < len) {
		ssize_t w = write(c->fd, data + n, len - (size_t)n);

		if (w == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -1;
			break;
		}
		n += w;
	}
	if ((size_t)n == len)
		return 0;
	if ((c->pend = malloc(len - (size_t)n)) == NULL)
		return -1;
	memcpy(c->pend, data + n, len - (size_t)n);
	c->pend_off = 0;
	c->pend_len = len - (size_t)n;
	return 0;
}

/* Edge-triggered: read until EAGAIN, unless output backs up first. */
static void
on_readable(struct conn *c)
{
	ssize_t n;

	while (c->pend == NULL) {
		n = read(c->fd, rbuf, sizeof(rbuf));
		if (n > 0) {
			if (echo(c, rbuf, (size_t)n) == -1)
				break;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		break;		/* EOF or error */
	}
	if (c->pend != NULL)
		return;		/* resumed by EPOLLOUT */
	conn_close(c);
}

static void
on_event(struct conn *c, uint32_t events)
{
	int rv;

	if (events & EPOLLERR) {
		conn_close(c);
		return;
	}
	if (c->pend != NULL) {
		if ((rv = flush_pending(c)) == -1) {
			conn_close(c);
			return;
		}
		if (rv == 0)
			return;
		/* Drained: the input we stopped reading may be waiting. */
		on_readable(c);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP))
		on_readable(c);
}

static void
accept_all(int lfd)
{
	static int warned;
	struct epoll_event ev;
	struct conn *c;
	int fd, one = 1;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && !warned++)
				perror("baseline-echo: accept4");
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			conn_close(c);
			continue;
		}
	}
}

static int
serve(int lfd)
{
	struct epoll_event ev, evs[512];
	sigset_t mask;
	int i, n, sfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("baseline-echo");
		return 1;
	}
	/* The listener and the signalfd are told apart by these marks. */
	ev.events = EPOLLIN | EPOLLET;
	ev.data.ptr = &lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	ev.events = EPOLLIN;
	ev.data.ptr = &sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 512, -1);
		if (n == -1 && errno != EINTR) {
			perror("baseline-echo: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == &lfd)
				accept_all(lfd);
			else if (evs[i].data.ptr == &sfd)
				return 0;
			else
				on_event(evs[i].data.ptr, evs[i].events);
		}
	}
}

static int
listener(const struct sockaddr_in *sa, int reuseport)
{
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == -1) ||
	    bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1 ||
	    listen(fd, 65535) == -1) {	/* the kernel caps it at somaxconn */
		close(fd);
		return -1;
	}
	return fd;
}

/* SIGTERM the children still running and reap them all: 0 if every one
 * exited with status 0. */
static int
stop_children(pid_t *pids, int n, int left)
{
	int i, status, rv = 0;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	while (left > 0 && waitpid(-1, &status, 0) > 0) {
		left--;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rv = 1;
	}
	return rv;
}

/* The parent of -n N: pass SIGTERM/SIGINT on, and stop everything if a
 * child dies on its own. */
static int
supervise(pid_t *pids, int n)
{
	sigset_t mask;
	int i, sig, status, rv = 0, left = n;
	pid_t pid;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	for (;;) {
		sig = sigwaitinfo(&mask, NULL);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig != SIGCHLD)
			continue;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (i = 0; i < n; i++)
				if (pids[i] == pid)
					pids[i] = -1;
			left--;
			rv = 1;
		}
		if (rv)
			break;
	}
	return stop_children(pids, n, left) | rv;
}

/* -h HOST -p PORT -n PROCS into *sa and *procs; 0, or 2 (the exit
 * status) when HOST does not resolve. */
static int
parse_args(int argc, char **argv, struct sockaddr_in *sa, int *procs,
    const char **host, int *port)
{
	struct addrinfo hints, *ai;
	int ch, i;

	/* By hand: the libbsd overlay's getopt would need -lbsd, and this
	 * program links nothing but libc. */
	for (i = 1; i < argc; i += 2) {
		if (i + 1 == argc || argv[i][0] != '-' || argv[i][1] == '\0' ||
		    argv[i][2] != '\0')
			usage();
		ch = argv[i][1];
		if (ch == 'h')
			*host = argv[i + 1];
		else if (ch == 'p')
			*port = number(argv[i + 1]);
		else if (ch == 'n')
			*procs = number(argv[i + 1]);
		else
			usage();
	}
	if (*port < 1 || *port > 65535 || *procs < 1 || *procs > MAX_PROCS)
		usage();
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if ((i = getaddrinfo(*host, NULL, &hints, &ai)) != 0) {
		fprintf(stderr, "baseline-echo: %s: %s\n", *host,
		    gai_strerror(i));
		return 2;
	}
	memcpy(sa, ai->ai_addr, sizeof(*sa));
	sa->sin_port = htons((uint16_t)*port);
	freeaddrinfo(ai);
	return 0;
}

/* Descriptors raised, SIGPIPE ignored, the signals we wait for blocked. */
static void
set_up_process(void)
{
	struct rlimit rl;
	sigset_t mask;

	/* Thousands of idle connections need descriptors. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	/* Blocked before any fork: they arrive through signalfd/sigwait. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	pid_t pids[MAX_PROCS];
	const char *host = "127.0.0.1";
	int i, port = 0, procs = 1, fds[MAX_PROCS];

	if ((i = parse_args(argc, argv, &sa, &procs, &host, &port)) != 0)
		return i;
	set_up_process();
	for (i = 0; i < procs; i++)
		if ((fds[i] = listener(&sa, procs > 1)) == -1) {
			fprintf(stderr, "baseline-echo: %s:%d: %s\n", host,
			    port, strerror(errno));
			return 1;
		}
	if (procs == 1)
		return serve(fds[0]);
	for (i = 0; i < procs; i++) {
		if ((pids[i] = fork()) == -1) {
			perror("baseline-echo: fork");
			stop_children(pids, i, i);
			return 1;
		}
		if (pids[i] == 0) {
			int j;

			prctl(PR_SET_PDEATHSIG, SIGTERM);
			for (j = 0; j < procs; j++)
				if (j != i)
					close(fds[j]);
			return serve(fds[i]);
		}
	}
	for (i = 0; i < procs; i++)
		close(fds[i]);
	return supervise(pids, procs);
}
