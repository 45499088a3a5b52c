/*
 * server.c - the public server calls: creation, configuration,
 * registration, tao_strerror.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "master/server.h"
#include "core/log.h"

const char *
tao_strerror(int code)
{
	switch (code) {
	case TAO_OK:		return "success";
	case TAO_EINVAL:	return "invalid argument";
	case TAO_ENOMEM:	return "out of memory";
	case TAO_EWOULDBLOCK:	return "write queue full, try again later";
	case TAO_ECLOSED:	return "connection closed";
	case TAO_EEXIST:	return "already registered";
	case TAO_ENOENT:	return "no such connection, timer or handler";
	case TAO_ECONFIG:	return "configuration error";
	case TAO_ESYS:		return "system call failed";
	case TAO_ETOOBIG:	return "message too large";
	case TAO_ESTATE:	return "not valid in this context";
	}
	return "unknown error";
}

struct tao_server *
tao_server_new(void)
{
	struct tao_server *s = calloc(1, sizeof(*s));

	if (s != NULL)
		tao__config_defaults(&s->s_config);
	return s;
}

void
tao_server_free(struct tao_server *s)
{
	if (s == NULL)
		return;
	tao__registry_free(&s->s_registry);
	free(s);
}

int
tao_server_config(struct tao_server *s, const char *path)
{
	char err[TAO_CONFIG_ERRLEN];

	if (s == NULL || path == NULL)
		return TAO_EINVAL;
	if (tao__config_file(&s->s_config, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		s->s_config_error = 1;
		return TAO_ECONFIG;
	}
	s->s_config_path = path;
	return 0;
}

int
tao_server_config_line(struct tao_server *s, const char *line)
{
	char err[TAO_CONFIG_ERRLEN];

	if (s == NULL || line == NULL)
		return TAO_EINVAL;
	if (tao__config_line(&s->s_config, "config", ++s->s_lines, line, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		s->s_config_error = 1;
		return TAO_ECONFIG;
	}
	return 0;
}

int
tao_register(struct tao_server *s, int32_t type, tao_decode_fn decode,
    tao_handler_fn handler, void *arg)
{
	if (s == NULL)
		return TAO_EINVAL;
	return tao__registry_add(&s->s_registry, type, decode, handler, arg);
}

void
tao_on_message(struct tao_server *s, tao_handler_fn fn, void *arg)
{
	s->s_registry.r_on_message = fn;
	s->s_registry.r_on_message_arg = arg;
}

void
tao_on_connect(struct tao_server *s, tao_connect_fn fn, void *arg)
{
	s->s_registry.r_on_connect = fn;
	s->s_registry.r_on_connect_arg = arg;
}

void
tao_on_close(struct tao_server *s, tao_close_fn fn, void *arg)
{
	s->s_registry.r_on_close = fn;
	s->s_registry.r_on_close_arg = arg;
}

void
tao_on_error(struct tao_server *s, tao_error_fn fn, void *arg)
{
	s->s_registry.r_on_error = fn;
	s->s_registry.r_on_error_arg = arg;
}

void
tao_on_worker_start(struct tao_server *s, tao_worker_fn fn, void *arg)
{
	s->s_registry.r_on_worker_start = fn;
	s->s_registry.r_on_worker_start_arg = arg;
}

void
tao_on_deliver(struct tao_server *s, tao_deliver_fn fn, void *arg)
{
	s->s_registry.r_on_deliver = fn;
	s->s_registry.r_on_deliver_arg = arg;
}

int
tao_server_run(struct tao_server *s)
{
	char err[TAO_CONFIG_ERRLEN];

	if (s == NULL)
		return TAO_EINVAL;
	if (s->s_config_error)
		return TAO_ECONFIG;
	if (tao__config_finish(&s->s_config, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return TAO_ECONFIG;
	}
	return tao__master_run(s) == 0 ? 0 : TAO_ESYS;
}
