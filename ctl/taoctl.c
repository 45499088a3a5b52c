/*
 * taoctl.c - the control client: one request to the master's control
 * socket, print the reply, exit 0 on "ok", 1 on an error, 2 on bad usage.
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
	    "  status          master pid, uptime, generation and workers\n"
	    "  stats [--json]  counters, totals and per worker\n"
	    "  conns [--json]  open connections (netid, worker, peer, age)\n"
	    "  config [--json] the running configuration, in taod.conf syntax\n"
	    "  help            this text\n"
	    "SOCKET defaults to ./%s (packages use /run/taod/taod.sock)\n",
	    DEFAULT_SOCKET);
	exit(code);
}

static int
known(const char *cmd, const char *arg)
{
	static const char *with_json[] = { "status", "stats", "conns",
	    "config" };

	if (arg == NULL)
		return strcmp(cmd, "stop") == 0 || strcmp(cmd, "reload") == 0 ||
		    strcmp(cmd, "status") == 0 || strcmp(cmd, "stats") == 0 ||
		    strcmp(cmd, "conns") == 0 || strcmp(cmd, "config") == 0;
	if (strcmp(arg, "--json") != 0)
		return 0;
	for (size_t i = 0; i < sizeof(with_json) / sizeof(with_json[0]); i++)
		if (strcmp(cmd, with_json[i]) == 0)
			return 1;
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *path = DEFAULT_SOCKET, *cmd, *arg = NULL;
	struct sockaddr_un sun;
	char req[TAO_CTL_MAX_REQUEST], reply[65536];
	size_t got = 0;
	ssize_t n;
	int ch, fd, ok = -1;

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
	if (!known(cmd, arg)) {
		fprintf(stderr, "taoctl: unknown command '%s%s%s'\n", cmd,
		    arg ? " " : "", arg ? arg : "");
		usage(2);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "taoctl: %s: socket path too long\n", path);
		return 1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "taoctl: cannot connect to %s: %s\n", path,
		    strerror(errno));
		return 1;
	}
	snprintf(req, sizeof(req), "%s %s%s%s\n", TAO_CTL_VERSION, cmd,
	    arg ? " " : "", arg ? arg : "");
	/* A refusal (permission denied) may close the socket before our
	 * request is written: read the reply rather than die of SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) &&
	    errno != EPIPE && errno != ECONNRESET) {
		fprintf(stderr, "taoctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* The first line says ok or error; the rest is printed as it
	 * comes.  For stop, the close is the answer: taod has exited. */
	for (;;) {
		n = read(fd, reply + got, sizeof(reply) - 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		reply[got] = '\0';
		if (ok == -1) {
			char *nl = strchr(reply, '\n');
			if (nl == NULL && got < sizeof(reply) - 1)
				continue;
			if (strncmp(reply, "ok\n", 3) == 0) {
				ok = 1;
				fwrite(reply + 3, 1, got - 3, stdout);
			} else {
				ok = 0;
				fprintf(stderr, "taoctl: %s%s", strncmp(reply,
				    "error ", 6) == 0 ? reply + 6 : reply,
				    nl ? "" : "\n");
			}
		} else if (ok)
			fwrite(reply, 1, got, stdout);
		else
			fwrite(reply, 1, got, stderr);
		got = 0;
	}
	if (n == -1 && ok == -1) {
		fprintf(stderr, "taoctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (ok == -1) {
		fprintf(stderr, "taoctl: %s: connection closed without a "
		    "reply\n", path);
		return 1;
	}
	if (ok && strcmp(cmd, "stop") == 0)
		fprintf(stderr, "taoctl: taod has stopped\n");
	return ok ? 0 : 1;
}
