/*
 * harness.c - the integration tests' process side: the temp dir, running
 * programs and taod, /proc readings, and the cleanup that kills by pid.
 *
 * Cleanup has to work from a signal handler too (SIGALRM when a test
 * hangs, SIGINT/SIGTERM from prove or a user), so the code it runs - kill
 * a process tree, dump the logs, remove the temp dir - uses only raw
 * system calls (open, read, write, getdents64, unlinkat, kill): no stdio,
 * no malloc.  To kill a tree without racing a master that forks a new
 * worker, it stops the parent first (SIGSTOP), kills the children it
 * lists, then kills the parent.  The test process is a child subreaper,
 * so workers whose master died are re-parented to it and are found among
 * its own children.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

#define MAX_DAEMONS	64	/* t150 starts two per directive */
#define MAX_KIDS	256
#define LOG_TAIL	16384

extern char **environ;

static char		 test_name[64] = "test";
static char		 test_dir[128];
static char		 build_dir[200] = "build";
static char		 bin_path[256];
static char		 alarm_msg[160];
static double		 scale = 1.0;
static int		 sanitized;
static uint64_t		 rand_state = 88172645463325252ULL;
static struct th_daemon	*daemons[MAX_DAEMONS];
static volatile int	 ndaemons;
static volatile pid_t	 running_pid = -1;	/* th_run's child */
static int		 cleaned;

/* ---- async-signal-safe pieces --------------------------------------- */

struct dirent64 {
	uint64_t	d_ino;
	int64_t		d_off;
	unsigned short	d_reclen;
	unsigned char	d_type;
	char		d_name[];
};

static void
raw_write(int fd, const char *s, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, s, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void
raw_puts(int fd, const char *s)
{
	raw_write(fd, s, strlen(s));
}

/* Format a small unsigned number without stdio. */
static char *
raw_utoa(unsigned long v, char *end)
{
	*--end = '\0';
	do
		*--end = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return end;
}

/* Append the pids listed in path (a "children" file) to out. */
static int
read_pid_list(const char *path, pid_t *out, int n, int max)
{
	char buf[4096];
	ssize_t len;
	long v = -1;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return n;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	for (ssize_t i = 0; i <= len && n < max; i++) {
		if (i < len && buf[i] >= '0' && buf[i] <= '9')
			v = (v < 0 ? 0 : v * 10) + (buf[i] - '0');
		else if (v > 0) {
			out[n++] = (pid_t)v;
			v = -1;
		}
	}
	return n;
}

/* Children of every thread of pid ("/proc/PID/task/TID/children"). */
static int
list_children(pid_t pid, pid_t *out, int max)
{
	char dir[64], path[128], buf[2048], *p;
	long len;
	int fd, n = 0;

	p = raw_utoa((unsigned long)pid, dir + 32);
	memmove(dir, "/proc/", 6);
	memmove(dir + 6, p, strlen(p) + 1);
	strcat(dir, "/task");
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return 0;
	while ((len = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < len;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);
			off += de->d_reclen;
			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			if (strlen(dir) + strlen(de->d_name) + 12 >=
			    sizeof(path))
				continue;
			strcpy(path, dir);
			strcat(path, "/");
			strcat(path, de->d_name);
			strcat(path, "/children");
			n = read_pid_list(path, out, n, max);
		}
	}
	close(fd);
	return n;
}

static void
kill_tree(pid_t pid, int depth)
{
	pid_t kids[MAX_KIDS];
	int n;

	if (pid <= 1 || depth > 4)
		return;
	(void)kill(pid, SIGSTOP);	/* no more forks from it */
	n = list_children(pid, kids, MAX_KIDS);
	for (int i = 0; i < n; i++)
		kill_tree(kids[i], depth + 1);
	(void)kill(pid, SIGKILL);
}

/* Kill every daemon, th_run's child and every other child we have. */
static void
kill_all(void)
{
	pid_t kids[MAX_KIDS];
	int n;

	for (int i = 0; i < ndaemons; i++)
		if (daemons[i] != NULL && daemons[i]->pid > 0)
			kill_tree(daemons[i]->pid, 0);
	if (running_pid > 0)
		kill_tree(running_pid, 0);
	n = list_children(getpid(), kids, MAX_KIDS);
	for (int i = 0; i < n; i++)
		kill_tree(kids[i], 0);
}

static void
rm_tree_at(int dirfd, const char *name, int depth)
{
	char buf[2048];
	long len;
	int fd;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT || depth > 6)
		return;
	for (int pass = 0; pass < 3; pass++) {
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd == -1)
			return;
		while ((len = syscall(SYS_getdents64, fd, buf,
		    sizeof(buf))) > 0) {
			for (long off = 0; off < len;) {
				struct dirent64 *de =
				    (struct dirent64 *)(buf + off);
				off += de->d_reclen;
				if (strcmp(de->d_name, ".") == 0 ||
				    strcmp(de->d_name, "..") == 0)
					continue;
				rm_tree_at(fd, de->d_name, depth + 1);
			}
		}
		close(fd);
		if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 ||
		    errno != ENOTEMPTY)
			return;
	}
}

/* The last LOG_TAIL bytes of a daemon's log, every line as "# ...". */
static void
dump_log_raw(const struct th_daemon *d)
{
	char buf[4096], num[24];
	off_t size;
	ssize_t n;
	int fd, bol = 1;

	if ((fd = open(d->log, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	size = lseek(fd, 0, SEEK_END);
	raw_puts(1, "# ---- taod log ");
	raw_puts(1, d->log);
	if (size > LOG_TAIL) {
		raw_puts(1, " (last ");
		raw_puts(1, raw_utoa(LOG_TAIL, num + sizeof(num)));
		raw_puts(1, " bytes)");
	}
	raw_puts(1, " ----\n");
	(void)lseek(fd, size > LOG_TAIL ? size - LOG_TAIL : 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (bol)
				raw_write(1, "# ", 2);
			raw_write(1, buf + i, 1);
			bol = buf[i] == '\n';
		}
	}
	if (!bol)
		raw_write(1, "\n", 1);
	close(fd);
}

static void
dump_all_logs(void)
{
	for (int i = 0; i < ndaemons; i++)
		if (daemons[i] != NULL)
			dump_log_raw(daemons[i]);
}

static void
on_signal(int sig)
{
	if (sig == SIGALRM)
		raw_puts(1, alarm_msg);
	else
		raw_puts(1, "Bail out! interrupted by a signal\n");
	dump_all_logs();
	kill_all();
	if (test_dir[0] != '\0')
		rm_tree_at(AT_FDCWD, test_dir, 0);
	_exit(255);
}

/* ---- init and exit -------------------------------------------------- */

static void
cleanup(void)
{
	int status;

	if (cleaned)
		return;
	cleaned = 1;
	kill_all();
	/* Everything left is SIGKILLed: reaping is bounded. */
	while (waitpid(-1, &status, 0) > 0 || errno == EINTR)
		;
	if (test_dir[0] != '\0')
		rm_tree_at(AT_FDCWD, test_dir, 0);
}

static void
at_exit(void)
{
	if (cleaned)
		return;
	fflush(stdout);
	dump_all_logs();	/* an exit without th_exit: bail or crash */
	cleanup();
}

/* TAO_BUILD and TAO_TEST_TIMEOUT_SCALE, once: the one place the tests
 * read their time scale. */
static void
read_env(void)
{
	static int done;
	const char *e;
	size_t len;

	if (done)
		return;
	done = 1;
	if ((e = getenv("TAO_BUILD")) != NULL && *e != '\0')
		strlcpy(build_dir, e, sizeof(build_dir));
	len = strlen(build_dir);
	while (len > 1 && build_dir[len - 1] == '/')
		build_dir[--len] = '\0';
	if ((e = getenv("TAO_TEST_TIMEOUT_SCALE")) != NULL && atof(e) > 0)
		scale = atof(e);
	if (len >= 5 && strcmp(build_dir + len - 5, "/asan") == 0) {
		sanitized = 1;
		scale *= 3;
	} else if (len >= 5 && strcmp(build_dir + len - 5, "/tsan") == 0) {
		sanitized = 1;	/* ThreadSanitizer is slower still */
		scale *= 5;
	}
}

double
th_timeout_scale(void)
{
	read_env();
	return scale;
}

void
th_init(const char *name, int limit_s)
{
	struct sigaction sa;
	const char *e;
	unsigned seed;

	strlcpy(test_name, name, sizeof(test_name));
	read_env();
	if ((e = getenv("TAO_TEST_SEED")) != NULL && *e != '\0')
		seed = (unsigned)strtoul(e, NULL, 0);
	else
		seed = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
	rand_state ^= (uint64_t)seed * 0x9E3779B97F4A7C15ULL;
	if (rand_state == 0)
		rand_state = 1;
	diag("%s: seed %u (set TAO_TEST_SEED to repeat), build %s, "
	    "timeout scale %.1f", name, seed, build_dir, scale);

	snprintf(test_dir, sizeof(test_dir), "/tmp/tao-%s.XXXXXX", name);
	if (mkdtemp(test_dir) == NULL) {
		test_dir[0] = '\0';
		bail("mkdtemp failed");
	}
	atexit(at_exit);
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	limit_s = (int)(limit_s * scale + 0.999);
	snprintf(alarm_msg, sizeof(alarm_msg), "Bail out! %s: time limit "
	    "of %d s reached\n", name, limit_s);
	alarm((unsigned)limit_s);
}

int
th_exit(int rc)
{
	fflush(stdout);
	if (rc != 0)
		dump_all_logs();
	cleanup();
	return rc;
}

int
th_ms(int nominal_ms)
{
	read_env();
	return (int)(nominal_ms * scale + 0.5);
}

int
th_sanitized(void)
{
	read_env();
	return sanitized;
}

double
th_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void
th_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

const char *
th_dir(void)
{
	return test_dir;
}

const char *
th_bin(const char *name)
{
	snprintf(bin_path, sizeof(bin_path), "%s/%s", build_dir, name);
	return bin_path;
}

uint32_t
th_rand(void)
{
	rand_state ^= rand_state >> 12;
	rand_state ^= rand_state << 25;
	rand_state ^= rand_state >> 27;
	return (uint32_t)((rand_state * 0x2545F4914F6CDD1DULL) >> 32);
}

/* ---- running programs ----------------------------------------------- */

/* Decode a wait status the way a shell does. */
static int
exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* Reap pid within timeout_ms: its exit code, or -2 if still running. */
static int
reap(pid_t pid, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;
	int status, pause_ms = 1;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return exit_code(status);
		if (r == -1 && errno != EINTR)
			return -1;
		if (th_now_ms() >= end)
			return -2;
		th_sleep_ms(pause_ms);
		if (pause_ms < 20)
			pause_ms *= 2;
	}
}

/* Spawn argv with stdin from /dev/null and stdout+stderr on out_fd;
 * signal dispositions and mask back to the defaults. */
static pid_t
spawn(const char *const argv[], int out_fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	pid_t pid;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	rc = posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)argv,
	    environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		diag("cannot run %s: %s", argv[0], strerror(rc));
		return -1;
	}
	return pid;
}

int
th_run(char *out, size_t outlen, int timeout_ms, const char *const argv[])
{
	double end = th_now_ms() + timeout_ms;
	size_t got = 0;
	char sink[4096];
	int p[2], rc;
	ssize_t n;
	pid_t pid;

	if (outlen > 0)
		out[0] = '\0';
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	pid = spawn(argv, p[1]);
	close(p[1]);
	if (pid == -1) {
		close(p[0]);
		return -1;
	}
	running_pid = pid;
	(void)fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		char *dst = got + 1 < outlen ? out + got : sink;
		size_t room = got + 1 < outlen ? outlen - 1 - got :
		    sizeof(sink);

		n = read(p[0], dst, room);
		if (n > 0) {
			if (dst != sink) {
				got += (size_t)n;
				out[got] = '\0';
			}
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			break;
		if (th_now_ms() >= end)
			break;
		th_sleep_ms(2);
	}
	close(p[0]);
	rc = reap(pid, (int)(end - th_now_ms()) > 0 ?
	    (int)(end - th_now_ms()) : 0);
	if (rc == -2) {
		diag("%s did not finish in %d ms: killed", argv[0],
		    timeout_ms);
		kill_tree(pid, 0);
		(void)waitpid(pid, NULL, 0);
		rc = -1;
	}
	running_pid = -1;
	return rc;
}

/* ---- taod ----------------------------------------------------------- */

static char *
read_file(const char *path, size_t *lenp)
{
	FILE *fp;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if ((fp = fopen(path, "re")) == NULL)
		return NULL;
	for (;;) {
		if (cap - len < 4096 + 1) {
			char *grown = realloc(buf, cap = cap * 2 + 8192);
			if (grown == NULL)
				break;
			buf = grown;
		}
		if ((n = fread(buf + len, 1, cap - len - 1, fp)) == 0)
			break;
		len += n;
	}
	fclose(fp);
	if (buf != NULL)
		buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

int
th_daemon_config(struct th_daemon *d, const char *config)
{
	char tmp[300];
	const char *p, *at;
	FILE *fp;
	int has_control = 0;

	snprintf(tmp, sizeof(tmp), "%s.new", d->conf);
	if ((fp = fopen(tmp, "we")) == NULL)
		return -1;
	for (p = config; (at = strstr(p, "@DIR@")) != NULL; p = at + 5)
		fprintf(fp, "%.*s%s", (int)(at - p), p, d->dir);
	fputs(p, fp);
	for (p = config; *p != '\0'; p += strcspn(p, "\n"), p += *p == '\n') {
		p += strspn(p, " \t");
		if (strncmp(p, "control", 7) == 0 && (p[7] == ' ' ||
		    p[7] == '\t'))
			has_control = 1;
	}
	if (!has_control)
		fprintf(fp, "%scontrol %s\n", config[0] != '\0' &&
		    config[strlen(config) - 1] != '\n' ? "\n" : "", d->ctl);
	if (fclose(fp) == EOF || rename(tmp, d->conf) == -1)
		return -1;
	return 0;
}

static int
parse_ports(struct th_daemon *d)
{
	char *log = read_file(d->log, NULL), *p, *end;
	const char *tag = "listening on ";

	if (log == NULL)
		return -1;
	end = strstr(log, "serving with");
	d->nports = 0;
	for (p = log; (p = strstr(p, tag)) != NULL && (end == NULL ||
	    p < end) && d->nports < TH_MAX_PORTS; p += strlen(tag)) {
		char *colon = p + strlen(tag) + strcspn(p + strlen(tag),
		    " \n");
		/* "HOST:PORT (codec)": the port follows the last ':' */
		while (colon > p && *colon != ':')
			colon--;
		d->port[d->nports++] = atoi(colon + 1);
	}
	free(log);
	return d->nports > 0 ? 0 : -1;
}

/* A new daemon record with its dir and config written and its log
 * opened (the fd in *log_fd); NULL with a diag on failure. */
static struct th_daemon *
daemon_new(const char *config, int *log_fd)
{
	struct th_daemon *d;

	if (ndaemons == MAX_DAEMONS)
		bail("too many daemons in one test");
	if ((d = calloc(1, sizeof(*d))) == NULL)
		bail("out of memory");
	d->pid = -1;
	snprintf(d->dir, sizeof(d->dir), "%s/taod%d", test_dir, ndaemons);
	snprintf(d->conf, sizeof(d->conf), "%s/taod.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/taod.log", d->dir);
	snprintf(d->ctl, sizeof(d->ctl), "%s/ctl.sock", d->dir);
	daemons[ndaemons] = d;
	ndaemons++;
	if (mkdir(d->dir, 0700) == -1 || th_daemon_config(d, config) == -1 ||
	    (*log_fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
	    O_CLOEXEC, 0600)) == -1) {
		diag("%s: %s", d->dir, strerror(errno));
		return NULL;
	}
	return d;
}

/* Wait for "serving with" and read the ports: d, or NULL with the log. */
static struct th_daemon *
daemon_ready(struct th_daemon *d, const char *what)
{
	if (th_daemon_wait_log(d, "serving with", 1, th_ms(10000)) == -1) {
		diag("%s (pid %d) did not serve in time", what, (int)d->pid);
		th_daemon_dump_log(d);
		return NULL;
	}
	if (parse_ports(d) == -1) {
		diag("no \"listening on\" line in %s", d->log);
		th_daemon_dump_log(d);
		return NULL;
	}
	return d;
}

struct th_daemon *
th_daemon_start(const char *config)
{
	return th_daemon_start_bin(th_bin("taod"), config);
}

struct th_daemon *
th_daemon_start_bin(const char *bin, const char *config)
{
	struct th_daemon *d;
	const char *argv[4];
	int fd;

	if ((d = daemon_new(config, &fd)) == NULL)
		return NULL;
	argv[0] = bin;
	argv[1] = "-c";
	argv[2] = d->conf;
	argv[3] = NULL;
	d->pid = spawn(argv, fd);
	close(fd);
	if (d->pid == -1)
		return NULL;
	return daemon_ready(d, "taod");
}

/* In the forked server: none of this test's clean-up (it removes the
 * test dir) nor its signal handlers; output into the log. */
static void
forked_child_setup(int log_fd)
{
	struct sigaction sa;
	sigset_t none;

	cleaned = 1;
	alarm(0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	(void)setpgid(0, 0);
	(void)dup2(log_fd, 1);
	(void)dup2(log_fd, 2);
}

struct th_daemon *
th_daemon_fork(const char *config, int (*run)(const char *conf, void *arg),
    void *arg)
{
	struct th_daemon *d;
	int fd;

	if ((d = daemon_new(config, &fd)) == NULL)
		return NULL;
	fflush(stdout);
	fflush(stderr);
	if ((d->pid = fork()) == -1) {
		diag("fork: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (d->pid == 0) {
		forked_child_setup(fd);
		_exit(run(d->conf, arg));
	}
	close(fd);
	return daemon_ready(d, "server");
}

int
th_daemon_wait(struct th_daemon *d, int timeout_ms)
{
	int rc;

	if (d->pid <= 0)
		return d->status;
	if ((rc = reap(d->pid, timeout_ms)) == -2)
		return -1;
	d->status = rc;
	d->pid = -1;
	return rc;
}

int
th_daemon_stop(struct th_daemon *d)
{
	int rc;

	if (d->pid <= 0)
		return d->status;
	(void)kill(d->pid, SIGTERM);
	if ((rc = th_daemon_wait(d, th_ms(15000))) != -1)
		return rc;
	diag("taod %d ignored SIGTERM: killed", (int)d->pid);
	kill_tree(d->pid, 0);
	(void)waitpid(d->pid, NULL, 0);
	d->pid = -1;
	d->status = -1;
	return -1;
}

int
th_daemon_sanitizer_report(struct th_daemon *d)
{
	return th_daemon_log_count(d, "AddressSanitizer") > 0 ||
	    th_daemon_log_count(d, "LeakSanitizer") > 0 ||
	    th_daemon_log_count(d, "ThreadSanitizer") > 0 ||
	    th_daemon_log_count(d, "runtime error:") > 0;
}

int
th_daemon_stop_clean(struct th_daemon *d)
{
	int rc = th_daemon_stop(d);

	if (rc == 0 && th_daemon_sanitizer_report(d)) {
		diag("taod's log holds a sanitizer report");
		rc = -1;
	}
	return rc;
}

int
th_file_count(const char *path, const char *needle)
{
	char *text = read_file(path, NULL), *p;
	int n = 0;

	if (text == NULL)
		return 0;
	for (p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(text);
	return n;
}

int
th_wait_file(const char *path, const char *needle, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;

	while (th_file_count(path, needle) == 0) {
		if (th_now_ms() >= end)
			return -1;
		th_sleep_ms(5);
	}
	return 0;
}

int
th_daemon_log_count(struct th_daemon *d, const char *needle)
{
	return th_file_count(d->log, needle);
}

int
th_daemon_wait_log(struct th_daemon *d, const char *needle, int count,
    int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;

	for (;;) {
		if (th_daemon_log_count(d, needle) >= count)
			return 0;
		if (th_now_ms() >= end)
			return -1;
		if (d->pid > 0 && th_daemon_wait(d, 0) != -1) {
			diag("taod exited with %d", d->status);
			return th_daemon_log_count(d, needle) >= count ? 0 : -1;
		}
		th_sleep_ms(10);
	}
}

void
th_daemon_dump_log(struct th_daemon *d)
{
	fflush(stdout);
	dump_log_raw(d);
}

/* ---- /proc ---------------------------------------------------------- */

long
th_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

long
th_tree_rss_kb(pid_t pid)
{
	pid_t kids[MAX_KIDS];
	long sum = th_rss_kb(pid), kb;
	int n = list_children(pid, kids, MAX_KIDS);

	for (int i = 0; i < n; i++)
		if ((kb = th_rss_kb(kids[i])) > 0)
			sum += kb;
	return sum;
}

int
th_children(pid_t pid, pid_t *out, int max)
{
	return list_children(pid, out, max);
}

int
th_pid_alive(pid_t pid)
{
	char path[64], buf[512], *paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')' */
	if ((paren = strrchr(buf, ')')) == NULL || paren[1] == '\0')
		return 0;
	return paren[2] != 'Z' && paren[2] != 'X';
}

int
th_copy_file(const char *src, const char *dst, int mode)
{
	char buf[65536], tmp[512];
	ssize_t n;
	int in, out, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    mode)) == -1) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			rc = -1;
	if (n == -1)
		rc = -1;
	close(in);
	if (fchmod(out, (mode_t)mode) == -1 || close(out) == -1 || rc == -1 ||
	    rename(tmp, dst) == -1) {
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}
