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
#include "proto/codec.h"

#define TAO_SERVER_MAGIC	0x7a05e7e1u	/* catches a stray handle */

struct tao_worker;

struct tao_server {
	uint32_t		s_magic;	/* TAO_SERVER_MAGIC */
	struct tao_config	s_config;
	struct tao_registry	s_registry;
	struct tao_codec_set	s_codecs;	/* tao_server_codec */
	int			s_config_error;	/* a config call failed */
	char			*s_config_path;	/* a copy, re-read on reload */
	int			s_lines;	/* tao_server_config_line count */
	int			s_workers_override;	/* taod -w, 0 = none */
	/* In a worker process: its worker while the loop runs (set by
	 * worker/loop.c through wp_bind), so calls given this handle find
	 * it; NULL in the master and in any other process. */
	struct tao_worker	*s_worker;
};

int	tao__master_run(struct tao_server *);

#endif
