/*
 * link.c - a hiredis async connection driven by core/loop, no thread.
 *
 * The adapter: hiredis asks for read or write interest through the
 * ev.addRead/delRead/addWrite/delWrite hooks; they become the epoll mask
 * of l_io, and the loop calls redisAsyncHandleRead/Write back from
 * tao__rlink_on_io.  hiredis owns and closes the socket: its cleanup
 * hook (called when the context is freed) only takes the fd out of
 * epoll and moves l_io's generation, so a stale event of the same batch
 * is dropped by the loop.
 *
 * Life of a link:
 *
 *	connect ---ok---> connected --(EOF, error, our close)--> gone
 *	   |  \                                                    |
 *	   |   timeout (CONNECT_TIMEOUT_MS): freed                 |
 *	 refused / failed                                          |
 *	   +-------> retry in min(BACKOFF_MAX, BACKOFF_MIN * 2^n), <-+
 *	             a random 50..100 % of it (jitter, so the nodes of a
 *	             cluster do not all come back in the same millisecond)
 *
 * One failure is logged when it starts, not every attempt; the bridge
 * logs the return once.  hiredis 0.14 resolves a host name with a
 * blocking getaddrinfo: only the bridge ever waits for it, never a
 * worker.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "cluster/link.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/timer.h"

#define CONNECT_TIMEOUT_MS	2000
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		5000

static struct tao_rlink *
link_of(void *privdata)
{
	return privdata;
}

static void
set_mask(struct tao_rlink *l, uint32_t add, uint32_t del)
{
	uint32_t ev = (l->l_io.io_events | add) & ~del;

	if (l->l_io.io_fd == -1 || ev == l->l_io.io_events)
		return;
	if (tao__io_set(l->l_loop, &l->l_io, ev) == -1)
		log_warn("cluster: redis %s: epoll_ctl", l->l_name);
}

static void ev_add_read(void *p) { set_mask(link_of(p), EPOLLIN, 0); }
static void ev_del_read(void *p) { set_mask(link_of(p), 0, EPOLLIN); }
static void ev_add_write(void *p) { set_mask(link_of(p), EPOLLOUT, 0); }
static void ev_del_write(void *p) { set_mask(link_of(p), 0, EPOLLOUT); }

/* The context is being freed; hiredis closes the fd right after. */
static void
ev_cleanup(void *p)
{
	struct tao_rlink *l = link_of(p);

	tao__io_forget(l->l_loop, &l->l_io);
	l->l_io.io_fd = -1;
	l->l_ac = NULL;
	l->l_connected = 0;
}

static void
timer_cancel(struct tao_rlink *l)
{
	if (l->l_timer > 0)
		(void)tao__timers_cancel(l->l_loop->el_timers, l->l_timer, l);
	l->l_timer = 0;
}

static void
on_retry_timer(void *owner, void *arg)
{
	struct tao_rlink *l = owner;

	(void)arg;
	l->l_timer = 0;
	tao__rlink_connect(l);
}

static uint64_t
next_rand(struct tao_rlink *l)
{
	/* xorshift64: jitter only, no secret. */
	l->l_rand ^= l->l_rand << 13;
	l->l_rand ^= l->l_rand >> 7;
	l->l_rand ^= l->l_rand << 17;
	return l->l_rand;
}

static void
retry_later(struct tao_rlink *l)
{
	uint64_t delay = BACKOFF_MIN_MS;

	for (unsigned i = 0; i < l->l_failures && delay < BACKOFF_MAX_MS; i++)
		delay *= 2;
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	delay = delay / 2 + next_rand(l) % (delay / 2 + 1);
	l->l_failures++;
	timer_cancel(l);
	l->l_timer = tao__timers_add(l->l_loop->el_timers, tao__now_ms() +
	    delay, 0, on_retry_timer, l, NULL, NULL);
	if (l->l_timer < 0) {
		log_warnx("cluster: redis %s: cannot schedule a reconnect",
		    l->l_name);
		l->l_timer = 0;
	}
	log_debug("cluster: redis %s: next attempt in %llu ms", l->l_name,
	    (unsigned long long)delay);
}

static void
failed(struct tao_rlink *l, const char *what, const char *why)
{
	l->l_connected = 0;
	if (l->l_closing)
		return;
	if (!l->l_logged)
		log_warnx("cluster: redis %s %s:%d: %s%s%s; retrying with "
		    "back-off", l->l_name, l->l_host, l->l_port, what,
		    why[0] ? ": " : "", why);
	l->l_logged = 1;
	if (l->l_on_down != NULL)
		l->l_on_down(l);
	retry_later(l);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct tao_rlink *l = ac->data;

	if (status != REDIS_OK) {
		/* hiredis frees the context right after this call. */
		timer_cancel(l);
		failed(l, "cannot connect", ac->errstr);
		return;
	}
	timer_cancel(l);
	l->l_connected = 1;
	l->l_failures = 0;
	l->l_logged = 0;
	log_debug("cluster: redis %s: connected", l->l_name);
	if (l->l_on_connected != NULL)
		l->l_on_connected(l);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct tao_rlink *l = ac->data;

	(void)status;
	failed(l, "connection lost", ac->err ? ac->errstr : "");
}

static void
on_connect_timeout(void *owner, void *arg)
{
	struct tao_rlink *l = owner;

	(void)arg;
	l->l_timer = 0;
	if (l->l_ac == NULL || l->l_connected)
		return;
	redisAsyncFree(l->l_ac);	/* not connected: no disconnect call */
	failed(l, "cannot connect", "timed out");
}

static void
on_auth(redisAsyncContext *ac, void *r, void *privdata)
{
	struct tao_rlink *l = privdata;
	redisReply *reply = r;

	if (reply == NULL || reply->type != REDIS_REPLY_ERROR)
		return;
	if (!l->l_logged)
		log_warnx("cluster: redis %s %s:%d: %s refused: %s", l->l_name,
		    l->l_host, l->l_port, l->l_db >= 0 && strncmp(reply->str,
		    "ERR DB", 6) == 0 ? "SELECT" : "AUTH", reply->str);
	l->l_logged = 1;
	redisAsyncDisconnect(ac);
}

static int
attach(struct tao_rlink *l, redisAsyncContext *ac)
{
	l->l_ac = ac;
	ac->data = l;
	ac->ev.data = l;
	ac->ev.addRead = ev_add_read;
	ac->ev.delRead = ev_del_read;
	ac->ev.addWrite = ev_add_write;
	ac->ev.delWrite = ev_del_write;
	ac->ev.cleanup = ev_cleanup;
	l->l_io.io_kind = TAO_RLINK_IO_KIND;
	l->l_io.io_fd = ac->c.fd;
	l->l_io.io_events = 0;
	/* TCP keepalive (15 s): a peer gone without a FIN or RST (a
	 * partition, a host that lost power) is noticed by the subscriber
	 * too, which has nothing of its own to wait for. */
	(void)redisEnableKeepAlive(&ac->c);
	if (redisAsyncSetConnectCallback(ac, on_connect) != REDIS_OK ||
	    redisAsyncSetDisconnectCallback(ac, on_disconnect) != REDIS_OK)
		return -1;
	if (l->l_password[0] != '\0' && redisAsyncCommand(ac, on_auth, l,
	    "AUTH %s", l->l_password) != REDIS_OK)
		return -1;
	if (l->l_db > 0 && redisAsyncCommand(ac, on_auth, l, "SELECT %d",
	    l->l_db) != REDIS_OK)
		return -1;
	return 0;
}

void
tao__rlink_connect(struct tao_rlink *l)
{
	redisAsyncContext *ac;

	if (l->l_ac != NULL)
		return;
	if ((ac = redisAsyncConnect(l->l_host, l->l_port)) == NULL) {
		failed(l, "cannot connect", "out of memory");
		return;
	}
	if (ac->err) {
		char why[128];
		strlcpy(why, ac->errstr, sizeof(why));
		redisAsyncFree(ac);
		failed(l, "cannot connect", why);
		return;
	}
	if (attach(l, ac) == -1) {
		redisAsyncFree(ac);
		failed(l, "cannot connect", "set-up failed");
		return;
	}
	if (l->l_on_up != NULL)
		l->l_on_up(l);		/* commands wait for the connect */
	l->l_timer = tao__timers_add(l->l_loop->el_timers, tao__now_ms() +
	    CONNECT_TIMEOUT_MS, 0, on_connect_timeout, l, NULL, NULL);
	if (l->l_timer < 0)
		l->l_timer = 0;
}

void
tao__rlink_close(struct tao_rlink *l)
{
	timer_cancel(l);
	l->l_closing = 1;
	if (l->l_ac != NULL)
		redisAsyncFree(l->l_ac);
	l->l_ac = NULL;
}

void
tao__rlink_init(struct tao_rlink *l, struct tao_evloop *loop,
    struct tao_bridge *b, const char *name, uint64_t seed)
{
	memset(l, 0, sizeof(*l));
	l->l_io.io_fd = -1;
	l->l_loop = loop;
	l->l_b = b;
	l->l_name = name;
	l->l_db = -1;
	l->l_password = "";
	l->l_rand = seed | 1;
}

void
tao__rlink_on_io(struct tao_evloop *loop, struct tao_io *io, uint32_t ev)
{
	struct tao_rlink *l = (struct tao_rlink *)io;

	(void)loop;
	if (l->l_ac != NULL && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		redisAsyncHandleRead(l->l_ac);
	if (l->l_ac != NULL && (ev & (EPOLLOUT | EPOLLERR)))
		redisAsyncHandleWrite(l->l_ac);
}
