/*
 * chat.c - one chat room spanning every worker.
 *
 * TLV clients (all payloads start with the 8-byte little-endian netid
 * of the connection they are about):
 *	-> type 1 text			broadcast to everyone
 *	-> type 2 netid + text		private message to that netid
 *	<- type 1 from + text		a chat message
 *	<- type 2 from + text		a private message
 *	<- type 3 "netid=N worker=W"	welcome, first frame after connect
 *	<- type 4 who + "joined"/"left"	announcements
 * Line clients (`nc 127.0.0.1 12346`): a line is a chat message,
 * "/to NETID text" a private one; they receive readable lines such as
 * "17: hello", "17 (private): psst", "* 17 joined".
 *
 * Every message travels as one TLV-style record (type + netid + text)
 * and is rendered per receiving connection by chat_deliver().
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

static int
chat_deliver(struct tao_conn *c, int32_t type, const void *data, size_t len,
    void *arg)
{
	char line[CHAT_MAX + 64];
	uint64_t who;
	int n;

	(void)arg;
	if (!is_line(c) || len < 8)
		return tao_send(c, type, data, len);
	who = get_le64(data);
	len -= 8;
	switch (type) {
	case CHAT_MESSAGE:
		n = snprintf(line, sizeof(line), "%" PRIu64 ": %.*s", who,
		    (int)len, (const char *)data + 8);
		break;
	case CHAT_PRIVATE:
		n = snprintf(line, sizeof(line), "%" PRIu64 " (private): %.*s",
		    who, (int)len, (const char *)data + 8);
		break;
	case CHAT_PRESENCE:
		n = snprintf(line, sizeof(line), "* %" PRIu64 " %.*s", who,
		    (int)len, (const char *)data + 8);
		break;
	default:
		return 0;
	}
	if (n < 0)
		return TAO_EINVAL;
	return tao_send(c, TAO_TYPE_LINE, line, (size_t)n < sizeof(line) ?
	    (size_t)n : sizeof(line) - 1);
}

static void
say(struct tao_conn *c, const char *text)
{
	if (is_line(c))
		(void)tao_send(c, TAO_TYPE_LINE, text, strlen(text));
}

static void
private_message(struct tao_conn *c, uint64_t to, const void *text,
    size_t len)
{
	uint8_t buf[8 + CHAT_MAX];
	int rc;

	rc = tao_unicast(tao_conn_server(c), to, CHAT_PRIVATE, buf,
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
	uint8_t buf[8 + CHAT_MAX];
	(void)tao_broadcast(tao_conn_server(c), CHAT_MESSAGE, buf,
	    pack(buf, tao_conn_id(c), m->data, m->len));
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
		(void)tao_broadcast(tao_conn_server(c), CHAT_MESSAGE, buf,
		    pack(buf, tao_conn_id(c), m->data, m->len));
	else if (m->type == CHAT_PRIVATE && m->len >= 8)
		private_message(c, get_le64(p), p + 8, m->len - 8);
}

static void
announce(struct tao_conn *c, const char *what)
{
	uint8_t buf[32];

	(void)tao_broadcast(tao_conn_server(c), CHAT_PRESENCE, buf,
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
	if (is_line(c))
		n = snprintf(text, sizeof(text), "* welcome, you are %" PRIu64
		    " (worker %d)", tao_conn_id(c), chat_slot);
	else
		n = snprintf(text, sizeof(text), "netid=%" PRIu64 " worker=%d",
		    tao_conn_id(c), chat_slot);
	(void)tao_send(c, is_line(c) ? TAO_TYPE_LINE : CHAT_WELCOME, text,
	    (size_t)n);
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

void
tao_app_chat(struct tao_server *s)
{
	tao_on_message(s, on_message, NULL);
	tao_on_connect(s, on_connect, NULL);
	tao_on_close(s, on_close, NULL);
	tao_on_deliver(s, chat_deliver, NULL);
	tao_on_worker_start(s, on_worker_start, NULL);
}
