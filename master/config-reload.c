/*
 * config-reload.c - which directives a reload may not change, and the
 * message that says so.  Everything else a reload applies; t150 checks
 * every directive either way.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "master/config.h"

static int
refuse(const struct tao_config *next, const char *what, char *err,
    size_t errlen)
{
	snprintf(err, errlen, "%s: %s cannot change on reload; restart taod",
	    next->cf_file[0] ? next->cf_file : "config", what);
	return -1;
}

int
tao__config_reload_check(const struct tao_config *running,
    const struct tao_config *next, char *err, size_t errlen)
{
	if (strcmp(next->cf_app, running->cf_app) != 0 ||
	    strcmp(next->cf_app_options, running->cf_app_options) != 0)
		return refuse(next, "app", err, errlen);
	/* Modules are loaded once, before the first fork. */
	if (strcmp(next->cf_module_path, running->cf_module_path) != 0)
		return refuse(next, "module_path", err, errlen);
	/* The pidfile is written once, before the first fork; the control
	 * socket moves on reload (master/control.c). */
	if (strcmp(next->cf_pidfile, running->cf_pidfile) != 0)
		return refuse(next, "pidfile", err, errlen);
	/* Both size the shared memory segment, made once at start-up. */
	if (next->cf_max_connections != running->cf_max_connections)
		return refuse(next, "max_connections", err, errlen);
	if (tao__config_ring_bytes(next) != tao__config_ring_bytes(running))
		return refuse(next, "ring_size", err, errlen);
	/* New workers switch to next's user: only root can. */
	if (next->cf_user[0] != '\0' && strcmp(next->cf_user,
	    running->cf_user) != 0 && geteuid() != 0) {
		snprintf(err, errlen, "%s: user %s: taod runs as uid %ld, not "
		    "root, and cannot switch its workers to another user; "
		    "restart taod", next->cf_file[0] ? next->cf_file :
		    "config", next->cf_user, (long)geteuid());
		return -1;
	}
	return 0;
}
