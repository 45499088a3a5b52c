/*
 * t170-chat-go-compat - `app chat` speaks Go Tao's chat example protocol
 * on TLV listeners, byte for byte, and nothing else.
 *
 * The frames below are written out from leesper/tao v1.6 (not from our
 * encoder): examples/chat/client/client.go registers one message type,
 * chat.ChatMessage = 1, reads a line from stdin with its '\n' and writes
 * chat.Message{Content: talk}; TypeLengthValueCodec.Encode puts
 * int32 LE type, int32 LE length, then the bytes.  The Go server
 * (examples/chat/server) registers type 1 only, and its ProcessMessage
 * broadcasts the message unchanged to every connection, the sender too;
 * it sends nothing on connect or close.
 *
 * Two such clients, A and B, and a line client L share one worker (so
 * every record reaches them in one order).  Every byte A and B receive
 * must be one of the type-1 frames Go's server would have sent: no
 * welcome, no join/leave notices (a third Go client comes and goes), no
 * reply to an unregistered type.  L still sees "* N joined" lines.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lib/harness.h"
#include "tap.h"

/* "hello\n" as the Go chat client writes it. */
static const uint8_t go_hello[] = {
	0x01, 0x00, 0x00, 0x00,		/* type 1 (chat.ChatMessage) */
	0x06, 0x00, 0x00, 0x00,		/* length 6 */
	'h', 'e', 'l', 'l', 'o', '\n',
};
/* "still here\n", sent after a frame of a type Go's server lacks. */
static const uint8_t go_still[] = {
	0x01, 0x00, 0x00, 0x00,
	0x0b, 0x00, 0x00, 0x00,
	's', 't', 'i', 'l', 'l', ' ', 'h', 'e', 'r', 'e', '\n',
};
/* Type 7, 2 bytes: registered nowhere. */
static const uint8_t go_unknown[] = {
	0x07, 0x00, 0x00, 0x00,
	0x02, 0x00, 0x00, 0x00,
	'?', '?',
};
/* What a Go client gets for L's line "from nc": its text and newline. */
static const uint8_t go_from_line[] = {
	0x01, 0x00, 0x00, 0x00,
	0x08, 0x00, 0x00, 0x00,
	'f', 'r', 'o', 'm', ' ', 'n', 'c', '\n',
};

/* 1 if the next unread bytes of c are exactly want (consumed); else
 * prints what came instead. */
static int
next_bytes(struct th_client *c, const uint8_t *want, size_t n,
    const char *who)
{
	const uint8_t *got;

	if (!th_client_wait_bytes(c, n, th_ms(3000))) {
		diag("%s: %zu of %zu bytes", who, c->len - c->off, n);
		goto show;
	}
	got = c->buf + c->off;
	if (memcmp(got, want, n) == 0) {
		c->off += n;
		return 1;
	}
show:
	if (c->len - c->off >= 8) {
		got = c->buf + c->off;
		diag("%s: got a frame of type %d, length %u first", who,
		    (int)(got[0] | got[1] << 8 | got[2] << 16 |
		    (uint32_t)got[3] << 24), (unsigned)(got[4] | got[5] << 8 |
		    got[6] << 16 | (uint32_t)got[7] << 24));
	}
	return 0;
}

/* Read L's lines until one equals want: 1, or 0. */
static int
line_seen(struct th_client *l, const char *want)
{
	char line[256];
	uint64_t deadline = th_now_ms() + (uint64_t)th_ms(3000);

	while (th_now_ms() < deadline)
		if (th_client_next_line(l, line, sizeof(line),
		    (int)(deadline - th_now_ms())) == 1 &&
		    strcmp(line, want) == 0)
			return 1;
	diag("line client never saw \"%s\"", want);
	return 0;
}

/* Read L's lines until "* N joined" for an N other than L's own (kept
 * in l->netid); N, or 0. */
static uint64_t
joined(struct th_client *l)
{
	char line[256];
	unsigned long long n;

	while (th_client_next_line(l, line, sizeof(line), th_ms(3000)) ==
	    1)
		if (sscanf(line, "* %llu joined", &n) == 1 && n != l->netid)
			return n;
	return 0;
}

/* The room: Go clients A and B (TLV), a line client L. */
struct gochat {
	struct th_daemon *d;
	struct th_client a, b, l;
	uint64_t id_a, id_b;
};

/* L is welcomed as before; A and B join without a welcome. */
static void
gochat_join(struct gochat *g)
{
	char line[256];

	if (th_client_open(&g->l, g->d->port[1]) == -1)
		bail("line client: connect failed");
	ok(th_client_next_line(&g->l, line, sizeof(line), th_ms(3000)) ==
	    1 && sscanf(line, "* welcome, you are %" SCNu64, &g->l.netid) == 1,
	    "a line client is still welcomed");

	if (th_client_open(&g->a, g->d->port[0]) == -1 ||
	    th_client_open(&g->b, g->d->port[0]) == -1)
		bail("Go clients: connect failed");
	g->id_a = joined(&g->l);
	g->id_b = joined(&g->l);
	ok(g->id_a != 0 && g->id_b != 0 && g->id_a != g->id_b,
	    "the line client sees both Go clients join (%" PRIu64 ", %"
	    PRIu64 ")", g->id_a, g->id_b);
}

/* Messages both ways, in Go's framing. */
static void
gochat_messages(struct gochat *g)
{
	char want[64];

	if (th_client_write(&g->a, go_hello, sizeof(go_hello)) == -1)
		bail("A: write failed");
	ok(next_bytes(&g->a, go_hello, sizeof(go_hello), "A"),
	    "A's first bytes are its own message, as Go's broadcast sends it");
	ok(next_bytes(&g->b, go_hello, sizeof(go_hello), "B"),
	    "B's first bytes are A's message: no welcome, no join notices");
	snprintf(want, sizeof(want), "%" PRIu64 ": hello", g->id_a);
	ok(line_seen(&g->l, want), "the line client reads \"%s\"", want);

	if (th_client_write(&g->l, "from nc\n", 8) == -1)
		bail("L: write failed");
	ok(next_bytes(&g->a, go_from_line, sizeof(go_from_line), "A") &&
	    next_bytes(&g->b, go_from_line, sizeof(go_from_line), "B"),
	    "a line client's message reaches Go clients as type 1 text + \\n");
}

/* A third Go client comes and goes: the Go clients hear nothing of it. */
static void
gochat_come_and_go(struct gochat *g)
{
	struct th_client c;
	char want[64];
	uint64_t id_c;

	/* A third Go client comes and goes ("bye": conn.Close()). */
	if (th_client_open(&c, g->d->port[0]) == -1)
		bail("C: connect failed");
	id_c = joined(&g->l);
	th_client_close(&c);
	snprintf(want, sizeof(want), "* %" PRIu64 " left", id_c);
	ok(id_c != 0 && line_seen(&g->l, want),
	    "the line client sees C join and leave");

	if (th_client_write(&g->a, go_unknown, sizeof(go_unknown)) == -1 ||
	    th_client_write(&g->a, go_still, sizeof(go_still)) == -1)
		bail("A: write failed");
	ok(next_bytes(&g->a, go_still, sizeof(go_still), "A"),
	    "A: nothing for C's join/leave or the unregistered type, then "
	    "its message");
	ok(next_bytes(&g->b, go_still, sizeof(go_still), "B"),
	    "B: likewise");
	snprintf(want, sizeof(want), "%" PRIu64 ": still here", g->id_a);
	ok(line_seen(&g->l, want), "the line client reads \"%s\"", want);
}

int
main(void)
{
	struct gochat g;

	plan(14);
	th_init("t170-chat-go-compat", 60);
	if ((g.d = th_daemon_start("listen 127.0.0.1:0 tlv\n"
	    "listen 127.0.0.1:0 line\napp chat\nworkers 1\n")) == NULL)
		bail("taod did not start");
	gochat_join(&g);
	gochat_messages(&g);
	gochat_come_and_go(&g);

	/* Every record was queued before "still here" (one worker, one
	 * order); a short look for strays. */
	(void)th_clients_poll(&g.a, 1, 200);
	(void)th_clients_poll(&g.b, 1, 200);
	is_int((int)(g.a.len - g.a.off), 0, "A has received nothing else");
	is_int((int)(g.b.len - g.b.off), 0, "B has received nothing else");
	ok(!g.a.eof && !g.b.eof, "both Go clients are still connected");

	th_client_close(&g.a);
	th_client_close(&g.b);
	th_client_close(&g.l);
	is_int(th_daemon_stop_clean(g.d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
