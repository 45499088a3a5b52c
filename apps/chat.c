/*
 * chat.c - one chat room spanning every worker.
 *
 * TLV clients speak one of two dialects, chosen by the app line:
 *
 * `app chat` - Go Tao's examples/chat protocol and nothing else, so its
 * client (which registers type 1 only and logs every other type as
 * "undefined message type N") runs unchanged:
 *	-> type 1 text			broadcast to everyone, sender too
 *	<- type 1 text			exactly the bytes the sender sent
 * No welcome, no join/leave notices, no private messages; other inbound
 * types are ignored, as Go Tao drops a type it has no unmarshaler for.
 *
 * `app chat notices` - taod's extended dialect; every payload about a
 * connection starts with the 8-byte little-endian netid of it:
 *	-> type 1 text			broadcast to everyone
 *	-> type 2 netid + text		private message to that netid
 *	<- type 1 from + text		a chat message
 *	<- type 2 from + text		a private message
 *	<- type 3 "netid=N worker=W"	welcome, first frame after connect
 *	<- type 4 who + "joined"/"left"	announcements
 *
 * Line clients (`nc 127.0.0.1 12346`) are the same in both: a line is a
 * chat message, "/to NETID text" a private one; they receive readable
 * lines such as "17: hello", "17 (private): psst", "* 17 joined".
 *
 * Every message travels as one record (type + sender netid + text) and
 * is rendered per receiving connection by chat_deliver().  Go clients
 * send lines with their '\n' and print what they get as it is, so in the
 * Go dialect a line client's text is sent on with a '\n' added, and line
 * rendering drops one trailing newline from any text.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/apps.h"

enum {
	CHAT_MESSAGE = 1,
	CHAT_PRIVATE = 2,
	CHAT_WELCOME = 3,
	CHAT_PRESENCE = 4,
};

#define CHAT_MAX	(64 * 1024)	/* longest chat text we relay */

static int	 chat_slot;
static int	 chat_notices;	/* 1: the extended TLV dialect */

static void
put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int
is_line(const struct tao_conn *c)
{
	return tao_conn_codec(c) == &tao_codec_line;
}

/* type + 8-byte netid + text into buf; returns the length. */
static size_t
pack(uint8_t *buf, uint64_t netid, const void *text, size_t len)
{
	put_le64(buf, netid);
	memcpy(buf + 8, text, len);
	return 8 + len;
}

/* Drop one trailing "\n" or "\r\n": the line codec adds its own. */
static size_t
chomp(const char *text, size_t len)
{
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len > 0 && text[len - 1] == '\r')
		len--;
	return len;
}

/* A record for a TLV connection speaking Go Tao's chat dialect: only
 * chat messages exist there, as their bare text. */
static int
deliver_go(struct tao_conn *c, int32_t type, const uint8_t *data,
    size_t len)
{
	if (type != CHAT_MESSAGE)
		return 0;
	return tao_conn_send(c, CHAT_MESSAGE, data + 8, len - 8);
}

static int
chat_deliver(struct tao_conn *c, int32_t type, const void *data, size_t len,
    void *arg)
{
	char line[CHAT_MAX + 64];
	const char *text = (const char *)data + 8;
	uint64_t who;
	int n;

	(void)arg;
	if (len < 8)
		return 0;	/* not a chat record */
	if (!is_line(c))
		return chat_notices ? tao_conn_send(c, type, data, len) :
		    deliver_go(c, type, data, len);
	who = get_le64(data);
	len = chomp(text, len - 8);
	switch (type) {
	case CHAT_MESSAGE:
		n = snprintf(line, sizeof(line), "%" PRIu64 ": %.*s", who,
		    (int)len, text);
		break;
	case CHAT_PRIVATE:
		n = snprintf(line, sizeof(line), "%" PRIu64 " (private): %.*s",
		    who, (int)len, text);
		break;
	case CHAT_PRESENCE:
		n = snprintf(line, sizeof(line), "* %" PRIu64 " %.*s", who,
		    (int)len, text);
		break;
	default:
		return 0;
	}
	if (n < 0)
		return TAO_EINVAL;
	return tao_conn_send(c, TAO_TYPE_LINE, line, (size_t)n < sizeof(line) ?
	    (size_t)n : sizeof(line) - 1);
}

static void
say(struct tao_conn *c, const char *text)
{
	if (is_line(c))
		(void)tao_conn_send(c, TAO_TYPE_LINE, text, strlen(text));
}

static void
private_message(struct tao_conn *c, uint64_t to, const void *text,
    size_t len)
{
	uint8_t buf[8 + CHAT_MAX];
	int rc;

	rc = tao_server_unicast(tao_conn_server(c), to, CHAT_PRIVATE, buf,
	    pack(buf, tao_conn_id(c), text, len));
	if (rc == TAO_ENOENT)
		say(c, "* no such user");
}

static void
on_line(struct tao_conn *c, const struct tao_message *m)
{
	const char *text = m->data;
	char *end;
	uint64_t to;

	if (m->len > 4 && strncmp(text, "/to ", 4) == 0) {
		char num[24];
		size_t n = m->len - 4 < sizeof(num) - 1 ? m->len - 4 :
		    sizeof(num) - 1;
		memcpy(num, text + 4, n);
		num[n] = '\0';
		to = strtoull(num, &end, 10);
		if (end == num || (*end != ' ' && *end != '\0')) {
			say(c, "* usage: /to NETID text");
			return;
		}
		size_t skip = 4 + (size_t)(end - num) + (*end == ' ');
		private_message(c, to, text + skip, m->len - skip);
		return;
	}
	uint8_t buf[8 + CHAT_MAX + 1];
	size_t len = pack(buf, tao_conn_id(c), m->data, m->len);

	if (!chat_notices)
		buf[len++] = '\n';	/* as a Go client would have sent it */
	(void)tao_server_broadcast(tao_conn_server(c), CHAT_MESSAGE, buf, len);
}

static void
on_message(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	uint8_t buf[8 + CHAT_MAX];
	const uint8_t *p = m->data;

	(void)arg;
	if (m->len > CHAT_MAX) {
		say(c, "* message too long");
		return;
	}
	if (is_line(c)) {
		on_line(c, m);
		return;
	}
	if (m->type == CHAT_MESSAGE)
		(void)tao_server_broadcast(tao_conn_server(c), CHAT_MESSAGE,
		    buf, pack(buf, tao_conn_id(c), m->data, m->len));
	else if (chat_notices && m->type == CHAT_PRIVATE && m->len >= 8)
		private_message(c, get_le64(p), p + 8, m->len - 8);
}

static void
announce(struct tao_conn *c, const char *what)
{
	uint8_t buf[32];

	(void)tao_server_broadcast(tao_conn_server(c), CHAT_PRESENCE, buf,
	    pack(buf, tao_conn_id(c), what, strlen(what)));
}

static int
on_connect(struct tao_conn *c, void *arg)
{
	char text[64];
	int n;

	(void)arg;
	if (tao_conn_migrating(c))
		return 0;	/* a reload moved it here: already welcomed */
	if (is_line(c)) {
		n = snprintf(text, sizeof(text), "* welcome, you are %" PRIu64
		    " (worker %d)", tao_conn_id(c), chat_slot);
		(void)tao_conn_send(c, TAO_TYPE_LINE, text, (size_t)n);
	} else if (chat_notices) {
		n = snprintf(text, sizeof(text), "netid=%" PRIu64 " worker=%d",
		    tao_conn_id(c), chat_slot);
		(void)tao_conn_send(c, CHAT_WELCOME, text, (size_t)n);
	}
	/* Also in the Go dialect: line clients show it, TLV ones drop it. */
	announce(c, "joined");
	return 0;
}

static void
on_close(struct tao_conn *c, void *arg)
{
	(void)arg;
	if (!tao_conn_migrating(c))
		announce(c, "left");
}

static void
on_worker_start(struct tao_server *s, int slot, void *arg)
{
	(void)s;
	(void)arg;
	chat_slot = slot;
}

/* options: "" (Go Tao's dialect on TLV) or "notices" (taod's own). */
int
tao_app_chat(struct tao_server *s, const char *options)
{
	if (strcmp(options, "notices") == 0)
		chat_notices = 1;
	else if (options[0] != '\0')
		return -1;
	tao_server_on_message(s, on_message, NULL);
	tao_server_on_connect(s, on_connect, NULL);
	tao_server_on_close(s, on_close, NULL);
	tao_server_on_deliver(s, chat_deliver, NULL);
	tao_server_on_worker_start(s, on_worker_start, NULL);
	return 0;
}
