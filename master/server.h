/*
 * server.h - struct tao_server: the configuration and the handler
 * registry a user builds before tao_server_run(), and the master's
 * run-time state once it runs.
 */
#ifndef TAO_MASTER_SERVER_H
#define TAO_MASTER_SERVER_H

#include "master/config.h"
#include "core/registry.h"
#include "core/log.h"

struct tao_server {
	struct tao_config	s_config;
	struct tao_registry	s_registry;
	int			s_config_error;	/* a config call failed */
	const char		*s_config_path;	/* re-read on reload */
	int			s_lines;	/* tao_server_config_line count */
	int			s_workers_override;	/* taod -w, 0 = none */
};

int	tao__master_run(struct tao_server *);

#endif
