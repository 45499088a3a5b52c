/*
 * t230-codec-custom - issue 16, custom codecs: the example varint codec
 * (examples/codec/varint.c) as a pure function, tao_server_codec's
 * contract, and a server and a client speaking it over real sockets.
 *
 *  1. varint: every length encodes and decodes back; every prefix of a
 *     frame is AGAIN, knowing the total once the header is in; a length
 *     over max_frame is refused from its header alone; an 11-byte varint
 *     is garbage.
 *  2. tao_server_codec: bad names, built-in names, NULL functions,
 *     duplicates and the 17th codec are refused.
 *  3. A server whose config names `varint` before the codec is
 *     registered echoes varint frames; tao_conn_codec names it; a tao
 *     client with opts.codec = varint talks to it; a header announcing
 *     more than max_frame closes the connection.
 *  4. taod -t with an unknown codec fails with FILE:LINE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "examples/codec/varint.h"
#include "tests/lib/harness.h"
#include "tests/tap.h"

static int
decode(const uint8_t *buf, size_t len, size_t max, struct tao_frame *f,
    size_t *used)
{
	uint64_t state = 0;
	int rc = tao_varint_codec.decode(buf, len, max, &state, f, used);

	if (state != 0)
		rc = -100;	/* the codec keeps no state */
	return rc;
}

static void
unit_varint(void)
{
	static const size_t lens[] = { 0, 1, 127, 128, 300, 16383, 16384,
	    70000 };
	uint8_t *buf = malloc(70000 + 16);
	int bad = 0, prefix_bad = 0;

	if (buf == NULL)
		bail("malloc");
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t tail[TAO_CODEC_MAX_TAIL];
		size_t hl, tl, used;
		struct tao_frame f;

		tao_varint_codec.encode(9, lens[i], buf, &hl, tail, &tl);
		th_fill(buf + hl, lens[i], (uint32_t)i);
		if (tl != 0 || hl > TAO_CODEC_MAX_HEAD ||
		    decode(buf, hl + lens[i], 1 << 20, &f, &used) !=
		    TAO_DECODE_OK || used != hl + lens[i] || f.len != lens[i]
		    || f.payload != buf + hl || f.type != TAO_VARINT_TYPE)
			bad++;
		for (size_t n = 1; n < hl + lens[i]; n += n < 400 ? 1 : 997) {
			int rc = decode(buf, n, 1 << 20, &f, &used);
			if (rc != TAO_DECODE_AGAIN ||
			    used != (n < hl ? 0 : hl + lens[i]))
				prefix_bad++;
		}
	}
	is_int(bad, 0, "varint: lengths 0..70000 encode and decode back");
	is_int(prefix_bad, 0, "varint: every prefix is AGAIN, with the total "
	    "once the header is in");
	{
		uint8_t hdr[10];
		size_t hl = tao_varint_put(hdr, 1000), used;
		struct tao_frame f;
		ok(hl == 2 && decode(hdr, hl, 999, &f, &used) ==
		    TAO_DECODE_ERROR, "a length over max_frame is refused "
		    "from its header alone");
		ok(decode(hdr, 1, 100, &f, &used) == TAO_DECODE_ERROR,
		    "... and from its first byte when that already says so");
	}
	{
		uint8_t eleven[11];
		size_t used;
		struct tao_frame f;
		memset(eleven, 0x80, sizeof(eleven));
		ok(decode(eleven, sizeof(eleven), SIZE_MAX, &f, &used) ==
		    TAO_DECODE_ERROR, "an 11-byte varint is garbage");
	}
	free(buf);
}

static void
unit_register(void)
{
	struct tao_server *s = tao_server_new();
	struct tao_codec nodecode = tao_varint_codec;
	char name[16];
	int rc = 0;

	nodecode.decode = NULL;
	is_int(tao_server_codec(s, "", &tao_varint_codec), TAO_EINVAL,
	    "an empty name is refused");
	is_int(tao_server_codec(s, "Var int", &tao_varint_codec), TAO_EINVAL,
	    "a name with upper case or a space is refused");
	is_int(tao_server_codec(s, "tlv", &tao_varint_codec), TAO_EINVAL,
	    "a built-in codec's name is refused");
	is_int(tao_server_codec(s, "tls", &tao_varint_codec), TAO_EINVAL,
	    "tls is refused (a listen option)");
	is_int(tao_server_codec(s, "x", &nodecode), TAO_EINVAL,
	    "a codec without decode is refused");
	is_int(tao_server_codec(NULL, "x", &tao_varint_codec), TAO_EINVAL,
	    "a NULL server is refused");
	is_int(tao_server_codec(s, "varint", &tao_varint_codec), 0,
	    "varint registers");
	is_int(tao_server_codec(s, "varint", &tao_varint_codec), TAO_EEXIST,
	    "a second varint is TAO_EEXIST");
	for (int i = 1; i < 16 && rc == 0; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		rc = tao_server_codec(s, name, &tao_varint_codec);
	}
	is_int(rc, 0, "16 codecs register");
	is_int(tao_server_codec(s, "c99", &tao_varint_codec), TAO_ENOMEM,
	    "the 17th is TAO_ENOMEM");
	tao_server_free(s);
}

/* ---- the server ------------------------------------------------------- */

static void
echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	const char *name = tao_conn_codec(c)->name;

	(void)arg;
	if (m->len == 6 && memcmp(m->data, "codec?", 6) == 0)
		tao_conn_send(c, m->type, name, strlen(name));
	else
		tao_conn_send(c, m->type, m->data, m->len);
}

static int
run(const char *conf, void *arg)
{
	struct tao_server *s = tao_server_new();

	(void)arg;
	/* The config first: names resolve when the server starts. */
	if (s == NULL || tao_server_config(s, conf) < 0 ||
	    tao_server_codec(s, "varint", &tao_varint_codec) < 0 ||
	    tao_server_on_message(s, echo, NULL) < 0)
		return 1;
	return tao_server_run(s) < 0;
}

static int
varint_send(int fd, const void *p, size_t n)
{
	uint8_t hdr[TAO_VARINT_MAX_BYTES];
	size_t hl = tao_varint_put(hdr, n);

	return th_write_all(fd, hdr, hl) == 0 && th_write_all(fd, p, n) == 0
	    ? 0 : -1;
}

/* One varint frame back into buf; its length, or -1. */
static long
varint_recv(int fd, uint8_t *buf, size_t cap)
{
	uint8_t hdr[TAO_VARINT_MAX_BYTES];
	uint64_t len;
	int hl = 0;

	for (size_t i = 0; i < sizeof(hdr) && hl == 0; i++) {
		if (th_read_exact(fd, hdr + i, 1, th_ms(3000)) != 0)
			return -1;
		hl = tao_varint_get(hdr, i + 1, &len);
	}
	if (hl <= 0 || len > cap || th_read_exact(fd, buf, (size_t)len,
	    th_ms(3000)) != 0)
		return -1;
	return (long)len;
}

struct client_state {
	int	got;
	char	reply[64];
	size_t	len;
};

static void
client_on_msg(struct tao_client *cl, const struct tao_message *m, void *arg)
{
	struct client_state *st = arg;

	(void)cl;
	st->len = m->len < sizeof(st->reply) ? m->len : sizeof(st->reply);
	memcpy(st->reply, m->data, st->len);
	st->got = 1;
	tao_loop_stop(tao_client_loop(cl));
}

static void
client_side(int port)
{
	struct tao_loop *loop = tao_loop_new();
	struct tao_client_opts o = { .loop = loop, .codec = &tao_varint_codec };
	struct client_state st = { 0 };
	struct tao_client *cl;
	char addr[32];
	double end = th_now_ms() + th_ms(5000);

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	if (loop == NULL || (cl = tao_client_connect(addr, &o)) == NULL)
		bail("tao_client_connect");
	tao_client_on_message(cl, client_on_msg, &st);
	tao_client_send(cl, 5, "from a tao client", 17);
	while (!st.got && th_now_ms() < end)
		tao_loop_run_once(loop, 50);
	ok(st.got && st.len == 17 && memcmp(st.reply, "from a tao client", 17)
	    == 0, "a tao client with opts.codec = varint gets its echo");
	tao_client_free(cl);
	tao_loop_free(loop);
}

static void
server_side(void)
{
	struct th_daemon *d;
	uint8_t buf[70000], back[70000];
	long n;
	int fd;

	d = th_daemon_fork("workers 1\nlisten 127.0.0.1:0 varint\n", run,
	    NULL);
	if (d == NULL)
		bail("the varint server did not start");
	if ((fd = th_connect(d->port[0])) == -1)
		bail("connect");
	th_fill(buf, sizeof(buf), 7);
	ok(varint_send(fd, buf, 300) == 0 && (n = varint_recv(fd, back,
	    sizeof(back))) == 300 && memcmp(buf, back, 300) == 0,
	    "a 300-byte varint frame comes back");
	ok(varint_send(fd, buf, sizeof(buf)) == 0 && (n = varint_recv(fd,
	    back, sizeof(back))) == (long)sizeof(buf) &&
	    memcmp(buf, back, sizeof(buf)) == 0,
	    "a 70000-byte one (3-byte header, several reads) too");
	ok(varint_send(fd, "", 0) == 0 && varint_recv(fd, back,
	    sizeof(back)) == 0, "an empty one too");
	ok(varint_send(fd, "codec?", 6) == 0 && (n = varint_recv(fd, back,
	    sizeof(back))) == 6 && memcmp(back, "varint", 6) == 0,
	    "tao_conn_codec(c)->name is the registered name");
	close(fd);
	client_side(d->port[0]);
	if ((fd = th_connect(d->port[0])) == -1)
		bail("connect");
	{
		uint8_t hdr[10];
		size_t hl = tao_varint_put(hdr, (9u << 20));
		ok(th_write_all(fd, hdr, hl) == 0 &&
		    th_wait_closed(fd, th_ms(3000)) == 0,
		    "a header announcing 9 MiB (over max_frame) closes");
	}
	close(fd);
	is_int(th_daemon_stop_clean(d), 0, "the server stops cleanly");
}

static void
unknown_name(void)
{
	const char *argv[] = { th_bin("taod"), "-t", "-c", NULL, NULL };
	char path[300], out[2048], want[400];
	FILE *fp;
	int rc;

	snprintf(path, sizeof(path), "%s/bad.conf", th_dir());
	if ((fp = fopen(path, "w")) == NULL)
		bail("fopen");
	fputs("workers 1\nlisten 127.0.0.1:0 nosuch\n", fp);
	fclose(fp);
	argv[3] = path;
	rc = th_run(out, sizeof(out), th_ms(10000), argv);
	snprintf(want, sizeof(want), "%s:2: listen: unknown codec 'nosuch'",
	    path);
	ok(rc == 1 && strstr(out, want) != NULL, "taod -t: an unknown codec "
	    "is a FILE:LINE error (exit %d: %.*s)", rc,
	    (int)strcspn(out, "\n"), out);
}

int
main(void)
{
	th_init("t230-codec-custom", 120);
	unit_varint();
	unit_register();
	server_side();
	unknown_name();
	return th_exit(done_testing());
}
