/*
 * t288-upgrade-totals-forged - issue 15: the totals records a new master
 * takes from the old one over their channel (master/uptotals.c,
 * proto/channel.h) are checked, keyed by name and message type, and
 * counted once.  The test is the "old master": it starts taod with a
 * $TAO_UPGRADE naming its end of a real SEQPACKET channel on which it has
 * already queued: records outside a batch, a batch of an unknown
 * version, a batch announcing too many records, then a valid batch mixed
 * with bad records (slot 70, a name without its NUL, an unknown name, a
 * gauge, an unknown series kind or field, a typed value on "other", one
 * record past the announced count), a second batch with higher and
 * lower totals, UP_COMMIT, and EOF.  taod must take exactly the valid
 * totals (the highest per key, added once), ignore the rest and say so,
 * and serve on: msgs_in, accepted of a slot it does not run, restarts, a
 * handler histogram of type 7 (bucket, _sum, _count) and the write-queue
 * wait's +Inf bucket show the values sent.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/channel.h"
#include "tests/lib/harness.h"
#include "tests/lib/http.h"
#include "tests/tap.h"

static int chan;

static void
put(uint32_t type, uint32_t arg, uint64_t value, const void *key,
    size_t keylen)
{
	struct tao_chan_msg m;

	memset(&m, 0, sizeof(m));
	m.cm_type = type;
	m.cm_arg = arg;
	m.cm_value = value;
	if (keylen > 0)
		memcpy(m.cm_peer, key, keylen);
	if (send(chan, &m, sizeof(m), 0) != (ssize_t)sizeof(m))
		bail("send on the channel");
}

static void
counter(uint32_t slot, const char *name, uint64_t v)
{
	put(TAO_CHAN_UP_COUNTER, slot, v, name, strlen(name));
}

static void
hist(uint32_t slot, int32_t type, int kind, int field, uint64_t v)
{
	uint8_t k[6];

	memcpy(k, &type, 4);
	k[4] = (uint8_t)kind;
	k[5] = (uint8_t)field;
	put(TAO_CHAN_UP_HIST, slot, v, k, sizeof(k));
}

static void
forged_batches(void)
{
	char noterm[TAO_CHAN_PEER_LEN];

	memset(noterm, 'x', sizeof(noterm));
	counter(0, "msgs_in", 999999);			/* no batch */
	put(TAO_CHAN_UP_TOTALS, 99, 1, NULL, 0);	/* unknown version */
	counter(0, "msgs_in", 999999);
	put(TAO_CHAN_UP_TOTALS_END, 0, 1, NULL, 0);
	put(TAO_CHAN_UP_TOTALS, TAO_UP_TOTALS_V, TAO_UP_TOTALS_MAX + 1,
	    NULL, 0);					/* too many */
	counter(0, "msgs_in", 999999);
	put(TAO_CHAN_UP_TOTALS_END, 0, 1, NULL, 0);
	put(TAO_CHAN_UP_TOTALS, TAO_UP_TOTALS_V, 16, NULL, 0);
	counter(0, "msgs_in", 1000);
	counter(70, "msgs_in", 999999);			/* bad slot */
	put(TAO_CHAN_UP_COUNTER, 0, 999999, noterm, sizeof(noterm));
	counter(0, "nosuch", 5);
	counter(0, "connections", 999999);		/* a gauge */
	counter(1, "accepted", 77);
	counter(0, "restarts", 3);
	hist(0, 7, TAO_UP_HIST_TYPED, 3, 5);		/* le = 8 us */
	hist(0, 7, TAO_UP_HIST_TYPED, TAO_UP_HIST_SUM, 123456789);
	hist(0, 7, 9, 3, 999999);			/* bad series kind */
	hist(0, 7, TAO_UP_HIST_TYPED, 200, 999999);	/* bad field */
	hist(0, 5, TAO_UP_HIST_OTHER, 3, 999999);	/* typed "other" */
	hist(0, 0, TAO_UP_HIST_WQWAIT, TAO_UP_HIST_INF, 2);
	counter(0, "msgs_in", 400);			/* lower: no change */
	counter(0, "errors", 1);
	counter(0, "timeouts", 1);			/* the 16th */
	counter(0, "msgs_in", 999999);			/* past the count */
	put(TAO_CHAN_UP_TOTALS_END, 0, 9, NULL, 0);
	put(TAO_CHAN_UP_TOTALS, TAO_UP_TOTALS_V, 3, NULL, 0);
	counter(0, "msgs_in", 1500);			/* +500 */
	hist(0, 7, TAO_UP_HIST_TYPED, 3, 5);		/* the same: +0 */
	counter(0, "errors", 1);			/* the same: +0 */
	put(TAO_CHAN_UP_TOTALS_END, 0, 3, NULL, 0);
	put(TAO_CHAN_UP_COMMIT, 0, 0, NULL, 0);
}

static void
check_metrics(struct th_daemon *d, const char *b)
{
	static const struct {
		const char	*series;
		long long	 want;
	} w[] = {
		{ "tao_msgs_in_total{worker=\"0\"}", 1500 },
		{ "tao_accepted_total{worker=\"1\"}", 77 },
		{ "tao_restarts_total{worker=\"0\"}", 3 },
		{ "tao_errors_total{worker=\"0\"}", 1 },
		{ "tao_timeouts_total{worker=\"0\"}", 1 },
		{ "tao_connections{worker=\"0\"}", 0 },
		{ "tao_handler_seconds_bucket{worker=\"0\",type=\"7\","
		    "le=\"0.000004\"}", 0 },
		{ "tao_handler_seconds_bucket{worker=\"0\",type=\"7\","
		    "le=\"0.000008\"}", 5 },
		{ "tao_handler_seconds_count{worker=\"0\",type=\"7\"}", 5 },
		{ "tao_handler_seconds_count{worker=\"0\",type=\"other\"}", 0 },
		{ "tao_write_queue_wait_seconds_count{worker=\"0\"}", 2 },
	};

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		is_int((int)th_metric(b, w[i].series), (int)w[i].want, "%s",
		    w[i].series);
	ok(strstr(b, "tao_handler_seconds_sum{worker=\"0\",type=\"7\"} "
	    "0.123456789\n") != NULL, "the type 7 _sum is 0.123456789 s");
	is_int((int)th_stat(d, 0, "msgs_in"), 1500, "taoctl stats: slot 0 "
	    "msgs_in 1500");
}

int
main(void)
{
	static char resp[1 << 18];
	char env[256];
	struct th_daemon *d;
	int sv[2], port;

	th_init("t288-upgrade-totals-forged", 60);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1)
		bail("socketpair");
	chan = sv[0];
	forged_batches();
	close(sv[0]);	/* EOF after the commit: the old master is gone */
	snprintf(env, sizeof(env), "v=1 chan=%d rec=%d,%zu", sv[1],
	    TAO_CHAN_VERSION, sizeof(struct tao_chan_msg));
	setenv("TAO_UPGRADE", env, 1);
	d = th_daemon_start("listen 127.0.0.1:0 tlv\napp echo\nworkers 1\n"
	    "metrics 127.0.0.1:0\n");
	unsetenv("TAO_UPGRADE");
	close(sv[1]);
	if (d == NULL || (port = th_metrics_port(d, th_ms(5000))) <= 0)
		bail("taod did not start");
	ok(th_daemon_wait_log(d, "old master is gone", 1, th_ms(5000)) == 0,
	    "taod took the records, the commit and the EOF");
	if (th_scrape(port, resp, sizeof(resp)) != 200)
		bail("no scrape");
	check_metrics(d, th_http_body(resp));
	ok(th_daemon_log_count(d, "totals are version 99") == 1 &&
	    th_daemon_log_count(d, "at most") == 2, "the unknown version and "
	    "the oversized batch are refused, with the reason");
	ok(th_daemon_log_count(d, "totals from the old master: 9 taken, 8 "
	    "ignored, 9 announced") == 1, "batch 1: 9 taken, the bad ones "
	    "ignored (logged)");
	ok(th_daemon_log_count(d, "totals from the old master: 3 taken") == 1,
	    "batch 2: 3 taken");
	ok(th_tlv_echoes(d->port[0], 1, 50, 9) == 1, "taod serves");
	is_int(th_daemon_stop_clean(d), 0, "and stops clean");
	return th_exit(done_testing());
}
