/*
 * t098-client-chat - build/tao-chat (examples/chat-client.c) against taod's
 * chat app, with a raw TLV client on the other side:
 *
 * - it prints the welcome ("* netid=N worker=W") and presence ("* M
 *   joined"), sends each stdin line as a chat message (the raw client
 *   gets type 1 with N and the text) and prints received ones as
 *   "M: text";
 * - taod stopped and started again on the same port: tao-chat reconnects
 *   by itself (a new welcome), and a line typed while taod was down
 *   reaches the new room;
 * - end of stdin: it exits 0.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

extern char **environ;

struct chat {
	pid_t	pid;
	int	in;		/* its stdin */
	int	out;		/* its stdout, non-blocking */
	char	buf[16384];	/* everything it printed */
	size_t	len;
	size_t	seen;		/* wait_output looks from here */
};

static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		bail("cannot find a free port");
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static void
chat_start(struct chat *ch, int port)
{
	posix_spawn_file_actions_t fa;
	char addr[32], errlog[300];
	const char *argv[] = { th_bin("tao-chat"), addr, NULL };
	int in[2], out[2];

	memset(ch, 0, sizeof(*ch));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	snprintf(errlog, sizeof(errlog), "%s/tao-chat.err", th_dir());
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1)
		bail("pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, errlog,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (posix_spawn(&ch->pid, argv[0], &fa, NULL, (char *const *)argv,
	    environ) != 0)
		bail("cannot run tao-chat");
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	ch->in = in[1];
	ch->out = out[0];
	(void)fcntl(ch->out, F_SETFL, O_NONBLOCK);
}

static void
chat_read(struct chat *ch)
{
	ssize_t n;

	while (ch->len < sizeof(ch->buf) - 1 &&
	    (n = read(ch->out, ch->buf + ch->len,
	    sizeof(ch->buf) - 1 - ch->len)) > 0) {
		ch->len += (size_t)n;
		ch->buf[ch->len] = '\0';
	}
}

/* Wait until tao-chat printed `needle` after what was seen so far:
 * the line's start, or NULL on timeout. */
static const char *
wait_output(struct chat *ch, const char *needle, int ms)
{
	double end = th_now_ms() + ms;
	const char *hit, *bol;

	for (;;) {
		chat_read(ch);
		if ((hit = strstr(ch->buf + ch->seen, needle)) != NULL) {
			for (bol = hit; bol > ch->buf && bol[-1] != '\n'; bol--)
				;
			ch->seen = (size_t)(hit - ch->buf) + strlen(needle);
			return bol;
		}
		if (th_now_ms() > end)
			return NULL;
		th_sleep_ms(5);
	}
}

static void
type_line(struct chat *ch, const char *line)
{
	if (write(ch->in, line, strlen(line)) != (ssize_t)strlen(line))
		bail("writing to tao-chat");
}

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* A raw TLV chat client: connect, read the welcome, return its netid. */
static int
raw_join(int port, long long *netid)
{
	char buf[256];
	uint32_t len = 0;
	int32_t type = 0;
	int fd = th_connect(port);

	if (fd == -1 || th_recv_frame(fd, &type, buf, sizeof(buf) - 1, &len,
	    th_ms(5000)) != 0 || type != 3)
		bail("raw client: no welcome");
	buf[len] = '\0';
	if (sscanf(buf, "netid=%lld", netid) != 1)
		bail("raw client: bad welcome");
	return fd;
}

/* Read frames until a chat message (type 1) with this text: its sender,
 * or -1. */
static long long
raw_wait_message(int fd, const char *text)
{
	uint8_t buf[1024];
	uint32_t len;
	int32_t type;
	double end = th_now_ms() + th_ms(5000);

	while (th_now_ms() < end) {
		if (th_recv_frame(fd, &type, buf, sizeof(buf), &len,
		    th_ms(5000)) != 0)
			return -1;
		if (type == 1 && len == 8 + strlen(text) &&
		    memcmp(buf + 8, text, strlen(text)) == 0)
			return (long long)le64(buf);
	}
	return -1;
}

static int
chat_wait_exit(struct chat *ch, int ms)
{
	double end = th_now_ms() + ms;
	int status;

	while (th_now_ms() < end) {
		if (waitpid(ch->pid, &status, WNOHANG) == ch->pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) :
			    128 + WTERMSIG(status);
		th_sleep_ms(10);
	}
	(void)kill(ch->pid, SIGKILL);
	(void)waitpid(ch->pid, &status, 0);
	return -1;
}

/* tao-chat joins, sees a raw client join, both ways of messages. */
static void
chat_talk(struct chat *ch, int port)
{
	const char *line;
	char want[64];
	long long me = -1, raw_id;
	int raw;

	line = wait_output(ch, "* netid=", th_ms(5000));
	if (line != NULL && sscanf(line, "* netid=%lld", &me) != 1)
		me = -1;
	ok(me > 0, "tao-chat prints its welcome (netid %lld)", me);
	raw = raw_join(port, &raw_id);
	snprintf(want, sizeof(want), "* %lld joined", raw_id);
	ok(wait_output(ch, want, th_ms(5000)) != NULL, "presence: \"%s\"",
	    want);

	type_line(ch, "hello from tao-chat\n");
	is_int(raw_wait_message(raw, "hello from tao-chat"), me,
	    "a typed line reaches the room with tao-chat's netid");
	if (th_send_frame(raw, 1, "hello from raw", 14) != 0)
		bail("raw send");
	snprintf(want, sizeof(want), "%lld: hello from raw", raw_id);
	ok(wait_output(ch, want, th_ms(5000)) != NULL, "a received message "
	    "is printed as \"%s\"", want);
	close(raw);
}

int
main(void)
{
	struct th_daemon *d1, *d2;
	struct chat ch;
	const char *line;
	char conf[128], want[64], out[256], errlog[300];
	long long me2 = -1, raw2_id;
	int port, raw2;

	th_init("t098-client-chat", 60);
	plan(0);
	port = free_port();
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:%d tlv\napp chat notices\n"
	    "workers 2\n", port);
	if ((d1 = th_daemon_start(conf)) == NULL)
		bail("taod did not start");
	chat_start(&ch, port);
	chat_talk(&ch, port);

	/* taod goes away and comes back on the same port. */
	is_int(th_ctl(d1, out, sizeof(out), "stop", NULL), 0, "taoctl stop");
	ok(th_daemon_wait(d1, th_ms(10000)) == 0, "taod is gone");
	snprintf(errlog, sizeof(errlog), "%s/tao-chat.err", th_dir());
	ok(th_wait_file(errlog, "lost, reconnecting", th_ms(5000)) == 0,
	    "tao-chat notices (\"lost, reconnecting\" on stderr)");
	type_line(&ch, "typed while down\n");
	if ((d2 = th_daemon_start(conf)) == NULL)
		bail("taod did not start again");
	line = wait_output(&ch, "* netid=", th_ms(8000));
	if (line != NULL && sscanf(line, "* netid=%lld", &me2) != 1)
		me2 = -1;
	ok(me2 > 0, "tao-chat reconnected by itself (new welcome, netid "
	    "%lld)", me2);
	snprintf(want, sizeof(want), "%lld: typed while down", me2);
	ok(wait_output(&ch, want, th_ms(5000)) != NULL, "the line typed while "
	    "taod was down was sent after the reconnect (\"%s\")", want);
	raw2 = raw_join(port, &raw2_id);
	type_line(&ch, "after the restart\n");
	is_int(raw_wait_message(raw2, "after the restart"), me2,
	    "lines typed after the restart reach the new room");
	close(raw2);
	close(ch.in);
	is_int(chat_wait_exit(&ch, th_ms(5000)), 0, "end of input: tao-chat "
	    "exits 0");
	close(ch.out);
	is_int(th_daemon_stop(d2), 0, "taod stops with exit 0");
	return th_exit(done_testing());
}
