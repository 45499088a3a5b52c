/*
 * t171-pingpong-go-compat - `app pingpong` answers Go Tao's pingpong
 * example client as its own server does, byte for byte.
 *
 * From leesper/tao v1.6 examples/pingpong: the client registers
 * pingpong.PingPontMessage = 1 and writes Message{Info: "ping"} in a
 * loop, one per answer; the server's ProcessPingPongMessage writes back
 * Message{Info: "pong"}.  TypeLengthValueCodec: int32 LE type, int32 LE
 * length, bytes.  A type the Go server did not register is dropped and
 * the connection stays.
 */
#include <string.h>

#include "lib/itest.h"
#include "tap.h"

static const uint8_t go_ping[] = {
	0x01, 0x00, 0x00, 0x00,		/* type 1 */
	0x04, 0x00, 0x00, 0x00,		/* length 4 */
	'p', 'i', 'n', 'g',
};
static const uint8_t go_pong[] = {
	0x01, 0x00, 0x00, 0x00,
	0x04, 0x00, 0x00, 0x00,
	'p', 'o', 'n', 'g',
};
static const uint8_t go_unknown[] = {
	0x05, 0x00, 0x00, 0x00,		/* type 5: registered nowhere */
	0x03, 0x00, 0x00, 0x00,
	'a', 'b', 'c',
};

/* 1 if the next bytes on c are exactly want (consumed), else 0. */
static int
next_bytes(struct itest_conn *c, const uint8_t *want, size_t n)
{
	uint64_t deadline = itest_now_ms() + (uint64_t)itest_ms(3000);

	while (c->len - c->off < n) {
		if (c->eof || itest_now_ms() >= deadline)
			return 0;
		(void)itest_conns_poll(c, 1, 50);
	}
	if (memcmp(c->buf + c->off, want, n) != 0)
		return 0;
	c->off += n;
	return 1;
}

int
main(void)
{
	struct itest_taod d;
	struct itest_conn c;
	int pongs = 0;

	plan(5);
	itest_watchdog(30);
	if (itest_taod_start(&d, "listen 127.0.0.1:0 tlv\napp pingpong\n"
	    "workers 1\n") == -1)
		bail("taod did not start");
	if (itest_conn_open(&c, d.ports[0]) == -1)
		bail("connect failed");

	for (int i = 0; i < 5; i++)
		if (itest_conn_write(&c, go_ping, sizeof(go_ping)) == 0 &&
		    next_bytes(&c, go_pong, sizeof(go_pong)))
			pongs++;
	is_int(pongs, 5, "each ping is answered with exactly a type-1 pong");

	if (itest_conn_write(&c, go_unknown, sizeof(go_unknown)) == -1 ||
	    itest_conn_write(&c, go_ping, sizeof(go_ping)) == -1)
		bail("write failed");
	ok(next_bytes(&c, go_pong, sizeof(go_pong)),
	    "an unregistered type gets no answer; the next ping its pong");
	(void)itest_conns_poll(&c, 1, 200);
	is_int((int)(c.len - c.off), 0, "nothing else arrived");
	ok(!c.eof, "the connection is still open");

	itest_conn_close(&c);
	is_int(itest_taod_stop(&d), 0, "taod stops cleanly");
	return done_testing();
}
