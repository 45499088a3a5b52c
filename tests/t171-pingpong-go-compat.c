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

#include "lib/harness.h"
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
next_bytes(struct th_client *c, const uint8_t *want, size_t n)
{
	if (!th_client_wait_bytes(c, n, th_ms(3000)))
		return 0;
	if (memcmp(c->buf + c->off, want, n) != 0)
		return 0;
	c->off += n;
	return 1;
}

int
main(void)
{
	struct th_daemon *d;
	struct th_client c;
	int pongs = 0;

	plan(5);
	th_init("t171-pingpong-go-compat", 30);
	if ((d = th_daemon_start("listen 127.0.0.1:0 tlv\napp pingpong\n"
	    "workers 1\n")) == NULL)
		bail("taod did not start");
	if (th_client_open(&c, d->port[0]) == -1)
		bail("connect failed");

	for (int i = 0; i < 5; i++)
		if (th_client_write(&c, go_ping, sizeof(go_ping)) == 0 &&
		    next_bytes(&c, go_pong, sizeof(go_pong)))
			pongs++;
	is_int(pongs, 5, "each ping is answered with exactly a type-1 pong");

	if (th_client_write(&c, go_unknown, sizeof(go_unknown)) == -1 ||
	    th_client_write(&c, go_ping, sizeof(go_ping)) == -1)
		bail("write failed");
	ok(next_bytes(&c, go_pong, sizeof(go_pong)),
	    "an unregistered type gets no answer; the next ping its pong");
	(void)th_clients_poll(&c, 1, 200);
	is_int((int)(c.len - c.off), 0, "nothing else arrived");
	ok(!c.eof, "the connection is still open");

	th_client_close(&c);
	is_int(th_daemon_stop_clean(d), 0, "taod stops cleanly");
	return th_exit(done_testing());
}
