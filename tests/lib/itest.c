/*
 * itest.c - helpers for the daemon integration tests; see itest.h.
 *
 * This file starts and stops taod and runs taoctl; itest-conn.c has the
 * client side.  Nothing here runs unless a test calls it: every C test
 * links every tests/lib source, so there are no constructors, and the
 * signal and exit handlers are installed when the first taod starts.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

#define ITEST_MAX_DAEMONS	4
#define ITEST_IO_MS		5000	/* bound of one blocking step */

static struct itest_taod *daemons[ITEST_MAX_DAEMONS];
static int handlers_installed;

/* ---- time ----------------------------------------------------------- */

double
itest_scale(void)
{
	const char *b = getenv("TAO_BUILD"), *s = getenv("TAO_TEST_SCALE");
	double scale = 1.0;
	size_t n;

	if (b != NULL && (n = strlen(b)) >= 4 && strcmp(b + n - 4, "asan") == 0)
		scale = 3.0;
	if (s != NULL && atof(s) > 0)
		scale *= atof(s);
	return scale;
}

int
itest_ms(int ms)
{
	return (int)(ms * itest_scale());
}

uint64_t
itest_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

double
itest_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
itest_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Async-signal-safe: kill every daemon's process group, leave. */
static void
watchdog_fired(int sig)
{
	static const char msg[] = "Bail out! itest watchdog: test too slow\n";

	(void)sig;
	for (int i = 0; i < ITEST_MAX_DAEMONS; i++) {
		struct itest_taod *d = daemons[i];

		if (d == NULL || d->pid <= 0)
			continue;
		kill(-d->pid, SIGKILL);
		unlink(d->conf);
		unlink(d->log);
		unlink(d->ctl);
		rmdir(d->dir);
	}
	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(255);
}

void
itest_watchdog(int seconds)
{
	signal(SIGALRM, watchdog_fired);
	alarm((unsigned)(seconds * itest_scale() + 0.5));
}

/* ---- the daemon ----------------------------------------------------- */

const char *
itest_build_dir(void)
{
	const char *b = getenv("TAO_BUILD");

	return b != NULL && *b != '\0' ? b : "build";
}

static void
stop_all_at_exit(void)
{
	for (int i = 0; i < ITEST_MAX_DAEMONS; i++)
		if (daemons[i] != NULL)
			(void)itest_taod_stop(daemons[i]);
}

static void
install_handlers(void)
{
	if (handlers_installed)
		return;
	handlers_installed = 1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, watchdog_fired);
	signal(SIGTERM, watchdog_fired);
	atexit(stop_all_at_exit);
}

static int
write_file(const char *path, const char *text)
{
	FILE *f;
	int rc;

	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fputs(text, f);
	rc = ferror(f) ? -1 : 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* The log as a NUL-terminated heap string (caller frees), or NULL. */
static char *
read_log(struct itest_taod *d)
{
	FILE *f;
	char *text;
	long n;

	if ((f = fopen(d->log, "r")) == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (n < 0 || (text = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = (long)fread(text, 1, (size_t)n, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

int
itest_taod_log_has(struct itest_taod *d, const char *needle)
{
	char *text = read_log(d);
	int found = text != NULL && strstr(text, needle) != NULL;

	free(text);
	return found;
}

void
itest_taod_log_dump(struct itest_taod *d)
{
	char *text = read_log(d), *line, *save = NULL;
	int n = 0;

	if (text == NULL)
		return;
	for (line = strtok_r(text, "\n", &save); line != NULL && n < 200;
	    line = strtok_r(NULL, "\n", &save), n++)
		printf("# log: %s\n", line);
	fflush(stdout);
	free(text);
}

static void
parse_ports(struct itest_taod *d, const char *text)
{
	const char *p = text, *colon;
	static const char tag[] = "listening on ";

	d->nports = 0;
	while ((p = strstr(p, tag)) != NULL && d->nports < ITEST_MAX_PORTS) {
		p += sizeof(tag) - 1;
		colon = strchr(p, ' ');
		/* The port follows the last ':' before the space. */
		for (const char *q = p; colon != NULL && q < colon; q++)
			if (*q == ':')
				p = q + 1;
		d->ports[d->nports++] = atoi(p);
	}
}

static pid_t
spawn_taod(struct itest_taod *d)
{
	char bin[512];
	pid_t pid;
	int fd;

	snprintf(bin, sizeof(bin), "%s/taod", itest_build_dir());
	fflush(stdout);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		setpgid(0, 0);
		fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd == -1)
			_exit(127);
		dup2(fd, STDERR_FILENO);
		dup2(fd, STDOUT_FILENO);
		close(fd);
		if ((fd = open("/dev/null", O_RDONLY)) != -1) {
			dup2(fd, STDIN_FILENO);
			close(fd);
		}
		execl(bin, "taod", "-c", d->conf, (char *)NULL);
		dprintf(STDERR_FILENO, "itest: exec %s: %s\n", bin,
		    strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);	/* also here: no window before the child's */
	return pid;
}

static void
register_daemon(struct itest_taod *d)
{
	for (int i = 0; i < ITEST_MAX_DAEMONS; i++)
		if (daemons[i] == NULL || daemons[i] == d) {
			daemons[i] = d;
			return;
		}
}

static void
unregister_daemon(struct itest_taod *d)
{
	for (int i = 0; i < ITEST_MAX_DAEMONS; i++)
		if (daemons[i] == d)
			daemons[i] = NULL;
}

int
itest_taod_start(struct itest_taod *d, const char *config)
{
	uint64_t deadline;
	char *text, *conf;
	size_t n;
	int ready = 0;

	install_handlers();
	memset(d, 0, sizeof(*d));
	strlcpy(d->dir, "/tmp/itest-XXXXXX", sizeof(d->dir));
	if (mkdtemp(d->dir) == NULL) {
		printf("# itest: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	snprintf(d->conf, sizeof(d->conf), "%s/taod.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/taod.log", d->dir);
	snprintf(d->ctl, sizeof(d->ctl), "%s/ctl.sock", d->dir);
	n = strlen(config) + strlen(d->ctl) + 16;
	if ((conf = malloc(n)) == NULL)
		return -1;
	snprintf(conf, n, "%s\ncontrol %s\n", config, d->ctl);
	if (write_file(d->conf, conf) == -1) {
		free(conf);
		rmdir(d->dir);
		return -1;
	}
	free(conf);
	register_daemon(d);
	if ((d->pid = spawn_taod(d)) == -1) {
		printf("# itest: fork: %s\n", strerror(errno));
		goto fail;
	}

	deadline = itest_now_ms() + (uint64_t)itest_ms(10000);
	while (!ready && itest_now_ms() < deadline) {
		if (waitpid(d->pid, &d->status, WNOHANG) == d->pid) {
			d->reaped = 1;
			printf("# itest: taod exited during start-up\n");
			goto fail;
		}
		text = read_log(d);
		if (text != NULL && strstr(text, "serving with") != NULL &&
		    access(d->ctl, F_OK) == 0) {
			parse_ports(d, text);
			ready = 1;
		}
		free(text);
		if (!ready)
			itest_sleep_ms(10);
	}
	if (!ready || d->nports == 0) {
		printf("# itest: taod did not become ready\n");
		goto fail;
	}
	return 0;
fail:
	itest_taod_log_dump(d);
	(void)itest_taod_stop(d);
	return -1;
}

static int
sanitizer_report(struct itest_taod *d)
{
	return itest_taod_log_has(d, "AddressSanitizer") ||
	    itest_taod_log_has(d, "LeakSanitizer") ||
	    itest_taod_log_has(d, "runtime error:");
}

int
itest_taod_stop(struct itest_taod *d)
{
	uint64_t deadline;
	int rc = -1, killed = 0;

	if (d->pid <= 0)
		return -1;
	if (!d->reaped) {
		kill(d->pid, SIGTERM);
		deadline = itest_now_ms() + (uint64_t)itest_ms(5000);
		while (itest_now_ms() < deadline) {
			if (waitpid(d->pid, &d->status, WNOHANG) == d->pid) {
				d->reaped = 1;
				break;
			}
			itest_sleep_ms(5);
		}
		if (!d->reaped) {
			printf("# itest: taod did not stop: killing it\n");
			kill(-d->pid, SIGKILL);
			waitpid(d->pid, &d->status, 0);
			d->reaped = 1;
			killed = 1;
		}
	}
	/* Workers that outlived their master are still in its group. */
	kill(-d->pid, SIGKILL);
	if (!killed && WIFEXITED(d->status))
		rc = WEXITSTATUS(d->status);
	if (sanitizer_report(d))
		rc = -1;
	if (rc != 0) {
		printf("# itest: taod ended with wait status 0x%x\n",
		    d->status);
		itest_taod_log_dump(d);
	}
	unlink(d->conf);
	unlink(d->log);
	unlink(d->ctl);
	rmdir(d->dir);
	unregister_daemon(d);
	d->pid = 0;
	return rc;
}

/* ---- taoctl --------------------------------------------------------- */

int
itest_taoctl(struct itest_taod *d, char *out, size_t outlen, ...)
{
	char bin[512], *argv[16];
	struct pollfd pfd;
	uint64_t deadline;
	size_t got = 0;
	va_list ap;
	ssize_t n;
	int argc = 0, fds[2], status;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/taoctl", itest_build_dir());
	argv[argc++] = "taoctl";
	argv[argc++] = "-s";
	argv[argc++] = d->ctl;
	va_start(ap, outlen);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	if (pipe(fds) == -1)
		return -1;
	fflush(stdout);
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execv(bin, argv);
		_exit(127);
	}
	close(fds[1]);
	deadline = itest_now_ms() + (uint64_t)itest_ms(ITEST_IO_MS);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	for (;;) {
		uint64_t now = itest_now_ms();

		if (now >= deadline ||
		    poll(&pfd, 1, (int)(deadline - now)) <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (got + 1 < outlen)
			n = read(fds[0], out + got, outlen - 1 - got);
		else {
			char sink[4096];
			n = read(fds[0], sink, sizeof(sink));
			if (n > 0)
				continue;
		}
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fds[0]);
	if (outlen > 0)
		out[got] = '\0';
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* The number after "key": inside the object that starts at obj. */
static long long
json_number_in(const char *obj, const char *key)
{
	char pat[64];
	const char *end = strchr(obj, '}'), *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	if ((p = strstr(obj, pat)) == NULL || (end != NULL && p > end))
		return -1;
	return strtoll(p + strlen(pat), NULL, 10);
}

long long
itest_stat(struct itest_taod *d, int slot, const char *key)
{
	char out[16384], pat[32];
	const char *obj;

	if (itest_taoctl(d, out, sizeof(out), "stats", "--json", NULL) != 0)
		return -1;
	if (slot < 0)
		obj = strstr(out, "\"totals\":{");
	else {
		snprintf(pat, sizeof(pat), "{\"slot\":%d,", slot);
		obj = strstr(out, pat);
	}
	if (obj == NULL)
		return -1;
	return json_number_in(obj, key);
}

int
itest_worker_pids(struct itest_taod *d, pid_t *pids, int max)
{
	char out[8192], *line, *save = NULL;
	int slot, pid, found = 0;

	if (itest_taoctl(d, out, sizeof(out), "status", NULL) != 0)
		return 0;
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] < '0' || line[0] > '9')
			continue;
		if (sscanf(line, "%d %d", &slot, &pid) != 2 || slot < 0 ||
		    slot >= max)
			continue;
		pids[slot] = pid;
		found++;
	}
	return found;
}

pid_t
itest_wait_respawn(struct itest_taod *d, int slot, pid_t old, int timeout_ms)
{
	uint64_t deadline = itest_now_ms() + (uint64_t)timeout_ms;
	pid_t pids[64];

	if (slot < 0 || slot >= 64)
		return 0;
	do {
		memset(pids, 0, sizeof(pids));
		if (itest_worker_pids(d, pids, 64) > slot && pids[slot] > 0 &&
		    pids[slot] != old)
			return pids[slot];
		itest_sleep_ms(5);
	} while (itest_now_ms() < deadline);
	return 0;
}

int
itest_conns(struct itest_taod *d, char *out, size_t outlen)
{
	const char *p;
	int rows = 0;

	if (itest_taoctl(d, out, outlen, "conns", "--json", NULL) != 0)
		return -1;
	if (strchr(out, '[') == NULL)
		return -1;
	for (p = out; (p = strstr(p, "\"netid\":")) != NULL; p++)
		rows++;
	return rows;
}

int
itest_conns_count_pid(const char *json, pid_t pid)
{
	const char *p;
	int n = 0;

	for (p = json; (p = strstr(p, "\"pid\":")) != NULL; p++)
		if (strtol(p + 6, NULL, 10) == pid)
			n++;
	return n;
}
