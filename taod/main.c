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

int
main(int argc, char *argv[])
{
	struct tao_server *s;
	char err[TAO_CONFIG_ERRLEN], *end;
	const char *file = NULL;
	int ch, test = 0, workers = -1;

	/* Before getopt: setproctitle_init moves argv (toolchain.md). */
	setproctitle_init(argc, argv, environ);
	tao__proctitle_ok = 1;
	while ((ch = getopt(argc, argv, "c:htw:")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'w':
			errno = 0;
			workers = (int)strtol(optarg, &end, 10);
			if (errno || *end || workers < 1 ||
			    workers > TAO_MAX_WORKERS) {
				fprintf(stderr, "taod: -w: want 1 to %d\n",
				    TAO_MAX_WORKERS);
				return 1;
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
	if ((s = tao_server_new()) == NULL) {
		perror("taod");
		return 1;
	}
	if (file != NULL) {
		if (tao__config_file(&s->s_config, file, err, sizeof(err)) ==
		    -1) {
			fprintf(stderr, "%s\n", err);
			goto fail;
		}
		if ((s->s_config_path = strdup(file)) == NULL) {
			perror("taod");
			goto fail;
		}
	} else if (tao__config_finish(&s->s_config, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		goto fail;
	}
	if (workers > 0)
		s->s_config.cf_workers = s->s_workers_override = workers;
	if (tao_app_install(s, s->s_config.cf_app,
	    s->s_config.cf_app_options) == -1) {
		if (errno == ENOENT)
			fprintf(stderr, "%s:%d: unknown app '%s' (want %s)\n",
			    file ? file : "built-in", s->s_config.cf_app_line,
			    s->s_config.cf_app, tao_app_names());
		else
			fprintf(stderr, "%s:%d: app %s: bad options '%s'\n",
			    file ? file : "built-in", s->s_config.cf_app_line,
			    s->s_config.cf_app, s->s_config.cf_app_options);
		goto fail;
	}
	if (test) {
		/* Load the certificates as the master would at start-up. */
		if (tao__mtls_check(&s->s_config, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s\n", err);
			goto fail;
		}
		printf("taod: configuration %s is ok\n", file ? file :
		    "(built-in)");
		tao_server_free(s);
		return 0;
	}
	ch = tao_server_run(s) == 0 ? 0 : 1;
	tao_server_free(s);
	return ch;
fail:
	tao_server_free(s);
	return 1;
}
