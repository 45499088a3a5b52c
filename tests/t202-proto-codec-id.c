/*
 * t202-proto-codec-id - one codec-id table (proto/codec.c) for the config
 * names and the master/worker channel (issue 13 #2).
 *
 * The ids are wire values, so they are fixed: 0 tlv, 1 line; every id
 * maps back to its codec and name; an unknown id and a codec of the
 * embedding program have none.  The worker's hand-off reads ids through
 * the same table (the old copy turned every unknown id into tlv), and
 * tao__chan_recv passes on a connection's descriptor only with an id it
 * knows: a CONN record with another id arrives without it, and the
 * receiver is left with no extra descriptor.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <dirent.h>
#include <stdint.h>
#include <unistd.h>

#include "proto/channel.h"
#include "proto/codec.h"
#include "tests/lib/harness.h"
#include "tests/tap.h"
#include "worker/worker.h"

static const struct tao_codec custom = { .name = "custom" };

static int
fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		bail("opendir /proc/self/fd");
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

static void
test_table(void)
{
	is_int(tao__codec_id(&tao_codec_tlv), 0, "tlv has id 0");
	is_int(tao__codec_id(&tao_codec_line), 1, "line has id 1");
	is_int(tao__codec_id(&custom), -1, "a program's own codec has none");
	is_int(tao__codec_id(NULL), -1, "NULL has none");
	for (uint32_t id = 0; id < 2; id++) {
		const struct tao_codec *c = tao__codec_by_id(id);

		ok(c != NULL && tao__codec_id(c) == (int)id &&
		    tao__codec_by_name(c->name) == c, "id %u: %s, and back "
		    "by id and by name", id, c ? c->name : "?");
		ok(tao__handoff_codec(id) == c, "  the hand-off reads it "
		    "the same");
	}
	ok(tao__codec_by_id(2) == NULL, "id 2 is unknown");
	ok(tao__codec_by_id(UINT32_MAX) == NULL, "id 0xffffffff is unknown");
	ok(tao__handoff_codec(7) == NULL, "the hand-off does not turn an "
	    "unknown id into tlv");
}

/* A connected TCP socket, what a CONN record really carries. */
static int
tcp_socket(int *peer)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), a = -1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l == -1 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1 ||
	    (a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(a, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (*peer = accept4(l, NULL, NULL, SOCK_CLOEXEC)) == -1)
		bail("tcp socket");
	close(l);
	return a;
}

static void
conn_record(int sv[2], uint32_t id, int want_fd)
{
	struct tao_chan_msg m;
	int before = fd_count(), peer, fd, passed = -2, rc;

	fd = tcp_socket(&peer);
	if (tao__chan_send_fd(sv[0], TAO_CHAN_CONN, id, 42, fd) == -1)
		bail("tao__chan_send_fd");
	close(fd);
	rc = tao__chan_recv(sv[1], &m, &passed);
	is_int(rc, 1, "CONN with codec id %u: the record arrives", id);
	ok(rc == 1 && m.cm_arg == id && m.cm_value == 42, "  intact");
	if (want_fd)
		ok(passed >= 0, "  with its socket");
	else
		ok(passed == -1, "  without its socket (unknown codec id)");
	if (passed >= 0)
		close(passed);
	close(peer);
	is_int(fd_count(), before, "  the receiver keeps no descriptor");
}

int
main(void)
{
	int sv[2];

	th_init("t202-proto-codec-id", 30);
	plan(0);
	test_table();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		bail("socketpair");
	conn_record(sv, 0, 1);
	conn_record(sv, 1, 1);
	conn_record(sv, 2, 0);
	conn_record(sv, 0x80000000u, 0);
	close(sv[0]);
	close(sv[1]);
	return th_exit(done_testing());
}
