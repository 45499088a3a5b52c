/*
 * uv-echo - the second reference Tao is measured against: an echo server
 * written the usual way on libuv (Debian's libuv1-dev), for benchmarks
 * only (bench/uv.mk builds it when pkg-config knows libuv; make check
 * never needs it).
 *
 *   uv-echo -p PORT [-h HOST] [-n PROCS]
 *
 * Like baseline-echo it echoes raw bytes, which for TLV frames is the
 * same as echoing every frame.  Per connection it keeps a uv_tcp_t and,
 * only while the peer is not reading, a write request with the bytes the
 * socket did not take; while one is pending it stops reading that
 * connection (backpressure) and resumes in the write callback.  Reads go
 * through one 64 KiB buffer per process: the read callback runs before
 * the next read, and what it cannot write at once (uv_try_write) it
 * copies, so nothing points into the buffer afterwards.
 *
 * With -n N it forks N processes, each with its own SO_REUSEPORT socket
 * (made before the fork).  SIGTERM or SIGINT stops it; the parent passes
 * the signal on and waits.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#define MAX_PROCS	64
#define READ_BUF	65536

/* A write the socket did not take at once, with its own copy. */
struct pending {
	uv_write_t	 p_req;
	uv_buf_t	 p_buf;
	char		 p_data[];
};

static char	 rbuf[READ_BUF];
static int	 rbuf_busy;

static void
usage(void)
{
	fprintf(stderr, "usage: uv-echo -p PORT [-h HOST] [-n PROCS]\n");
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
on_closed(uv_handle_t *h)
{
	free(h);
}

static void
conn_close(uv_stream_t *s)
{
	if (!uv_is_closing((uv_handle_t *)s))
		uv_close((uv_handle_t *)s, on_closed);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	(void)hint;
	/* One read at a time per process: the loop is single-threaded and
	 * on_read consumes the buffer before it returns. */
	if (rbuf_busy) {
		*buf = uv_buf_init(NULL, 0);	/* libuv reports UV_ENOBUFS */
		return;
	}
	rbuf_busy = 1;
	*buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void on_read(uv_stream_t *, ssize_t, const uv_buf_t *);

static void
on_written(uv_write_t *req, int status)
{
	struct pending *p = (struct pending *)req;
	uv_stream_t *s = req->handle;

	free(p);
	if (status < 0) {
		conn_close(s);
		return;
	}
	if (!uv_is_closing((uv_handle_t *)s) &&
	    uv_read_start(s, on_alloc, on_read) != 0)
		conn_close(s);
}

/* Echo data[0..len): write what the socket takes now, queue the rest. */
static int
echo(uv_stream_t *s, const char *data, size_t len)
{
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)data, (unsigned)len);
	struct pending *p;
	int n;

	n = uv_try_write(s, &b, 1);
	if (n == UV_EAGAIN || n == UV_ENOSYS)
		n = 0;
	if (n < 0)
		return -1;
	if ((size_t)n == len)
		return 0;
	len -= (size_t)n;
	if ((p = malloc(sizeof(*p) + len)) == NULL)
		return -1;
	memcpy(p->p_data, data + n, len);
	p->p_buf = uv_buf_init(p->p_data, (unsigned)len);
	if (uv_write(&p->p_req, s, &p->p_buf, 1, on_written) != 0) {
		free(p);
		return -1;
	}
	uv_read_stop(s);	/* backpressure: on_written resumes */
	return 0;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	if (buf->base == rbuf)
		rbuf_busy = 0;
	if (n == 0 || n == UV_ENOBUFS)
		return;
	if (n < 0 || echo(s, buf->base, (size_t)n) == -1)
		conn_close(s);
}

static void
on_connection(uv_stream_t *server, int status)
{
	uv_tcp_t *c;

	if (status < 0)
		return;
	if ((c = malloc(sizeof(*c))) == NULL)
		return;		/* the connection waits in the queue */
	if (uv_tcp_init(server->loop, c) != 0) {
		free(c);
		return;
	}
	if (uv_accept(server, (uv_stream_t *)c) != 0) {
		conn_close((uv_stream_t *)c);
		return;
	}
	uv_tcp_nodelay(c, 1);
	if (uv_read_start((uv_stream_t *)c, on_alloc, on_read) != 0)
		conn_close((uv_stream_t *)c);
}

static void
on_signal(uv_signal_t *sig, int signum)
{
	(void)signum;
	uv_stop(sig->loop);
}

static int
serve(int lfd)
{
	uv_loop_t *loop = uv_default_loop();
	uv_signal_t sterm, sint;
	uv_tcp_t server;
	int rv;

	if ((rv = uv_tcp_init(loop, &server)) != 0 ||
	    (rv = uv_tcp_open(&server, lfd)) != 0 ||
	    (rv = uv_listen((uv_stream_t *)&server, 4096,
	    on_connection)) != 0 ||
	    (rv = uv_signal_init(loop, &sterm)) != 0 ||
	    (rv = uv_signal_start(&sterm, on_signal, SIGTERM)) != 0 ||
	    (rv = uv_signal_init(loop, &sint)) != 0 ||
	    (rv = uv_signal_start(&sint, on_signal, SIGINT)) != 0) {
		fprintf(stderr, "uv-echo: %s\n", uv_strerror(rv));
		return 1;
	}
	uv_run(loop, UV_RUN_DEFAULT);
	return 0;
}

static int
listener(const struct sockaddr_in *sa, int reuseport)
{
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
	    -1 || (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == -1) ||
	    bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The parent of -n N: pass SIGTERM/SIGINT on; stop when a child dies. */
static int
supervise(pid_t *pids, int n)
{
	sigset_t mask;
	int i, sig, status, rv = 0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	do
		sig = sigwaitinfo(&mask, NULL);
	while (sig != SIGTERM && sig != SIGINT && sig != SIGCHLD);
	for (i = 0; i < n; i++)
		kill(pids[i], SIGTERM);
	for (i = 0; i < n; i++)
		if (waitpid(pids[i], &status, 0) == -1 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rv = 1;
	return rv;
}

static int
resolve(const char *host, int port, struct sockaddr_in *sa)
{
	struct addrinfo hints, *ai;
	int rv;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if ((rv = getaddrinfo(host, NULL, &hints, &ai)) != 0) {
		fprintf(stderr, "uv-echo: %s: %s\n", host, gai_strerror(rv));
		return -1;
	}
	memcpy(sa, ai->ai_addr, sizeof(*sa));
	sa->sin_port = htons((uint16_t)port);
	freeaddrinfo(ai);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	struct rlimit rl;
	pid_t pids[MAX_PROCS];
	const char *host = "127.0.0.1";
	int i, port = 0, procs = 1, fds[MAX_PROCS];

	for (i = 1; i < argc; i += 2) {
		if (i + 1 == argc || argv[i][0] != '-' || argv[i][1] == '\0' ||
		    argv[i][2] != '\0')
			usage();
		if (argv[i][1] == 'h')
			host = argv[i + 1];
		else if (argv[i][1] == 'p')
			port = number(argv[i + 1]);
		else if (argv[i][1] == 'n')
			procs = number(argv[i + 1]);
		else
			usage();
	}
	if (port < 1 || procs < 1 || procs > MAX_PROCS)
		usage();
	if (resolve(host, port, &sa) == -1)
		return 2;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < procs; i++)
		if ((fds[i] = listener(&sa, procs > 1)) == -1) {
			fprintf(stderr, "uv-echo: %s:%d: %s\n", host, port,
			    strerror(errno));
			return 1;
		}
	if (procs == 1)
		return serve(fds[0]);
	for (i = 0; i < procs; i++) {
		if ((pids[i] = fork()) == -1) {
			perror("uv-echo: fork");
			return supervise(pids, i) | 1;
		}
		if (pids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			for (int j = 0; j < procs; j++)
				if (j != i)
					close(fds[j]);
			return serve(fds[i]);
		}
	}
	for (i = 0; i < procs; i++)
		close(fds[i]);
	return supervise(pids, procs);
}
