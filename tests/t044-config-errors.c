/*
 * t044-config-errors - every bad config line is reported as FILE:LINE:
 * message with exit 1, by `taod -t -c FILE` and by `taod -c FILE` alike;
 * a good config passes -t; -t binds nothing (it passes while another
 * socket holds its listen port).
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

static const struct bad {
	const char	*text;		/* the config */
	int		 line;		/* the line at fault */
	const char	*what;		/* part of the message */
} bad[] = {
	{ "app echo\nbogus 1\n", 2, "unknown directive" },
	{ "listen 127.0.0.1:0 tlv\nworkers abc\n", 2, "abc" },
	{ "# comment\n\nmax_frame 12q\n", 3, "12q" },
	{ "max_frame 0\n", 1, "max_frame" },
	{ "listen nonsense\n", 1, "nonsense" },
	{ "listen 127.0.0.1:99999\n", 1, "99999" },
	{ "listen 127.0.0.1:0 tlv\nlisten 127.0.0.1:0 foo\n", 2, "foo" },
	{ "app\n", 1, "app" },
	{ "workers 2 3\n", 1, "workers" },
	{ "workers 0\n", 1, "workers" },
	{ "log_level loud\n", 1, "loud" },
	{ "heartbeat_ms -5\n", 1, "-5" },
	{ "write_queue_max 1x\n", 1, "1x" },
	{ "listen 127.0.0.1:0 tlv\napp nosuchapp\n", 2, "nosuchapp" },
	{ "listen 127.0.0.1:0 tlv\napp chat loud\n", 2, "loud" },
	{ "listen 127.0.0.1:0 tlv\napp echo notices\n", 2, "notices" },
	{ "listen 127.0.0.1:0 tlv\nuser no-such-user-t044\n", 2,
	    "no-such-user-t044" },
};

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) == EOF)
		bail("cannot write a config file");
}

/* Run taod with the given flag ("-t" or NULL) on path. */
static int
run_taod(const char *check, const char *path, char *out, size_t outlen)
{
	const char *argv[5];
	int n = 0;

	argv[n++] = th_bin("taod");
	if (check != NULL)
		argv[n++] = check;
	argv[n++] = "-c";
	argv[n++] = path;
	argv[n] = NULL;
	return th_run(out, outlen, th_ms(5000), argv);
}

static void
test_bad(const struct bad *b, int i)
{
	char path[256], want[320], out[4096], ctl[300];
	const char *how[2] = { "-t", NULL }, *line = b->text;
	int rc;

	for (int n = 1; n < b->line; n++)
		line += strcspn(line, "\n") + 1;

	snprintf(path, sizeof(path), "%s/bad%d.conf", th_dir(), i);
	snprintf(ctl, sizeof(ctl), "%scontrol %s/bad%d.sock\n", b->text,
	    th_dir(), i);
	write_file(path, ctl);
	snprintf(want, sizeof(want), "%s:%d: ", path, b->line);
	for (int k = 0; k < 2; k++) {
		const char *flag = how[k] ? "-t " : "";

		rc = run_taod(how[k], path, out, sizeof(out));
		is_int(rc, 1, "taod %s-c, line %d '%.*s': exit 1", flag,
		    b->line, (int)strcspn(line, "\n"), line);
		ok(strstr(out, want) != NULL && strstr(out, b->what) != NULL,
		    "  says %s...%s", want, b->what);
		if (strstr(out, want) == NULL || strstr(out, b->what) == NULL)
			diag("  got: %.*s", (int)strcspn(out, "\n"), out);
	}
}

int
main(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char path[256], text[512], out[4096];
	int fd, port;

	th_init("t044-config-errors", 60);
	plan(0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		test_bad(&bad[i], (int)i);

	/* A port held by another socket: -t must not care (binds none). */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 8) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		bail("cannot hold a port");
	port = ntohs(sin.sin_port);
	snprintf(path, sizeof(path), "%s/good.conf", th_dir());
	snprintf(text, sizeof(text), "# a good config\n"
	    "listen 127.0.0.1:%d tlv\nlisten 127.0.0.1:0 line\napp echo\n"
	    "workers 2\nmax_frame 1m\nwrite_queue_max 512k\n"
	    "max_connections 1000\nheartbeat_ms 0\nidle_timeout_ms 60000\n"
	    "drain_timeout_ms 2000\nlog_level debug\ncontrol %s/good.sock\n"
	    "pidfile %s/good.pid\n", port, th_dir(), th_dir());
	write_file(path, text);
	is_int(run_taod("-t", path, out, sizeof(out)), 0,
	    "a good config passes -t, its port held by another socket");
	ok(strstr(out, "is ok") != NULL, "  and says it is ok");
	if (strstr(out, "is ok") == NULL)
		diag("  got: %.*s", (int)strcspn(out, "\n"), out);
	ok(access(path, F_OK) == 0 && strstr(out, "listening") == NULL,
	    "  without listening");
	snprintf(path, sizeof(path), "%s/good.sock", th_dir());
	ok(access(path, F_OK) == -1, "  or creating the control socket");
	snprintf(path, sizeof(path), "%s/good.pid", th_dir());
	ok(access(path, F_OK) == -1, "  or the pidfile");
	snprintf(path, sizeof(path), "%s/good.conf", th_dir());
	ok(run_taod(NULL, path, out, sizeof(out)) > 0,
	    "taod -c with that port held fails to start");
	diag("  it says: %.*s", (int)strcspn(out, "\n"), out);
	close(fd);
	return th_exit(done_testing());
}
