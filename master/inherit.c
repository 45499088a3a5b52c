/*
 * inherit.c - the new master's side of a binary upgrade: take the
 * descriptors $TAO_UPGRADE lists (format and checks: the top of
 * upgrade.c), serve on them, tell the old master READY, take over when it
 * commits (or when it dies first), pass on the connections it relays, and
 * close what no config line claimed once it is gone.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libutil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/master.h"
#include "master/notify.h"
#include "master/rundir.h"
#include "shm/segment.h"
#include "core/log.h"

#define ENV_MAX		65536
#define PARENT_READ_MAX	64	/* records from the old master per turn */

/* A decimal fd or -1 for "none" ('-1' allowed only when none_ok). */
static int
parse_fd(const char *s, const char **end, int none_ok)
{
	char *e;
	long v;

	errno = 0;
	v = strtol(s, &e, 10);
	if (e == s || errno != 0 || v < (none_ok ? -1 : 3) || v > INT32_MAX ||
	    (v >= 0 && fcntl((int)v, F_GETFD) == -1))
		return -2;
	*end = e;
	return (int)v;
}

static int
parse_hex(const char *s, void *out, size_t cap, size_t *len)
{
	unsigned char *o = out;
	size_t n = strlen(s);

	if (n % 2 != 0 || n / 2 > cap || n == 0)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		o[i] = (unsigned char)v;
	}
	*len = n / 2;
	return 0;
}

/* "FD,FD,...@HEX": one listener set. */
static int
take_listeners(struct tao_master *m, const char *v, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int fds[TAO_MAX_WORKERS], n = 0, fd;
	const char *p = v, *end;
	size_t len = 0;

	memset(&ss, 0, sizeof(ss));
	for (;;) {
		if (n == TAO_MAX_WORKERS || (fd = parse_fd(p, &end, 0)) < 0)
			goto bad;
		for (int i = 0; i < n; i++)
			if (fds[i] == fd)
				goto bad;
		fds[n++] = fd;
		if (*end == '@')
			break;
		if (*end != ',')
			goto bad;
		p = end + 1;
	}
	if (parse_hex(end + 1, &ss, sizeof(ss), &len) == -1)
		goto bad;
	return tao__lset_adopt(&m->m_lset, &ss, (socklen_t)len, fds, n, err,
	    errlen);
bad:
	snprintf(err, errlen, "malformed listener set '%s'", v);
	return -1;
}

static int
take_channel(struct tao_master *m, int fd, char *err, size_t errlen)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_SEQPACKET) {
		snprintf(err, errlen, "chan=%d: not the upgrade channel", fd);
		return -1;
	}
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	m->m_upgrade.up_parent_fd = fd;
	return 0;
}

/* The control socket: ours if it is at our path, else kept until the old
 * master is gone and then unlinked. */
static int
take_control(struct tao_master *m, int fd, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	struct tao_ctl_listener *l;

	if (fd < 0)
		return 0;
	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &len) == -1 ||
	    sun.sun_family != AF_UNIX) {
		snprintf(err, errlen, "ctl=%d: not a unix socket", fd);
		return -1;
	}
	sun.sun_path[sizeof(sun.sun_path) - 1] = '\0';
	if ((l = tao__ctl_adopt(fd, sun.sun_path, err, errlen)) == NULL)
		return -1;
	if (strcmp(sun.sun_path, m->m_cf.cf_control) == 0)
		m->m_ctl = l;
	else
		m->m_upgrade.up_old_ctl = l;
	return 0;
}

/* "V,SIZE": the old master's channel records must be ours, or every
 * record between the masters would be refused or misread. */
static int
take_layout(struct tao_master *m, const char *v, char *err, size_t errlen)
{
	unsigned long ver, size;
	char *e;

	errno = 0;
	ver = strtoul(v, &e, 10);
	if (e == v || *e != ',' || errno != 0)
		goto bad;
	size = strtoul(e + 1, &e, 10);
	if (*e != '\0' || errno != 0 || !isdigit((unsigned char)v[0]))
		goto bad;
	if (ver != TAO_CHAN_VERSION || size != sizeof(struct tao_chan_msg)) {
		snprintf(err, errlen, "the old master's channel records are "
		    "layout %lu of %lu bytes, this binary's layout %d of %zu "
		    "bytes: they cannot talk; refusing the upgrade", ver, size,
		    TAO_CHAN_VERSION, sizeof(struct tao_chan_msg));
		return -1;
	}
	m->m_upgrade.up_layout_ok = 1;
	return 0;
bad:
	snprintf(err, errlen, "malformed channel layout 'rec=%s'", v);
	return -1;
}

static int
take_word(struct tao_master *m, const char *w, char *err, size_t errlen)
{
	struct tao_upgrade *up = &m->m_upgrade;
	const char *end;
	int fd;

	if (strncmp(w, "L=", 2) == 0)
		return take_listeners(m, w + 2, err, errlen);
	if (strncmp(w, "netid=", 6) == 0) {
		up->up_netid_bound = strtoull(w + 6, NULL, 10);
		return 0;
	}
	if (strcmp(w, "v=1") == 0 || strncmp(w, "ppid=", 5) == 0)
		return 0;
	if (strncmp(w, "rec=", 4) == 0)
		return take_layout(m, w + 4, err, errlen);
	fd = -2;
	if (strncmp(w, "chan=", 5) == 0 && (fd = parse_fd(w + 5, &end, 0)) >=
	    0 && *end == '\0')
		return take_channel(m, fd, err, errlen);
	if (strncmp(w, "ctl=", 4) == 0 && (fd = parse_fd(w + 4, &end, 1)) >=
	    -1 && *end == '\0')
		return take_control(m, fd, err, errlen);
	if (strncmp(w, "metrics=", 8) == 0 && (fd = parse_fd(w + 8, &end,
	    1)) >= -1 && *end == '\0') {
		up->up_metrics_fd = fd;
		return 0;
	}
	snprintf(err, errlen, "'%s' is not a word of protocol v=1", w);
	return -1;
}

int
tao__upgrade_inherit(struct tao_master *m)
{
	const char *env = getenv("TAO_UPGRADE");
	char err[TAO_CONFIG_ERRLEN], *copy, *w, *save = NULL;
	int rc = 0;

	if (env == NULL)
		return 0;
	if (strlen(env) > ENV_MAX || strncmp(env, "v=1 ", 4) != 0 ||
	    (copy = strdup(env)) == NULL) {
		log_warnx("upgrade: $TAO_UPGRADE is not protocol v=1");
		return -1;
	}
	unsetenv("TAO_UPGRADE");	/* not for a later upgrade of ours */
	m->m_upgrade.up_inherit = 1;
	for (w = strtok_r(copy, " ", &save); w != NULL && rc == 0;
	    w = strtok_r(NULL, " ", &save))
		rc = take_word(m, w, err, sizeof(err));
	free(copy);
	if (rc == 0 && m->m_upgrade.up_parent_fd < 0) {
		snprintf(err, sizeof(err), "no chan= word");
		rc = -1;
	} else if (rc == 0 && !m->m_upgrade.up_layout_ok) {
		snprintf(err, sizeof(err), "no rec= word: the old master's "
		    "channel record layout is unknown; refusing the upgrade");
		rc = -1;
	}
	if (rc == -1) {
		log_warnx("upgrade: inherited descriptors: %s", err);
		return -1;
	}
	log_info("upgrade: taking over from master %ld",
	    (long)getppid());
	return 0;
}

/* ---- after set-up -------------------------------------------------------- */

static void
old_master_gone(struct tao_master *m)
{
	struct tao_upgrade *up = &m->m_upgrade;

	tao__watch_kill(m, &up->up_parent_w);
	tao__uptotals_free(m);
	up->up_inherit = 0;	/* unclaimed listeners may go (gc) */
	if (up->up_old_ctl != NULL)
		tao__ctl_unbind(m, up->up_old_ctl);
	up->up_old_ctl = NULL;
	log_info("upgrade: the old master is gone");
}

static void
take_over(struct tao_master *m, const char *why)
{
	struct tao_upgrade *up = &m->m_upgrade;
	char msg[96];
	pid_t other;

	if (up->up_taken)
		return;
	up->up_taken = 1;
	log_info("upgrade: taking over as the master (%s)", why);
	if (m->m_cf.cf_pidfile[0] != '\0') {
		(void)tao__rundir_ensure(m->m_cf.cf_pidfile);
		if ((m->m_pidfh = pidfile_open(m->m_cf.cf_pidfile, 0644,
		    &other)) == NULL || pidfile_write(m->m_pidfh) == -1)
			log_warn("pidfile %s", m->m_cf.cf_pidfile);
	}
	if (tao__ctl_listen(m, 1) == -1 || tao__metrics_poll(m) == -1)
		log_warnx("upgrade: cannot poll the control or metrics socket");
	snprintf(msg, sizeof(msg), "MAINPID=%ld\nREADY=1\nSTATUS=serving",
	    (long)getpid());
	(void)tao__notify(msg);
	if (up->up_parent_w.w_events != 0)
		(void)tao__chan_send(up->up_parent_w.w_fd, TAO_CHAN_UP_TAKEN, 0,
		    0);
}

static void
on_parent(struct tao_master *m, struct tao_watch *w, uint32_t events)
{
	struct tao_upgrade *up = &m->m_upgrade;
	struct tao_chan_msg msg;
	int rc = 0, fd, n = 0;

	(void)events;
	/* Bounded per wake-up (level-triggered: the rest comes next turn),
	 * so the loop also flushes what it queued for the workers. */
	while (n++ < PARENT_READ_MAX &&
	    (rc = tao__chan_recv(w->w_fd, &msg, &fd)) == 1) {
		if (msg.cm_type == TAO_CHAN_UP_COMMIT)
			take_over(m, "the old master committed");
		else if (msg.cm_type >= TAO_CHAN_UP_TOTALS &&
		    msg.cm_type <= TAO_CHAN_UP_TOTALS_END)
			tao__uptotals_take(m, &msg);
		else if (msg.cm_type == TAO_CHAN_CONN && fd >= 0) {
			tao__relay_conn(m, (int)(up->up_rr++ %
			    (unsigned)m->m_nworkers), &msg, fd);
			fd = -1;
		}
		if (fd >= 0)
			close(fd);
	}
	if (rc == -1) {
		take_over(m, "the old master exited first");
		old_master_gone(m);
	}
}

int
tao__upgrade_attach(struct tao_master *m)
{
	struct tao_upgrade *up = &m->m_upgrade;

	if (!up->up_inherit)
		return 0;
	if (up->up_netid_bound != 0)
		tao__shm_netid_seed(m->m_shm, up->up_netid_bound);
	if (tao__watch_add(m, &up->up_parent_w, up->up_parent_fd, EPOLLIN,
	    on_parent, NULL) == -1) {
		log_warn("upgrade: epoll_ctl");
		return -1;
	}
	up->up_parent_fd = -1;
	return 0;
}

void
tao__upgrade_serving(struct tao_master *m)
{
	struct tao_upgrade *up = &m->m_upgrade;

	if (up->up_inherit && !up->up_taken) {
		if (tao__chan_send(up->up_parent_w.w_fd, TAO_CHAN_UP_READY, 0,
		    0) == -1)
			log_warn("upgrade: READY to the old master");
		return;
	}
	(void)tao__notify("READY=1\nSTATUS=serving");
}

/* The port and the address bytes of an inet or inet6 sockaddr. */
static int
split_addr(const struct sockaddr_storage *ss, in_port_t *port,
    const void **host, size_t *hostlen)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		*port = s6->sin6_port;
		*host = &s6->sin6_addr;
		*hostlen = sizeof(s6->sin6_addr);
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;
		*port = s4->sin_port;
		*host = &s4->sin_addr;
		*hostlen = sizeof(s4->sin_addr);
	} else
		return -1;
	return 0;
}

/* Same host and (unless ours says 0: it keeps the port it got) port as
 * our metrics address; else (or without one) it is closed here.  Called
 * once, by tao__metrics_start. */
int
tao__upgrade_metrics_fd(struct tao_master *m)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const struct tao_config *cf = &m->m_cf;
	int fd = m->m_upgrade.up_metrics_fd, val = 0;
	socklen_t vlen = sizeof(val);
	in_port_t p1, p2;
	const void *h1, *h2;
	size_t l1, l2;

	if (fd < 0)
		return -1;
	m->m_upgrade.up_metrics_fd = -1;
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &vlen) == -1 ||
	    !val || split_addr(&ss, &p1, &h1, &l1) == -1 ||
	    split_addr(&cf->cf_metrics_addr, &p2, &h2, &l2) == -1 ||
	    ss.ss_family != cf->cf_metrics_addr.ss_family || l1 != l2 ||
	    memcmp(h1, h2, l1) != 0 || (p2 != 0 && p1 != p2)) {
		close(fd);	/* not ours: the old master keeps its own */
		return -1;
	}
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}
