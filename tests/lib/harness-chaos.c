/*
 * harness-chaos.c - the chaos test's log watcher and misbehaving control
 * clients (harness-chaos.h).
 *
 * The watcher reads only what a log gained since its last look (the log
 * of a long chaos run reaches megabytes) and keeps the last unfinished
 * line for the next call, so a line is judged once, whole.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness-chaos.h"
#include "tests/tap.h"

/* ---- log watcher ---------------------------------------------------- */

void
th_logwatch_init(struct th_logwatch *w, struct th_daemon *d)
{
	memset(w, 0, sizeof(*w));
	w->d = d;
}

static void
add_killed(struct th_logwatch *w, pid_t pid)
{
	if (pid <= 0 || th_logwatch_killed(w, pid) ||
	    w->npids == TH_WATCH_PIDS)
		return;
	w->killed[w->npids++] = pid;
}

/* One whole line of the log; 1 if it is a sanitizer report. */
static int
take_line(struct th_logwatch *w, const char *line)
{
	const char *p;
	long pid;

	if (strstr(line, "ERROR: AddressSanitizer") != NULL ||
	    strstr(line, "ERROR: LeakSanitizer") != NULL ||
	    strstr(line, "runtime error:") != NULL) {
		if (w->sanitizer++ == 0)
			strlcpy(w->first_report, line,
			    sizeof(w->first_report));
		return 1;
	}
	if ((p = strstr(line, ": worker ")) != NULL &&
	    (strstr(p, " killed by signal") != NULL ||
	    strstr(p, " did not stop in time") != NULL) &&
	    sscanf(p, ": worker %ld", &pid) == 1)
		add_killed(w, (pid_t)pid);
	if (strstr(line, "drain timeout: closed") != NULL &&
	    w->drain_timeouts++ == 0)
		strlcpy(w->first_drain, line, sizeof(w->first_drain));
	if (strstr(line, "reload failed") != NULL)
		w->reload_failed++;
	return 0;
}

int
th_logwatch_poll(struct th_logwatch *w)
{
	char buf[65536];
	ssize_t n;
	int fd, reports = 0;

	if ((fd = open(w->d->log, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (lseek(fd, (off_t)w->offset, SEEK_SET) == -1) {
		close(fd);
		return 0;
	}
	/* Bounded: at most 64 MiB per call. */
	for (int round = 0; round < 1024; round++) {
		if ((n = read(fd, buf, sizeof(buf))) <= 0)
			break;
		w->offset += n;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (w->plen < sizeof(w->partial) - 1)
					w->partial[w->plen++] = buf[i];
				continue;
			}
			w->partial[w->plen] = '\0';
			reports += take_line(w, w->partial);
			w->plen = 0;
		}
	}
	close(fd);
	return reports;
}

int
th_logwatch_killed(const struct th_logwatch *w, pid_t pid)
{
	for (int i = 0; i < w->npids; i++)
		if (w->killed[i] == pid)
			return 1;
	return 0;
}

/* ---- misbehaving control clients ------------------------------------ */

static const char *const badctl_names[TH_BADCTL_NKINDS] = {
	"cut request", "answer never read", "reload then hang up",
	"silent", "garbage",
};

const char *
th_badctl_name(enum th_badctl_kind kind)
{
	return kind >= 0 && kind < TH_BADCTL_NKINDS ? badctl_names[kind] :
	    "?";
}

void
th_badctl_init(struct th_badctl *b)
{
	memset(b, 0, sizeof(*b));
	for (int i = 0; i < TH_BADCTL_MAX; i++)
		b->fd[i] = -1;
}

static int
ctl_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/* The master accepts in its loop; connect itself never waits on
	 * it (backlog), but bound it anyway. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	(void)fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void
say(int fd, const char *text, size_t len)
{
	(void)!send(fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

int
th_badctl_start(struct th_badctl *b, struct th_daemon *d,
    enum th_badctl_kind kind, int hold_ms)
{
	static const char *const big[] = {
		"TAO/2 conns --json\n", "TAO/2 stats --json\n",
		"TAO/2 conns\n", "TAO/2 status\n",
	};
	char junk[300];
	int fd, slot = -1;

	if ((fd = ctl_connect(d->ctl)) == -1) {
		b->failed++;
		return -1;
	}
	b->opened++;
	switch (kind) {
	case TH_BADCTL_CUT:
		say(fd, "TAO/2 sta", 9);
		close(fd);
		return 0;
	case TH_BADCTL_RELOAD_HUP:
		say(fd, "TAO/2 reload\n", 13);
		close(fd);
		return 0;
	case TH_BADCTL_GARBAGE:
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (char)('A' + th_rand() % 26);
		say(fd, junk, sizeof(junk));
		break;
	case TH_BADCTL_NOREAD: {
		const char *req = big[th_rand() % 4];
		say(fd, req, strlen(req));
		break;
	}
	case TH_BADCTL_SILENT:
	default:
		break;
	}
	for (int i = 0; i < TH_BADCTL_MAX && slot == -1; i++)
		if (b->fd[i] == -1)
			slot = i;
	if (slot == -1) {		/* full: this one goes at once */
		close(fd);
		return 0;
	}
	b->fd[slot] = fd;
	b->close_at[slot] = th_now_ms() + hold_ms;
	return 0;
}

int
th_badctl_tick(struct th_badctl *b, int force)
{
	double now = th_now_ms();
	int left = 0;

	for (int i = 0; i < TH_BADCTL_MAX; i++) {
		if (b->fd[i] == -1)
			continue;
		if (force || now >= b->close_at[i]) {
			close(b->fd[i]);
			b->fd[i] = -1;
		} else
			left++;
	}
	return left;
}
