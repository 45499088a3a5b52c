/*
 * harness-fault.c - the fault-injection tests' additions to the harness
 * (harness-fault.h): /proc readings of one process, the stats counters
 * as an array, connection owners, and the chat load.
 *
 * The chat load's thread drives every client from one poll() loop, like
 * harness-load.c's echo load.  A client's life:
 *
 *	connecting -> welcomed (type 3: netid, slot) -> sending every
 *	interval_ms, reading always -> broken (EOF, reset, a bad frame)
 *	-> reconnecting (if asked) ...
 *
 * Its own messages carry "C<index>:<slot>:<seq>", so a receiver knows
 * the sending slot without a netid table.  Output goes through a small
 * per-client buffer: when a stopped worker does not read, the client
 * skips its turns rather than queueing without bound, so the load keeps
 * its pace on the other workers.  Other threads read only atomics and
 * the plain int fields port and slot.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness-fault.h"
#include "tests/tap.h"

/* ---- /proc ---------------------------------------------------------- */

int
th_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

long
th_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long utime, stime;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": utime and stime are fields 14 and
	 * 15, the 12th and 13th after the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lu %lu", &utime, &stime) != 2)
		return -1;
	return (long)(utime + stime);
}

long long
th_proc_field(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long long v = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':' &&
		    sscanf(line + klen + 1, "%lld", &v) == 1)
			break;
	fclose(fp);
	return v;
}

long
th_vmdata_kb(pid_t pid)
{
	return (long)th_proc_field(pid, "status", "VmData");
}

int
th_sanitizer_reports(struct th_daemon *d)
{
	return th_daemon_log_count(d, "ERROR: AddressSanitizer") +
	    th_daemon_log_count(d, "ERROR: LeakSanitizer") +
	    th_daemon_log_count(d, "runtime error:");
}

/* ---- counters ------------------------------------------------------- */

const char *const th_counter_names[TH_NCOUNTERS] = {
	"accepted", "closed", "msgs_in", "msgs_out", "bytes_in",
	"bytes_out", "errors", "refused", "timeouts", "ring_drops",
	"dropped", "restarts",
};

int
th_counter_index(const char *name)
{
	for (int k = 0; k < TH_NCOUNTERS; k++)
		if (strcmp(th_counter_names[k], name) == 0)
			return k;
	return -1;
}

int
th_counters(struct th_daemon *d, struct th_counters *c)
{
	char out[32768], pat[32];

	memset(c, 0, sizeof(*c));
	if (th_ctl(d, out, sizeof(out), "stats", "--json", NULL) != 0) {
		diag("taoctl stats --json: %s", out);
		return -1;
	}
	for (int k = 0; k < TH_NCOUNTERS; k++)
		c->total[k] = th_stats_get(out, -1, th_counter_names[k]);
	c->total_connections = th_stats_get(out, -1, "connections");
	for (int s = 0; s < TH_MAX_SLOTS; s++) {
		snprintf(pat, sizeof(pat), "{\"slot\":%d,", s);
		if (strstr(out, pat) == NULL)
			break;
		for (int k = 0; k < TH_NCOUNTERS; k++)
			c->slot[s][k] = th_stats_get(out, s,
			    th_counter_names[k]);
		c->slot_connections[s] = th_stats_get(out, s, "connections");
		c->nslots = s + 1;
	}
	return 0;
}

/* ---- owners --------------------------------------------------------- */

pid_t
th_conn_owner(const struct th_conn_info *ci, int n, int port)
{
	if (port <= 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (ci[i].peer_port == port)
			return ci[i].pid;
	return -1;
}

/* ---- chat load ------------------------------------------------------ */

#define CHAT_IN_CAP	(256 * 1024)
#define CHAT_OUT_CAP	(64 * 1024)
#define CHAT_FRAME_MAX	(16 * 1024)	/* longest frame we expect */
#define CHAT_SKIP_AT	(16 * 1024)	/* pending output: skip a turn */

struct cconn {
	struct th_chat_conn pub;
	int		 fd;
	int		 connecting;
	int		 welcomed;
	uint32_t	 seq;
	double		 next_send;
	unsigned	 probe_seen;	/* last probe marker read here */
	uint8_t		*in;
	size_t		 inlen;
	uint8_t		*out;
	size_t		 outlen, outoff;
};

struct th_chat {
	struct th_chat_opts o;
	struct cconn	*c;
	pthread_t	 thread;
	int		 started;
	int		 stop;		/* atomic */
	int		 paused;	/* atomic */
	unsigned	 probe;		/* markers sent by th_chat_probe */
	long long	 recv[TH_CHAT_SLOTS][TH_CHAT_SLOTS];	/* atomic */
	long long	 sent[TH_CHAT_SLOTS];			/* atomic */
	struct th_chat_totals t;
};

static void
put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static int
chat_open(struct th_chat *ch, struct cconn *c)
{
	struct sockaddr_in sin;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	c->connecting = 1;
	c->welcomed = 0;
	c->inlen = c->outlen = c->outoff = 0;
	c->pub.port = -1;
	c->pub.slot = -1;
	c->pub.netid = 0;
	c->pub.state = TH_CONN_OPEN;
	c->pub.err = 0;
	if (c->fd == -1)
		goto fail;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)ch->o.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 ||
	    errno == EINPROGRESS)
		return 0;
fail:
	c->pub.err = errno;
	c->pub.state = TH_CONN_FAILED;
	ch->t.connect_failed++;
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	return -1;
}

static void
chat_break(struct th_chat *ch, struct cconn *c, enum th_conn_state st,
    int err)
{
	c->pub.state = st;
	c->pub.err = err;
	c->pub.breaks++;
	switch (st) {
	case TH_CONN_CLOSED:	ch->t.closed++; break;
	case TH_CONN_RESET:	ch->t.reset++; break;
	case TH_CONN_BAD:	ch->t.bad++; break;
	default:		break;
	}
	close(c->fd);
	c->fd = -1;
	c->connecting = 0;
	c->welcomed = 0;
}

/* Write what c->out holds: 0, or -1 if the connection broke. */
static int
chat_flush(struct th_chat *ch, struct cconn *c)
{
	ssize_t n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->outoff += (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		chat_break(ch, c, TH_CONN_RESET, errno);
		return -1;
	}
	c->outoff = c->outlen = 0;
	return 0;
}

/* Queue one type-1 frame with text; 0, or -1 if there is no room. */
static int
chat_queue(struct cconn *c, const char *text, size_t len)
{
	if (c->outoff > 0 && c->outoff == c->outlen)
		c->outoff = c->outlen = 0;
	if (c->outoff > 0) {
		memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	if (c->outlen + TH_HEADER + len > CHAT_OUT_CAP)
		return -1;
	put_le32(c->out + c->outlen, 1);
	put_le32(c->out + c->outlen + 4, (uint32_t)len);
	memcpy(c->out + c->outlen + TH_HEADER, text, len);
	c->outlen += TH_HEADER + len;
	return 0;
}

static void
chat_send_turn(struct th_chat *ch, struct cconn *c, int idx)
{
	char text[1100];
	int n;

	if (c->outlen - c->outoff >= CHAT_SKIP_AT) {
		c->pub.skipped++;
		ch->t.skipped++;
		return;
	}
	n = snprintf(text, sizeof(text), "C%d:%d:%u:", idx, c->pub.slot,
	    c->seq);
	while ((size_t)n < ch->o.size && n < (int)sizeof(text) - 1)
		text[n++] = 'x';
	if (chat_queue(c, text, (size_t)n) == -1) {
		c->pub.skipped++;
		ch->t.skipped++;
		return;
	}
	c->seq++;
	c->pub.sent++;
	ch->t.sent++;
	if (c->pub.slot >= 0 && c->pub.slot < TH_CHAT_SLOTS)
		__atomic_add_fetch(&ch->sent[c->pub.slot], 1,
		    __ATOMIC_RELAXED);
	(void)chat_flush(ch, c);
}

/* One frame from the room: 0, or -1 if it makes no sense. */
static int
chat_frame(struct th_chat *ch, struct cconn *c, int32_t type,
    const uint8_t *p, uint32_t len)
{
	char text[64];
	unsigned long long netid;
	int idx, slot, to = c->pub.slot;
	unsigned seq, probe;

	switch (type) {
	case 3:		/* welcome: "netid=N worker=W" */
		if (len >= sizeof(text))
			return -1;
		memcpy(text, p, len);
		text[len] = '\0';
		if (sscanf(text, "netid=%llu worker=%d", &netid, &slot) != 2)
			return -1;
		c->pub.netid = netid;
		c->pub.slot = slot;
		c->welcomed = 1;
		c->next_send = th_now_ms() + (double)(th_hash((uint32_t)
		    netid, 7) % (uint32_t)ch->o.interval_ms);
		return 0;
	case 1:		/* a message: netid + text */
		if (len < 9)
			return -1;
		len -= 8;
		if (len >= sizeof(text))
			len = sizeof(text) - 1;
		memcpy(text, p + 8, len);
		text[len] = '\0';
		if (sscanf(text, "C%d:%d:%u:", &idx, &slot, &seq) == 3) {
			c->pub.received++;
			ch->t.received++;
			if (to >= 0 && to < TH_CHAT_SLOTS && slot >= 0 &&
			    slot < TH_CHAT_SLOTS)
				__atomic_add_fetch(&ch->recv[to][slot], 1,
				    __ATOMIC_RELAXED);
		} else if (sscanf(text, "P%u", &probe) == 1)
			c->probe_seen = probe;
		return 0;
	case 2:		/* private */
	case 4:		/* joined / left */
		return 0;
	}
	return -1;
}

/* Read what the socket has and take the frames in it. */
static void
chat_read(struct th_chat *ch, struct cconn *c)
{
	size_t off;
	ssize_t n;
	int32_t type;
	uint32_t len;

	for (;;) {
		n = recv(c->fd, c->in + c->inlen, CHAT_IN_CAP - c->inlen,
		    MSG_DONTWAIT);
		if (n == 0) {
			chat_break(ch, c, TH_CONN_CLOSED, 0);
			return;
		}
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			chat_break(ch, c, TH_CONN_RESET, errno);
			return;
		}
		c->inlen += (size_t)n;
		for (off = 0; c->inlen - off >= TH_HEADER; off +=
		    TH_HEADER + len) {
			type = (int32_t)get_le32(c->in + off);
			len = get_le32(c->in + off + 4);
			if (len > CHAT_FRAME_MAX) {
				chat_break(ch, c, TH_CONN_BAD, EMSGSIZE);
				return;
			}
			if (c->inlen - off < TH_HEADER + len)
				break;
			if (chat_frame(ch, c, type, c->in + off + TH_HEADER,
			    len) == -1) {
				chat_break(ch, c, TH_CONN_BAD, EPROTO);
				return;
			}
		}
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	}
}

static void
chat_connected(struct th_chat *ch, struct cconn *c)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == EINPROGRESS)
		return;
	if (err != 0) {
		close(c->fd);
		c->fd = -1;
		c->connecting = 0;
		c->pub.state = TH_CONN_FAILED;
		c->pub.err = err;
		ch->t.connect_failed++;
		return;
	}
	c->connecting = 0;
	c->pub.port = th_local_port(c->fd);
}

/* Reopen what may reconnect, send the turns that are due and fill
 * pfd/which with the connections to poll; returns how many, and in
 * *next when the next turn is due. */
static int
chat_poll_set(struct th_chat *ch, struct pollfd *pfd, int *which,
    double now, double *next)
{
	int paused = __atomic_load_n(&ch->paused, __ATOMIC_RELAXED), n = 0;

	for (int i = 0; i < ch->o.conns; i++) {
		struct cconn *c = &ch->c[i];

		if (c->fd == -1 && ch->o.reconnect &&
		    c->pub.state != TH_CONN_OPEN) {
			ch->t.reconnects++;
			(void)chat_open(ch, c);
		}
		if (c->fd == -1)
			continue;
		if (c->welcomed && !paused && c->next_send <= now) {
			chat_send_turn(ch, c, i);
			c->next_send += ch->o.interval_ms;
			if (c->next_send < now)
				c->next_send = now + ch->o.interval_ms;
			if (c->fd == -1)
				continue;
		}
		if (c->welcomed && !paused && c->next_send < *next)
			*next = c->next_send;
		pfd[n].fd = c->fd;
		pfd[n].events = POLLIN;
		if (c->connecting || c->outoff < c->outlen)
			pfd[n].events |= POLLOUT;
		which[n++] = i;
	}
	return n;
}

static void *
chat_main(void *arg)
{
	struct th_chat *ch = arg;
	struct pollfd *pfd = calloc((size_t)ch->o.conns, sizeof(*pfd));
	int *which = calloc((size_t)ch->o.conns, sizeof(*which));
	double now, next;
	int n, timeout;

	if (pfd == NULL || which == NULL)
		goto out;
	for (int i = 0; i < ch->o.conns; i++)
		(void)chat_open(ch, &ch->c[i]);
	while (!__atomic_load_n(&ch->stop, __ATOMIC_ACQUIRE)) {
		now = th_now_ms();
		next = now + 20;
		n = chat_poll_set(ch, pfd, which, now, &next);
		timeout = (int)(next - th_now_ms());
		if (timeout < 0)
			timeout = 0;
		if (poll(pfd, (nfds_t)n, timeout) == -1 && errno != EINTR)
			break;
		for (int k = 0; k < n; k++) {
			struct cconn *c = &ch->c[which[k]];

			if (pfd[k].revents == 0 || c->fd != pfd[k].fd)
				continue;
			if (c->connecting) {
				chat_connected(ch, c);
				continue;
			}
			if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
				chat_read(ch, c);
			if (c->fd != -1 && (pfd[k].revents & POLLOUT))
				(void)chat_flush(ch, c);
		}
	}
out:
	free(pfd);
	free(which);
	return NULL;
}

struct th_chat *
th_chat_start(const struct th_chat_opts *o)
{
	struct th_chat *ch = calloc(1, sizeof(*ch));

	if (ch == NULL)
		return NULL;
	ch->o = *o;
	if (ch->o.interval_ms < 1)
		ch->o.interval_ms = 1;
	if (ch->o.size < 16)
		ch->o.size = 16;
	if (ch->o.size > 1024)
		ch->o.size = 1024;
	if ((ch->c = calloc((size_t)o->conns, sizeof(*ch->c))) == NULL)
		goto fail;
	for (int i = 0; i < o->conns; i++) {
		ch->c[i].fd = -1;
		ch->c[i].pub.port = -1;
		ch->c[i].pub.slot = -1;
		if ((ch->c[i].in = malloc(CHAT_IN_CAP)) == NULL ||
		    (ch->c[i].out = malloc(CHAT_OUT_CAP)) == NULL)
			goto fail;
	}
	if (pthread_create(&ch->thread, NULL, chat_main, ch) != 0)
		goto fail;
	ch->started = 1;
	return ch;
fail:
	th_chat_free(ch);
	return NULL;
}

int
th_chat_wait_ready(struct th_chat *ch, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;
	int ready;

	for (;;) {
		ready = 0;
		for (int i = 0; i < ch->o.conns; i++)
			ready += __atomic_load_n(&ch->c[i].pub.slot,
			    __ATOMIC_RELAXED) >= 0;
		if (ready == ch->o.conns)
			return 0;
		if (th_now_ms() >= end)
			return -1;
		th_sleep_ms(5);
	}
}

long long
th_chat_received(struct th_chat *ch, int to, int from)
{
	long long sum = 0;

	for (int r = 0; r < TH_CHAT_SLOTS; r++)
		for (int s = 0; s < TH_CHAT_SLOTS; s++)
			if ((to < 0 || to == r) && (from < 0 || from == s))
				sum += __atomic_load_n(&ch->recv[r][s],
				    __ATOMIC_RELAXED);
	return sum;
}

long long
th_chat_sent(struct th_chat *ch, int from)
{
	long long sum = 0;

	for (int s = 0; s < TH_CHAT_SLOTS; s++)
		if (from < 0 || from == s)
			sum += __atomic_load_n(&ch->sent[s], __ATOMIC_RELAXED);
	return sum;
}

void
th_chat_pause(struct th_chat *ch, int paused)
{
	__atomic_store_n(&ch->paused, paused, __ATOMIC_RELAXED);
}

const struct th_chat_conn *
th_chat_conn(struct th_chat *ch, int i)
{
	return &ch->c[i].pub;
}

void
th_chat_stop(struct th_chat *ch, struct th_chat_totals *t)
{
	if (ch->started) {
		__atomic_store_n(&ch->stop, 1, __ATOMIC_RELEASE);
		pthread_join(ch->thread, NULL);
		ch->started = 0;
	}
	ch->t.open = 0;
	for (int i = 0; i < ch->o.conns; i++)
		if (ch->c[i].fd != -1 && ch->c[i].welcomed)
			ch->t.open++;
	if (t != NULL)
		*t = ch->t;
}

int
th_chat_probe(struct th_chat *ch, int *open, int timeout_ms)
{
	struct pollfd *pfd = calloc((size_t)ch->o.conns, sizeof(*pfd));
	int *which = calloc((size_t)ch->o.conns, sizeof(*which));
	double end = th_now_ms() + timeout_ms;
	struct cconn *from = NULL;
	char text[32];
	int n, got = 0, len;

	*open = 0;
	if (pfd == NULL || which == NULL || ch->started)
		goto out;
	for (int i = 0; i < ch->o.conns; i++)
		if (ch->c[i].fd != -1 && ch->c[i].welcomed) {
			(*open)++;
			if (from == NULL)
				from = &ch->c[i];
		}
	if (from == NULL)
		goto out;
	len = snprintf(text, sizeof(text), "P%u", ++ch->probe);
	if (chat_queue(from, text, (size_t)len) == -1)
		goto out;
	while (th_now_ms() < end) {
		n = 0;
		got = 0;
		for (int i = 0; i < ch->o.conns; i++) {
			struct cconn *c = &ch->c[i];

			if (c->fd == -1 || !c->welcomed)
				continue;
			if (c->probe_seen == ch->probe) {
				got++;
				continue;
			}
			pfd[n].fd = c->fd;
			pfd[n].events = POLLIN | (c->outoff < c->outlen ?
			    POLLOUT : 0);
			which[n++] = i;
		}
		if (n == 0)
			break;
		if (poll(pfd, (nfds_t)n, 20) == -1 && errno != EINTR)
			break;
		for (int k = 0; k < n; k++) {
			struct cconn *c = &ch->c[which[k]];

			if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
				chat_read(ch, c);
			if (c->fd != -1 && (pfd[k].revents & POLLOUT))
				(void)chat_flush(ch, c);
		}
	}
out:
	free(pfd);
	free(which);
	return got;
}

void
th_chat_diag(const char *what, const struct th_chat_totals *t)
{
	diag("%s: sent %lld, received %lld, skipped %lld; broken: %d "
	    "closed, %d reset, %d bad; %d connects failed, %d reconnects, "
	    "%d open", what, t->sent, t->received, t->skipped, t->closed,
	    t->reset, t->bad, t->connect_failed, t->reconnects, t->open);
}

void
th_chat_free(struct th_chat *ch)
{
	if (ch == NULL)
		return;
	if (ch->started)
		th_chat_stop(ch, NULL);
	for (int i = 0; ch->c != NULL && i < ch->o.conns; i++) {
		if (ch->c[i].fd != -1)
			close(ch->c[i].fd);
		free(ch->c[i].in);
		free(ch->c[i].out);
	}
	free(ch->c);
	free(ch);
}
