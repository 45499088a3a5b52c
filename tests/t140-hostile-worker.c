/*
 * t140-hostile-worker - the master against a compromised worker (issue 12,
 * "hostile peer of the master").
 *
 * A real taod runs (2 workers, max_connections 3000).  The test becomes
 * one of its workers, with the same powers a compromised worker has:
 *
 * - its end of the channel: taken out of the worker with pidfd_getfd(2),
 *   so what the test sends arrives at the master exactly as if the worker
 *   had sent it;
 * - the shared segment: mapped from /proc/MASTER/map_files (the same
 *   MAP_SHARED pages every process of taod uses).
 *
 * Both need ptrace/CAP_SYS_ADMIN-level rights over taod's processes (the
 * test runs them as its own children; as root, or with ptrace_scope 0 and
 * map_files readable).  Where the kernel refuses, that part is skipped
 * and said so; t141 and t142 drive the same receive and read code as a
 * unit test everywhere.
 *
 * Attacks, and what must hold afterwards (bounded fds, CPU and time):
 * - channel: 200 READY records with 2 descriptors each in one cmsg, 50 CONN
 *   records carrying a pipe, 50 records of unknown type with descriptors,
 *   then one oversize record with descriptors: the master's descriptor
 *   count stays at its baseline (the old master went up by 500);
 * - shared memory: every table row of every islot left mid-update (odd
 *   sequence), high-water marks and free lists scribbled, every stats
 *   counter 0xff.., every ring's head/claim absurd: `taoctl conns`,
 *   `conns --json`, `stats` and `status` each answer within 1 s (the old
 *   master took 5 ms per poisoned row: minutes), the master's CPU stays
 *   bounded, the workers still echo, and taod still stops cleanly.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/sockios.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm/segment.h"
#include "shm/ring.h"
#include "shm/stats.h"
#include "shm/table.h"
#include "proto/channel.h"
#include "tests/lib/harness.h"
#include "tests/tap.h"

static void
skip(const char *why)
{
	ok(1, "# skip %s", why);
}

static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		bail("cannot find a free port");
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int
fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* utime + stime of pid, in ms */
static double
cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
	    "%llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* The worker's end of its channel (the one SOCK_SEQPACKET unix socket it
 * has), duplicated into this process; -1 if the kernel refuses. */
static int
steal_channel(pid_t worker)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int pidfd, found = -1;

	if ((pidfd = (int)syscall(SYS_pidfd_open, worker, 0)) == -1)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)worker);
	if ((d = opendir(path)) == NULL) {
		close(pidfd);
		return -1;
	}
	while (found == -1 && (e = readdir(d)) != NULL) {
		int target = atoi(e->d_name), fd, type = 0, dom = 0;
		socklen_t len = sizeof(int);

		if (e->d_name[0] == '.')
			continue;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
		if (fd == -1)
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
		    (len = sizeof(int), getsockopt(fd, SOL_SOCKET, SO_DOMAIN,
		    &dom, &len)) == 0 && type == SOCK_SEQPACKET &&
		    dom == AF_UNIX)
			found = fd;
		else
			close(fd);
	}
	closedir(d);
	close(pidfd);
	return found;
}

/* taod's segment, mapped here through /proc/PID/map_files; NULL if the
 * kernel refuses. */
static struct tao_shm *
map_segment(pid_t master, void **base, size_t *size)
{
	char path[64], line[512], file[128];
	unsigned long lo, hi;
	struct tao_shm *shm = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)master);
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	while (shm == NULL && fgets(line, sizeof(line), f) != NULL) {
		char perms[8];
		void *p;
		int fd;

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 ||
		    strcmp(perms, "rw-s") != 0)
			continue;
		snprintf(file, sizeof(file), "/proc/%d/map_files/%lx-%lx",
		    (int)master, lo, hi);
		if ((fd = open(file, O_RDWR | O_CLOEXEC)) == -1)
			continue;
		p = mmap(NULL, hi - lo, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			continue;
		if (tao__shm_attach_check(p, hi - lo) == 0 &&
		    (shm = tao__shm_attach(p, hi - lo)) != NULL) {
			*base = p;
			*size = hi - lo;
		} else
			munmap(p, hi - lo);
	}
	fclose(f);
	return shm;
}

static int
devnull(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		bail("/dev/null");
	return fd;
}

/* One raw record of len bytes with nfds descriptors in one cmsg. */
static int
raw_send(int ch, const void *rec, size_t len, int *fds, int nfds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(4 * sizeof(int))];
	} control;
	struct iovec iov = { (void *)rec, len };
	struct msghdr msg;
	struct cmsghdr *cm;
	double deadline = th_now_ms() + th_ms(5000);
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(&control, 0, sizeof(control));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
	/* bounded poll while the master's queue is full */
	while ((n = sendmsg(ch, &msg, MSG_NOSIGNAL | MSG_DONTWAIT)) == -1 &&
	    (errno == EAGAIN || errno == ENOBUFS) && th_now_ms() < deadline)
		th_sleep_ms(1);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return n == (ssize_t)len ? 0 : -1;
}

/* Wait until the master has read everything we queued: 0, or -1. */
static int
drained(int ch, int ms)
{
	double deadline = th_now_ms() + th_ms(ms);
	int queued = -1;

	do {
		if (ioctl(ch, SIOCOUTQ, &queued) == -1)
			return -1;
		if (queued == 0)
			return 0;
		th_sleep_ms(5);
	} while (th_now_ms() < deadline);
	return -1;
}

/* Master's fd count settles at or below want within ms: the count. */
static int
fds_settle(pid_t pid, int want, int ms)
{
	double deadline = th_now_ms() + th_ms(ms);
	int n;

	do {
		if ((n = fd_count(pid)) <= want)
			return n;
		th_sleep_ms(10);
	} while (th_now_ms() < deadline);
	return n;
}

static void
attack_channel(struct th_daemon *d, pid_t worker)
{
	struct tao_chan_msg ready = { TAO_CHAN_READY, 0, 0, { 0 } };
	struct tao_chan_msg conn = { TAO_CHAN_CONN, 0, 99, { 0 } };
	unsigned char big[sizeof(struct tao_chan_msg) + 64];
	int ch, base, fds[2], failed = 0, n, i;

	if ((ch = steal_channel(worker)) == -1) {
		diag("pidfd_getfd on worker %d: %s", (int)worker,
		    strerror(errno));
		skip("channel attack: cannot take the worker's channel");
		return;
	}
	base = fd_count(d->pid);
	for (i = 0; i < 200; i++) {
		fds[0] = devnull();
		fds[1] = devnull();
		failed |= raw_send(ch, &ready, sizeof(ready), fds, 2);
	}
	for (i = 0; i < 50; i++) {
		int p[2];

		if (pipe2(p, O_CLOEXEC) == -1)
			bail("pipe");
		close(p[1]);
		fds[0] = p[0];
		failed |= raw_send(ch, &conn, sizeof(conn), fds, 1);
	}
	for (i = 0; i < 50; i++) {
		struct tao_chan_msg u = { 5000u + (unsigned)i, 0, 0, { 0 } };

		fds[0] = devnull();
		failed |= raw_send(ch, &u, sizeof(u), fds, 1);
	}
	ok(!failed, "300 hostile records with 350 descriptors sent as "
	    "worker %d", (int)worker);
	ok(drained(ch, 5000) == 0, "the master read them all");
	n = fds_settle(d->pid, base, 2000);
	ok(n <= base, "master's descriptors: %d before, %d after (none kept)",
	    base, n);
	memset(big, 0, sizeof(big));
	fds[0] = devnull();
	fds[1] = devnull();
	failed = raw_send(ch, big, sizeof(big), fds, 2);
	ok(!failed && drained(ch, 5000) == 0, "an oversize record with 2 "
	    "descriptors was read too");
	for (double t0 = th_now_ms(); th_pid_alive(worker) &&
	    th_now_ms() - t0 < th_ms(5000); )
		th_sleep_ms(10);
	ok(!th_pid_alive(worker), "the master killed worker %d, which sent a "
	    "malformed record (its slot respawns)", (int)worker);
	n = fds_settle(d->pid, base, 2000);
	ok(n <= base, "master's descriptors still %d (baseline %d)", n, base);
	ok(th_pid_alive(d->pid), "the master lives");
	close(ch);
}

static void
poison_shm(struct tao_shm *shm)
{
	for (unsigned i = 0; i < shm->sh_nislots; i++) {
		struct tao_table_part *p = tao__shm_part(shm, i);
		struct tao_stats_block *b = tao__shm_stats(shm, i);
		struct tao_ring_ctl *rc = tao__shm_ringctl(shm, i);

		atomic_store(&p->tp_hwm, UINT32_MAX);
		atomic_store(&p->tp_free, UINT32_MAX - 1);
		for (unsigned j = 0; j < shm->sh_max_connections; j++) {
			struct tao_shm_row *r = tao__shm_row(shm, i, j);

			atomic_store(&r->sr_word[0], 1000 + j);
			atomic_store(&r->sr_seq, 2 * j + 1);
		}
		for (unsigned k = 0; k < TAO_STAT__COUNT; k++)
			atomic_store(&b->sb_counter[k], UINT64_MAX - k);
		atomic_store(&rc->rg_head, UINT64_MAX - 12345);
		atomic_store(&rc->rg_claim, 3);
		atomic_store(&rc->rg_head_seq, UINT64_MAX);
	}
}

/* Run taoctl ARG [ARG2]; ms it took, -1 if it failed. */
static double
timed_ctl(struct th_daemon *d, const char *a, const char *b)
{
	static char out[1 << 20];
	double t0 = th_now_ms();
	int rc;

	rc = b == NULL ? th_ctl(d, out, sizeof(out), a, (char *)NULL) :
	    th_ctl(d, out, sizeof(out), a, b, (char *)NULL);
	return rc == 0 ? th_now_ms() - t0 : -1;
}

static void
attack_shm(struct th_daemon *d)
{
	static const char *const cmds[][2] = {
		{ "conns", NULL }, { "conns", "--json" }, { "stats", NULL },
		{ "stats", "--json" }, { "status", NULL },
	};
	struct tao_shm *shm;
	void *base = NULL;
	size_t size = 0;
	double cpu0, cpu, took;
	int fd;

	if ((shm = map_segment(d->pid, &base, &size)) == NULL) {
		diag("cannot map taod's segment through /proc/%d/map_files",
		    (int)d->pid);
		skip("shared-memory attack: segment not reachable");
		return;
	}
	diag("segment mapped: %zu bytes, %u islots x %u rows", size,
	    shm->sh_nislots, shm->sh_max_connections);
	cpu0 = cpu_ms(d->pid);
	poison_shm(shm);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		took = timed_ctl(d, cmds[i][0], cmds[i][1]);
		ok(took >= 0 && took < th_ms(1000), "taoctl %s%s%s answers "
		    "over a poisoned segment in %.0f ms (< 1 s)", cmds[i][0],
		    cmds[i][1] ? " " : "", cmds[i][1] ? cmds[i][1] : "", took);
	}
	cpu = cpu_ms(d->pid) - cpu0;
	ok(cpu >= 0 && cpu < th_ms(th_sanitized() ? 3000 : 1000),
	    "the master spent %.0f ms of CPU on it", cpu);
	fd = th_connect(d->port[0]);
	ok(fd != -1 && th_echo_once(fd, 1, 100, 7) == 0, "the workers still "
	    "echo");
	if (fd != -1)
		close(fd);
	ok(th_pid_alive(d->pid), "the master lives");
	tao__shm_destroy(shm);		/* the handle only: not our mapping */
	munmap(base, size);
}

int
main(void)
{
	struct th_daemon *d;
	struct th_status st;
	pid_t kids[16];
	char conf[200];
	double deadline;
	int n, fd;

	th_init("t140-hostile-worker", 120);
	plan(0);
	snprintf(conf, sizeof(conf), "workers 2\nmax_connections 3000\n"
	    "listen 127.0.0.1:%d tlv\napp echo\n", free_port());
	if ((d = th_daemon_start(conf)) == NULL)
		bail("taod did not start");
	deadline = th_now_ms() + th_ms(10000);
	while ((th_status(d, &st) == -1 || th_status_serving(&st, 0, NULL) +
	    th_status_serving(&st, 1, NULL) < 2) && th_now_ms() < deadline)
		th_sleep_ms(20);
	fd = th_connect(d->port[0]);
	ok(fd != -1 && th_echo_once(fd, 1, 10, 1) == 0, "taod serves");
	if (fd != -1)
		close(fd);
	n = th_children(d->pid, kids, 16);
	if (n < 1)
		bail("no worker");
	attack_channel(d, kids[0]);
	attack_shm(d);
	n = th_daemon_stop(d);
	is_int(n, 0, "taod stops with exit 0 after all that");
	return th_exit(done_testing());
}
