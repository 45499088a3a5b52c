/*
 * t150-reload-equivalence - a reload to config B makes taod behave as a
 * taod started on B would, for every directive of taod.conf(5); or the
 * reload is refused with a message naming the directive and nothing
 * changes.  No directive may be silently ignored on reload.
 *
 * Table driven: each row is a directive, a config A, a config B and a
 * probe of B's behaviour (or the text the refusal must contain).  For an
 * accepted row:
 *
 *	1. taod -c B: `taoctl config` gives the reference; the probe passes.
 *	2. taod -c A, rewrite the file to B, `taoctl reload` exits 0.
 *	3. `taoctl config` equals the reference (the daemon's directory and
 *	   the listeners' ports, which differ between the two daemons, are
 *	   masked); the probe passes over real sockets.
 *
 * For a refused row: taoctl reload exits 1 with the message, and
 * `taoctl config` is what it was before.  Listeners bind port 0; the
 * probes learn the ports from `taoctl config`.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tests/lib/harness.h"
#include "tests/lib/http.h"
#include "tests/lib/tlsclient.h"
#include "tests/tap.h"

#define MAXPORTS	4
#define CONFIG_MAX	8192

typedef int (*probe_fn)(struct th_daemon *, const int *ports);

struct rcase {
	const char	*directive;
	const char	*a, *b;
	probe_fn	 probe;		/* B's behaviour */
	const char	*refused;	/* the reload fails with this text */
	const char	*ctl_after;	/* B's control socket, if it moves */
};

static SSL_CTX *trust_ctx, *client_cert_ctx;

static const char *
cert(const char *name)
{
	static char bufs[4][300];
	static int next;
	char *p = bufs[next++ % 4];

	snprintf(p, sizeof(bufs[0]), "%s/%s", th_dir(), name);
	return p;
}

/* ---- config text -------------------------------------------------------- */

/* "@T@" becomes the test dir (the certificates); "@DIR@" is the
 * harness's, the daemon's own directory. */
static const char *
expand(const char *text)
{
	static char out[CONFIG_MAX];
	const char *p, *at;
	size_t n = 0;

	out[0] = '\0';
	for (p = text; (at = strstr(p, "@T@")) != NULL; p = at + 3)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%.*s%s",
		    (int)(at - p), p, th_dir());
	snprintf(out + n, sizeof(out) - n, "%s", p);
	return out;
}

/*
 * `taoctl config` into out with d->dir masked as @DIR@ and every listen
 * port as PORT; the ports in ports[].  0, or -1 if taoctl failed.
 */
static int
get_config(struct th_daemon *d, char *out, size_t outlen, int *ports)
{
	char raw[CONFIG_MAX], *line, *save;
	size_t n = 0, dlen = strlen(d->dir);
	int np = 0;

	if (th_ctl(d, raw, sizeof(raw), "config", NULL) != 0) {
		snprintf(out, outlen, "taoctl config failed: %.200s", raw);
		return -1;
	}
	out[0] = '\0';
	for (line = strtok_r(raw, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *dir = strstr(line, d->dir);
		if (strncmp(line, "listen ", 7) == 0) {
			char *colon = line + 7 + strcspn(line + 7, " "), *c;
			for (c = colon; c > line && *c != ':'; c--)
				;
			if (np < MAXPORTS)
				ports[np++] = atoi(c + 1);
			n += (size_t)snprintf(out + n, outlen - n,
			    "%.*sPORT%s\n", (int)(c + 1 - line), line, colon);
		} else if (dir != NULL)
			n += (size_t)snprintf(out + n, outlen - n,
			    "%.*s@DIR@%s\n", (int)(dir - line), line,
			    dir + dlen);
		else
			n += (size_t)snprintf(out + n, outlen - n, "%s\n",
			    line);
		if (n >= outlen)
			return -1;
	}
	return 0;
}

/* ---- probes ------------------------------------------------------------- */

static int
tlv_echoes(int port)
{
	return th_tlv_echoes(port, 7, 100, th_rand());
}

static int
line_echoes(int port)
{
	return th_line_echoes(port, "reload equivalence\n");
}

/* A TLS handshake and echo succeed; also the certificate, if named. */
static int
tls_echoes(int port, SSL_CTX *ctx, const char *want_cert)
{
	char why[300];

	if (tlsc_echoes(port, ctx, 9, 300, want_cert, why, sizeof(why)))
		return 1;
	diag("  %s", why);
	return 0;
}

/* A connection that sends nothing (or `partial` bytes of a header) is
 * closed by the server within bound_ms. */
static int
closed_within(int port, int partial, int bound_ms)
{
	int fd = th_connect(port), rc;

	if (fd == -1)
		return 0;
	if (partial > 0 && th_write_all(fd, "\1\0\0\0\0\0\0\0", (size_t)
	    partial) == -1) {
		close(fd);
		return 0;
	}
	rc = th_wait_closed(fd, th_ms(bound_ms)) == 0;
	close(fd);
	return rc;
}

static int
p_tlv(struct th_daemon *d, const int *ports)
{
	(void)d;
	return tlv_echoes(ports[0]);
}

static int
p_line(struct th_daemon *d, const int *ports)
{
	(void)d;
	/* A TLV port closes it: "reload e" announces a 1.7 GB frame. */
	return line_echoes(ports[0]);
}

static int
p_two(struct th_daemon *d, const int *ports)
{
	(void)d;
	return tlv_echoes(ports[0]) && line_echoes(ports[1]);
}

/* TLS with srv.pem, and a plaintext client gets nothing back. */
static int
p_tls(struct th_daemon *d, const int *ports)
{
	(void)d;
	return tls_echoes(ports[0], trust_ctx, cert("srv.pem")) &&
	    !tlv_echoes(ports[0]);
}

static int
p_cert2(struct th_daemon *d, const int *ports)
{
	(void)d;
	return tls_echoes(ports[0], trust_ctx, cert("srv2.pem"));
}

/* A client certificate is required, and one from cca.pem is accepted. */
static int
p_client_ca(struct th_daemon *d, const int *ports)
{
	(void)d;
	if (tls_echoes(ports[0], trust_ctx, NULL)) {
		diag("  a client without a certificate was served");
		return 0;
	}
	return tls_echoes(ports[0], client_cert_ctx, NULL);
}

static int
p_workers2(struct th_daemon *d, const int *ports)
{
	double end = th_now_ms() + th_ms(10000);
	struct th_status st;

	while (th_now_ms() < end) {
		if (th_status(d, &st) == 0 && st.workers == 2 &&
		    th_status_serving(&st, -1, NULL) == 2)
			return tlv_echoes(ports[0]);
		th_sleep_ms(20);
	}
	diag("  taoctl status never showed 2 serving workers");
	return 0;
}

static long
uid_of(pid_t pid)
{
	char path[64], line[256];
	long uid = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "Uid: %ld", &uid) == 1)
			break;
	fclose(fp);
	return uid;
}

/* worker_cpu_affinity auto: the worker may run on one CPU only. */
static int
p_pinned(struct th_daemon *d, const int *ports)
{
	pid_t pid = th_worker_pid(d, 0);
	cpu_set_t set;

	CPU_ZERO(&set);
	return pid > 0 && sched_getaffinity(pid, sizeof(set), &set) == 0 &&
	    CPU_COUNT(&set) == 1 && tlv_echoes(ports[0]);
}

/* metrics: the port the log names answers GET /metrics. */
static int
p_metrics(struct th_daemon *d, const int *ports)
{
	static char resp[1 << 16];
	int port = th_metrics_port(d, th_ms(5000));

	return port > 0 && th_scrape(port, resp, sizeof(resp)) == 200 &&
	    tlv_echoes(ports[0]);
}

static int
p_user_nobody(struct th_daemon *d, const int *ports)
{
	struct passwd *pw = getpwnam("nobody");
	struct th_status st;
	pid_t pid = 0;
	long uid;

	if (pw == NULL || th_status(d, &st) == -1 ||
	    th_status_serving(&st, 0, &pid) < 1)
		return 0;
	uid = uid_of(pid);
	if (uid != (long)pw->pw_uid) {
		diag("  worker %d runs as uid %ld", (int)pid, uid);
		return 0;
	}
	return tlv_echoes(ports[0]);
}

static int
p_max_frame_1k(struct th_daemon *d, const int *ports)
{
	static char payload[1025];
	int fd, small, big;

	(void)d;
	if ((fd = th_connect(ports[0])) == -1)
		return 0;
	small = th_echo_once(fd, 3, 1024, 1) == 0;
	big = th_send_frame(fd, 3, payload, 1025) == 0 &&
	    th_wait_closed(fd, th_ms(3000)) == 0;
	close(fd);
	if (!small || !big)
		diag("  1024 bytes echoed: %d, 1025 bytes closed: %d", small,
		    big);
	return small && big;
}

/* heartbeat_ms 300 / idle_timeout_ms 300: a silent client is closed. */
static int
p_silent_closed(struct th_daemon *d, const int *ports)
{
	(void)d;
	return closed_within(ports[0], 0, 3000);
}

/* frame_timeout_ms 300: half a header, then nothing: closed. */
static int
p_partial_closed(struct th_daemon *d, const int *ports)
{
	(void)d;
	return closed_within(ports[0], 4, 3000);
}

static int
p_heartbeat_reply(struct th_daemon *d, const int *ports)
{
	int32_t type = -1;
	uint32_t len = 1;
	char buf[16];
	int fd, rc;

	(void)d;
	if ((fd = th_connect(ports[0])) == -1)
		return 0;
	rc = th_send_frame(fd, 0, NULL, 0) == 0 && th_recv_frame(fd, &type,
	    buf, sizeof(buf), &len, th_ms(3000)) == 0 && type == 0 &&
	    len == 0;
	close(fd);
	return rc;
}

/* log_level debug: a worker logs why it closed a bad frame's sender. */
/* The bridge runs with B's Redis and channel (nothing listens on port 1:
 * it keeps retrying, which is enough to see its settings). */
static int
p_cluster(struct th_daemon *d, const int *ports)
{
	char out[8192];
	double deadline = th_now_ms() + th_ms(5000);

	while (th_now_ms() < deadline) {
		if (th_ctl(d, out, sizeof(out), "status", NULL) == 0 &&
		    strstr(out, "\ncluster off") == NULL &&
		    strstr(out, " pid 0 ") == NULL &&
		    strstr(out, "redis 127.0.0.1:1 channel other\n") != NULL)
			return tlv_echoes(ports[0]);
		th_sleep_ms(50);
	}
	diag("%s", out);
	return 0;
}

static int
p_log_debug(struct th_daemon *d, const int *ports)
{
	static const char needle[] = "worker 0: closing 127.0.0.1";
	int before = th_daemon_log_count(d, needle), fd, rc;
	uint8_t head[TH_HEADER];

	if ((fd = th_connect(ports[0])) == -1)
		return 0;
	th_put_header(head, 1, 0xffffffffu);	/* over max_frame */
	rc = th_write_all(fd, head, sizeof(head)) == 0 &&
	    th_wait_closed(fd, th_ms(3000)) == 0 &&
	    th_daemon_wait_log(d, needle, before + 1, th_ms(3000)) == 0;
	close(fd);
	return rc;
}

/*
 * drain_timeout_ms 200: a client that never reads a 7 MiB echo keeps its
 * worker busy on stop; taod exits within 200 ms + the master's 2 s grace
 * (A's 30 s would not).  Stops the daemon.
 */
static int
p_drain_fast(struct th_daemon *d, const int *ports)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct timeval tv = { 10, 0 };
	size_t len = 7u << 20;
	char *buf = calloc(1, len);
	int fd, small = 4096, rc = 0;
	double t0, took;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)ports[0]);
	if (buf == NULL || (fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
	    0)) == -1)
		bail("drain probe");
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    th_send_frame(fd, 5, buf, (uint32_t)len) == -1)
		goto done;
	for (t0 = th_now_ms(); th_stat(d, -1, "msgs_in") < 1; th_sleep_ms(10))
		if (th_now_ms() - t0 > th_ms(5000))
			goto done;
	t0 = th_now_ms();
	(void)kill(d->pid, SIGTERM);
	rc = th_daemon_wait(d, th_ms(20000)) == 0;
	took = th_now_ms() - t0;
	if (took > 2200 * (th_sanitized() ? 2 : 1) + 1500) {
		diag("  stop took %.0f ms", took);
		rc = 0;
	}
done:
	close(fd);
	free(buf);
	return rc;
}

/* The control socket moved to B's path: taoctl answers there (the runner
 * already asked it for `config`) and nothing is left at A's. */
static int
p_control_moved(struct th_daemon *d, const int *ports)
{
	char old[300];

	snprintf(old, sizeof(old), "%s/ctl.sock", d->dir);
	return access(old, F_OK) == -1 && tlv_echoes(ports[0]);
}

/* Point the harness's taoctl at path (with @DIR@), when a row moves it. */
static void
use_ctl(struct th_daemon *d, const char *path)
{
	const char *at;

	if (path == NULL)
		return;
	at = strstr(path, "@DIR@");
	snprintf(d->ctl, sizeof(d->ctl), "%.*s%s%s", (int)(at - path), path,
	    d->dir, at + 5);
}

/* ---- the table ---------------------------------------------------------- */

#define BASE	"app echo\nworkers 1\n"
#define TLV	"listen 127.0.0.1:0 tlv\n"
#define CERTS	"tls_cert @T@/srv.pem\ntls_key @T@/srv.key\n"
#define TLV_TLS	"listen 127.0.0.1:0 tlv tls\n"
#define CTL	"control @DIR@/ctl.sock\n"
#define CLUSTER	"cluster redis://127.0.0.1:1\ncluster_channel other\n"

static struct rcase cases[] = {
	{ "workers", BASE TLV, "app echo\nworkers 2\n" TLV, p_workers2, NULL, NULL },
	{ "worker_cpu_affinity", BASE TLV,
	    BASE TLV "worker_cpu_affinity auto\n", p_pinned, NULL, NULL },
	{ "user", BASE TLV, BASE TLV "user nobody\n", p_user_nobody, NULL, NULL },
	{ "metrics", BASE TLV, BASE TLV "metrics 127.0.0.1:0\n", p_metrics,
	    NULL, NULL },
	{ "listen codec tlv -> line", BASE TLV,
	    BASE "listen 127.0.0.1:0 line\n", p_line, NULL, NULL },
	{ "listen + tls (certs added too)", BASE TLV, BASE TLV_TLS CERTS,
	    p_tls, NULL, NULL },
	{ "listen + tls (certs there before)", BASE TLV CERTS,
	    BASE TLV_TLS CERTS, p_tls, NULL, NULL },
	{ "listen - tls", BASE TLV_TLS CERTS, BASE TLV CERTS, p_tlv, NULL, NULL },
	{ "listen: an address added", BASE TLV,
	    BASE TLV "listen 127.0.0.1:0 line\n", p_two, NULL, NULL },
	{ "listen: an address removed", BASE TLV "listen 127.0.0.1:0 line\n",
	    BASE TLV, p_tlv, NULL, NULL },
	{ "app", BASE TLV, "app chat\nworkers 1\n" TLV, NULL,
	    "app cannot change on reload; restart taod", NULL },
	{ "max_frame", BASE TLV "max_frame 1m\n", BASE TLV "max_frame 1k\n",
	    p_max_frame_1k, NULL, NULL },
	{ "write_queue_max", BASE TLV, BASE TLV "write_queue_max 64k\n",
	    p_tlv, NULL, NULL },
	{ "max_connections", BASE TLV, BASE TLV "max_connections 100\n",
	    NULL, "max_connections cannot change on reload; restart taod", NULL },
	{ "ring_size (another size)", BASE TLV "ring_size 64k\n",
	    BASE TLV "ring_size 1m\n", NULL,
	    "ring_size cannot change on reload; restart taod", NULL },
	{ "ring_size (same rounded size)", BASE TLV "ring_size 100k\n",
	    BASE TLV "ring_size 120k\n", p_tlv, NULL, NULL },
	{ "heartbeat_ms", BASE TLV, BASE TLV "heartbeat_ms 300\n",
	    p_silent_closed, NULL, NULL },
	{ "heartbeat_reply", BASE TLV "heartbeat_reply off\n",
	    BASE TLV "heartbeat_reply on\n", p_heartbeat_reply, NULL, NULL },
	{ "idle_timeout_ms", BASE TLV, BASE TLV "idle_timeout_ms 300\n",
	    p_silent_closed, NULL, NULL },
	{ "frame_timeout_ms", BASE TLV, BASE TLV "frame_timeout_ms 300\n",
	    p_partial_closed, NULL, NULL },
	{ "drain_timeout_ms", BASE TLV "drain_timeout_ms 30000\n",
	    BASE TLV "drain_timeout_ms 200\n", p_drain_fast, NULL, NULL },
	{ "reload_timeout_ms", BASE TLV, BASE TLV "reload_timeout_ms 1000\n",
	    p_tlv, NULL, NULL },
	{ "max_old_generations (fewer)", BASE TLV,
	    BASE TLV "max_old_generations 1\n", p_tlv, NULL, NULL },
	{ "max_old_generations (more)", BASE TLV,
	    BASE TLV "max_old_generations 3\n", NULL,
	    "max_old_generations cannot grow beyond 2 on reload", NULL },
	{ "control", BASE TLV CTL, BASE TLV "control @DIR@/other.sock\n",
	    p_control_moved, NULL, "@DIR@/other.sock" },
	{ "pidfile", BASE TLV, BASE TLV "pidfile @DIR@/taod.pid\n", NULL,
	    "pidfile cannot change on reload; restart taod", NULL },
	{ "log_level", BASE TLV, BASE TLV "log_level debug\n", p_log_debug,
	    NULL, NULL },
	{ "tls_cert + tls_key", BASE TLV_TLS CERTS, BASE TLV_TLS
	    "tls_cert @T@/srv2.pem\ntls_key @T@/srv2.key\n", p_cert2, NULL, NULL },
	{ "tls_key (not the certificate's)", BASE TLV_TLS CERTS, BASE TLV_TLS
	    "tls_cert @T@/srv.pem\ntls_key @T@/srv2.key\n", NULL, "tls_key", NULL },
	{ "tls_client_ca", BASE TLV_TLS CERTS, BASE TLV_TLS CERTS
	    "tls_client_ca @T@/cca.pem\n", p_client_ca, NULL, NULL },
	{ "cluster", BASE TLV "node_id 0\n", BASE TLV "node_id 0\n" CLUSTER,
	    p_cluster, NULL, NULL },
	{ "cluster_channel", BASE TLV "node_id 0\ncluster redis://127.0.0.1:1\n",
	    BASE TLV "node_id 0\n" CLUSTER, p_cluster, NULL, NULL },
	{ "cluster_password", BASE TLV "node_id 0\n" CLUSTER, BASE TLV
	    "node_id 0\n" CLUSTER "cluster_password pw\n", p_cluster, NULL,
	    NULL },
	{ "cluster_queue_max", BASE TLV "node_id 0\n" CLUSTER, BASE TLV
	    "node_id 0\n" CLUSTER "cluster_queue_max 5\n", p_cluster, NULL,
	    NULL },
	{ "node_id", BASE TLV "node_id 1\n" CLUSTER, BASE TLV "node_id 2\n"
	    CLUSTER, NULL, "node_id cannot change on reload", NULL },
	{ "an invalid file", BASE TLV, BASE TLV "bogus_directive 1\n", NULL,
	    "unknown directive 'bogus_directive'", NULL },
};

/* Every directive of the manual has a row (t84 checks the manual lists
 * what config.c parses). */
static const char *const directives[] = {
	"workers", "worker_cpu_affinity", "user", "listen", "app", "max_frame",
	"write_queue_max",
	"max_connections", "ring_size", "heartbeat_ms", "heartbeat_reply",
	"idle_timeout_ms", "frame_timeout_ms", "drain_timeout_ms",
	"reload_timeout_ms", "max_old_generations", "control", "pidfile",
	"log_level", "metrics", "tls_cert", "tls_key", "tls_client_ca",
	"cluster", "cluster_password", "cluster_channel", "cluster_queue_max",
	"node_id",
};

static void
check_coverage(void)
{
	const size_t ncases = sizeof(cases) / sizeof(cases[0]);
	int missing = 0;

	for (size_t i = 0; i < sizeof(directives) / sizeof(directives[0]);
	    i++) {
		size_t dl = strlen(directives[i]), j;
		for (j = 0; j < ncases; j++)
			if (strncmp(cases[j].directive, directives[i], dl) == 0
			    && strchr(" +", cases[j].directive[dl]) != NULL)
				break;
		if (j == ncases) {
			diag("no row for %s", directives[i]);
			missing++;
		}
	}
	is_int(missing, 0, "every directive of taod.conf(5) has a row");
}

/* ---- one row ------------------------------------------------------------ */

static void
run_case(const struct rcase *c)
{
	static char want[CONFIG_MAX], before[CONFIG_MAX], after[CONFIG_MAX];
	static char out[CONFIG_MAX];
	struct th_daemon *d;
	int ports[MAXPORTS] = { 0 }, rc;

	diag("--- %s", c->directive);
	if (c->refused == NULL) {
		if ((d = th_daemon_start(expand(c->b))) == NULL) {
			ok(0, "%s: taod -c B starts", c->directive);
			return;
		}
		use_ctl(d, c->ctl_after);
		if (get_config(d, want, sizeof(want), ports) == -1)
			diag("%s", want);
		ok(c->probe(d, ports), "%s: taod -c B behaves as B",
		    c->directive);
		th_daemon_stop(d);
	}
	if ((d = th_daemon_start(expand(c->a))) == NULL) {
		ok(0, "%s: taod -c A starts", c->directive);
		return;
	}
	(void)get_config(d, before, sizeof(before), ports);
	if (th_daemon_config(d, expand(c->b)) == -1)
		bail("cannot rewrite the config");
	rc = th_ctl(d, out, sizeof(out), "reload", NULL);
	if (c->refused != NULL) {
		ok(rc == 1 && strstr(out, c->refused) != NULL,
		    "%s: the reload is refused: %.*s", c->directive,
		    (int)strcspn(out, "\n"), out);
		if (rc != 1 || strstr(out, c->refused) == NULL)
			diag("  want '%s'", c->refused);
		(void)get_config(d, after, sizeof(after), ports);
		is_str(after, before, "%s: taoctl config shows nothing "
		    "changed", c->directive);
		ok(tlv_echoes(ports[0]) || tls_echoes(ports[0], trust_ctx,
		    NULL), "%s: and A still serves", c->directive);
	} else {
		is_int(rc, 0, "%s: the reload is accepted", c->directive);
		if (rc != 0)
			diag("  %s", out);
		use_ctl(d, c->ctl_after);
		(void)get_config(d, after, sizeof(after), ports);
		is_str(after, want, "%s: taoctl config after the reload is a "
		    "fresh B's", c->directive);
		ok(c->probe(d, ports), "%s: the reloaded taod behaves as B",
		    c->directive);
	}
	th_daemon_stop(d);
}

int
main(void)
{
	th_init("t150-reload-equivalence", 600);
	tlsc_make_certs();
	trust_ctx = tlsc_ctx(cert("trust.pem"), NULL, NULL);
	client_cert_ctx = tlsc_ctx(cert("trust.pem"), cert("cli.pem"),
	    cert("cli.key"));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rcase *c = &cases[i];
		/* Only root can switch the workers' user. */
		if (strcmp(c->directive, "user") != 0 || (geteuid() == 0 &&
		    getpwnam("nobody") != NULL))
			continue;
		c->probe = NULL;
		c->refused = "cannot switch its workers to another user";
		if (getpwnam("nobody") == NULL)
			c->refused = "no such user";
	}
	check_coverage();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	SSL_CTX_free(trust_ctx);
	SSL_CTX_free(client_cert_ctx);
	return th_exit(done_testing());
}
