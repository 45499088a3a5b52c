/*
 * t200-ctl-version - the control protocol is versioned both ways
 * (proto/ctl.h, issue 13 #2).
 *
 * taoctl against a fake control server that answers in another version
 * (a newer one, an old unversioned "ok" or "error" as taod 0.1.0 sent,
 * and something that is no reply at all) exits non-zero and says which
 * versions disagree; a reply in its own version still works.  taod
 * answers requests in another version, or with none, with an error reply
 * in its own version that names both, does not act on them (a "stop" in
 * protocol 1 leaves it running), logs them and keeps serving.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/ctl.h"
#include "tests/lib/harness.h"
#include "tests/tap.h"

/* One connection served by the fake master: read a request line, send
 * reply, close. */
struct fake {
	int		 listen_fd;
	const char	*reply;
	char		 request[TAO_CTL_MAX_REQUEST + 2];
};

static int
fake_listen(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 4) == -1)
		bail("fake control socket");
	return fd;
}

static void *
fake_serve(void *arg)
{
	struct fake *f = arg;
	struct pollfd p = { f->listen_fd, POLLIN, 0 };
	size_t got = 0;
	ssize_t n;
	int fd;

	f->request[0] = '\0';
	if (poll(&p, 1, th_ms(10000)) != 1 ||
	    (fd = accept(f->listen_fd, NULL, NULL)) == -1)
		return NULL;
	p.fd = fd;
	while (got < sizeof(f->request) - 1 && poll(&p, 1, th_ms(5000)) == 1 &&
	    (n = read(fd, f->request + got, sizeof(f->request) - 1 -
	    got)) > 0) {
		got += (size_t)n;
		f->request[got] = '\0';
		if (memchr(f->request, '\n', got) != NULL)
			break;
	}
	(void)th_write_all(fd, f->reply, strlen(f->reply));
	close(fd);
	return NULL;
}

/* Run `taoctl -s path status` against a fake answering reply. */
static int
taoctl_against(int lfd, const char *path, const char *reply, char *out,
    size_t outlen, char *request, size_t reqlen)
{
	const char *argv[] = { th_bin("taoctl"), "-s", path, "status", NULL };
	struct fake f = { .listen_fd = lfd, .reply = reply };
	pthread_t t;
	int rc;

	if (pthread_create(&t, NULL, fake_serve, &f) != 0)
		bail("pthread_create");
	rc = th_run(out, outlen, th_ms(10000), argv);
	pthread_join(t, NULL);
	strlcpy(request, f.request, reqlen);
	return rc;
}

static void
test_taoctl_checks_reply(void)
{
	char path[256], out[4096], req[300], want[200], newer[64];
	int lfd, rc;

	snprintf(path, sizeof(path), "%s/fake.sock", th_dir());
	lfd = fake_listen(path);

	rc = taoctl_against(lfd, path, TAO_CTL_REPLY_OK "fake status\n", out,
	    sizeof(out), req, sizeof(req));
	is_int(rc, 0, "a reply in taoctl's own version: exit 0");
	ok(strstr(out, "fake status") != NULL, "  and the body is printed");
	is_str(req, TAO_CTL_VERSION " status\n", "the request carries "
	    "taoctl's version");

	snprintf(newer, sizeof(newer), "TAO/%d ok\nfrom the future\n",
	    TAO_CTL_PROTO + 1);
	rc = taoctl_against(lfd, path, newer, out, sizeof(out), req,
	    sizeof(req));
	ok(rc != 0, "a reply in protocol %d: taoctl fails (exit %d)",
	    TAO_CTL_PROTO + 1, rc);
	snprintf(want, sizeof(want), "taoctl speaks control protocol %d, "
	    "taod answered %d; use the taoctl of the same release",
	    TAO_CTL_PROTO, TAO_CTL_PROTO + 1);
	ok(strstr(out, want) != NULL, "  saying '%s'", want);
	ok(strstr(out, "from the future") == NULL, "  and prints no body");
	if (strstr(out, want) == NULL)
		diag("taoctl said: %s", out);

	snprintf(want, sizeof(want), "taoctl speaks control protocol %d, "
	    "taod answered 1; use the taoctl of the same release",
	    TAO_CTL_PROTO);
	rc = taoctl_against(lfd, path, "error unsupported protocol (want "
	    "TAO/1)\n", out, sizeof(out), req, sizeof(req));
	ok(rc != 0 && strstr(out, want) != NULL, "an unversioned error (an "
	    "old taod): exit %d, '%s'", rc, want);
	rc = taoctl_against(lfd, path, "ok\npid 1\n", out, sizeof(out), req,
	    sizeof(req));
	ok(rc != 0 && strstr(out, want) != NULL && strstr(out, "pid 1") ==
	    NULL, "an unversioned ok (an old taod): exit %d, the same "
	    "message, no body", rc);

	rc = taoctl_against(lfd, path, "HTTP/1.1 400 Bad Request\r\n\r\n",
	    out, sizeof(out), req, sizeof(req));
	ok(rc != 0 && strstr(out, "not a control protocol reply") != NULL,
	    "something that is no reply: exit %d, 'not a control protocol "
	    "reply'", rc);
	close(lfd);
	unlink(path);
}

/* Send req on a fresh control connection; the whole reply into out. */
static int
raw_request(const char *path, const char *req, char *out, size_t outlen)
{
	struct sockaddr_un sun;
	struct pollfd p;
	size_t got = 0;
	ssize_t n;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    th_write_all(fd, req, strlen(req)) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	p = (struct pollfd){ fd, POLLIN, 0 };
	while (got < outlen - 1 && poll(&p, 1, th_ms(5000)) == 1 &&
	    (n = read(fd, out + got, outlen - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
	return 0;
}

static void
test_taod_refuses(struct th_daemon *d, const char *req, const char *name,
    const char *want)
{
	char out[1024], log[128];

	if (raw_request(d->ctl, req, out, sizeof(out)) == -1)
		bail("control request");
	ok(strncmp(out, TAO_CTL_REPLY_ERROR, strlen(TAO_CTL_REPLY_ERROR)) ==
	    0, "%s: taod answers '%s...'", name, TAO_CTL_REPLY_ERROR);
	ok(strstr(out, want) != NULL, "  saying '%s'", want);
	if (strstr(out, want) == NULL)
		diag("taod said: %s", out);
	ok(th_pid_alive(d->pid) && th_daemon_wait(d, 0) == -1,
	    "  and is still running");
	is_int(th_ctl(d, out, sizeof(out), "status", NULL), 0,
	    "  taoctl status still works");
	if (strncmp(req, "TAO/", 4) == 0) {
		snprintf(log, sizeof(log), "refused a request in protocol %d",
		    atoi(req + 4));
		ok(th_daemon_wait_log(d, log, 1, th_ms(5000)) == 0,
		    "  taod logs '%s'", log);
	}
}

static void
test_taod_checks_request(void)
{
	struct th_daemon *d;
	char want[200], req[64];

	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 1\n");
	if (d == NULL)
		bail("taod did not start");
	snprintf(want, sizeof(want), "taod speaks control protocol %d, the "
	    "request is in protocol 1; use the taoctl of the same release",
	    TAO_CTL_PROTO);
	test_taod_refuses(d, "TAO/1 status\n", "a protocol 1 status", want);
	/* Not acted upon: a stop in another version stops nothing. */
	test_taod_refuses(d, "TAO/1 stop\n", "a protocol 1 stop", want);
	snprintf(want, sizeof(want), "taod speaks control protocol %d, the "
	    "request is in protocol %d; use the taoctl of the same release",
	    TAO_CTL_PROTO, TAO_CTL_PROTO + 1);
	snprintf(req, sizeof(req), "TAO/%d stop\n", TAO_CTL_PROTO + 1);
	test_taod_refuses(d, req, "a newer protocol's stop", want);
	test_taod_refuses(d, "stop\n", "a request without a version",
	    "not a control request");
	is_int(th_daemon_stop(d), 0, "taod stops with exit 0");
}

int
main(void)
{
	th_init("t200-ctl-version", 60);
	plan(0);
	test_taoctl_checks_reply();
	test_taod_checks_request();
	return th_exit(done_testing());
}
