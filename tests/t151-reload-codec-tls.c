/*
 * t151-reload-codec-tls - issue 12 defect 2: a reload changes a
 * listener's codec and its tls flag, and keeps them, over real sockets.
 *
 * Three listeners, workers 1, app echo:
 *
 *	L0  tlv        -> line
 *	L1  tlv        -> tlv tls     (never a silent plaintext downgrade)
 *	L2  tlv tls    -> tlv
 *
 *  1. After the reload: L0 echoes a line, L1 completes a TLS handshake
 *     and echoes over it and closes a plaintext client, L2 echoes
 *     plaintext and fails a TLS handshake; a TLV client connected to L0
 *     before the reload keeps speaking TLV (it moved with its codec).
 *  2. The new generation's worker is killed: its replacement serves the
 *     same way (it takes its generation's config, not a stale copy).
 *  3. A reload that fails half way (its last listen address cannot be
 *     bound) after naming L0 tlv again changes nothing: `taoctl config`
 *     and the sockets still say B, also for a worker respawned after it.
 */
#include <sys/types.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tests/lib/harness.h"
#include "tests/lib/tlsclient.h"
#include "tests/tap.h"


static SSL_CTX *trust;
static char conf_buf[4096];

static const char *
conf(const char *listeners)
{
	char certs[1024];

	snprintf(certs, sizeof(certs), "tls_cert %s/srv.pem\ntls_key "
	    "%s/srv.key\n", th_dir(), th_dir());
	snprintf(conf_buf, sizeof(conf_buf), "app echo\nworkers 1\n%s%s",
	    listeners, certs);
	return conf_buf;
}

/* The listen lines of `taoctl config`, and their ports. */
static int
listeners(struct th_daemon *d, char *lines, size_t len, int *ports)
{
	char out[8192], *line, *save;
	size_t n = 0;
	int np = 0;

	lines[0] = '\0';
	if (th_ctl(d, out, sizeof(out), "config", NULL) != 0)
		return -1;
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *end, *c;
		if (strncmp(line, "listen ", 7) != 0 || np == 3)
			continue;
		end = line + 7 + strcspn(line + 7, " ");
		for (c = end; c > line && *c != ':'; c--)
			;
		ports[np++] = atoi(c + 1);
		n += (size_t)snprintf(lines + n, len - n, "%.*s%s|",
		    (int)(c - line), line, end);
	}
	return np;
}

static int
tlv_echoes(int port)
{
	return th_tlv_echoes(port, 4, 64, th_rand());
}

static int
line_echoes(int port)
{
	return th_line_echoes(port, "a line after the reload\n");
}

static int
tls_echoes(int port)
{
	char why[300];

	return tlsc_echoes(port, trust, 6, 200, NULL, why, sizeof(why));
}

static void
check_b(struct th_daemon *d, const char *when)
{
	char lines[1024];
	int ports[3];

	if (listeners(d, lines, sizeof(lines), ports) != 3) {
		ok(0, "%s: taoctl config lists 3 listeners", when);
		return;
	}
	is_str(lines, "listen 127.0.0.1 line|listen 127.0.0.1 tlv tls|"
	    "listen 127.0.0.1 tlv|", "%s: taoctl config shows B's codecs "
	    "and tls flags", when);
	ok(line_echoes(ports[0]), "%s: L0 (tlv -> line) echoes a line", when);
	ok(tls_echoes(ports[1]), "%s: L1 (-> tls) serves TLS", when);
	ok(!tlv_echoes(ports[1]), "%s: L1 gives a plaintext client nothing",
	    when);
	ok(tlv_echoes(ports[2]), "%s: L2 (tls ->) echoes plaintext", when);
	ok(!tls_echoes(ports[2]), "%s: L2 fails a TLS handshake", when);
}

/* SIGKILL the serving worker and wait for its replacement. */
static void
kill_worker(struct th_daemon *d, const char *when)
{
	double end = th_now_ms() + th_ms(10000);
	struct th_status st;
	pid_t old = 0, now = 0;

	if (th_status(d, &st) == -1 || th_status_serving(&st, 0, &old) < 1)
		bail("no serving worker");
	(void)kill(old, SIGKILL);
	while (th_now_ms() < end) {
		if (th_status(d, &st) == 0 && th_status_serving(&st, 0,
		    &now) == 1 && now != old && now > 0)
			break;
		th_sleep_ms(20);
	}
	ok(now != old && now > 0, "%s: worker %d killed, %d serves", when,
	    (int)old, (int)now);
}

int
main(void)
{
	struct th_daemon *d;
	char out[4096], lines[1024];
	int ports[3], old_fd;

	th_init("t151-reload-codec-tls", 180);
	tlsc_make_certs();
	trust = tlsc_ctx(strcat(strcpy(lines, th_dir()), "/trust.pem"), NULL,
	    NULL);
	d = th_daemon_start(conf("listen 127.0.0.1:0 tlv\n"
	    "listen 127.0.0.1:0 tlv\nlisten 127.0.0.1:0 tlv tls\n"));
	if (d == NULL)
		bail("taod did not start");
	if (listeners(d, lines, sizeof(lines), ports) != 3)
		bail("taoctl config");
	ok(tlv_echoes(ports[0]) && tlv_echoes(ports[1]) &&
	    tls_echoes(ports[2]) && !tlv_echoes(ports[2]),
	    "A: L0, L1 plaintext TLV, L2 TLS");
	if ((old_fd = th_connect(ports[0])) == -1 ||
	    th_echo_once(old_fd, 2, 10, 1) == -1)
		bail("a TLV client on L0");

	/* 1 */
	th_daemon_config(d, conf("listen 127.0.0.1:0 line\n"
	    "listen 127.0.0.1:0 tlv tls\nlisten 127.0.0.1:0 tlv\n"));
	is_int(th_ctl(d, out, sizeof(out), "reload", NULL), 0,
	    "reload to B: %.*s", (int)strcspn(out, "\n"), out);
	check_b(d, "after the reload");
	ok(th_ctl(d, out, sizeof(out), "config", "--json", NULL) == 0 &&
	    strstr(out, "\"codec\":\"line\",\"tls\":false,") != NULL &&
	    strstr(out, "\"codec\":\"tlv\",\"tls\":true,") != NULL &&
	    strstr(out, "\"workers\":1,") != NULL,
	    "taoctl config --json says the same");
	ok(th_echo_once(old_fd, 2, 1000, 2) == 0, "the TLV client connected "
	    "to L0 before the reload still speaks TLV");
	close(old_fd);

	/* 2 */
	kill_worker(d, "B");
	check_b(d, "respawned");

	/* 3 */
	th_daemon_config(d, conf("listen 127.0.0.1:0 tlv\n"
	    "listen 127.0.0.1:0 tlv\nlisten 127.0.0.1:0 tlv tls\n"
	    "listen 192.0.2.1:0 tlv\n"));
	is_int(th_ctl(d, out, sizeof(out), "reload", NULL), 1,
	    "a reload that cannot bind its last address fails");
	ok(strstr(out, "listen 192.0.2.1:0") != NULL, "  saying %.*s",
	    (int)strcspn(out, "\n"), out);
	check_b(d, "after the failed reload");
	kill_worker(d, "after the failed reload");
	check_b(d, "respawned after the failed reload");

	is_int(th_daemon_stop(d), 0, "taod stops cleanly");
	SSL_CTX_free(trust);
	return th_exit(done_testing());
}
