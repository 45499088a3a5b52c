/*
 * t180-api-contracts: the behavioural contracts of the server half of
 * tao.h, as an embedding program sees them (tao.h only):
 *   - one error convention: bad handles are TAO_EINVAL, calls outside
 *     their process TAO_ESTATE, the decode results distinct from TAO_OK;
 *   - a worker's calls use their tao_server handle (another handle, or
 *     one that is no handle, is refused) and set-up calls are refused
 *     inside a worker;
 *   - tao_server_config copies the path (a reload re-reads the file
 *     after the caller's string changed);
 *   - tao_server_run restores the caller's signal mask and SIGPIPE, and
 *     workers leave with _exit (the program's atexit handlers do not run
 *     in them);
 *   - tao_conn_peer works in on_close, also after a reset;
 *   - on_error runs once, before on_close, with the documented code for
 *     each failure, and not for orderly closes.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "tap.h"
#include "lib/harness.h"

#define T_ECHO		1
#define T_REFUSED	3	/* its decoder refuses every payload */
#define MAX_FRAME	1024

struct shared {
	/* filled in the embedding program (the master) after the run */
	_Atomic int	ran, run_rc, mask_ok, pipe_ok;
	_Atomic int	atexit_runs;	/* by any process but the test's */
	/* filled in on_worker_start */
	_Atomic int	w_junk, w_other, w_other_timer, w_own_timer;
	_Atomic int	w_register, w_on_close, w_own_broadcast;
	/* per connection */
	_Atomic int	connects, closes, errors, error_then_close;
	_Atomic int	last_error, last_errno;
	_Atomic uint64_t error_netid;
	_Atomic int	peer_small_rc, peer_close_rc;
	char		peer_close[TAO_CONN_PEER_MAX];
};

static struct shared *sh;
static struct tao_server *other;	/* a second, valid handle */
static uint64_t junk[64];		/* no handle at all */

static void
count_atexit(void)
{
	atomic_fetch_add(&sh->atexit_runs, 1);
}

static void
echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)arg;
	tao_conn_send(c, m->type, m->data, m->len);
}

static int
refuse(const void *data, size_t len, void **out, void *arg)
{
	(void)data, (void)len, (void)out, (void)arg;
	return -1;
}

static void
noop_timer(struct tao_conn *c, void *arg)
{
	(void)c, (void)arg;
}

static void
worker_start(struct tao_server *s, int slot, void *arg)
{
	(void)slot, (void)arg;
	sh->w_junk = tao_server_broadcast((struct tao_server *)(void *)junk,
	    T_ECHO, "x", 1);
	sh->w_other = tao_server_broadcast(other, T_ECHO, "x", 1);
	sh->w_other_timer = (int)tao_server_timer_after(other, 10,
	    noop_timer, NULL);
	sh->w_own_timer = tao_server_timer_after(s, 10, noop_timer, NULL) > 0;
	sh->w_register = tao_server_register(s, 9, NULL, echo, NULL);
	sh->w_on_close = tao_server_on_close(s, NULL, NULL);
	sh->w_own_broadcast = tao_server_broadcast(s, T_ECHO, "", 0);
}

static int
on_connect(struct tao_conn *c, void *arg)
{
	char small[4];

	(void)arg;
	sh->peer_small_rc = tao_conn_peer(c, small, sizeof(small));
	atomic_fetch_add(&sh->connects, 1);
	return 0;
}

static void
on_error(struct tao_conn *c, int error, void *arg)
{
	(void)arg;
	sh->last_errno = errno;
	sh->last_error = error;
	sh->error_netid = tao_conn_id(c);
	atomic_fetch_add(&sh->errors, 1);
}

static void
on_close(struct tao_conn *c, void *arg)
{
	(void)arg;
	sh->peer_close_rc = tao_conn_peer(c, sh->peer_close,
	    sizeof(sh->peer_close));
	if (sh->error_netid == tao_conn_id(c))
		atomic_fetch_add(&sh->error_then_close, 1);
	atomic_fetch_add(&sh->closes, 1);
}

static void
register_all(struct tao_server *s)
{
	tao_server_register(s, T_ECHO, NULL, echo, NULL);
	tao_server_register(s, T_REFUSED, refuse, echo, NULL);
	tao_server_on_connect(s, on_connect, NULL);
	tao_server_on_error(s, on_error, NULL);
	tao_server_on_close(s, on_close, NULL);
	tao_server_on_worker_start(s, worker_start, NULL);
}

/* After tao_server_run: is the signal state the one we had before? */
static void
check_signals_after(void)
{
	sigset_t cur;
	struct sigaction pipe;
	static const int server_set[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT,
	    SIGHUP };
	int ok = 1;

	sigprocmask(SIG_BLOCK, NULL, &cur);
	if (sigismember(&cur, SIGUSR1) != 1)
		ok = 0;
	for (size_t i = 0; i < sizeof(server_set) / sizeof(server_set[0]); i++)
		if (sigismember(&cur, server_set[i]) != 0)
			ok = 0;
	sh->mask_ok = ok;
	sigaction(SIGPIPE, NULL, &pipe);
	sh->pipe_ok = pipe.sa_handler == SIG_DFL;
}

/* The embedding program, in the child th_daemon_fork makes. */
static int
run(const char *conf, void *arg)
{
	struct tao_server *s = tao_server_new();
	char path[512];
	sigset_t usr1;
	int rc;

	(void)arg;
	other = tao_server_new();
	if (s == NULL || other == NULL)
		return 1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_SETMASK, &usr1, NULL);
	signal(SIGPIPE, SIG_DFL);
	atexit(count_atexit);
	snprintf(path, sizeof(path), "%s", conf);
	if (tao_server_config(s, path) < 0)
		return 1;
	/* The caller's string changes: a reload must still find the file. */
	snprintf(path, sizeof(path), "/nonexistent/taod.conf");
	register_all(s);
	rc = tao_server_run(s);
	check_signals_after();
	sh->run_rc = rc;
	sh->ran = 1;
	tao_server_free(s);
	tao_server_free(other);
	return rc < 0;
}

/* ---- outside any server: the error convention ----------------------- */

static void
test_outside(void)
{
	struct tao_server *s = tao_server_new();
	char buf[TAO_CONN_PEER_MAX];

	ok(s != NULL, "tao_server_new");
	ok(TAO_DECODE_OK != TAO_DECODE_AGAIN && TAO_DECODE_AGAIN !=
	    TAO_DECODE_ERROR && TAO_DECODE_OK != TAO_DECODE_ERROR,
	    "the three decode results are distinct");
	ok((int)TAO_DECODE_AGAIN != (int)TAO_OK && (int)TAO_DECODE_OK !=
	    (int)TAO_OK && (int)TAO_DECODE_ERROR != (int)TAO_OK,
	    "  and none is TAO_OK");
	ok(TAO_DECODE_OK > 0 && TAO_DECODE_AGAIN > 0 && TAO_DECODE_ERROR > 0,
	    "  nor a TAO_E* code");
	ok(strcmp(tao_strerror(TAO_ETIMEDOUT), "unknown error") != 0 &&
	    strcmp(tao_strerror(TAO_EPROTO), "unknown error") != 0,
	    "tao_strerror names TAO_ETIMEDOUT and TAO_EPROTO");
	is_int(tao_server_register(NULL, 1, NULL, echo, NULL), TAO_EINVAL,
	    "register on NULL: TAO_EINVAL");
	is_int(tao_server_on_close(NULL, on_close, NULL), TAO_EINVAL,
	    "on_close on NULL: TAO_EINVAL");
	is_int(tao_server_config(NULL, "x"), TAO_EINVAL,
	    "config on NULL: TAO_EINVAL");
	is_int(tao_server_broadcast(s, 1, "x", 1), TAO_ESTATE,
	    "broadcast outside a worker: TAO_ESTATE");
	is_int(tao_server_broadcast(NULL, 1, "x", 1), TAO_EINVAL,
	    "broadcast on NULL: TAO_EINVAL");
	is_int((int)tao_server_timer_every(s, 10, noop_timer, NULL),
	    TAO_ESTATE, "a server timer outside a worker: TAO_ESTATE");
	is_int(tao_conn_timer_cancel(NULL, 1), TAO_EINVAL,
	    "tao_conn_timer_cancel(NULL): TAO_EINVAL");
	is_int(tao_conn_peer(NULL, buf, sizeof(buf)), TAO_EINVAL,
	    "tao_conn_peer(NULL): TAO_EINVAL");
	tao_server_free(s);
}

/* ---- inside the worker ---------------------------------------------- */

static void
test_worker_handles(void)
{
	is_int(sh->w_junk, TAO_EINVAL,
	    "in a worker, broadcast on a pointer that is no handle: "
	    "TAO_EINVAL");
	is_int(sh->w_other, TAO_ESTATE,
	    "  on another server's handle: TAO_ESTATE");
	is_int(sh->w_other_timer, TAO_ESTATE,
	    "  a server timer on another handle: TAO_ESTATE");
	ok(sh->w_own_timer, "  a server timer on its own handle: an id");
	is_int(sh->w_own_broadcast, 0, "  broadcast on its own handle: 0");
	is_int(sh->w_register, TAO_ESTATE,
	    "tao_server_register inside a worker: TAO_ESTATE");
	is_int(sh->w_on_close, TAO_ESTATE,
	    "tao_server_on_close inside a worker: TAO_ESTATE");
}

/* Wait for the n-th on_close; 0, or -1 on timeout. */
static int
wait_closes(int n)
{
	double end = th_now_ms() + th_ms(5000);

	while (atomic_load(&sh->closes) < n && th_now_ms() < end)
		th_sleep_ms(5);
	return atomic_load(&sh->closes) >= n ? 0 : -1;
}

static int
wait_connects(int n)
{
	double end = th_now_ms() + th_ms(5000);

	while (atomic_load(&sh->connects) < n && th_now_ms() < end)
		th_sleep_ms(5);
	return atomic_load(&sh->connects) >= n ? 0 : -1;
}

static void
reset_close(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* Orderly ends: on_close with the peer, no on_error. */
static void
test_orderly(int port)
{
	char want[64];
	int fd, n = sh->closes, errors = sh->errors;

	if ((fd = th_connect(port)) < 0)
		bail("connect");
	snprintf(want, sizeof(want), "127.0.0.1:%d", th_local_port(fd));
	ok(th_echo_once(fd, T_ECHO, 5, 1) == 0, "echo");
	close(fd);
	ok(wait_closes(n + 1) == 0, "on_close after the peer closed");
	is_str(sh->peer_close, want, "  tao_conn_peer works in on_close");
	is_int(sh->peer_close_rc, (int)strlen(want),
	    "  and returns the length");
	is_int(sh->peer_small_rc, TAO_ETOOBIG,
	    "tao_conn_peer into a 4-byte buffer: TAO_ETOOBIG");
	is_int(sh->errors, errors, "an orderly close runs no on_error");
}

/* One failure: the code on_error gets, once, and on_close after it. */
static void
expect_error(int n, int errors, int code, const char *what)
{
	ok(wait_closes(n + 1) == 0, "%s: the connection is closed", what);
	is_int(sh->errors, errors + 1, "  on_error ran once");
	is_int(sh->last_error, code, "  with %s", tao_strerror(code));
	is_int(sh->error_then_close, 1, "  and on_close ran after it");
	sh->error_then_close = 0;
	sh->error_netid = 0;
}

static void
test_errors(int port)
{
	char want[64], hdr[TH_HEADER];
	int fd, n, e;

	n = sh->closes, e = sh->errors;
	fd = th_connect(port);
	ok(fd >= 0 && th_send_frame(fd, T_REFUSED, "no", 2) == 0,
	    "a frame its decoder refuses");
	expect_error(n, e, TAO_EPROTO, "decoder refusal");
	close(fd);

	n = sh->closes, e = sh->errors;
	fd = th_connect(port);
	th_put_header(hdr, T_ECHO, MAX_FRAME + 1);
	ok(fd >= 0 && th_write_all(fd, hdr, sizeof(hdr)) == 0,
	    "a header announcing more than max_frame");
	expect_error(n, e, TAO_EPROTO, "frame over max_frame");
	close(fd);

	n = sh->closes, e = sh->errors;
	int connects = sh->connects;
	if ((fd = th_connect(port)) < 0 || wait_connects(connects + 1) < 0)
		bail("connect");
	snprintf(want, sizeof(want), "127.0.0.1:%d", th_local_port(fd));
	reset_close(fd);
	expect_error(n, e, TAO_ESYS, "a reset by the peer");
	is_int(sh->last_errno, ECONNRESET, "  errno is ECONNRESET");
	is_str(sh->peer_close, want, "  tao_conn_peer in on_close after a "
	    "reset");

	n = sh->closes, e = sh->errors;
	fd = th_connect(port);
	ok(fd >= 0, "a connection that stays silent");
	expect_error(n, e, TAO_ETIMEDOUT, "idle_timeout_ms");
	close(fd);
}

int
main(void)
{
	struct th_daemon *d;
	char out[4096];
	int status;

	th_init("t180-api-contracts", 90);
	plan(0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail("mmap");
	test_outside();
	d = th_daemon_fork("listen 127.0.0.1:0 tlv\nworkers 2\n"
	    "max_frame 1024\nidle_timeout_ms 1000\n", run, NULL);
	if (d == NULL)
		bail("the server did not start");
	test_worker_handles();
	test_orderly(d->port[0]);
	test_errors(d->port[0]);
	is_int(th_ctl(d, out, sizeof(out), "reload", NULL), 0,
	    "a reload re-reads the config file after the caller's path "
	    "string changed");
	status = th_daemon_stop(d);
	ok(sh->ran && sh->run_rc == 0, "tao_server_run returned 0 (%d)",
	    status);
	ok(sh->mask_ok, "  and restored the caller's signal mask");
	ok(sh->pipe_ok, "  and SIGPIPE's disposition");
	is_int(sh->atexit_runs, 0,
	    "no worker ran the program's atexit handlers");
	return th_exit(done_testing());
}
