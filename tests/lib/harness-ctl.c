/*
 * harness-ctl.c - taoctl for the tests: run it against a daemon, and
 * read what status, stats --json and conns --json print.
 *
 * The parsers are deliberately small: they know the exact shapes taoctl
 * prints (see ctl/taoctl.c and master/stats.c), not JSON in general, so a
 * change of format shows up as a failing test rather than a silent
 * misreading.
 */
#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

int
th_ctl(struct th_daemon *d, char *out, size_t outlen, ...)
{
	const char *argv[16];
	const char *arg;
	char taoctl[256];
	va_list ap;
	int n = 0;

	strlcpy(taoctl, th_bin("taoctl"), sizeof(taoctl));
	argv[n++] = taoctl;
	argv[n++] = "-s";
	argv[n++] = d->ctl;
	va_start(ap, outlen);
	while ((arg = va_arg(ap, const char *)) != NULL && n < 15)
		argv[n++] = arg;
	va_end(ap);
	argv[n] = NULL;
	return th_run(out, outlen, th_ms(30000), argv);
}

int
th_status(struct th_daemon *d, struct th_status *st)
{
	char out[8192], *line, *save;
	int table = 0;

	memset(st, 0, sizeof(*st));
	if (th_ctl(d, out, sizeof(out), "status", NULL) != 0) {
		diag("taoctl status: %s", out);
		return -1;
	}
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		struct th_slot *s = &st->slot[st->nslots];
		int pid;

		if (sscanf(line, "pid %d", &pid) == 1)
			st->pid = pid;
		else if (sscanf(line, "generation %d", &st->generation) == 1 ||
		    sscanf(line, "workers %d", &st->workers) == 1)
			continue;
		else if (strncmp(line, "slot", 4) == 0)
			table = 1;
		else if (table && st->nslots < TH_MAX_SLOTS &&
		    sscanf(line, "%d %d %d %15s %d %d", &s->slot, &pid,
		    &s->generation, s->state, &s->connections,
		    &s->restarts) == 6) {
			s->pid = pid;
			st->nslots++;
		}
	}
	return table ? 0 : -1;
}

int
th_status_serving(const struct th_status *st, int slot, pid_t *pid)
{
	int n = 0, gen = -1;

	for (int i = 0; i < st->nslots; i++) {
		const struct th_slot *s = &st->slot[i];

		if (strcmp(s->state, "serving") != 0 ||
		    (slot >= 0 && s->slot != slot))
			continue;
		n++;
		if (pid != NULL && s->generation > gen) {
			gen = s->generation;
			*pid = s->pid;
		}
	}
	return n;
}

pid_t
th_worker_pid(struct th_daemon *d, int slot)
{
	struct th_status st;
	pid_t pid = -1;

	if (th_status(d, &st) == -1 || th_status_serving(&st, slot, &pid) == 0)
		return -1;
	return pid;
}

pid_t
th_wait_respawn(struct th_daemon *d, int slot, pid_t old, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;
	pid_t pid;

	do {
		if ((pid = th_worker_pid(d, slot)) > 0 && pid != old)
			return pid;
		th_sleep_ms(5);
	} while (th_now_ms() < end);
	return -1;
}

/* The number after "key": between p and end. */
static long long
json_num(const char *p, const char *end, const char *key)
{
	char pat[64];
	const char *k;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	if ((k = strstr(p, pat)) == NULL || (end != NULL && k >= end))
		return -1;
	return strtoll(k + strlen(pat), NULL, 10);
}

long long
th_stats_get(const char *json, int slot, const char *key)
{
	char pat[32];
	const char *obj;

	if (slot < 0)
		snprintf(pat, sizeof(pat), "\"totals\":{");
	else
		snprintf(pat, sizeof(pat), "{\"slot\":%d,", slot);
	if ((obj = strstr(json, pat)) == NULL)
		return -1;
	return json_num(obj, strchr(obj + 1, '}'), key);
}

long long
th_stat(struct th_daemon *d, int slot, const char *key)
{
	char out[16384];

	if (th_ctl(d, out, sizeof(out), "stats", "--json", NULL) != 0) {
		diag("taoctl stats --json: %s", out);
		return -1;
	}
	return th_stats_get(out, slot, key);
}

int
th_conns(struct th_daemon *d, struct th_conn_info *ci, int max)
{
	size_t cap = 1 << 20;
	char *out = malloc(cap), *p, *end, *peer;
	int n = 0;

	if (out == NULL || th_ctl(d, out, cap, "conns", "--json", NULL) != 0) {
		diag("taoctl conns --json failed: %s", out ? out : "");
		free(out);
		return -1;
	}
	for (p = out; n < max && (p = strchr(p, '{')) != NULL; p = end) {
		if ((end = strchr(p, '}')) == NULL)
			break;
		ci[n].netid = json_num(p, end, "netid");
		ci[n].worker = (int)json_num(p, end, "worker");
		ci[n].pid = (pid_t)json_num(p, end, "pid");
		ci[n].peer_port = -1;
		if ((peer = strstr(p, "\"peer\":\"")) != NULL && peer < end) {
			char *q = strchr(peer + 8, '"');
			while (q != NULL && q > peer && *q != ':')
				q--;
			if (q != NULL && *q == ':')
				ci[n].peer_port = atoi(q + 1);
		}
		n++;
	}
	free(out);
	return n;
}

int
th_reload_retry(struct th_daemon *d, char *out, size_t outlen, int *waits)
{
	double end = th_now_ms() + th_ms(10000);
	int rc;

	for (;;) {
		rc = th_ctl(d, out, outlen, "reload", NULL);
		if (rc == 0 || strstr(out, "draining") == NULL ||
		    th_now_ms() > end)
			return rc;
		if (waits != NULL)
			(*waits)++;
		th_sleep_ms(20);
	}
}

int
th_wait_serving(struct th_daemon *d, int n, pid_t *pid, int timeout_ms)
{
	double end = th_now_ms() + timeout_ms;
	struct th_status st;
	int all;

	while (th_now_ms() < end) {
		all = th_status(d, &st) == 0;
		for (int i = 0; all && i < n; i++)
			all = th_status_serving(&st, i, &pid[i]) >= 1;
		if (all)
			return 0;
		th_sleep_ms(10);
	}
	return -1;
}
