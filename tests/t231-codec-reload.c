/*
 * t231-codec-reload - issue 16: a reload may switch a listener between a
 * built-in codec and one the program registered, both ways, and a bad
 * codec name in the new config fails the reload with FILE:LINE and
 * changes nothing.  A connection of the program's codec is not handed
 * to the new generation (tao.h): it is served to the end of its current
 * exchange and closed by the old worker.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "examples/codec/varint.h"
#include "tests/lib/harness.h"
#include "tests/tap.h"

static void
echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)arg;
	tao_conn_send(c, m->type, m->data, m->len);
}

static int
run(const char *conf, void *arg)
{
	struct tao_server *s = tao_server_new();

	(void)arg;
	if (s == NULL || tao_server_codec(s, "varint", &tao_varint_codec) < 0 ||
	    tao_server_config(s, conf) < 0 ||
	    tao_server_on_message(s, echo, NULL) < 0)
		return 1;
	return tao_server_run(s) < 0;
}

static int
varint_echoes(int port)
{
	uint8_t msg[] = { 5, 'h', 'e', 'l', 'l', 'o' }, back[sizeof(msg)];
	int fd = th_connect(port), rc = 0;

	if (fd == -1)
		return 0;
	if (th_write_all(fd, msg, sizeof(msg)) == 0 &&
	    th_read_exact(fd, back, sizeof(back), th_ms(2000)) == 0)
		rc = memcmp(msg, back, sizeof(msg)) == 0;
	close(fd);
	return rc;
}

static int
tlv_echoes(int port)
{
	return th_tlv_echoes(port, 3, 20, 1);
}

static int
reload(struct th_daemon *d, const char *conf, char *out, size_t len)
{
	if (th_daemon_config(d, conf) == -1)
		bail("config");
	return th_ctl(d, out, len, "reload", NULL);
}

int
main(void)
{
	struct th_daemon *d;
	char out[2048], want[400];
	int port, old;

	th_init("t231-codec-reload", 120);
	d = th_daemon_fork("workers 1\nlisten 127.0.0.1:0 tlv\n", run, NULL);
	if (d == NULL)
		bail("server did not start");
	port = d->port[0];
	ok(tlv_echoes(port) && !varint_echoes(port), "A: the listener speaks "
	    "tlv");

	is_int(reload(d, "workers 1\nlisten 127.0.0.1:0 varint\n", out,
	    sizeof(out)), 0, "reload tlv -> varint: %.*s",
	    (int)strcspn(out, "\n"), out);
	ok(varint_echoes(port), "B: the same port speaks varint");
	ok(th_ctl(d, out, sizeof(out), "config", NULL) == 0 &&
	    strstr(out, "varint") != NULL, "taoctl config names varint");

	/* A varint connection across the next reload. */
	if ((old = th_connect(port)) == -1)
		bail("connect");
	{
		uint8_t msg[] = { 2, 'h', 'i' }, back[3];
		ok(th_write_all(old, msg, 3) == 0 && th_read_exact(old, back,
		    3, th_ms(2000)) == 0, "a varint client is served");
	}
	is_int(reload(d, "workers 1\n\nlisten 127.0.0.1:0 nosuch\n", out,
	    sizeof(out)), 1, "a reload naming an unknown codec fails");
	snprintf(want, sizeof(want), "%s:3: listen: unknown codec 'nosuch'",
	    d->conf);
	ok(strstr(out, want) != NULL, "... with FILE:LINE (%.*s)",
	    (int)strcspn(out, "\n"), out);
	ok(varint_echoes(port), "... and the listener still speaks varint");

	is_int(reload(d, "workers 1\nlisten 127.0.0.1:0 tlv\n", out,
	    sizeof(out)), 0, "reload varint -> tlv");
	ok(tlv_echoes(port), "C: the port speaks tlv again");
	ok(th_wait_closed(old, th_ms(5000)) == 0, "the varint client is "
	    "closed by its old worker, not handed over");
	close(old);
	is_int(th_daemon_stop_clean(d), 0, "stops cleanly");
	return th_exit(done_testing());
}
