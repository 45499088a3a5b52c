/*
 * t232-module-load - issue 16, app modules in taod:
 *
 *  1. `app PATH.so`: the built-in echo and pingpong apps, built as
 *     modules (build/modules/), serve like the linked-in ones.
 *  2. `module_path DIR` + `app NAME ARGS...`: a bare name is DIR/NAME.so,
 *     and init gets the words of the app line (tests/modules/args.c).
 *  3. taod -t refuses, with FILE:LINE and a clear reason: a module of
 *     another ABI version (its init never runs), one whose init fails,
 *     a shared object without tao_module_v1, a missing file, an unknown
 *     bare name.
 *  4. A reload loads nothing again: with the module file replaced by
 *     garbage it succeeds and the module still serves; a reload that
 *     changes the app line is refused and changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/harness.h"
#include "tests/tap.h"

static char	modules[256], test_modules[256];

/* Send one frame, return the reply's payload in out (NUL-terminated). */
static int
ask(int port, int32_t type, char *out, size_t cap)
{
	int32_t t;
	uint32_t len;
	int fd = th_connect(port), rc = -1;

	out[0] = '\0';
	if (fd == -1)
		return -1;
	if (th_send_frame(fd, type, "hi", 2) == 0 &&
	    th_recv_frame(fd, &t, out, cap - 1, &len, th_ms(3000)) == 0) {
		out[len] = '\0';
		rc = 0;
	}
	close(fd);
	return rc;
}

static void
builtin_modules(void)
{
	struct th_daemon *d;
	char conf[1024], out[256];
	int fd;

	snprintf(conf, sizeof(conf), "workers 1\nlisten 127.0.0.1:0 tlv\n"
	    "app %s/echo.so\n", modules);
	if ((d = th_daemon_start(conf)) == NULL)
		bail("taod with echo.so did not start");
	ok((fd = th_connect(d->port[0])) != -1 &&
	    th_echo_once(fd, 7, 3000, 1) == 0, "app .../modules/echo.so "
	    "echoes");
	close(fd);
	is_int(th_daemon_stop_clean(d), 0, "and stops cleanly");

	snprintf(conf, sizeof(conf), "workers 1\nlisten 127.0.0.1:0 tlv\n"
	    "app %s/pingpong.so\n", modules);
	if ((d = th_daemon_start(conf)) == NULL)
		bail("taod with pingpong.so did not start");
	ok(ask(d->port[0], 1, out, sizeof(out)) == 0 && strcmp(out, "pong")
	    == 0, "app .../modules/pingpong.so answers pong");
	is_int(th_daemon_stop_clean(d), 0, "and stops cleanly");
}

static void
module_path_args(void)
{
	struct th_daemon *d;
	char conf[1024], out[256];

	snprintf(conf, sizeof(conf), "workers 2\nlisten 127.0.0.1:0 tlv\n"
	    "module_path %s\napp args one two three\n", test_modules);
	if ((d = th_daemon_start(conf)) == NULL)
		bail("taod with module_path did not start");
	ok(ask(d->port[0], 3, out, sizeof(out)) == 0 &&
	    strcmp(out, "argc=4 one two three") == 0,
	    "module_path + app args one two three: init saw them (%s)", out);
	is_int(th_daemon_stop_clean(d), 0, "and stops cleanly");
}

/* taod -t on conf: the exit code; out gets the output. */
static int
check_conf(const char *conf, char *out, size_t len, char *path,
    size_t pathlen)
{
	const char *argv[] = { NULL, "-t", "-c", path, NULL };
	char bin[300];
	FILE *fp;

	snprintf(bin, sizeof(bin), "%s", th_bin("taod"));
	argv[0] = bin;
	snprintf(path, pathlen, "%s/check.conf", th_dir());
	if ((fp = fopen(path, "w")) == NULL)
		bail("fopen");
	fputs(conf, fp);
	fclose(fp);
	return th_run(out, len, th_ms(10000), argv);
}

static void
refused(const char *what, const char *app_line, const char *needle)
{
	char conf[1024], out[2048], path[300], want[400];
	int rc;

	snprintf(conf, sizeof(conf), "workers 1\nlisten 127.0.0.1:0 tlv\n"
	    "module_path %s\n%s\n", test_modules, app_line);
	rc = check_conf(conf, out, sizeof(out), path, sizeof(path));
	snprintf(want, sizeof(want), "%s:4: app ", path);
	ok(rc == 1 && strstr(out, want) != NULL && strstr(out, needle) !=
	    NULL, "taod -t refuses %s (exit %d: %.*s)", what, rc,
	    (int)strcspn(out, "\n"), out);
}

static void
failures(void)
{
	char line[512];

	snprintf(line, sizeof(line), "app %s/badabi.so", test_modules);
	refused("a module of another ABI", line,
	    "built for module ABI 2, this taod speaks ABI 1");
	refused("a module whose init fails", "app args fail",
	    "init failed: invalid argument");
	snprintf(line, sizeof(line), "app %s", th_bin("libtao.so"));
	refused("a shared object without tao_module_v1", line,
	    "no tao_module_v1 symbol");
	refused("a missing module file", "app nosuch", "cannot load");
	{
		char out[2048], path[300];
		int rc = check_conf("workers 1\napp nosuch\n", out,
		    sizeof(out), path, sizeof(path));
		ok(rc == 1 && strstr(out, ":2: unknown app 'nosuch'") != NULL,
		    "without module_path an unknown bare name is refused "
		    "(%.*s)", (int)strcspn(out, "\n"), out);
	}
}

static void
reload_loads_nothing(void)
{
	struct th_daemon *d;
	char conf[1024], out[2048], dir[300], cmd[1024], tmp[400], dst[400];
	FILE *fp;

	snprintf(dir, sizeof(dir), "%s/mods", th_dir());
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s/args.so %s/",
	    dir, test_modules, dir);
	if (system(cmd) != 0)
		bail("copy args.so");
	snprintf(conf, sizeof(conf), "workers 1\nlisten 127.0.0.1:0 tlv\n"
	    "module_path %s\napp args x\n", dir);
	if ((d = th_daemon_start(conf)) == NULL)
		bail("taod with a copied module did not start");
	ok(ask(d->port[0], 1, out, sizeof(out)) == 0 &&
	    strcmp(out, "argc=2 x") == 0, "the copied module serves");
	/* A new file over the old name: the mapped one is untouched. */
	snprintf(tmp, sizeof(tmp), "%s/args.so.new", dir);
	snprintf(dst, sizeof(dst), "%s/args.so", dir);
	if ((fp = fopen(tmp, "w")) == NULL)
		bail("fopen");
	fputs("garbage, not ELF\n", fp);
	fclose(fp);
	if (rename(tmp, dst) == -1)
		bail("rename");
	is_int(th_ctl(d, out, sizeof(out), "reload", NULL), 0,
	    "with the module file now garbage, a reload succeeds (%.*s)",
	    (int)strcspn(out, "\n"), out);
	ok(ask(d->port[0], 1, out, sizeof(out)) == 0 &&
	    strcmp(out, "argc=2 x") == 0, "and the loaded module serves on");
	snprintf(conf, sizeof(conf), "workers 1\nlisten 127.0.0.1:0 tlv\n"
	    "module_path %s\napp args y\n", dir);
	th_daemon_config(d, conf);
	ok(th_ctl(d, out, sizeof(out), "reload", NULL) != 0 &&
	    strstr(out, "app cannot change on reload") != NULL,
	    "a reload changing the app line is refused (%.*s)",
	    (int)strcspn(out, "\n"), out);
	ok(ask(d->port[0], 1, out, sizeof(out)) == 0 &&
	    strcmp(out, "argc=2 x") == 0, "and changes nothing");
	is_int(th_daemon_stop_clean(d), 0, "stops cleanly");
}

int
main(void)
{
	th_init("t232-module-load", 120);
	snprintf(modules, sizeof(modules), "%s", th_bin("modules"));
	snprintf(test_modules, sizeof(test_modules), "%s",
	    th_bin("tests/modules"));
	builtin_modules();
	module_path_args();
	failures();
	reload_loads_nothing();
	return th_exit(done_testing());
}
