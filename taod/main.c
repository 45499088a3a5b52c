/*
 * main.c - the daemon: parse the command line and the config,
 * install the configured app, run master and workers in the foreground.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/server.h"
#include "master/tls.h"
#include "core/log.h"
#include "taod/apps.h"

extern char **environ;

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: taod [-t] [-c FILE] [-w WORKERS]\n"
	    "  -c FILE     configuration file (taod.conf(5)); default: built-in\n"
	    "              (chat on 127.0.0.1:12345 tlv and 127.0.0.1:12346 line)\n"
	    "  -t          check the configuration and exit\n"
	    "  -w WORKERS  number of worker processes (overrides `workers`)\n");
	exit(code);
}

/* What the command line asks for. */
struct options {
	const char	*file;		/* -c, or NULL: built-in defaults */
	int		 test;		/* -t */
	int		 workers;	/* -w, or -1 */
};

static void
parse_options(int argc, char *argv[], struct options *o)
{
	char *end;
	int ch;

	o->file = NULL;
	o->test = 0;
	o->workers = -1;
	while ((ch = getopt(argc, argv, "c:htw:")) != -1) {
		switch (ch) {
		case 'c':
			o->file = optarg;
			break;
		case 't':
			o->test = 1;
			break;
		case 'w':
			errno = 0;
			o->workers = (int)strtol(optarg, &end, 10);
			if (errno || *end || o->workers < 1 ||
			    o->workers > TAO_MAX_WORKERS) {
				fprintf(stderr, "taod: -w: want 1 to %d\n",
				    TAO_MAX_WORKERS);
				exit(1);
			}
			break;
		case 'h':
			usage(0);
		default:
			usage(1);
		}
	}
	if (optind != argc)
		usage(1);
}

/* The file (or the built-in defaults) into s; 0, or -1 after saying why. */
static int
load_config(struct tao_server *s, const struct options *o)
{
	char err[TAO_CONFIG_ERRLEN];

	if (o->file == NULL) {
		if (tao__config_finish(&s->s_config, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
		return 0;
	}
	if (tao__config_file(&s->s_config, o->file, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if ((s->s_config_path = strdup(o->file)) == NULL) {
		perror("taod");
		return -1;
	}
	return 0;
}

/* The configured app's handlers into s; 0, or -1 after saying why. */
static int
install_app(struct tao_server *s, const struct options *o)
{
	const struct tao_config *cf = &s->s_config;
	const char *where = o->file ? o->file : "built-in";

	if (tao_app_install(s, cf->cf_app, cf->cf_app_options) == 0)
		return 0;
	if (errno == ENOENT)
		fprintf(stderr, "%s:%d: unknown app '%s' (want %s)\n", where,
		    cf->cf_app_line, cf->cf_app, tao_app_names());
	else
		fprintf(stderr, "%s:%d: app %s: bad options '%s'\n", where,
		    cf->cf_app_line, cf->cf_app, cf->cf_app_options);
	return -1;
}

/* taod -t: load the certificates as the master would at start-up. */
static int
check_only(struct tao_server *s, const struct options *o)
{
	char err[TAO_CONFIG_ERRLEN];

	if (tao__config_codecs(&s->s_config, &s->s_codecs, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (tao__mtls_check(&s->s_config, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("taod: configuration %s is ok\n", o->file ? o->file :
	    "(built-in)");
	return 0;
}

int
main(int argc, char *argv[])
{
	struct tao_server *s;
	struct options o;
	int rc = 1;

	/* Before getopt: setproctitle_init moves argv (toolchain.md). */
	setproctitle_init(argc, argv, environ);
	tao__proctitle_ok = 1;
	parse_options(argc, argv, &o);
	if ((s = tao_server_new()) == NULL) {
		perror("taod");
		return 1;
	}
	if (load_config(s, &o) == -1)
		goto out;
	if (o.workers > 0)
		s->s_config.cf_workers = s->s_workers_override = o.workers;
	if (install_app(s, &o) == -1)
		goto out;
	if (o.test)
		rc = check_only(s, &o);
	else
		rc = tao_server_run(s) == 0 ? 0 : 1;
out:
	tao_server_free(s);
	return rc;
}
