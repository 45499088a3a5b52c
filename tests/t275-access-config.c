/*
 * t275-access-config: the access directives in taod.conf(5).  `taod -t`
 * refuses each mistake with FILE:LINE: and what is wrong; a good file
 * passes; taoctl config prints them back.  Reload: new rules apply to
 * new connections, connections open before the reload are handed over
 * with their PROXY peer (tao_conn_peer, taoctl conns) and their
 * per-address unit, not judged again; a reload with a bad rule is
 * refused with the error and the running rules stay.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "tap.h"
#include "lib/harness.h"
#include "lib/proxyhdr.h"

static const struct bad {
	const char	*text;
	int		 line;
	const char	*what;
} bad[] = {
	{ "allow 10.0.0.0/8\nlisten 127.0.0.1:0 tlv\n", 1,
	    "allow: no listen line above it" },
	{ "listen 127.0.0.1:0 tlv\ndeny 10.0.0.1/8\n", 2,
	    "deny: '10.0.0.1/8': address has bits set beyond the prefix" },
	{ "listen 127.0.0.1:0 tlv\nallow 300.0.0.0/8\n", 2,
	    "not an IP address" },
	{ "listen 127.0.0.1:0 tlv\nallow 10.0.0.0/33\n", 2,
	    "prefix length must be 0..32" },
	{ "listen 127.0.0.1:0 tlv\nallow 2001:db8::/129\n", 2,
	    "prefix length must be 0..128" },
	{ "listen 127.0.0.1:0 tlv\nallow\n", 2, "allow takes 1 argument" },
	{ "max_connections_per_ip -1\n", 1, "max_connections_per_ip: want a "
	    "number from 0" },
	{ "max_connections_per_ip 2000000\n", 1, "max_connections_per_ip" },
	{ "listen 127.0.0.1:0 tlv proxyy\n", 1, "unknown codec 'proxyy'" },
	{ "listen 127.0.0.1:0 tlv proxy tls extra\n", 1, "listen takes" },
};

static struct th_daemon *d;

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) == EOF)
		bail("cannot write a config file");
}

static int
check_file(const char *text, char *out, size_t outlen, char *path,
    size_t pathlen, int i)
{
	const char *argv[] = { th_bin("taod"), "-t", "-c", path, NULL };

	snprintf(path, pathlen, "%s/c%d.conf", th_dir(), i);
	write_file(path, text);
	return th_run(out, outlen, th_ms(5000), argv);
}

static void
errors(void)
{
	char out[4096], path[256], want[300], many[8192];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = check_file(bad[i].text, out, sizeof(out), path,
		    sizeof(path), (int)i);
		snprintf(want, sizeof(want), "%s:%d: ", path, bad[i].line);
		ok(rc == 1 && strstr(out, want) != NULL &&
		    strstr(out, bad[i].what) != NULL, "taod -t: %s%s",
		    want, bad[i].what);
		if (rc != 1 || strstr(out, bad[i].what) == NULL)
			diag("rc %d: %s", rc, out);
	}
	n = (size_t)snprintf(many, sizeof(many), "listen 127.0.0.1:0 tlv\n");
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n,
		    "deny 10.0.%d.0/24\n", i);
	ok(check_file(many, out, sizeof(out), path, sizeof(path), 99) == 1 &&
	    strstr(out, ":66: deny: at most 64") != NULL, "65 rules: refused "
	    "at line 66");
	ok(check_file("listen 127.0.0.1:0 tlv proxy\nallow 10.0.0.0/8\n"
	    "allow ::ffff:10.0.0.0/104\ndeny all\nmax_connections_per_ip 3\n",
	    out, sizeof(out), path, sizeof(path), 100) == 0,
	    "a good file passes taod -t (%s)", out);
}

/* A proxied client of src: fd served (peer checked) or -1 refused. */
static int
client(const char *src, int port)
{
	char h[128], peer[64], want[64];
	size_t n = th_proxy_v1(h, sizeof(h), "TCP4", src, "10.0.0.1", 4321,
	    7000);
	int fd = th_connect(port);

	snprintf(want, sizeof(want), "%s:4321", src);
	if (fd >= 0 && th_write_all(fd, h, n) == 0 &&
	    th_ask_peer(fd, peer, sizeof(peer)) == 0 &&
	    strcmp(peer, want) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

static const char conf1[] = "workers 2\nlisten 127.0.0.1:0 tlv proxy\n"
    "allow all\nmax_connections_per_ip 1\n";
static const char conf2[] = "workers 2\nlisten 127.0.0.1:0 tlv proxy\n"
    "deny 192.0.2.0/24\nmax_connections_per_ip 1\n";

static void
reload(void)
{
	char out[65536], peer[64];
	int a, b;

	a = client("192.0.2.1", d->port[0]);
	b = client("198.51.100.1", d->port[0]);
	ok(a >= 0 && b >= 0, "before the reload: both served");
	ok(client("198.51.100.1", d->port[0]) == -1, "  limit 1: a second "
	    "from 198.51.100.1 refused");
	ok(th_daemon_config(d, conf2) == 0 && th_ctl(d, out, sizeof(out),
	    "reload", NULL) == 0, "reload adding deny 192.0.2.0/24");
	/* Until the old generation has handed everything over and gone. */
	struct th_status st;
	int gone = 0;
	for (int i = 0; i < 300 && !gone; i++, th_sleep_ms(20))
		gone = th_status(d, &st) == 0 && st.nslots == 2 &&
		    st.slot[0].generation == 2 && st.slot[1].generation == 2;
	ok(gone, "  the old generation handed its connections over and left");
	ok(client("192.0.2.2", d->port[0]) == -1, "  new 192.0.2.2: denied");
	ok(th_ask_peer(a, peer, sizeof(peer)) == 0 &&
	    strcmp(peer, "192.0.2.1:4321") == 0, "  192.0.2.1 from before is "
	    "kept, with its PROXY peer (%s)", peer);
	ok(th_ctl(d, out, sizeof(out), "conns", "--json", NULL) == 0 &&
	    strstr(out, "\"peer\":\"192.0.2.1:4321\"") != NULL &&
	    strstr(out, "\"peer\":\"198.51.100.1:4321\"") != NULL,
	    "  taoctl conns shows both proxied peers after the hand-over");
	ok(client("198.51.100.1", d->port[0]) == -1, "  198.51.100.1 still "
	    "holds its unit: a second is refused");
	close(b);
	int again = -1;
	for (int i = 0; i < 100 && again < 0; i++, th_sleep_ms(10))
		again = client("198.51.100.1", d->port[0]);
	ok(again >= 0, "  its unit came back when it closed");
	write_file(d->conf, "workers 2\nlisten 127.0.0.1:0 tlv proxy\n"
	    "deny 192.0.2.0/33\n");
	ok(th_ctl(d, out, sizeof(out), "reload", NULL) != 0 &&
	    strstr(out, ":3: deny: '192.0.2.0/33'") != NULL,
	    "a reload with a bad rule is refused: %.60s", out);
	ok(client("192.0.2.3", d->port[0]) == -1, "  the running rules stay");
	close(a);
	if (again >= 0)
		close(again);
}

int
main(void)
{
	char out[65536];

	plan(26);
	th_init("t275-access-config", 90);
	errors();
	if ((d = th_daemon_fork(conf1, th_peer_server, NULL)) == NULL)
		bail("server did not start");
	ok(th_ctl(d, out, sizeof(out), "config", NULL) == 0 &&
	    strstr(out, " tlv proxy\nallow all\n") != NULL &&
	    strstr(out, "max_connections_per_ip 1\n") != NULL,
	    "taoctl config prints proxy, the rules and the limit");
	ok(th_ctl(d, out, sizeof(out), "config", "--json", NULL) == 0 &&
	    strstr(out, "\"proxy\":true,\"rules\":[\"allow all\"]") != NULL,
	    "  and in JSON");
	reload();
	ok(th_daemon_stop_clean(d) == 0, "server stops cleanly");
	return th_exit(done_testing());
}
