/*
 * t236-blocking-stop - issue 16: the pool and the worker's life.
 *
 *  1. A decode function runs on the loop and its object reaches the
 *     blocking handler (which owns it).
 *  2. A reload while a job sleeps: the connection is not handed over
 *     mid-job; its reply arrives, and the connection then carries on
 *     with the new generation.
 *  3. A graceful stop while a job sleeps waits for it: the reply arrives
 *     before the close, and the frame queued behind it is answered too.
 *  4. Config: blocking_threads and blocking_queue_max are range-checked
 *     with FILE:LINE, and `taoctl config` shows them.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tao.h"
#include "tests/lib/harness.h"
#include "tests/tap.h"

#define SLEEP_ECHO	7	/* blocking: sleep 300 ms, echo */
#define DECODED		8	/* blocking, with a decoder */

static int
decode_len(const void *data, size_t len, void **out, void *arg)
{
	size_t *n = malloc(sizeof(*n));

	(void)data;
	(void)arg;
	if (n == NULL)
		return -1;
	*n = len;
	*out = n;
	return 0;
}

static void
decoded(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "len=%zu", *(size_t *)m->decoded);

	(void)arg;
	free(m->decoded);
	tao_conn_send(c, DECODED, text, (size_t)n);
}

static void
sleep_echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	struct timespec ts = { 0, 300 * 1000 * 1000 };

	(void)arg;
	nanosleep(&ts, NULL);
	tao_conn_send(c, m->type, m->data, m->len);
}

static void
echo(struct tao_conn *c, const struct tao_message *m, void *arg)
{
	(void)arg;
	tao_conn_send(c, m->type, m->data, m->len);
}

static int
run(const char *conf, void *arg)
{
	struct tao_server *s = tao_server_new();

	(void)arg;
	if (s == NULL || tao_server_config(s, conf) < 0 ||
	    tao_server_register_blocking(s, SLEEP_ECHO, NULL, sleep_echo,
	    NULL) < 0 || tao_server_register_blocking(s, DECODED, decode_len,
	    decoded, NULL) < 0 || tao_server_on_message(s, echo, NULL) < 0)
		return 1;
	return tao_server_run(s) < 0;
}

static int
expect(int fd, int32_t want_type, const char *want, int timeout)
{
	char buf[64];
	int32_t type;
	uint32_t len;

	if (th_recv_frame(fd, &type, buf, sizeof(buf) - 1, &len, timeout) != 0)
		return 0;
	buf[len] = '\0';
	return type == want_type && strcmp(buf, want) == 0;
}

static void
config_checks(void)
{
	const char *argv[] = { NULL, "-t", "-c", NULL, NULL };
	char bin[300], path[300], out[1024], want[400];
	FILE *fp;
	int rc;

	snprintf(bin, sizeof(bin), "%s", th_bin("taod"));
	argv[0] = bin;
	snprintf(path, sizeof(path), "%s/t.conf", th_dir());
	argv[3] = path;
	if ((fp = fopen(path, "w")) == NULL)
		bail("fopen");
	fputs("workers 1\nblocking_threads 0\n", fp);
	fclose(fp);
	rc = th_run(out, sizeof(out), th_ms(10000), argv);
	snprintf(want, sizeof(want), "%s:2: blocking_threads: '0' is not a "
	    "number between 1 and 64", path);
	ok(rc == 1 && strstr(out, want) != NULL, "blocking_threads 0 is a "
	    "FILE:LINE error (%.*s)", (int)strcspn(out, "\n"), out);
	if ((fp = fopen(path, "w")) == NULL)
		bail("fopen");
	fputs("blocking_queue_max many\n", fp);
	fclose(fp);
	rc = th_run(out, sizeof(out), th_ms(10000), argv);
	ok(rc == 1 && strstr(out, ":1: blocking_queue_max:") != NULL,
	    "blocking_queue_max many too");
}

int
main(void)
{
	struct th_daemon *d;
	char out[4096];
	int fd, fd2;

	th_init("t236-blocking-stop", 120);
	config_checks();
	d = th_daemon_fork("workers 1\nblocking_threads 3\n"
	    "blocking_queue_max 7\nlisten 127.0.0.1:0 tlv\n", run, NULL);
	if (d == NULL)
		bail("server did not start");
	ok(th_ctl(d, out, sizeof(out), "config", NULL) == 0 &&
	    strstr(out, "blocking_threads 3\n") != NULL &&
	    strstr(out, "blocking_queue_max 7\n") != NULL,
	    "taoctl config shows blocking_threads and blocking_queue_max");
	if ((fd = th_connect(d->port[0])) == -1)
		bail("connect");
	ok(th_send_frame(fd, DECODED, "12345", 5) == 0 &&
	    expect(fd, DECODED, "len=5", th_ms(3000)), "a decoder's object "
	    "reaches the blocking handler");

	/* 2: reload mid-job. */
	ok(th_send_frame(fd, SLEEP_ECHO, "mid-reload", 10) == 0,
	    "a sleeping job starts");
	th_sleep_ms(50);
	is_int(th_ctl(d, out, sizeof(out), "reload", NULL), 0, "reload: %.*s",
	    (int)strcspn(out, "\n"), out);
	ok(expect(fd, SLEEP_ECHO, "mid-reload", th_ms(3000)), "its reply "
	    "arrives across the reload");
	ok(th_send_frame(fd, 1, "after", 5) == 0 && expect(fd, 1, "after",
	    th_ms(3000)), "and the connection carries on");

	/* 3: graceful stop mid-job, a frame queued behind it. */
	if ((fd2 = th_connect(d->port[0])) == -1)
		bail("connect");
	ok(th_send_frame(fd2, SLEEP_ECHO, "stop", 4) == 0 &&
	    th_send_frame(fd2, 1, "behind", 6) == 0, "a job and a frame "
	    "behind it");
	th_sleep_ms(50);
	kill(d->pid, SIGTERM);
	ok(expect(fd2, SLEEP_ECHO, "stop", th_ms(3000)), "a graceful stop "
	    "waits for the job's reply");
	ok(expect(fd2, 1, "behind", th_ms(3000)), "and answers the frame "
	    "behind it");
	ok(th_wait_closed(fd2, th_ms(5000)) == 0, "then closes");
	close(fd);
	close(fd2);
	is_int(th_daemon_wait(d, th_ms(10000)), 0, "the server exits 0");
	ok(!th_daemon_sanitizer_report(d), "no sanitizer report");
	return th_exit(done_testing());
}
