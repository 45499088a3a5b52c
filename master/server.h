/*
 * server.h - struct tao_server: the configuration and the handler
 * registry a user builds before tao_server_run(), and the master's
 * run-time state once it runs.
 */
#ifndef TAO_MASTER_SERVER_H
#define TAO_MASTER_SERVER_H

#include "master/config.h"
#include "worker/registry.h"

struct tao_server {
	struct tao_config	s_config;
	struct tao_registry	s_registry;
	int			s_config_error;	/* a config call failed */
	const char		*s_config_path;	/* re-read on reload */
	int			s_lines;	/* tao_server_config_line count */
	int			s_workers_override;	/* taod -w, 0 = none */
};

/* taod's main sets this after setproctitle_init(); a plain libtao
 * program's titles are left alone. */
extern int tao__proctitle_ok;
void	tao__set_title(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

int	tao__master_run(struct tao_server *);

#endif
