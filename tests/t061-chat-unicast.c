/*
 * t061-chat-unicast - private messages across workers, to a closed netid,
 * and line and TLV clients talking to each other, chat app, 2 workers.
 *
 * A and B are TLV clients on different workers (told by their welcome
 * frames), L a line client on the worker A is not on.  A private message
 * (type 2 / "/to NETID text") must reach its target on the other worker
 * and nobody else; one to the netid of a client that has left must
 * reach nobody, and a line sender is told "* no such user".
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/chat.h"
#include "lib/harness.h"
#include "tap.h"

#define TRIES	32	/* clients opened at most to find one per worker */

/* Open a client on `port` whose worker is (want >= 0) or is not
 * (want < 0: not on ~want) the given slot. */
static int
open_on(struct th_client *c, int port, int line, int want)
{
	return th_chat_open_on(c, port, line, want, TRIES);
}

/* Wait for a TLV frame of `type` whose payload is netid + text. */
static int
expect_tlv(struct th_client *c, int32_t type, uint64_t from,
    const char *text, int timeout_ms)
{
	uint64_t deadline = th_now_ms() + (uint64_t)timeout_ms, now;
	struct th_frame f;
	size_t n = strlen(text);

	while ((now = th_now_ms()) < deadline) {
		if (th_client_expect(c, type, &f, (int)(deadline - now)) != 1)
			return 0;
		if (f.len == 8 + n && th_get_le64(f.data) == from &&
		    memcmp(f.data + 8, text, n) == 0)
			return 1;
	}
	return 0;
}

static int
expect_line(struct th_client *c, const char *want, int timeout_ms)
{
	uint64_t deadline = th_now_ms() + (uint64_t)timeout_ms, now;
	char line[512];

	while ((now = th_now_ms()) < deadline) {
		if (th_client_next_line(c, line, sizeof(line),
		    (int)(deadline - now)) != 1)
			return 0;
		if (strcmp(line, want) == 0)
			return 1;
	}
	return 0;
}

/* Count the private messages (type 2 frames, "(private)" lines) that
 * arrive within ms; everything else is dropped. */
static int
privates_within(struct th_client *c, int line, int ms)
{
	uint64_t deadline = th_now_ms() + (uint64_t)ms, now;
	struct th_frame f;
	char text[512];
	int n = 0, rc;

	while ((now = th_now_ms()) < deadline) {
		if (line) {
			rc = th_client_next_line(c, text, sizeof(text),
			    (int)(deadline - now));
			n += rc == 1 && strstr(text, "(private)") != NULL;
		} else {
			rc = th_client_next(c, &f, (int)(deadline - now));
			n += rc == 1 && f.type == 2;
		}
		if (rc == -1)
			break;
	}
	return n;
}

static int
send_private(struct th_client *c, uint64_t to, const char *text)
{
	uint8_t buf[256];
	size_t n = strlen(text);

	th_put_le64(buf, to);
	memcpy(buf + 8, text, n);
	return th_client_send(c, 2, buf, 8 + n);
}

static int
send_line(struct th_client *c, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	buf[n++] = '\n';
	return th_client_write(c, buf, (size_t)n);
}

/* Wait until `conns --json` has no row for netid. */
static int
row_gone(struct th_daemon *d, uint64_t netid, int timeout_ms)
{
	double deadline = th_now_ms() + timeout_ms;
	struct th_conn_info ci[64];
	int n, found;

	do {
		if ((n = th_conns(d, ci, 64)) >= 0) {
			found = 0;
			for (int i = 0; i < n; i++)
				found |= (uint64_t)ci[i].netid == netid;
			if (!found)
				return 1;
		}
		th_sleep_ms(20);
	} while (th_now_ms() < deadline);
	return 0;
}

/* The room: A and B (TLV) on different workers, L (line). */
struct room {
	struct th_daemon *d;
	struct th_client a, b, l;
	int ms, quiet;
};

/* Private messages: TLV to TLV across workers, and line <-> TLV. */
static void
test_privates(struct room *r)
{
	char want[256];

	/* Cross-worker private messages, TLV to TLV, both ways. */
	send_private(&r->a, r->b.netid, "psst from A");
	ok(expect_tlv(&r->b, 2, r->a.netid, "psst from A", r->ms),
	    "B (other worker) gets A's private message as type 2");
	send_private(&r->b, r->a.netid, "psst from B");
	ok(expect_tlv(&r->a, 2, r->b.netid, "psst from B", r->ms),
	    "A gets B's private message back");
	is_int(privates_within(&r->l, 1, r->quiet), 0,
	    "the line client saw neither private message");

	/* Line <-> TLV private messages across workers. */
	send_line(&r->l, "/to %" PRIu64 " hi from the line", r->a.netid);
	ok(expect_tlv(&r->a, 2, r->l.netid, "hi from the line", r->ms),
	    "TLV client gets a line client's /to as type 2");
	send_private(&r->a, r->l.netid, "hi line");
	snprintf(want, sizeof(want), "%" PRIu64 " (private): hi line",
	    r->a.netid);
	ok(expect_line(&r->l, want, r->ms), "line client gets '%s'", want);
	is_int(privates_within(&r->b, 0, r->quiet), 0,
	    "B saw none of the private messages between A and L");
}

/* Broadcasts between line and TLV clients. */
static void
test_broadcasts(struct room *r)
{
	char want[256];

	send_line(&r->l, "hello from the line");
	ok(expect_tlv(&r->a, 1, r->l.netid, "hello from the line", r->ms),
	    "A gets the line client's message as type 1");
	ok(expect_tlv(&r->b, 1, r->l.netid, "hello from the line", r->ms),
	    "B gets the line client's message as type 1");
	th_client_send(&r->b, 1, "hello from B", 12);
	snprintf(want, sizeof(want), "%" PRIu64 ": hello from B",
	    r->b.netid);
	ok(expect_line(&r->l, want, r->ms), "line client gets '%s'", want);
	ok(expect_tlv(&r->a, 1, r->b.netid, "hello from B", r->ms),
	    "A gets B's broadcast too");
}

/* A client that has left: nothing reaches anyone. */
static void
test_left(struct room *r)
{
	struct th_client c;
	uint64_t gone;
	int ms = r->ms, quiet = r->quiet;

	if (open_on(&c, r->d->port[0], 0, ~r->a.tag) == -1)
		bail("could not open C");
	gone = c.netid;
	ok(expect_tlv(&r->a, 4, gone, "joined", ms), "A sees C join");
	th_client_close(&c);
	ok(expect_tlv(&r->a, 4, gone, "left", ms), "A sees C leave");
	ok(row_gone(r->d, gone, ms), "C's row left the connection table");
	send_private(&r->a, gone, "to nobody");
	send_line(&r->l, "/to %" PRIu64 " to nobody either", gone);
	ok(expect_line(&r->l, "* no such user", ms),
	    "line client is told '* no such user' for the closed netid");
	send_line(&r->l, "/to 999999999 to nobody at all");
	ok(expect_line(&r->l, "* no such user", ms),
	    "and for a netid never given out");
	is_int(privates_within(&r->a, 0, quiet) +
	    privates_within(&r->b, 0, quiet), 0,
	    "no private message reached A or B");
	is_int(privates_within(&r->l, 1, quiet), 0,
	    "no private message reached the line client");
	/* The room still works after the failed unicasts. */
	send_private(&r->b, r->a.netid, "still here");
	ok(expect_tlv(&r->a, 2, r->b.netid, "still here", ms),
	    "private messages still flow afterwards");
}

int
main(void)
{
	struct room r = { .ms = th_ms(3000), .quiet = 300 };

	plan(20);
	th_init("t061-chat-unicast", 60);
	if ((r.d = th_daemon_start("listen 127.0.0.1:0 tlv\n"
	    "listen 127.0.0.1:0 line\napp chat notices\nworkers 2\n")) == NULL)
		bail("taod did not start");
	if (r.d->nports != 2)
		bail("taod did not log two ports");

	if (open_on(&r.a, r.d->port[0], 0, 0) == -1 ||
	    open_on(&r.b, r.d->port[0], 0, 1) == -1 ||
	    open_on(&r.l, r.d->port[1], 1, 1) == -1)
		bail("could not place clients on both workers");
	diag("A netid %" PRIu64 " worker %d, B %" PRIu64 " worker %d, "
	    "L (line) %" PRIu64 " worker %d", r.a.netid, r.a.tag, r.b.netid,
	    r.b.tag, r.l.netid, r.l.tag);
	ok(r.a.tag != r.b.tag, "A and B are on different workers");
	test_privates(&r);
	test_broadcasts(&r);
	test_left(&r);

	th_client_close(&r.a);
	th_client_close(&r.b);
	th_client_close(&r.l);
	is_int(th_daemon_stop_clean(r.d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
