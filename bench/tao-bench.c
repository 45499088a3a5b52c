/*
 * tao-bench - load generator for servers speaking Tao's TLV wire format.
 *
 *   tao-bench MODE -p PORT [options]
 *
 * Each of -j threads runs its own epoll loop over its share of the
 * connections; results are summed (histograms merged) at the end.  The
 * exit status is 0 when nothing went wrong, 1 when any error was seen
 * (a reply that differs from the request, a reset, a timeout, a failed
 * connect, a missing message) and 2 for bad usage.
 */
#include <sys/resource.h>

#include <arpa/inet.h>
#include <netdb.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_THREADS	64
#define MAX_PAYLOAD	(8u << 20)	/* taod's default max_frame */
#define MAX_CONNS	1000000

static pthread_barrier_t barrier;

static const struct {
	const char	*name;
	enum bench_mode	 mode;
	bench_run_fn	 run;
} modes[] = {
	{ "echo",	MODE_ECHO,	bench_echo_run },
	{ "stream",	MODE_STREAM,	bench_echo_run },
	{ "burst",	MODE_BURST,	bench_burst_run },
	{ "idle",	MODE_IDLE,	bench_idle_run },
	{ "chat",	MODE_CHAT,	bench_chat_run },
};

static void
usage(FILE *fp, int status)
{
	fprintf(fp,
"usage: tao-bench MODE -p PORT [-h HOST] [-j THREADS] [-c CONNS] [-d DEPTH]\n"
"                 [-s BYTES] [-t SECONDS] [--timeout SECONDS] [--json] ...\n"
"modes:\n"
"  echo    -c conns (100), -d requests in flight each (1), -s payload (128),\n"
"          -t seconds (5): msgs/s, MB/s, latency p50/p99/p99.9 of verified\n"
"          echoes\n"
"  stream  one connection (-c 1), -s frame payload (65536), about 2 MiB in\n"
"          flight (-d frames), -t seconds: MB/s of verified echoes\n"
"  burst   -n connections (1000) opened at once, each sends one -s (1024)\n"
"          message: time until every reply arrived (--timeout 30)\n"
"  idle    hold -n connections (1000) for -t seconds after one echo each,\n"
"          --heartbeat MS sends a heartbeat per connection every MS ms:\n"
"          how many stayed open; SIGINT/SIGTERM end the hold early\n"
"  chat    -c clients (100) all receive; --senders S (10) of them send\n"
"          --rate R (100) messages/s in all, -s bytes (32, at least 24):\n"
"          deliveries/s and latency, same-worker vs cross-worker;\n"
"          --port2 P sends every other client to port P (a second taod\n"
"          of a cluster): same/cross then mean same/other node\n"
"options: -h HOST (127.0.0.1), -p PORT (required), -j THREADS (1),\n"
"  -n N (same as -c), --timeout SECONDS for connects, replies and the\n"
"  final drain (10; burst 30), --json prints one JSON line of results\n"
"  --tls (echo, stream, burst, idle) speaks TLS; connections are set up, with\n"
"  a full handshake each, before the window (burst: inside it); --ca FILE\n"
"  verifies the server's certificate and -h HOST (else none is checked)\n"
"MB/s counts verified payload bytes (10^6 bytes) one way.\n"
"exit status: 0 no errors, 1 errors seen, 2 bad usage\n");
	exit(status);
}

static void
bad(const char *what, const char *arg)
{
	fprintf(stderr, "tao-bench: bad %s: %s\n", what, arg);
	usage(stderr, 2);
}

static long
number(const char *what, const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < min || v > max)
		bad(what, arg);
	return v;
}

static double
real(const char *what, const char *arg, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(v >= min) ||
	    !(v <= max))
		bad(what, arg);
	return v;
}

static void
resolve(struct bench_opts *o, const char *host, long port)
{
	struct addrinfo hints, *ai;
	int rv;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if ((rv = getaddrinfo(host, NULL, &hints, &ai)) != 0) {
		fprintf(stderr, "tao-bench: %s: %s\n", host, gai_strerror(rv));
		exit(2);
	}
	memcpy(&o->o_addr, ai->ai_addr, sizeof(o->o_addr));
	o->o_addr.sin_port = htons((uint16_t)port);
	freeaddrinfo(ai);
}

static void
unset_int(int *v, int value)
{
	if (*v < 0)
		*v = value;
}

static void
unset_size(size_t *v, size_t value)
{
	if (*v == SIZE_MAX)
		*v = value;
}

static void
unset_real(double *v, double value)
{
	if (*v < 0)
		*v = value;
}

/* Options not given take the mode's defaults: -1 (SIZE_MAX for sizes)
 * means unset. */
static void
defaults(struct bench_opts *o)
{
	size_t frame;

	switch (o->o_mode) {
	case MODE_ECHO:
		unset_int(&o->o_conns, 100);
		unset_size(&o->o_payload, 128);
		break;
	case MODE_STREAM:
		unset_int(&o->o_conns, 1);
		unset_size(&o->o_payload, 65536);
		frame = BENCH_HDR + o->o_payload;
		if (o->o_depth < 0)
			o->o_depth = frame >= (2u << 20) ? 2 :
			    (int)((2u << 20) / frame);
		break;
	case MODE_BURST:
		unset_int(&o->o_conns, 1000);
		unset_size(&o->o_payload, 1024);
		unset_real(&o->o_timeout, 30);
		break;
	case MODE_IDLE:
		unset_int(&o->o_conns, 1000);
		unset_size(&o->o_payload, 8);
		break;
	case MODE_CHAT:
		unset_int(&o->o_conns, 100);
		unset_size(&o->o_payload, 32);
		if (o->o_payload < 24) {
			fprintf(stderr, "tao-bench: chat needs -s >= 24\n");
			usage(stderr, 2);
		}
		if (o->o_senders > o->o_conns) {
			fprintf(stderr, "tao-bench: more senders than -c\n");
			usage(stderr, 2);
		}
		break;
	}
	unset_int(&o->o_depth, 1);
	unset_real(&o->o_seconds, 5);
	unset_real(&o->o_timeout, 10);
	if (o->o_threads > o->o_conns)
		o->o_threads = o->o_conns;
	if (o->o_heartbeat_ms > 0 && o->o_mode != MODE_IDLE) {
		fprintf(stderr, "tao-bench: --heartbeat is for mode idle\n");
		usage(stderr, 2);
	}
}

/* The mode named by argv[1]: its runner, and o_mode, o_mode_name. */
static bench_run_fn
parse_mode(const char *name, struct bench_opts *o)
{
	bench_run_fn run = NULL;
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(name, modes[i].name) == 0) {
			o->o_mode = modes[i].mode;
			o->o_mode_name = modes[i].name;
			run = modes[i].run;
		}
	if (run == NULL)
		bad("mode", name);
	return run;
}

/* One option from getopt_long; *host and *port are kept apart because
 * they are resolved only once all options are in. */
static void
parse_option(int ch, struct bench_opts *o, const char **host, long *port)
{
	switch (ch) {
	case 'h':
		*host = optarg;
		break;
	case 'p':
		*port = number("port", optarg, 1, 65535);
		break;
	case 'c':
	case 'n':
		o->o_conns = (int)number("count", optarg, 1, MAX_CONNS);
		break;
	case 'd':
		o->o_depth = (int)number("depth", optarg, 1, 65536);
		break;
	case 's':
		o->o_payload = (size_t)number("size", optarg, 0, MAX_PAYLOAD);
		break;
	case 't':
		o->o_seconds = real("seconds", optarg, 0.001, 1e6);
		break;
	case 'j':
		o->o_threads = (int)number("threads", optarg, 1, MAX_THREADS);
		break;
	case 'J':
		o->o_json = 1;
		break;
	case 'H':
		o->o_heartbeat_ms = (uint64_t)number("heartbeat", optarg, 1,
		    3600000);
		break;
	case 'T':
		o->o_timeout = real("timeout", optarg, 0.001, 1e6);
		break;
	case 'S':
		o->o_senders = (int)number("senders", optarg, 1, MAX_CONNS);
		break;
	case 'R':
		o->o_rate = real("rate", optarg, 0.001, 1e7);
		break;
	case 'Q':
		o->o_addr2.sin_port = htons((uint16_t)number("port2", optarg,
		    1, 65535));
		o->o_has_addr2 = 1;
		break;
	case 'L':
		o->o_tls = 1;
		break;
	case 'A':
		o->o_ca_file = optarg;
		break;
	case '?' + 256:
		usage(stdout, 0);
		break;
	default:
		usage(stderr, 2);
	}
}

/* What the options say together: a port, --ca and --tls where they fit. */
static void
check_options(struct bench_opts *o, const char *host, long port)
{
	if (port == -1) {
		fprintf(stderr, "tao-bench: -p PORT is required\n");
		usage(stderr, 2);
	}
	resolve(o, host, port);
	o->o_host = host;
	if (o->o_has_addr2) {
		uint16_t p2 = o->o_addr2.sin_port;
		o->o_addr2 = o->o_addr;
		o->o_addr2.sin_port = p2;
	}
	if (o->o_ca_file != NULL && !o->o_tls) {
		fprintf(stderr, "tao-bench: --ca needs --tls\n");
		usage(stderr, 2);
	}
	if (o->o_tls && o->o_mode != MODE_ECHO && o->o_mode != MODE_STREAM &&
	    o->o_mode != MODE_BURST && o->o_mode != MODE_IDLE) {
		fprintf(stderr, "tao-bench: --tls is for echo, stream, burst "
		    "and idle\n");
		usage(stderr, 2);
	}
}

static bench_run_fn
parse_args(int argc, char **argv, struct bench_opts *o)
{
	static const struct option longs[] = {
		{ "json",	no_argument,		NULL, 'J' },
		{ "heartbeat",	required_argument,	NULL, 'H' },
		{ "timeout",	required_argument,	NULL, 'T' },
		{ "senders",	required_argument,	NULL, 'S' },
		{ "rate",	required_argument,	NULL, 'R' },
		{ "port2",	required_argument,	NULL, 'Q' },
		{ "tls",	no_argument,		NULL, 'L' },
		{ "ca",		required_argument,	NULL, 'A' },
		{ "help",	no_argument,		NULL, '?' + 256 },
		{ NULL,		0,			NULL, 0 }
	};
	bench_run_fn run;
	const char *host = "127.0.0.1";
	long port = -1;
	int ch;

	if (argc < 2)
		usage(stderr, 2);
	if (strcmp(argv[1], "--help") == 0)
		usage(stdout, 0);
	run = parse_mode(argv[1], o);
	/* getopt names its complaints after argv[0] of what it is given. */
	argv[1] = (char *)"tao-bench";
	o->o_conns = o->o_depth = -1;
	o->o_payload = SIZE_MAX;
	o->o_seconds = o->o_timeout = -1;
	o->o_threads = 1;
	o->o_senders = 10;
	o->o_rate = 100;
	while ((ch = getopt_long(argc - 1, argv + 1, "h:p:c:n:d:s:t:j:", longs,
	    NULL)) != -1)
		parse_option(ch, o, &host, &port);
	if (optind != argc - 1)
		bad("argument", argv[optind + 1]);
	check_options(o, host, port);
	defaults(o);
	return run;
}

void
bench_sync(void)
{
	pthread_barrier_wait(&barrier);
}

struct thread_arg {
	struct bench_thread	*t;
	bench_run_fn		 run;
	int			 rv;
};

static void *
thread_main(void *p)
{
	struct thread_arg *a = p;

	a->rv = a->run(a->t);
	return NULL;
}

static void
merge(struct bench_result *to, const struct bench_result *r)
{
	to->r_msgs += r->r_msgs;
	to->r_bytes += r->r_bytes;
	to->r_replies += r->r_replies;
	to->r_sent += r->r_sent;
	to->r_connected += r->r_connected;
	to->r_connect_failures += r->r_connect_failures;
	to->r_mismatches += r->r_mismatches;
	to->r_resets += r->r_resets;
	to->r_timeouts += r->r_timeouts;
	to->r_missing += r->r_missing;
	to->r_open += r->r_open;
	to->r_duplicates += r->r_duplicates;
	to->r_reordered += r->r_reordered;
	to->r_foreign += r->r_foreign;
	to->r_heartbeats += r->r_heartbeats;
	if (to->r_start == 0 || r->r_start < to->r_start)
		to->r_start = r->r_start;
	if (r->r_end > to->r_end)
		to->r_end = r->r_end;
	bench_hist_merge(&to->r_lat, &r->r_lat);
	bench_hist_merge(&to->r_lat2, &r->r_lat2);
}

static uint64_t
errors_of(const struct bench_result *r)
{
	return r->r_connect_failures + r->r_mismatches + r->r_resets +
	    r->r_timeouts + r->r_missing + r->r_duplicates + r->r_reordered;
}

static double
us(const struct bench_hist *h, double q)
{
	return (double)bench_hist_quantile(h, q) / 1000.0;
}

/* User and system time of this process so far, in seconds: on a small
 * machine the load generator's own cost is part of the picture. */
static double
client_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
print_json(const struct bench_opts *o, const struct bench_result *r,
    double secs)
{
	printf("{\"mode\":\"%s\",\"conns\":%d,\"depth\":%d,\"payload\":%zu,"
	    "\"threads\":%d,\"seconds\":%.3f,\"tls\":%s,", o->o_mode_name,
	    o->o_conns, o->o_depth, o->o_payload, o->o_threads, secs,
	    o->o_tls ? "true" : "false");
	printf("\"msgs\":%llu,\"msgs_per_s\":%.1f,\"mb_per_s\":%.3f,"
	    "\"replies\":%llu,\"sent\":%llu,",
	    (unsigned long long)r->r_msgs, (double)r->r_msgs / secs,
	    (double)r->r_bytes / secs / 1e6, (unsigned long long)r->r_replies,
	    (unsigned long long)r->r_sent);
	printf("\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
	    "\"max_us\":%.1f,", us(&r->r_lat, 0.5), us(&r->r_lat, 0.99),
	    us(&r->r_lat, 0.999), us(&r->r_lat, 1));
	if (o->o_mode == MODE_CHAT)
		printf("\"senders\":%d,\"rate\":%.1f,\"expected_per_s\":%.1f,"
		    "\"same_n\":%llu,\"cross_n\":%llu,\"cross_p50_us\":%.1f,"
		    "\"cross_p99_us\":%.1f,\"cross_p999_us\":%.1f,"
		    "\"cross_max_us\":%.1f,", o->o_senders, o->o_rate,
		    o->o_rate * o->o_conns,
		    (unsigned long long)r->r_lat.h_count,
		    (unsigned long long)r->r_lat2.h_count,
		    us(&r->r_lat2, 0.5), us(&r->r_lat2, 0.99),
		    us(&r->r_lat2, 0.999), us(&r->r_lat2, 1));
	printf("\"client_cpu_s\":%.3f,", client_cpu());
	printf("\"connected\":%llu,\"open\":%llu,\"connect_failures\":%llu,"
	    "\"mismatches\":%llu,\"resets\":%llu,\"timeouts\":%llu,"
	    "\"missing\":%llu,\"duplicates\":%llu,\"reordered\":%llu,"
	    "\"foreign\":%llu,\"heartbeats\":%llu,\"errors\":%llu}\n",
	    (unsigned long long)r->r_connected, (unsigned long long)r->r_open,
	    (unsigned long long)r->r_connect_failures,
	    (unsigned long long)r->r_mismatches,
	    (unsigned long long)r->r_resets, (unsigned long long)r->r_timeouts,
	    (unsigned long long)r->r_missing,
	    (unsigned long long)r->r_duplicates,
	    (unsigned long long)r->r_reordered,
	    (unsigned long long)r->r_foreign,
	    (unsigned long long)r->r_heartbeats,
	    (unsigned long long)errors_of(r));
}

static void
print_latency(const char *label, const struct bench_hist *h)
{
	printf("%-13s n %llu  p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f us\n",
	    label, (unsigned long long)h->h_count, us(h, 0.5), us(h, 0.99),
	    us(h, 0.999), us(h, 1));
}

static void
print_text(const struct bench_opts *o, const struct bench_result *r,
    double secs)
{
	printf("tao-bench %s: %d connections", o->o_mode_name, o->o_conns);
	if (o->o_mode == MODE_ECHO || o->o_mode == MODE_STREAM)
		printf(", depth %d", o->o_depth);
	printf(", %zu-byte payloads, %d thread%s%s\n", o->o_payload,
	    o->o_threads, o->o_threads == 1 ? "" : "s",
	    o->o_tls ? ", TLS" : "");
	switch (o->o_mode) {
	case MODE_ECHO:
	case MODE_STREAM:
		printf("%-13s %.1f s\n", "window", secs);
		printf("%-13s %.0f\n", "msgs/s", (double)r->r_msgs / secs);
		printf("%-13s %.2f\n", "MB/s", (double)r->r_bytes / secs / 1e6);
		print_latency("latency", &r->r_lat);
		break;
	case MODE_BURST:
		printf("%-13s %.1f ms\n", "time", secs * 1e3);
		printf("%-13s %llu of %d\n", "replies",
		    (unsigned long long)r->r_replies, o->o_conns);
		printf("%-13s %.0f\n", o->o_tls ? "handshakes/s" : "conns/s",
		    (double)r->r_replies / secs);
		print_latency("per conn", &r->r_lat);
		break;
	case MODE_IDLE:
		printf("%-13s %llu of %d (held %.1f s, heartbeat %llu ms)\n",
		    "open at end", (unsigned long long)r->r_open, o->o_conns,
		    secs, (unsigned long long)o->o_heartbeat_ms);
		break;
	case MODE_CHAT:
		printf("%-13s %.1f s, %d senders, %.1f msgs/s, %llu sent\n",
		    "window", secs, o->o_senders, o->o_rate,
		    (unsigned long long)r->r_sent);
		printf("%-13s %.0f (expected %.0f)\n", "deliveries/s",
		    (double)r->r_msgs / secs, o->o_rate * o->o_conns);
		print_latency("same-worker", &r->r_lat);
		print_latency("cross-worker", &r->r_lat2);
		break;
	}
	printf("%-13s %.2f s\n", "client CPU", client_cpu());
	printf("%-13s %llu (connect failures %llu, mismatches %llu, resets "
	    "%llu, timeouts %llu, missing %llu, duplicates %llu, reordered "
	    "%llu)\n", "errors", (unsigned long long)errors_of(r),
	    (unsigned long long)r->r_connect_failures,
	    (unsigned long long)r->r_mismatches,
	    (unsigned long long)r->r_resets, (unsigned long long)r->r_timeouts,
	    (unsigned long long)r->r_missing,
	    (unsigned long long)r->r_duplicates,
	    (unsigned long long)r->r_reordered);
}

/* Start o_threads threads, the connections shared out evenly. */
static void
start_threads(struct bench_opts *o, bench_run_fn run,
    struct bench_thread *ts, struct thread_arg *args)
{
	int i, per, extra, first = 0;

	per = o->o_conns / o->o_threads;
	extra = o->o_conns % o->o_threads;
	for (i = 0; i < o->o_threads; i++) {
		ts[i].t_id = i;
		ts[i].t_first = first;
		ts[i].t_count = per + (i < extra);
		ts[i].t_opts = o;
		bench_hist_init(&ts[i].t_res.r_lat);
		bench_hist_init(&ts[i].t_res.r_lat2);
		first += ts[i].t_count;
		args[i].t = &ts[i];
		args[i].run = run;
		if (pthread_create(&ts[i].t_tid, NULL, thread_main,
		    &args[i]) != 0) {
			/* The barrier counts every thread: cannot go on. */
			perror("tao-bench: pthread_create");
			exit(1);
		}
	}
}

/* Join the threads, merging their results into *total: 1 if one
 * failed, else 0. */
static int
join_threads(const struct bench_opts *o, struct bench_thread *ts,
    struct thread_arg *args, struct bench_result *total)
{
	int i, failed = 0;

	bench_hist_init(&total->r_lat);
	bench_hist_init(&total->r_lat2);
	for (i = 0; i < o->o_threads; i++) {
		pthread_join(ts[i].t_tid, NULL);
		if (args[i].rv == -1)
			failed = 1;
		merge(total, &ts[i].t_res);
	}
	return failed;
}

int
main(int argc, char **argv)
{
	static struct bench_opts o;
	struct bench_thread *ts;
	struct thread_arg *args;
	struct bench_result *total;
	bench_run_fn run;
	double secs;
	int failed;

	run = parse_args(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	if (o.o_tls && bench_tls_init(&o) == -1)
		return 2;
	bench_raise_nofile();
	ts = calloc((size_t)o.o_threads, sizeof(*ts));
	args = calloc((size_t)o.o_threads, sizeof(*args));
	total = calloc(1, sizeof(*total));
	if (ts == NULL || args == NULL || total == NULL ||
	    (o.o_mode == MODE_CHAT && bench_chat_setup(&o) == -1)) {
		perror("tao-bench");
		return 1;
	}
	pthread_barrier_init(&barrier, NULL, (unsigned)o.o_threads);
	start_threads(&o, run, ts, args);
	failed = join_threads(&o, ts, args, total);
	secs = (double)(total->r_end - total->r_start) / 1e9;
	if (secs <= 0)
		secs = 1e-9;
	if (o.o_json)
		print_json(&o, total, secs);
	else
		print_text(&o, total, secs);
	if (o.o_mode == MODE_CHAT)
		bench_chat_cleanup();
	pthread_barrier_destroy(&barrier);
	if (o.o_tls)
		bench_tls_cleanup();
	failed |= errors_of(total) > 0;
	free(ts);
	free(args);
	free(total);
	return failed ? 1 : 0;
}
