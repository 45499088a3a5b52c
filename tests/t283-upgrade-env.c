/*
 * t283-upgrade-env - issue 15, binary upgrade: the new master trusts
 * nothing in $TAO_UPGRADE (master/inherit.c).  taod started by hand with
 * a forged value must exit 1 at once with a clear message, before it
 * binds or forks anything:
 *  - not protocol v=1, an unknown word, no chan= word;
 *  - a descriptor that is not open, or stdio;
 *  - chan= naming a pipe (not the SEQPACKET channel);
 *  - L= naming a pipe, a listening socket of another address, or the
 *    same fd twice; a malformed L= word;
 *  - ctl= naming a TCP socket instead of the control socket;
 *  - rec= (the channel record layout) missing, malformed, or naming
 *    another layout version or record size than this binary's;
 * and a valid listener set alone (no old master at the other end of a
 * real channel that then closes) makes it take over and serve on the
 * inherited socket: same port, no bind of its own.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/channel.h"
#include "tests/lib/harness.h"
#include "tests/tap.h"

static char conf[300];

/* taod -t would not do: run the master with env; its exit code. */
static int
run_with(const char *env, char *out, size_t outlen)
{
	const char *argv[] = { th_bin("taod"), "-c", conf, NULL };
	int rc;

	setenv("TAO_UPGRADE", env, 1);
	rc = th_run(out, outlen, th_ms(5000), argv);
	unsetenv("TAO_UPGRADE");
	return rc;
}

static void
refused(const char *env, const char *why, const char *what)
{
	char out[4096];
	int rc = run_with(env, out, sizeof(out));

	ok(rc == 1 && strstr(out, why) != NULL, "%s: exit %d, \"%s\"", what,
	    rc, why);
	if (rc != 1 || strstr(out, why) == NULL)
		diag("%s", out);
}

/* A listening TCP socket on 127.0.0.1 (any port), inheritable. */
static int
tcp_listener(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == -1 || bind(fd, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1 || listen(fd, 16) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		bail("tcp listener");
	*port = ntohs(sin.sin_port);
	return fd;
}

/* The sockaddr_in of 127.0.0.1:port in hex, as the old master writes. */
static const char *
hex_addr(int port)
{
	static char hex[2 * sizeof(struct sockaddr_in) + 1];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	const unsigned char *p = (const void *)&sin;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	for (size_t i = 0; i < sizeof(sin); i++)
		snprintf(hex + 2 * i, 3, "%02x", p[i]);
	return hex;
}

/* The channel record layout must be this binary's. */
static void
forged_layout(int chan)
{
	char env[512];

	snprintf(env, sizeof(env), "v=1 chan=%d", chan);
	refused(env, "no rec= word", "no rec=");
	snprintf(env, sizeof(env), "v=1 chan=%d rec=%d,%zu", chan,
	    TAO_CHAN_VERSION, sizeof(struct tao_chan_msg) - 20);
	refused(env, "refusing the upgrade", "rec= a record 20 bytes "
	    "shorter (no cm_peer)");
	snprintf(env, sizeof(env), "v=1 chan=%d rec=%d,%zu", chan,
	    TAO_CHAN_VERSION + 1, sizeof(struct tao_chan_msg));
	refused(env, "refusing the upgrade", "rec= another layout version");
	snprintf(env, sizeof(env), "v=1 chan=%d rec=2", chan);
	refused(env, "malformed channel layout", "rec= without a size");
	snprintf(env, sizeof(env), "v=1 chan=%d rec=-2,40x", chan);
	refused(env, "malformed channel layout", "rec= not numbers");
}

static void
forged(int pipefd, int chan, int lfd, int lport)
{
	char env[512];

	refused("v=2 chan=3", "not protocol v=1", "v=2");
	snprintf(env, sizeof(env), "v=1 chan=%d bogus=1", chan);
	refused(env, "'bogus=1' is not a word", "an unknown word");
	refused("v=1 ctl=-1", "no chan= word", "no chan=");
	refused("v=1 chan=900", "not a word of protocol", "chan= not open");
	refused("v=1 chan=1", "not a word of protocol", "chan= stdout");
	snprintf(env, sizeof(env), "v=1 chan=%d", pipefd);
	refused(env, "not the upgrade channel", "chan= a pipe");
	snprintf(env, sizeof(env), "v=1 chan=%d L=%d@%s", chan, pipefd,
	    hex_addr(lport));
	refused(env, "not a listening socket", "L= a pipe");
	snprintf(env, sizeof(env), "v=1 chan=%d L=%d@%s", chan, lfd,
	    hex_addr(lport + 1 > 65535 ? 1 : lport + 1));
	refused(env, "not a listening socket", "L= a socket of another port");
	snprintf(env, sizeof(env), "v=1 chan=%d L=%d,%d@%s", chan, lfd, lfd,
	    hex_addr(lport));
	refused(env, "malformed listener set", "L= one fd twice");
	snprintf(env, sizeof(env), "v=1 chan=%d L=%d@zz", chan, lfd);
	refused(env, "malformed listener set", "L= bad hex");
	snprintf(env, sizeof(env), "v=1 chan=%d ctl=%d", chan, lfd);
	refused(env, "not a unix socket", "ctl= a TCP socket");
	forged_layout(chan);
}

/* A valid set and a channel whose other end is closed: the "old
 * master" is gone at once, so taod takes over and serves on lfd. */
static void
adopted(int chan, int lfd, int lport)
{
	char env[512], log[256];
	struct th_daemon *d;
	int fd;

	snprintf(env, sizeof(env), "v=1 chan=%d L=%d@%s rec=%d,%zu", chan,
	    lfd, hex_addr(lport), TAO_CHAN_VERSION,
	    sizeof(struct tao_chan_msg));
	setenv("TAO_UPGRADE", env, 1);
	snprintf(log, sizeof(log), "listen 127.0.0.1:%d tlv\napp echo\n"
	    "workers 1\n", lport);
	d = th_daemon_start(log);
	unsetenv("TAO_UPGRADE");
	if (d == NULL)
		bail("taod with an inherited listener did not start");
	ok(th_daemon_log_count(d, "old master is gone") == 1 ||
	    th_daemon_wait_log(d, "old master is gone", 1, th_ms(5000)) == 0,
	    "a valid set: the channel's EOF is the old master gone");
	fd = th_connect(lport);
	ok(fd != -1 && th_echo_once(fd, 1, 10, 1) == 0, "it serves on the "
	    "inherited socket, port %d", lport);
	if (fd != -1)
		close(fd);
	is_int(th_daemon_stop_clean(d), 0, "and stops clean");
}

int
main(void)
{
	int pipefd[2], sv[2], lfd, lport;

	th_init("t283-upgrade-env", 60);
	snprintf(conf, sizeof(conf), "%s/taod.conf", th_dir());
	{
		FILE *fp = fopen(conf, "we");
		if (fp == NULL || fputs("listen 127.0.0.1:0 tlv\napp echo\n"
		    "workers 1\ncontrol ctl.sock\n", fp) == EOF ||
		    fclose(fp) == EOF)
			bail("cannot write %s", conf);
	}
	if (pipe(pipefd) == -1 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0,
	    sv) == -1)
		bail("pipe");
	lfd = tcp_listener(&lport);
	forged(pipefd[0], sv[1], lfd, lport);
	close(sv[0]);	/* the "old master" is gone before it starts */
	adopted(sv[1], lfd, lport);
	return th_exit(done_testing());
}
