/*
 * listeners.c - opening and dealing out the reuseport listener sockets.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "master/listeners.h"
#include "core/log.h"

#define LISTEN_BACKLOG	65535	/* capped by net.core.somaxconn */

static int
open_one(struct tao_listen_conf *lc, char *err, size_t errlen)
{
	int fd, one = 1;

	fd = socket(lc->lc_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
	    -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) == -1)
		goto fail;
	if (lc->lc_addr.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) == -1)
		goto fail;
	/* Accepted sockets inherit TCP_NODELAY on Linux: the worker then
	 * saves a system call per connection (it checks, see loop.c). */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ==
	    -1)
		goto fail;
	if (bind(fd, (struct sockaddr *)&lc->lc_addr, lc->lc_addrlen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "listen %s: %s", lc->lc_text, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

/* After binding port 0, use the port the kernel chose for the rest. */
static void
resolve_port(struct tao_listen_conf *lc, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	in_port_t port;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (void *)&ss;
		port = s6->sin6_port;
		((struct sockaddr_in6 *)&lc->lc_addr)->sin6_port = port;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(lc->lc_text, sizeof(lc->lc_text), "[%s]:%u", host,
		    ntohs(port));
	} else {
		struct sockaddr_in *s4 = (void *)&ss;
		port = s4->sin_port;
		((struct sockaddr_in *)&lc->lc_addr)->sin_port = port;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(lc->lc_text, sizeof(lc->lc_text), "%s:%u", host,
		    ntohs(port));
	}
}

static in_port_t
conf_port(const struct tao_listen_conf *lc)
{
	if (lc->lc_addr.ss_family == AF_INET6)
		return ((const struct sockaddr_in6 *)&lc->lc_addr)->sin6_port;
	return ((const struct sockaddr_in *)&lc->lc_addr)->sin_port;
}

/*
 * The open sockets for this configured address, matched as written: a
 * port-0 listener keeps the port it got at start-up across reloads (the
 * k-th port-0 line for a host matches the k-th such socket set).
 */
static struct tao_lsock *
find(struct tao_lset *set, const struct tao_listen_conf *lc,
    const int *taken)
{
	for (int i = 0; i < set->lset_n; i++) {
		struct tao_lsock *ls = &set->lset_socks[i];
		if (ls->ls_nfd > 0 && !taken[i] &&
		    ls->ls_asked.lc_addrlen == lc->lc_addrlen &&
		    memcmp(&ls->ls_asked.lc_addr, &lc->lc_addr,
		    lc->lc_addrlen) == 0)
			return ls;
	}
	return NULL;
}

int
tao__lset_apply(struct tao_lset *set, struct tao_config *cf, int nworkers,
    uint32_t generation, char *err, size_t errlen)
{
	struct tao_lsock *ls;
	static int opened[TAO_MAX_LSOCKS * TAO_MAX_WORKERS][2];
	int nopened = 0, base_n = set->lset_n;
	int live[TAO_MAX_LSOCKS] = { 0 };

	for (int i = 0; i < cf->cf_nlistens; i++) {
		struct tao_listen_conf *lc = &cf->cf_listens[i];

		if ((ls = find(set, lc, live)) == NULL) {
			if (set->lset_n == TAO_MAX_LSOCKS) {
				snprintf(err, errlen, "too many listen "
				    "addresses over reloads; restart taod");
				goto fail;
			}
			ls = &set->lset_socks[set->lset_n++];
			memset(ls, 0, sizeof(*ls));
			ls->ls_conf = ls->ls_asked = *lc;
		}
		while (ls->ls_nfd < nworkers) {
			int fd = open_one(&ls->ls_conf, err, errlen);
			if (fd == -1)
				goto fail;
			if (conf_port(&ls->ls_conf) == 0)
				resolve_port(&ls->ls_conf, fd);
			opened[nopened][0] = (int)(ls - set->lset_socks);
			opened[nopened++][1] = ls->ls_nfd;
			ls->ls_fd[ls->ls_nfd++] = fd;
		}
		/* The sockets keep the resolved address; the codec and the
		 * tls flag are the new config's (the copy in ls_conf is
		 * only informative: workers take both from the config of
		 * their own generation, see tao__lset_worker_fds). */
		ls->ls_conf.lc_codec = lc->lc_codec;
		ls->ls_conf.lc_tls = lc->lc_tls;
		*lc = ls->ls_conf;	/* resolved port and text */
		live[ls - set->lset_socks] = 1;
	}
	for (int i = 0; i < set->lset_n; i++) {
		set->lset_socks[i].ls_live = live[i];
		if (live[i])
			set->lset_socks[i].ls_last_gen = generation;
	}
	return 0;
fail:
	while (nopened-- > 0) {
		ls = &set->lset_socks[opened[nopened][0]];
		close(ls->ls_fd[opened[nopened][1]]);
		ls->ls_nfd = opened[nopened][1];
	}
	set->lset_n = base_n;
	return -1;
}

/* The socket set holding cf's resolved listen address lc. */
static const struct tao_lsock *
find_resolved(const struct tao_lset *set, const struct tao_listen_conf *lc)
{
	for (int i = 0; i < set->lset_n; i++) {
		const struct tao_lsock *ls = &set->lset_socks[i];
		if (ls->ls_nfd > 0 && ls->ls_conf.lc_addrlen ==
		    lc->lc_addrlen && memcmp(&ls->ls_conf.lc_addr,
		    &lc->lc_addr, lc->lc_addrlen) == 0)
			return ls;
	}
	return NULL;
}

/*
 * Deal out by cf, the config of the generation being started, not by the
 * set's own notion of what is live: during a reload (or after one that
 * was aborted) a respawned worker of the serving generation must get the
 * serving config's listeners, codecs and tls flags, and a new worker the
 * new config's, whatever tao__lset_apply last wrote.
 */
int
tao__lset_worker_fds(const struct tao_lset *set, const struct tao_config *cf,
    int slot, int nworkers, int *fds, const struct tao_codec **codecs,
    int *tls, const struct tao_listen_access **access, int max)
{
	int n = 0;

	for (int i = 0; i < cf->cf_nlistens; i++) {
		const struct tao_listen_conf *lc = &cf->cf_listens[i];
		const struct tao_lsock *ls = find_resolved(set, lc);

		if (ls == NULL) {
			log_warnx("listener %s: no open socket", lc->lc_text);
			continue;
		}
		for (int j = slot; j < ls->ls_nfd && n < max; j += nworkers) {
			fds[n] = ls->ls_fd[j];
			tls[n] = lc->lc_tls;
			access[n] = &cf->cf_access[i];
			codecs[n++] = lc->lc_codec;
		}
	}
	return n;
}

void
tao__lset_gc(struct tao_lset *set, uint32_t oldest_gen)
{
	for (int i = 0; i < set->lset_n; i++) {
		struct tao_lsock *ls = &set->lset_socks[i];
		if (ls->ls_live || ls->ls_nfd == 0 ||
		    ls->ls_last_gen >= oldest_gen)
			continue;
		log_info("closing listener %s (no longer configured)",
		    ls->ls_conf.lc_text);
		for (int j = 0; j < ls->ls_nfd; j++)
			close(ls->ls_fd[j]);
		ls->ls_nfd = 0;
	}
}

void
tao__lset_close_all(struct tao_lset *set)
{
	for (int i = 0; i < set->lset_n; i++) {
		for (int j = 0; j < set->lset_socks[i].ls_nfd; j++)
			close(set->lset_socks[i].ls_fd[j]);
		set->lset_socks[i].ls_nfd = 0;
	}
	set->lset_n = 0;
}

int
tao__lset_owns(const struct tao_lset *set, int fd)
{
	for (int i = 0; i < set->lset_n; i++)
		for (int j = 0; j < set->lset_socks[i].ls_nfd; j++)
			if (set->lset_socks[i].ls_fd[j] == fd)
				return 1;
	return 0;
}

/* The host part of two addresses of one family (the port left out). */
static int
same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr,
		    sizeof(struct in6_addr)) == 0;
	return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
	    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
}

/* fd is a listening stream socket bound where lc says (port 0: any, but
 * the same as *port once that is set). */
static int
adopt_check(int fd, const struct tao_listen_conf *lc, in_port_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int val, type;
	socklen_t vlen = sizeof(val), tlen = sizeof(type);
	in_port_t got;

	memset(&ss, 0, sizeof(ss));
	if (fd < 3 || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val,
	    &vlen) == -1 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type,
	    &tlen) == -1 || getsockname(fd, (struct sockaddr *)&ss,
	    &len) == -1)
		return -1;
	got = ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	    : ((struct sockaddr_in *)&ss)->sin_port;
	if (!val || type != SOCK_STREAM || !same_host(&ss, &lc->lc_addr) ||
	    (conf_port(lc) != 0 && got != conf_port(lc)) ||
	    (*port != 0 && got != *port)) {
		errno = EINVAL;
		return -1;
	}
	*port = got;
	return 0;
}

int
tao__lset_adopt(struct tao_lset *set, const struct sockaddr_storage *asked,
    socklen_t askedlen, const int *fds, int nfd, char *err, size_t errlen)
{
	struct tao_lsock *ls;
	in_port_t port = 0;

	if (set->lset_n == TAO_MAX_LSOCKS || nfd < 1 || nfd > TAO_MAX_WORKERS ||
	    askedlen > sizeof(*asked) || (asked->ss_family != AF_INET &&
	    asked->ss_family != AF_INET6)) {
		snprintf(err, errlen, "inherited listener: bad set (%d fds)",
		    nfd);
		return -1;
	}
	ls = &set->lset_socks[set->lset_n];
	memset(ls, 0, sizeof(*ls));
	ls->ls_asked.lc_addr = *asked;
	ls->ls_asked.lc_addrlen = askedlen;
	snprintf(ls->ls_asked.lc_text, sizeof(ls->ls_asked.lc_text),
	    "(inherited)");
	for (int i = 0; i < nfd; i++)
		if (tao__lset_owns(set, fds[i]) || adopt_check(fds[i],
		    &ls->ls_asked, &port) == -1) {
			snprintf(err, errlen, "inherited listener fd %d: not a "
			    "listening socket of the address it was passed "
			    "for%s", fds[i], tao__lset_owns(set, fds[i]) ?
			    " (passed twice)" : "");
			return -1;
		}
	ls->ls_conf = ls->ls_asked;
	resolve_port(&ls->ls_conf, fds[0]);
	for (int i = 0; i < nfd; i++) {
		/* Ours are non-blocking already; a forged one may not be, and
		 * a blocking accept would hang the worker. */
		if (fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) |
		    O_NONBLOCK) == -1 || fcntl(fds[i], F_SETFD,
		    FD_CLOEXEC) == -1) {
			snprintf(err, errlen, "inherited listener fd %d: %s",
			    fds[i], strerror(errno));
			ls->ls_nfd = 0;
			return -1;
		}
		ls->ls_fd[ls->ls_nfd++] = fds[i];
	}
	set->lset_n++;
	return 0;
}
