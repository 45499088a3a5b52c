/*
 * t045-api-server: the libtao handler model, as a program embedding libtao sees
 * it.  The test forks a server built with the public API (tao.h only)
 * and checks from outside: registration errors, dispatch by type (small,
 * negative and large type numbers), a decode function that rejects a
 * frame, unregistered types counted as dropped without closing, on_connect
 * refusing, tao_conn_close after a reply, on_close exactly once per
 * connection, tao_send after close refused.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "tap.h"
#include "lib/harness.h"

struct shared {
	_Atomic int	refuse;		/* on_connect refuses while set */
	_Atomic int	connects, closes;
	_Atomic int	send_after_close;	/* tao_send's result in on_close */
	_Atomic int	worker_ticks;		/* a worker-wide run_every */
	_Atomic int	orphan_fired;		/* timer of a closed conn ran */
};

static struct shared *sh;

static void
echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)arg;
	tao_send(c, m->type, m->data, m->len);
}

static void
bye(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)m;
	(void)arg;
	tao_send(c, 2, "bye", 3);
	tao_conn_close(c);	/* after the reply is flushed */
}

static int
decode_len(const void *data, size_t len, void **out, void *arg)
{
	size_t *n;

	(void)arg;
	if (len == 3 && memcmp(data, "bad", 3) == 0)
		return -1;
	if ((n = malloc(sizeof(*n))) == NULL)
		return -1;
	*n = len;
	*out = n;
	return 0;
}

static void
decoded(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	char text[32];
	int n;

	(void)arg;
	n = snprintf(text, sizeof(text), "len=%zu", *(size_t *)m->decoded);
	free(m->decoded);	/* the handler owns it */
	tao_send(c, 3, text, (size_t)n);
}

/* ---- timers through the public API ---- */

static void
late(struct tao_conn *c, void *arg)
{
	(void)arg;
	tao_send(c, 5, "late", 4);
}

static void
tick(struct tao_conn *c, void *arg)
{
	int64_t *state = arg;	/* [0] = timer id, [1] = ticks */
	char text[16];
	int n = snprintf(text, sizeof(text), "tick%lld",
	    (long long)++state[1]);

	tao_send(c, 6, text, (size_t)n);
	if (state[1] == 3) {
		tao_timer_cancel(c, state[0]);	/* its own id, inside it */
		free(state);
	}
}

static void
orphan(struct tao_conn *c, void *arg)
{
	(void)c;
	(void)arg;
	atomic_fetch_add(&sh->orphan_fired, 1);
}

static void
later(struct tao_conn *c, void *arg)
{
	(void)arg;
	tao_send(c, 8, "later", 5);
}

static void
timers(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	int64_t *state;

	(void)arg;
	if (m->type == 5)
		tao_run_after(c, 100, late, NULL);
	else if (m->type == 6 && (state = calloc(2, sizeof(*state))) != NULL)
		state[0] = tao_run_every(c, 50, tick, state);
	else if (m->type == 7)
		tao_run_after(c, 300, orphan, NULL);
	else if (m->type == 8)
		tao_run_after(c, 400, later, NULL);
}

static void
worker_tick(struct tao_conn *c, void *arg)
{
	(void)c;
	(void)arg;
	atomic_fetch_add(&sh->worker_ticks, 1);
}

static void
worker_start(struct tao_server *s, int slot, void *arg)
{
	(void)slot;
	(void)arg;
	tao_worker_run_every(s, 100, worker_tick, NULL);
}

static int
on_connect(struct tao_conn *c, void *arg)
{
	(void)c;
	(void)arg;
	if (atomic_load(&sh->refuse))
		return -1;
	atomic_fetch_add(&sh->connects, 1);
	return 0;
}

static void
on_close(struct tao_conn *c, void *arg)
{
	(void)arg;
	atomic_fetch_add(&sh->closes, 1);
	atomic_store(&sh->send_after_close, tao_send(c, 1, "x", 1));
}

static int
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, len) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		bail("free port");
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static struct tao_server *
build_server(int port, const char *ctl)
{
	struct tao_server *s = tao_server_new();
	char line[400];

	if (s == NULL)
		bail("tao_server_new");
	snprintf(line, sizeof(line), "listen 127.0.0.1:%d tlv", port);
	ok(tao_server_config_line(s, line) == 0, "config: listen");
	snprintf(line, sizeof(line), "control %s", ctl);
	tao_server_config_line(s, line);
	tao_server_config_line(s, "workers 1");
	is_int(tao_register(s, 1, NULL, echo, NULL), 0, "register type 1");
	is_int(tao_register(s, 1, NULL, echo, NULL), TAO_EEXIST,
	    "registering type 1 again is TAO_EEXIST, not a crash");
	is_int(tao_register(s, 4, NULL, NULL, NULL), TAO_EINVAL,
	    "a NULL handler is TAO_EINVAL");
	is_int(tao_register(s, 2, NULL, bye, NULL), 0, "register type 2");
	is_int(tao_register(s, 3, decode_len, decoded, NULL), 0,
	    "register type 3 with a decoder");
	is_int(tao_register(s, -7, NULL, echo, NULL), 0, "register type -7");
	is_int(tao_register(s, 100000, NULL, echo, NULL), 0,
	    "register type 100000");
	is_int(tao_register(s, 100000, NULL, echo, NULL), TAO_EEXIST,
	    "  and again: TAO_EEXIST");
	for (int32_t t = 5; t <= 8; t++)
		tao_register(s, t, NULL, timers, NULL);
	tao_on_connect(s, on_connect, NULL);
	tao_on_close(s, on_close, NULL);
	tao_on_worker_start(s, worker_start, NULL);
	return s;
}

static long long
stat_of(const char *ctl, const char *key)
{
	const char *argv[] = { th_bin("taoctl"), "-s", ctl, "stats", "--json",
	    NULL };
	static char out[8192];

	if (th_run(out, sizeof(out), th_ms(5000), argv) != 0)
		return -1;
	return th_stats_get(out, -1, key);
}

/* Wait until *v >= want: 0, or -1 on timeout. */
static int
wait_atomic(_Atomic int *v, int want, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;

	while (atomic_load(v) < want) {
		if (th_now_ms() >= end)
			return -1;
		th_sleep_ms(5);
	}
	return 0;
}

static int
expect(int fd, int32_t type, const char *payload, size_t len)
{
	char buf[256];
	int32_t got_type;
	uint32_t got_len;

	if (th_recv_frame(fd, &got_type, buf, sizeof(buf), &got_len,
	    th_ms(2000)) != 0)
		return -1;
	return got_type == type && got_len == len &&
	    memcmp(buf, payload, len) == 0 ? 0 : -1;
}

/* A bad directive is reported, and the server then refuses to run
 * rather than run with half a configuration. */
static void
test_bad_config(void)
{
	struct tao_server *bad = tao_server_new();

	fflush(stdout);
	is_int(tao_server_config_line(bad, "no_such_directive 1"),
	    TAO_ECONFIG, "an unknown directive is a config error");
	is_int(tao_server_run(bad), TAO_ECONFIG,
	    "  and tao_server_run refuses to start");
	tao_server_free(bad);
}

/* Fork the server; returns its pid once it accepts, with the first
 * connection in *fd. */
static pid_t
start_server(struct tao_server *s, int port, int *fdp)
{
	pid_t pid;
	int fd = -1;

	fflush(stdout);
	if ((pid = fork()) == -1)
		bail("fork");
	if (pid == 0) {
		char log[400];
		snprintf(log, sizeof(log), "%s/server.log", th_dir());
		if (freopen("/dev/null", "w", stdout) == NULL ||
		    freopen(log, "w", stderr) == NULL)
			_exit(1);
		_exit(tao_server_run(s) < 0);
	}
	for (int i = 0; i < 200 && (fd = th_connect(port)) < 0; i++)
		th_sleep_ms(20);
	if (fd < 0) {
		kill(pid, SIGKILL);
		bail("the server did not come up");
	}
	*fdp = fd;
	return pid;
}

/* Dispatch by type, decoders, unregistered types, a rejected frame. */
static void
test_dispatch(int fd, const char *ctl)
{
	ok(th_send_frame(fd, 1, "hello", 5) == 0 && expect(fd, 1, "hello", 5)
	    == 0, "type 1 dispatched to its handler");
	ok(th_send_frame(fd, -7, "neg", 3) == 0 && expect(fd, -7, "neg", 3)
	    == 0, "a negative type dispatched");
	ok(th_send_frame(fd, 100000, "big", 3) == 0 &&
	    expect(fd, 100000, "big", 3) == 0, "a large type dispatched");
	ok(th_send_frame(fd, 3, "abcd", 4) == 0 && expect(fd, 3, "len=4", 5)
	    == 0, "the decoder's object reaches the handler");
	ok(th_send_frame(fd, 9, "who?", 4) == 0 && th_send_frame(fd, 1, "ok",
	    2) == 0 && expect(fd, 1, "ok", 2) == 0,
	    "an unregistered type does not close the connection");
	is_int(stat_of(ctl, "dropped"), 1, "  it is counted as dropped");
	ok(th_send_frame(fd, 3, "bad", 3) == 0 &&
	    th_wait_closed(fd, th_ms(2000)) == 0,
	    "a frame the decoder rejects closes the connection");
	close(fd);
	is_int(stat_of(ctl, "errors"), 1, "  and counts an error");
}

/*
 * Timers: run_after is never early; run_every ticks and cancels itself
 * inside its callback; a closed connection's timer is cancelled with it;
 * a worker timer runs without connections.  Returns a live connection.
 */
static int
test_timers(int port)
{
	int fd, closes;
	double t0;

	fd = th_connect(port);
	t0 = th_now_ms();
	ok(fd >= 0 && th_send_frame(fd, 5, "", 0) == 0 &&
	    expect(fd, 5, "late", 4) == 0, "tao_run_after fires");
	ok(th_now_ms() - t0 >= 100, "  not before 100 ms (%.0f ms)",
	    th_now_ms() - t0);
	ok(th_send_frame(fd, 6, "", 0) == 0 && expect(fd, 6, "tick1", 5) == 0
	    && expect(fd, 6, "tick2", 5) == 0 && expect(fd, 6, "tick3", 5) == 0,
	    "tao_run_every ticks");
	{
		char junk[16];
		int32_t ty;
		uint32_t ln;
		ok(th_recv_frame(fd, &ty, junk, sizeof(junk), &ln, 300) != 0,
		    "  and stops when cancelled inside its callback");
	}
	closes = atomic_load(&sh->closes);
	ok(th_send_frame(fd, 7, "", 0) == 0, "a 300 ms timer armed");
	close(fd);
	ok(wait_atomic(&sh->closes, closes + 1, th_ms(2000)) == 0,
	    "  its connection closed");
	/* One worker, one loop: a 400 ms timer armed after that close is due
	 * after the 300 ms one, so once it has fired the other would have
	 * too, had the close not cancelled it. */
	fd = th_connect(port);
	ok(fd >= 0 && th_send_frame(fd, 8, "", 0) == 0 &&
	    expect(fd, 8, "later", 5) == 0, "a later 400 ms timer fires");
	is_int(atomic_load(&sh->orphan_fired), 0,
	    "  and the 300 ms one did not: it died with its connection");
	ok(wait_atomic(&sh->worker_ticks, 3, th_ms(2000)) == 0,
	    "a worker-wide run_every runs (%d ticks)",
	    atomic_load(&sh->worker_ticks));

	return fd;
}

/* fd is a live connection of the timer test. */
static void
test_close_and_refuse(int fd, int port)
{
	int fd2;

	ok(fd >= 0 && th_send_frame(fd, 2, "", 0) == 0 &&
	    expect(fd, 2, "bye", 3) == 0 && th_wait_closed(fd, th_ms(2000))
	    == 0, "tao_conn_close closes after the reply is flushed");
	if (fd >= 0)
		close(fd);

	atomic_store(&sh->refuse, 1);
	fd2 = th_connect(port);
	ok(fd2 >= 0 && th_wait_closed(fd2, th_ms(2000)) == 0,
	    "on_connect can refuse a connection");
	if (fd2 >= 0)
		close(fd2);
	atomic_store(&sh->refuse, 0);
	(void)wait_atomic(&sh->closes, 3, th_ms(2000));
	is_int(atomic_load(&sh->connects), 3, "three connections accepted");
	is_int(atomic_load(&sh->closes), 3,
	    "on_close ran exactly once for each, not for the refused one");
	is_int(atomic_load(&sh->send_after_close), TAO_ECLOSED,
	    "tao_send in on_close returns TAO_ECLOSED");
}

static void
stop_server(pid_t pid)
{
	int rc, status;

	kill(pid, SIGTERM);
	rc = -1;
	for (int i = 0; i < 250; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
			break;
		}
		th_sleep_ms(20);
	}
	if (rc == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	is_int(rc, 0, "tao_server_run returns 0 after SIGTERM");
}

int
main(void)
{
	struct tao_server *s;
	char ctl[300];
	pid_t pid;
	int port, fd;

	th_init("t045-api-server", 60);
	plan(0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail("mmap");
	test_bad_config();
	port = free_port();
	snprintf(ctl, sizeof(ctl), "%s/api.sock", th_dir());
	s = build_server(port, ctl);
	pid = start_server(s, port, &fd);
	test_dispatch(fd, ctl);
	fd = test_timers(port);
	test_close_and_refuse(fd, port);
	stop_server(pid);
	tao_server_free(s);
	return th_exit(done_testing());
}
