/*
 * t085-systemd-notify-send - master/notify.c: the sd_notify datagram protocol to a
 * path and to an abstract socket, MONOTONIC_USEC on reload, the error
 * cases, and that a manager which stopped reading cannot block the master.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "master/notify.h"
#include "tap.h"

static uint64_t
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* A datagram socket bound at `name` (a leading '@' means abstract). */
static int
listener(const char *name)
{
	struct sockaddr_un sun;
	size_t len = strlen(name);
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		bail("socket");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, name, len);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	if (bind(fd, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) == -1)
		bail("bind");
	return fd;
}

/* Receive one datagram without waiting; "" if none. */
static const char *
receive(int fd)
{
	static char buf[512];
	ssize_t n;

	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void
test_unset(void)
{
	unsetenv("NOTIFY_SOCKET");
	is_int(tao__notify("READY=1"), 0, "no NOTIFY_SOCKET: nothing to do");
	setenv("NOTIFY_SOCKET", "", 1);
	is_int(tao__notify("READY=1"), 0, "empty NOTIFY_SOCKET: nothing to do");
}

static void
test_path(const char *dir)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	is_int(tao__notify("READY=1"), 0, "send to a path");
	is_str(receive(fd), "READY=1", "one datagram, exactly the state");
	is_int(tao__notify("READY=1\nSTATUS=2 workers"), 0,
	    "send two assignments");
	is_str(receive(fd), "READY=1\nSTATUS=2 workers",
	    "both arrive in one datagram");
	close(fd);
	unlink(path);

	errno = 0;
	is_int(tao__notify("READY=1"), -1, "nobody listening: -1");
	ok(errno == ENOENT || errno == ECONNREFUSED, "with errno (%s)",
	    strerror(errno));
}

static void
test_abstract(void)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "@tao-t085-%ld", (long)getpid());
	fd = listener(name);
	setenv("NOTIFY_SOCKET", name, 1);
	is_int(tao__notify("STOPPING=1"), 0, "send to an abstract socket");
	is_str(receive(fd), "STOPPING=1", "the abstract socket gets it");
	close(fd);
}

static void
test_reloading(const char *dir)
{
	char path[256], want[64];
	const char *got;
	uint64_t before, after, usec = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/reload", dir);
	fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	before = now_usec();
	is_int(tao__notify_reloading(), 0, "tao__notify_reloading sends");
	after = now_usec();
	got = receive(fd);
	snprintf(want, sizeof(want), "RELOADING=1\nMONOTONIC_USEC=");
	if (!ok(strncmp(got, want, strlen(want)) == 0,
	    "RELOADING=1, a newline, then MONOTONIC_USEC="))
		diag("got '%s'", got);
	if (strlen(got) > strlen(want))
		usec = strtoull(got + strlen(want), NULL, 10);
	ok(usec >= before && usec <= after,
	    "MONOTONIC_USEC is CLOCK_MONOTONIC now (%" PRIu64 " in [%" PRIu64
	    ", %" PRIu64 "])", usec, before, after);
	close(fd);
	unlink(path);
}

static void
test_bad_addresses(void)
{
	char longname[200];

	setenv("NOTIFY_SOCKET", "relative/path", 1);
	errno = 0;
	ok(tao__notify("READY=1") == -1 && errno == EAFNOSUPPORT,
	    "neither a path nor '@': EAFNOSUPPORT");
	setenv("NOTIFY_SOCKET", "@", 1);
	errno = 0;
	ok(tao__notify("READY=1") == -1 && errno == EINVAL,
	    "a bare '@': EINVAL");
	memset(longname, 'x', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	errno = 0;
	ok(tao__notify("READY=1") == -1 && errno == ENAMETOOLONG,
	    "longer than sun_path: ENAMETOOLONG");
}

/* A manager that does not read: the master gets EAGAIN, never blocks. */
static void
test_full_queue(const char *dir)
{
	char path[256];
	uint64_t start;
	int fd, i, rc = 0;

	snprintf(path, sizeof(path), "%s/full", dir);
	fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	start = now_usec();
	for (i = 0; i < 100000 && rc == 0; i++)
		rc = tao__notify("STATUS=filling the queue");
	ok(rc == -1 && errno == EAGAIN, "full queue: -1 EAGAIN after %d sends",
	    i);
	ok(now_usec() - start < 5000000, "and no send blocked");
	close(fd);
	unlink(path);
}

int
main(void)
{
	char dir[] = "/tmp/tao-t085.XXXXXX";

	plan(0);
	alarm(30);	/* a send that blocks must fail the test, not hang it */
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp");
	test_unset();
	test_path(dir);
	test_abstract();
	test_reloading(dir);
	test_bad_addresses();
	test_full_queue(dir);
	rmdir(dir);
	unsetenv("NOTIFY_SOCKET");
	return done_testing();
}
