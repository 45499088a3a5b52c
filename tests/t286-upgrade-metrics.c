/*
 * t286-upgrade-metrics - issue 15: counters never go backwards across a
 * binary upgrade either (master/uptotals.c).
 *
 * taod (echo, 2 workers, metrics) goes through 3 binary upgrades, each
 * under 10 echo connections that stay open across it (handed over), with
 * a worker SIGKILLed between two upgrades.  GET /metrics is scraped
 * before, during (a thread scrapes while `taoctl upgrade` runs) and after
 * each: no _total, _bucket, _sum or _count sample ever decreases, and
 * none that appeared vanishes (a scrape the old master still takes after
 * its commit gets 503, never its own growing totals; every other scrape
 * gets 200).  After each round the totals are exact:
 * msgs_in grew by exactly the frames the clients sent (all answered),
 * accepted by exactly the connections opened; the histograms' _count
 * grew by at least those frames.  taoctl stats --json totals (accepted,
 * msgs_in) grow over each upgrade too, and tao_restarts_total keeps the
 * kill.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/lib/http.h"
#include "tests/tap.h"

#define UPGRADES	3
#define CONNS		10
#define MAX_SERIES	2048
#define RESP		(1 << 19)

struct series {
	char		 name[160];
	long long	 value;
};

static struct series seen[MAX_SERIES];
static int nseen, down, vanished, shown, scrapes, failed, unavailable;
static int mport;

/* A sample's value as an integer: "12" or, for a _sum, "1.000000123"
 * read as nanoseconds (taod always writes 9 decimals). */
static int
sample(const char *line, char *name, size_t cap, long long *v)
{
	char num[64], digits[64];
	size_t n = 0;

	if (*line == '#' || sscanf(line, "%159s %63s", name, num) != 2 ||
	    cap < 160)
		return -1;
	if (strstr(name, "_total") == NULL && strstr(name, "_bucket") ==
	    NULL && strstr(name, "_sum") == NULL && strstr(name, "_count") ==
	    NULL)
		return -1;
	for (const char *p = num; *p && n < sizeof(digits) - 1; p++)
		if (*p != '.')
			digits[n++] = *p;
	digits[n] = '\0';
	*v = atoll(digits);
	return 0;
}

static struct series *
find(const char *name)
{
	for (int i = 0; i < nseen; i++)
		if (strcmp(seen[i].name, name) == 0)
			return &seen[i];
	if (nseen == MAX_SERIES)
		bail("more than %d series", MAX_SERIES);
	snprintf(seen[nseen].name, sizeof(seen[nseen].name), "%s", name);
	seen[nseen].value = -1;
	return &seen[nseen++];
}

static void
check_scrape(const char *what, const char *body)
{
	static char present[MAX_SERIES];
	char name[160];
	long long v;

	memset(present, 0, sizeof(present));
	for (const char *l = body; l != NULL && *l; l = strchr(l, '\n'),
	    l = l != NULL ? l + 1 : NULL) {
		struct series *s;

		if (sample(l, name, sizeof(name), &v) == -1)
			continue;
		s = find(name);
		present[s - seen] = 1;
		if (v < s->value) {
			down++;
			if (shown++ < 10)
				diag("%s: %s %lld -> %lld", what, name,
				    s->value, v);
		}
		s->value = v;
	}
	for (int i = 0; i < nseen; i++)
		if (!present[i] && seen[i].value >= 0) {
			vanished++;
			if (shown++ < 10)
				diag("%s: %s vanished", what, seen[i].name);
		}
	scrapes++;
}

/* One scrape, checked; its body in resp (NULL if it failed). */
static const char *
scrape(const char *what, char *resp)
{
	int status = th_scrape(mport, resp, RESP);

	if (status == 503 && strcmp(what, "during an upgrade") == 0) {
		unavailable++;	/* the old master, after its commit */
		return NULL;
	}
	if (status != 200) {
		failed++;
		return NULL;
	}
	check_scrape(what, th_http_body(resp));
	return th_http_body(resp);
}

/* The sum over workers of a family's samples NAME{worker="N"...}. */
static long long
sum_of(const char *body, const char *prefix)
{
	size_t n = strlen(prefix);
	long long t = 0;

	for (const char *l = body; l != NULL && *l; l = strchr(l, '\n'),
	    l = l != NULL ? l + 1 : NULL)
		if (strncmp(l, prefix, n) == 0 && strchr(l, ' ') != NULL)
			t += atoll(strchr(l, ' ') + 1);
	return t;
}

static atomic_int scraping;

static void *
scraper(void *arg)
{
	char *resp = arg;

	while (atomic_load(&scraping))
		(void)scrape("during an upgrade", resp);
	return NULL;
}

struct totals {
	long long	 msgs_in, accepted, count, restarts;
};

static int
read_totals(struct totals *t, char *resp)
{
	const char *b = scrape("after", resp);

	if (b == NULL)
		return -1;
	t->msgs_in = sum_of(b, "tao_msgs_in_total{");
	t->accepted = sum_of(b, "tao_accepted_total{");
	t->restarts = sum_of(b, "tao_restarts_total{");
	t->count = sum_of(b, "tao_handler_seconds_count{");
	return 0;
}

/* The exact totals once the new master has taken the old one's final
 * batch (the last records may still be in the channel when the old
 * master's exit lets th_upgrade return). */
static int
wait_totals(struct totals *t, long long msgs_in, char *resp)
{
	double end = th_now_ms() + th_ms(5000);

	while (read_totals(t, resp) == 0 && t->msgs_in < msgs_in &&
	    th_now_ms() < end)
		th_sleep_ms(20);
	return t->msgs_in == msgs_in ? 0 : -1;
}

/* `taoctl upgrade` while the thread scrapes; the new pid or -1. */
static pid_t
upgrade_scraped(struct th_daemon *d, char *resp2)
{
	char out[4096] = "";
	pthread_t tid;
	pid_t pid;
	long long acc0 = th_stat(d, -1, "accepted"), in0 = th_stat(d, -1,
	    "msgs_in");

	atomic_store(&scraping, 1);
	if (pthread_create(&tid, NULL, scraper, resp2) != 0)
		bail("pthread_create");
	pid = th_upgrade(d, out, sizeof(out));
	atomic_store(&scraping, 0);
	pthread_join(tid, NULL);
	if (pid <= 0)
		diag("upgrade: %s", out);
	ok(th_stat(d, -1, "accepted") >= acc0 && th_stat(d, -1, "msgs_in") >=
	    in0, "  taoctl stats --json: accepted %lld -> %lld, msgs_in %lld "
	    "-> %lld", acc0, th_stat(d, -1, "accepted"), in0,
	    th_stat(d, -1, "msgs_in"));
	return pid;
}

/* Echo load across one upgrade; what it sent (all answered). */
static long long
round_trip(struct th_daemon *d, int round, char *resp2)
{
	struct th_load_opts o = { .port = d->port[0], .conns = CONNS,
	    .depth = 2, .max_size = 512, .seed = th_rand() };
	struct th_load_totals t;
	struct th_load *l;
	pid_t pid;

	if ((l = th_load_start(&o)) == NULL)
		bail("th_load_start");
	(void)th_load_wait_replies(l, 20 * CONNS, th_ms(10000));
	pid = upgrade_scraped(d, resp2);
	ok(pid > 0, "upgrade %d: new master %ld", round, (long)pid);
	(void)th_load_wait_replies(l, th_load_replies(l) + 20 * CONNS,
	    th_ms(10000));
	th_load_stop(l, &t);
	th_load_diag("echo load", &t);
	is_int(t.open, CONNS, "  its %d connections crossed it", CONNS);
	ok(t.lost == 0 && t.sent == t.replies && t.bad == 0, "  %lld frames "
	    "sent, all answered", t.sent);
	th_load_free(l);
	return t.sent;
}

static void
kill_worker(struct th_daemon *d, char *resp)
{
	pid_t pid = th_worker_pid(d, 0);

	ok(pid > 0 && kill(pid, SIGKILL) == 0 && th_wait_respawn(d, 0, pid,
	    th_ms(8000)) > 0, "  worker 0 (pid %ld) SIGKILLed, respawned",
	    (long)pid);
	(void)scrape("after the kill", resp);
}

int
main(void)
{
	static char resp[RESP], resp2[RESP];
	struct totals before, after;
	struct th_daemon *d;
	long long sent = 0;
	char bin[300];
	int rc;

	th_init("t286-upgrade-metrics", 150);
	snprintf(bin, sizeof(bin), "%s/taod-bin", th_dir());
	if (th_copy_file(th_bin("taod"), bin, 0755) == -1)
		bail("cannot copy taod");
	d = th_daemon_start_bin(bin, "listen 127.0.0.1:0 tlv\napp echo\n"
	    "workers 2\nmetrics 127.0.0.1:0\n");
	if (d == NULL || (mport = th_metrics_port(d, th_ms(5000))) <= 0)
		bail("taod did not start with metrics");
	if (th_tlv_echoes(d->port[0], 5, 100, 20) != 1 ||
	    read_totals(&before, resp) == -1)
		bail("no first echo or scrape");
	for (int i = 1; i <= UPGRADES; i++) {
		sent += round_trip(d, i, resp2);
		rc = wait_totals(&after, before.msgs_in + sent, resp);
		ok(rc == 0, "  msgs_in_total %lld = %lld before + %lld sent",
		    after.msgs_in, before.msgs_in, sent);
		is_int((int)(after.accepted - before.accepted), i * CONNS,
		    "  accepted_total grew by the %d connections opened",
		    i * CONNS);
		ok(after.count >= before.count + sent, "  handler_seconds_count"
		    " %lld >= %lld", after.count, before.count + sent);
		if (i == 1)
			kill_worker(d, resp);
	}
	is_int((int)after.restarts, 1, "tao_restarts_total keeps the kill");
	ok(th_daemon_log_count(d, "totals from the old master: ") ==
	    2 * UPGRADES && th_daemon_log_count(d, "ignored") == 0,
	    "each new master took 2 batches, nothing ignored");
	is_int(failed, 0, "all %d scrapes answered 200 (and %d 503 from an "
	    "old master after its commit)", scrapes, unavailable);
	is_int(down, 0, "no counter or histogram sample ever decreased "
	    "(%d series)", nseen);
	is_int(vanished, 0, "no sample vanished");
	is_int(th_daemon_stop_clean(d), 0, "taod stops clean");
	return th_exit(done_testing());
}
