/*
 * t287-upgrade-proxy-peer - issue 15: a connection accepted on a
 * `listen ... proxy` listener keeps the client address of its PROXY
 * header when a binary upgrade hands it to the new master's workers
 * (the whole CONN record, cm_peer included, crosses the masters'
 * channel).  taod (echo, 2 workers): one v1 TCP4 and one v2 TCP6
 * connection, each echoing; after `taoctl upgrade` both still echo on the
 * same sockets, taoctl conns shows each under the same netid, now in a
 * worker of the new master, with the header's client address, never
 * 127.0.0.1; a new proxied connection gets its header's address too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/proxyhdr.h"
#include "tests/tap.h"

#define V4PEER	"192.0.2.44:5555"
#define V6PEER	"[2001:db8::77]:6066"

static struct th_daemon *d;

/* The conns --json row whose peer is want: its netid and pid (the
 * netid, or -1 if there is no such row). */
static long long
row_of(const char *want, pid_t *pid)
{
	char out[65536], needle[128];
	const char *row, *at;

	snprintf(needle, sizeof(needle), "\"peer\":\"%s\"", want);
	if (th_ctl(d, out, sizeof(out), "conns", "--json", NULL) != 0 ||
	    (at = strstr(out, needle)) == NULL)
		return -1;
	for (row = at; row > out && *row != '{'; row--)
		;
	if ((at = strstr(row, "\"pid\":")) != NULL)
		*pid = (pid_t)atol(at + 6);
	return (at = strstr(row, "\"netid\":")) != NULL ? atoll(at + 8) : -1;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* A connection with the header, echoing once. */
static int
proxied(const void *hdr, size_t len, const char *what)
{
	int fd = th_connect(d->port[0]);

	if (fd == -1 || th_write_all(fd, hdr, len) != 0 ||
	    th_echo_once(fd, 7, 32, th_rand()) != 0)
		bail("%s: no echo through the PROXY listener", what);
	return fd;
}

static void
crossed(int fd, const char *peer, long long netid, pid_t oldpid)
{
	pid_t pid = 0;
	long long id;

	ok(th_echo_once(fd, 7, 64, th_rand()) == 0, "%s: still echoes after "
	    "the upgrade", peer);
	id = row_of(peer, &pid);
	ok(id == netid && pid > 0 && pid != oldpid, "  taoctl conns: %s, "
	    "netid %lld -> %lld, worker pid %ld -> %ld", peer, netid, id,
	    (long)oldpid, (long)pid);
}

int
main(void)
{
	uint8_t h2[256];
	char h1[256], bin[300], out[4096] = "", conns[65536];
	long long id4, id6;
	pid_t pid4 = 0, pid6 = 0;
	size_t n1, n2;
	int fd4, fd6, fd;

	th_init("t287-upgrade-proxy-peer", 60);
	snprintf(bin, sizeof(bin), "%s/taod-bin", th_dir());
	if (th_copy_file(th_bin("taod"), bin, 0755) == -1)
		bail("cannot copy taod");
	if ((d = th_daemon_start_bin(bin, "listen 127.0.0.1:0 tlv proxy\n"
	    "app echo\nworkers 2\n")) == NULL)
		bail("taod did not start");
	n1 = th_proxy_v1(h1, sizeof(h1), "TCP4", "192.0.2.44", "10.0.0.1",
	    5555, 7000);
	n2 = th_proxy_v2(h2, sizeof(h2), 0, 6, "2001:db8::77", "2001:db8::1",
	    6066, 7000, NULL, 0);
	fd4 = proxied(h1, n1, "v1 TCP4");
	fd6 = proxied(h2, n2, "v2 TCP6");
	id4 = row_of(V4PEER, &pid4);
	id6 = row_of(V6PEER, &pid6);
	ok(id4 > 0 && id6 > 0, "before: conns shows %s (netid %lld) and %s "
	    "(netid %lld)", V4PEER, id4, V6PEER, id6);
	ok(th_upgrade(d, out, sizeof(out)) > 0, "upgrade: %.*s",
	    (int)strcspn(out, "\n"), out);
	crossed(fd4, V4PEER, id4, pid4);
	crossed(fd6, V6PEER, id6, pid6);
	ok(th_ctl(d, conns, sizeof(conns), "conns", "--json", NULL) == 0 &&
	    strstr(conns, "127.0.0.1") == NULL, "no row shows the socket's "
	    "own address 127.0.0.1");
	fd = proxied(h1, n1, "after");
	ok(th_ctl(d, conns, sizeof(conns), "conns", "--json", NULL) == 0 &&
	    count(conns, V4PEER) == 2, "a new proxied connection after the "
	    "upgrade gets its header's address (2 rows of %s)", V4PEER);
	close(fd);
	close(fd4);
	close(fd6);
	is_int(th_daemon_stop_clean(d), 0, "taod stops clean");
	return th_exit(done_testing());
}
