/*
 * taoctl.c - the control client: one request to the master's control
 * socket (protocol in proto/ctl.h), print the reply, exit 0 on "ok", 1 on
 * an error (a taod speaking another protocol version is one), 2 on bad
 * usage.  It links only proto/ctl.o besides its own code (GNUmakefile).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/ctl.h"

#define DEFAULT_SOCKET	"taod.sock"

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: taoctl [-s SOCKET] COMMAND\n"
	    "commands:\n"
	    "  stop            graceful stop; returns when taod has exited\n"
	    "  reload          re-read the config and start a new generation;\n"
	    "                  returns when it serves, or with the config error\n"
	    "  upgrade         start the taod binary from disk on the same\n"
	    "                  sockets; returns when it serves, or why not\n"
	    "  status          master pid, uptime, generation and workers\n"
	    "  stats [--json]  counters, totals and per worker\n"
	    "  conns [--json]  open connections (netid, worker, peer, age)\n"
	    "  config [--json] the running configuration, in taod.conf syntax\n"
	    "  help            this text\n"
	    "SOCKET defaults to ./%s (packages use /run/taod/taod.sock)\n",
	    DEFAULT_SOCKET);
	exit(code);
}

/*
 * The request line for cmd [arg] into req (size bytes), checked with the
 * master's own parser so that both agree on what is a command.  Its
 * length, or -1 if it is not a valid request.
 */
static int
build_request(char *req, size_t size, const char *cmd, const char *arg)
{
	struct tao_ctl_request parsed;
	char err[128];
	int n;

	n = snprintf(req, size, "%s %s%s%s\n", TAO_CTL_VERSION, cmd,
	    arg ? " " : "", arg ? arg : "");
	if (n < 0 || (size_t)n >= size ||
	    tao__ctl_parse(req, (size_t)n, &parsed, err, sizeof(err)) == -1)
		return -1;
	return n;
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "taoctl: %s: socket path too long\n", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "taoctl: cannot connect to %s: %s\n", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* What read_reply found: its head, and where the rest went. */
struct reply {
	struct tao_ctl_reply	head;
	int			rc;	/* of tao__ctl_reply_head */
	FILE		       *out;	/* NULL until a head of ours */
	char			last;	/* last byte written to out */
	int			err;	/* errno of a failed read, or 0 */
};

/*
 * Read the reply to its end (the master closes).  The head decides where
 * the rest goes: the body of "ok" to stdout, the message of "error" to
 * stderr.  A head is a few dozen bytes (proto/ctl.h), so the buffer
 * never fills before it is read.
 */
static void
read_reply(int fd, struct reply *r)
{
	char buf[65536];
	size_t got = 0;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	for (;;) {
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (r->out == NULL) {
			r->rc = tao__ctl_reply_head(buf, got, &r->head);
			if (r->rc == 0)
				continue;
			if (r->rc == -1 || r->head.version != TAO_CTL_PROTO)
				return;
			r->out = r->head.ok ? stdout : stderr;
			if (!r->head.ok)
				fputs("taoctl: ", stderr);
			memmove(buf, buf + r->head.body, got - r->head.body);
			got -= r->head.body;
		}
		if (got > 0) {
			fwrite(buf, 1, got, r->out);
			r->last = buf[got - 1];
		}
		got = 0;
	}
	r->err = n == -1 ? errno : 0;
}

/* The exit status for what read_reply found, with a message if it failed
 * before the master's own answer. */
static int
judge(const struct reply *r, const char *path)
{
	if (r->out == stdout)
		return 0;
	if (r->out == stderr) {
		if (r->last != '\n')
			fputc('\n', stderr);
		return 1;
	}
	if (r->rc == 1)
		fprintf(stderr, "taoctl speaks control protocol %d, taod "
		    "answered %d; use the taoctl of the same release\n",
		    TAO_CTL_PROTO, r->head.version);
	else if (r->rc == -1)
		fprintf(stderr, "taoctl: %s: not a control protocol reply "
		    "(is this taod's control socket?)\n", path);
	else if (r->err != 0)
		fprintf(stderr, "taoctl: %s: %s\n", path, strerror(r->err));
	else
		fprintf(stderr, "taoctl: %s: connection closed without a "
		    "reply\n", path);
	return 1;
}

int
main(int argc, char *argv[])
{
	const char *path = DEFAULT_SOCKET, *cmd, *arg;
	char req[TAO_CTL_MAX_REQUEST + 2];
	struct reply r;
	int ch, fd, len, status;

	while ((ch = getopt(argc, argv, "+hs:")) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2)
		usage(2);
	cmd = argv[0];
	arg = argc == 2 ? argv[1] : NULL;
	if (strcmp(cmd, "help") == 0)
		usage(0);
	if ((len = build_request(req, sizeof(req), cmd, arg)) == -1) {
		fprintf(stderr, "taoctl: unknown command '%s%s%s'\n", cmd,
		    arg ? " " : "", arg ? arg : "");
		usage(2);
	}
	if ((fd = connect_to(path)) == -1)
		return 1;
	/* A refusal (permission denied) may close the socket before our
	 * request is written: read the reply rather than die of SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (write(fd, req, (size_t)len) != len && errno != EPIPE &&
	    errno != ECONNRESET) {
		fprintf(stderr, "taoctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* For stop, the close is the answer: taod has exited. */
	read_reply(fd, &r);
	close(fd);
	status = judge(&r, path);
	if (status == 0 && strcmp(cmd, "stop") == 0)
		fprintf(stderr, "taoctl: taod has stopped\n");
	return status;
}
