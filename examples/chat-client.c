/*
 * chat-client.c - an interactive client for taod's chat app (apps/chat.c),
 * built as build/tao-chat:
 *
 *	tao-chat HOST:PORT [--tls] [--ca FILE] [--name NAME] [--insecure]
 *	         [--heartbeat MS] [--no-reconnect]
 *
 * Each line typed is sent as a chat message (type 1); "/to NETID text"
 * sends a private one (type 2), "/quit" leaves.  Received messages are
 * printed as "NETID: text", private ones as "NETID (private): text",
 * presence as "* NETID joined" / "* NETID left", and the server's welcome
 * as "* netid=N worker=W" (all of which need `app chat notices`; against
 * plain `app chat`, Go Tao's chat dialect, only the texts are printed).
 * Connection news and errors go to stderr.
 * When the server goes away the client reconnects (back-off 100 ms to
 * 5 s); lines typed meanwhile are sent once it is back.  The exit status
 * is 0 after the end of input (or /quit), 1 when --no-reconnect gave up.
 *
 * Everything runs on one tao_loop: the client's socket and stdin.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tao.h>

enum {
	CHAT_MESSAGE = 1,
	CHAT_PRIVATE = 2,
	CHAT_WELCOME = 3,
	CHAT_PRESENCE = 4,
};

#define LINE_MAX_BYTES	(64 * 1024)	/* the chat app's CHAT_MAX */
#define RETRY_MS	100		/* queue full: try stdin again */

struct chat {
	struct tao_loop		*loop;
	struct tao_client	*client;
	char			 in[LINE_MAX_BYTES + 1];
	size_t			 inlen;
	int			 stdin_watched;
	int			 stdin_file;	/* a regular file: no epoll */
	int			 eof;
	int			 quitting;
	int			 quit_when_connected;
	int			 reconnect;
	int			 failed;	/* gave up after an error */
	int			 extended;	/* welcomed: `app chat notices` */
};

static uint64_t
get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- what the server sends -------------------------------------------- */

static void
on_chat(struct tao_client *c, const struct tao_message *m, void *arg)
{
	struct chat *ch = arg;
	const uint8_t *p = m->data;
	const char *text = (const char *)p + 8;
	int len = (int)m->len - 8;

	(void)c;
	if (!ch->extended) {
		/* Go Tao's chat dialect: type 1 is the bare text, usually
		 * with the sender's newline. */
		len = (int)m->len;
		if (m->type != CHAT_MESSAGE)
			return;
		if (len > 0 && ((const char *)p)[len - 1] == '\n')
			len--;
		printf("%.*s\n", len, (const char *)p);
		return;
	}
	if (m->len < 8)
		return;
	switch (m->type) {
	case CHAT_MESSAGE:
		printf("%" PRIu64 ": %.*s\n", get_le64(p), len, text);
		break;
	case CHAT_PRIVATE:
		printf("%" PRIu64 " (private): %.*s\n", get_le64(p), len, text);
		break;
	case CHAT_PRESENCE:
		printf("* %" PRIu64 " %.*s\n", get_le64(p), len, text);
		break;
	}
}

/* Only taod's extended dialect (`app chat notices`) sends a welcome,
 * as the first frame of each connection. */
static void
on_welcome(struct tao_client *c, const struct tao_message *m, void *arg)
{
	struct chat *ch = arg;

	(void)c;
	ch->extended = 1;
	printf("* %.*s\n", (int)m->len, (const char *)m->data);
}

static void	quit(struct chat *);

static void
on_connect(struct tao_client *c, void *arg)
{
	struct chat *ch = arg;

	ch->extended = 0;	/* until this connection's welcome */
	fprintf(stderr, "* connected to %s\n", tao_client_addr(c));
	if (ch->quit_when_connected)
		quit(ch);	/* the lines typed before are written first */
}

static void
on_close(struct tao_client *c, void *arg)
{
	struct chat *ch = arg;

	if (ch->quitting || !ch->reconnect) {
		tao_loop_stop(ch->loop);
		return;
	}
	fprintf(stderr, "* connection to %s lost, reconnecting\n",
	    tao_client_addr(c));
}

static void
on_error(struct tao_client *c, enum tao_client_error kind, const char *msg,
    void *arg)
{
	struct chat *ch = arg;

	(void)c;
	(void)kind;
	fprintf(stderr, "tao-chat: %s\n", msg);
	if (!ch->reconnect) {
		ch->failed = 1;
		tao_loop_stop(ch->loop);	/* the client is closed now */
	}
}

/* ---- what the user types ---------------------------------------------- */

static void	stdin_readable(struct tao_loop *, int, int, void *);
static void	stdin_retry(struct tao_loop *, void *);

static void
stdin_watch(struct chat *ch, int on)
{
	if (ch->stdin_file) {
		if (on)
			(void)tao_loop_run_after(ch->loop, 0, stdin_retry, ch);
		return;
	}
	if (on && !ch->stdin_watched)
		ch->stdin_watched = tao_loop_add_fd(ch->loop, 0,
		    TAO_LOOP_READ, stdin_readable, ch) == 0;
	else if (!on && ch->stdin_watched) {
		(void)tao_loop_del_fd(ch->loop, 0);
		ch->stdin_watched = 0;
	}
}

static void
quit(struct chat *ch)
{
	int was_open = tao_client_connected(ch->client);

	if (ch->quitting)
		return;
	stdin_watch(ch, 0);
	if (!was_open && ch->reconnect && tao_client_queued(ch->client) > 0) {
		/* End of input before the server took it: wait for it. */
		ch->quit_when_connected = 1;
		return;
	}
	ch->quitting = 1;
	tao_client_close(ch->client);	/* flushes what is queued */
	if (!was_open)
		tao_loop_stop(ch->loop);	/* on_close will not run */
}

/* One line: 0 sent (or nothing to send), -1 the queue is full. */
static int
send_line(struct chat *ch, const char *line, size_t len)
{
	uint8_t buf[8 + LINE_MAX_BYTES];
	char num[24], *end;
	int rc;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 5 && memcmp(line, "/quit", 5) == 0) {
		quit(ch);
		return 0;
	}
	if (len > 4 && memcmp(line, "/to ", 4) == 0) {
		size_t n = len - 4 < sizeof(num) - 1 ? len - 4 :
		    sizeof(num) - 1;

		memcpy(num, line + 4, n);
		num[n] = '\0';
		uint64_t to = strtoull(num, &end, 10);
		if (end == num || (*end != ' ' && *end != '\0')) {
			fprintf(stderr, "* usage: /to NETID text\n");
			return 0;
		}
		size_t skip = 4 + (size_t)(end - num) + (*end == ' ');
		put_le64(buf, to);
		memcpy(buf + 8, line + skip, len - skip);
		rc = tao_client_send(ch->client, CHAT_PRIVATE, buf,
		    8 + len - skip);
	} else if (len > 0)
		rc = tao_client_send(ch->client, CHAT_MESSAGE, line, len);
	else
		rc = 0;
	if (rc == TAO_EWOULDBLOCK)
		return -1;
	if (rc < 0)
		fprintf(stderr, "tao-chat: send: %s\n", tao_strerror(rc));
	return 0;
}

/* Send every whole line in the buffer (and the rest at EOF). */
static void
drain_input(struct chat *ch)
{
	size_t off = 0;
	char *nl;

	while (!ch->quitting && off < ch->inlen) {
		nl = memchr(ch->in + off, '\n', ch->inlen - off);
		size_t len = nl ? (size_t)(nl - (ch->in + off)) :
		    ch->inlen - off;
		if (nl == NULL && !ch->eof && ch->inlen < LINE_MAX_BYTES)
			break;		/* the rest of the line is coming */
		if (send_line(ch, ch->in + off, len) == -1) {
			/* Queue full (server slow or away): wait. */
			stdin_watch(ch, 0);
			(void)tao_loop_run_after(ch->loop, RETRY_MS,
			    stdin_retry, ch);
			break;
		}
		off += len + (nl != NULL);
	}
	memmove(ch->in, ch->in + off, ch->inlen - off);
	ch->inlen -= off;
	if (ch->eof && ch->inlen == 0)
		quit(ch);
}

static void
read_stdin(struct chat *ch)
{
	ssize_t n;

	n = read(0, ch->in + ch->inlen, LINE_MAX_BYTES - ch->inlen);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		ch->eof = 1;
		stdin_watch(ch, 0);
	} else
		ch->inlen += (size_t)n;
	drain_input(ch);
	if (ch->stdin_file && !ch->eof && !ch->quitting)
		stdin_watch(ch, 1);
}

static void
stdin_readable(struct tao_loop *l, int fd, int events, void *arg)
{
	(void)l;
	(void)fd;
	(void)events;
	read_stdin(arg);
}

static void
stdin_retry(struct tao_loop *l, void *arg)
{
	struct chat *ch = arg;

	(void)l;
	if (ch->quitting)
		return;
	if (ch->inlen > 0)
		drain_input(ch);
	if (ch->quitting || ch->eof)
		return;
	if (ch->stdin_file)
		read_stdin(ch);
	else if (!ch->stdin_watched && ch->inlen < LINE_MAX_BYTES)
		stdin_watch(ch, 1);
}

/* ---- main ------------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr, "usage: tao-chat HOST:PORT [--tls] [--ca FILE] "
	    "[--name NAME] [--insecure]\n"
	    "                [--heartbeat MS] [--no-reconnect]\n");
	exit(2);
}

/* Options from the command line; returns the address to dial. */
static const char *
parse_args(int argc, char **argv, struct tao_client_opts *o)
{
	const char *addr = NULL;

	memset(o, 0, sizeof(*o));
	o->reconnect = 1;
	o->reconnect_min_ms = 100;
	o->reconnect_max_ms = 5000;
	o->heartbeat_ms = 5000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tls") == 0)
			o->tls = 1;
		else if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc)
			o->tls_ca_file = argv[++i];
		else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			o->tls_server_name = argv[++i];
		else if (strcmp(argv[i], "--insecure") == 0)
			o->tls_no_verify = 1;
		else if (strcmp(argv[i], "--heartbeat") == 0 && i + 1 < argc)
			o->heartbeat_ms = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--no-reconnect") == 0)
			o->reconnect = 0;
		else if (argv[i][0] != '-' && addr == NULL)
			addr = argv[i];
		else
			usage();
	}
	if (addr == NULL)
		usage();
	return addr;
}

static void
install_handlers(struct chat *ch)
{
	tao_client_register(ch->client, CHAT_MESSAGE, NULL, on_chat, ch);
	tao_client_register(ch->client, CHAT_PRIVATE, NULL, on_chat, ch);
	tao_client_register(ch->client, CHAT_PRESENCE, NULL, on_chat, ch);
	tao_client_register(ch->client, CHAT_WELCOME, NULL, on_welcome, ch);
	tao_client_on_connect(ch->client, on_connect, ch);
	tao_client_on_close(ch->client, on_close, ch);
	tao_client_on_error(ch->client, on_error, ch);
	/* A regular file cannot be watched with epoll: read it from a
	 * timer instead, which the queue's bound paces. */
	if (tao_loop_add_fd(ch->loop, 0, TAO_LOOP_READ, stdin_readable,
	    ch) == 0)
		ch->stdin_watched = 1;
	else {
		ch->stdin_file = 1;
		stdin_watch(ch, 1);
	}
}

int
main(int argc, char **argv)
{
	static struct chat ch;
	struct tao_client_opts o;
	const char *addr = parse_args(argc, argv, &o);
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((ch.loop = tao_loop_new()) == NULL) {
		perror("tao-chat");
		return 1;
	}
	o.loop = ch.loop;
	ch.reconnect = o.reconnect;
	if ((ch.client = tao_client_connect(addr, &o)) == NULL) {
		fprintf(stderr, "tao-chat: %s: %s\n", addr, strerror(errno));
		tao_loop_free(ch.loop);
		return 1;
	}
	install_handlers(&ch);
	rc = tao_loop_run(ch.loop);
	if (!o.reconnect && !ch.quitting)
		fprintf(stderr, "* disconnected\n");
	tao_loop_free(ch.loop);
	return rc < 0 || ch.failed ? 1 : 0;
}
