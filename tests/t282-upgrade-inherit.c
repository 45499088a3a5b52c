/*
 * t282-upgrade-inherit - issue 15, binary upgrade: what the new master
 * inherits besides the plaintext listener.
 *
 * taod (from a copy of its binary) with a plaintext and a TLS listener,
 * the metrics listener on a port chosen at start, and $NOTIFY_SOCKET
 * pointing at a datagram socket of the test (a stand-in for systemd):
 *  1. a plaintext connection open across the upgrade keeps working and
 *     keeps its netid (taoctl conns, before and after); a connection
 *     made after gets a netid none of the old ones had;
 *  2. a TLS connection open across it finishes its exchange and is
 *     closed (TLS state cannot move), and a new TLS connection to the
 *     same port is served by the new master with the same certificate;
 *  3. the manager is told MAINPID=<new pid> (and READY=1);
 *  4. the metrics port answers GET /metrics before and after, the same
 *     port (the socket was passed, not re-bound);
 *  5. the control socket is the same path, answering for the new master;
 *     the old master's process is gone.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/http.h"
#include "tests/lib/tlsclient.h"
#include "tests/tap.h"

static int
notify_listener(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		bail("socket");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		bail("path too long: %s", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		bail("bind %s", path);
	return fd;
}

/* Wait for a datagram holding needle: 1, or 0 on timeout. */
static int
notify_wait(int fd, const char *needle, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;
	char buf[1024];
	ssize_t n;

	while (th_now_ms() < end) {
		n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n > 0) {
			buf[n] = '\0';
			if (strstr(buf, needle) != NULL)
				return 1;
			continue;
		}
		th_sleep_ms(10);
	}
	return 0;
}

/* The netid taoctl conns shows for the connection from local port. */
static long long
netid_of(struct th_daemon *d, int port)
{
	struct th_conn_info ci[64];
	int n = th_conns(d, ci, 64);

	for (int i = 0; i < n; i++)
		if (ci[i].peer_port == port)
			return ci[i].netid;
	return -1;
}

static struct ssl_ctx_st *trust;
static char certfile[300];

/* 1: a fresh connection's netid after the upgrade. */
static void
check_plain(struct th_daemon *d, int plain, int lport, long long netid0)
{
	long long netid1, netid_new = -1;
	int fresh;

	ok(th_echo_once(plain, 1, 1000, 3) == 0, "1. the plaintext "
	    "connection open across the upgrade still echoes");
	netid1 = netid_of(d, lport);
	ok(netid0 > 0 && netid1 == netid0, "   and keeps its netid (%lld, "
	    "%lld)", netid0, netid1);
	fresh = th_connect(d->port[0]);
	if (fresh != -1 && th_echo_once(fresh, 1, 10, 4) == 0)
		netid_new = netid_of(d, th_local_port(fresh));
	ok(netid_new > 0 && netid_new != netid0, "   a new connection gets "
	    "another netid (%lld)", netid_new);
	if (fresh != -1)
		close(fresh);
}

static void
check_tls(struct th_daemon *d, struct tlsc *tls)
{
	struct tlsc tls2;

	ok(tlsc_echo(tls, 1, 100, 5) == -1, "2. the TLS connection open "
	    "across it was finished by the old worker and closed");
	tlsc_close(tls);
	ok(tlsc_open(&tls2, trust, d->port[1]) == 0 &&
	    tlsc_echo(&tls2, 1, 4000, 6) == 0 && tlsc_peer_is(&tls2,
	    certfile) == 1, "   a new TLS connection to the same port echoes, "
	    "same certificate");
	tlsc_close(&tls2);
}

static struct th_daemon *
start(int *nfd)
{
	char bin[300], conf[2048], sock[200];
	struct th_daemon *d;

	tlsc_make_certs();
	snprintf(certfile, sizeof(certfile), "%s/trust.pem", th_dir());
	trust = tlsc_ctx(certfile, NULL, NULL);
	snprintf(certfile, sizeof(certfile), "%s/srv.pem", th_dir());
	snprintf(bin, sizeof(bin), "%s/taod-bin", th_dir());
	snprintf(sock, sizeof(sock), "%s/notify.sock", th_dir());
	if (th_copy_file(th_bin("taod"), bin, 0755) == -1)
		bail("cannot copy taod");
	*nfd = notify_listener(sock);
	setenv("NOTIFY_SOCKET", sock, 1);
	snprintf(conf, sizeof(conf), "listen 127.0.0.1:0 tlv\nlisten "
	    "127.0.0.1:0 tlv tls\ntls_cert %s/srv.pem\ntls_key %s/srv.key\n"
	    "app echo\nworkers 2\nmetrics 127.0.0.1:0\n", th_dir(), th_dir());
	if ((d = th_daemon_start_bin(bin, conf)) == NULL)
		bail("taod did not start");
	unsetenv("NOTIFY_SOCKET");
	return d;
}

int
main(void)
{
	struct th_status st;
	struct th_daemon *d;
	struct tlsc tls;
	char out[65536], want[64];
	int nfd, plain, mport, mport2, lport;
	long long netid0;
	pid_t old, pid;

	th_init("t282-upgrade-inherit", 120);
	d = start(&nfd);
	ok(notify_wait(nfd, "READY=1", th_ms(5000)), "the manager got READY=1");
	if ((mport = th_metrics_port(d, th_ms(5000))) <= 0)
		bail("no metrics port");
	ok(th_scrape(mport, out, sizeof(out)) == 200, "GET /metrics: 200 "
	    "before the upgrade (port %d)", mport);
	if ((plain = th_connect(d->port[0])) == -1 ||
	    th_echo_once(plain, 1, 100, 1) != 0)
		bail("no plaintext echo");
	lport = th_local_port(plain);
	netid0 = netid_of(d, lport);
	if (tlsc_open(&tls, trust, d->port[1]) == -1 ||
	    tlsc_echo(&tls, 1, 100, 2) == -1)
		bail("no TLS echo: %s", tls.err);
	old = d->pid;
	pid = th_upgrade(d, out, sizeof(out));
	ok(pid > 0, "taoctl upgrade: %.*s", (int)strcspn(out, "\n"), out);
	ok(!th_pid_alive(old), "the old master %ld is gone", (long)old);
	check_plain(d, plain, lport, netid0);
	check_tls(d, &tls);
	snprintf(want, sizeof(want), "MAINPID=%ld", (long)pid);
	ok(notify_wait(nfd, want, th_ms(5000)), "3. the manager was told %s",
	    want);
	mport2 = th_metrics_port(d, th_ms(5000));
	ok(mport2 == mport && th_scrape(mport, out, sizeof(out)) == 200,
	    "4. GET /metrics: 200 after it, on the same port %d", mport2);
	ok(th_status(d, &st) == 0 && st.pid == pid, "5. taoctl status on the "
	    "same socket answers for master %ld", (long)pid);
	close(plain);
	close(nfd);
	is_int(th_daemon_stop_clean(d), 0, "the new master stops clean");
	return th_exit(done_testing());
}
