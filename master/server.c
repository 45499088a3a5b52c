/*
 * server.c - the public server calls: creation, configuration,
 * registration, tao_strerror, and the calls that take a struct tao_server
 * handle inside a worker (broadcast, unicast, server-wide timers), which
 * resolve the handle to the worker this process runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tao.h"
#include "master/server.h"
#include "core/log.h"
#include "worker/entry.h"

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
	case TAO_ETIMEDOUT:	return "timed out";
	case TAO_EPROTO:	return "protocol error from the peer";
	}
	return "unknown error";
}

static int
server_ok(const struct tao_server *s)
{
	return s != NULL && s->s_magic == TAO_SERVER_MAGIC;
}

/* Set-up calls: a valid handle, and not inside a running worker. */
static int
setup_check(const struct tao_server *s)
{
	if (!server_ok(s))
		return TAO_EINVAL;
	return s->s_worker != NULL ? TAO_ESTATE : 0;
}

/* Run-time calls: the handle of the worker this process runs. */
static struct tao_worker *
running(const struct tao_server *s, int *rc)
{
	if (!server_ok(s))
		*rc = TAO_EINVAL;
	else if (s->s_worker == NULL)
		*rc = TAO_ESTATE;
	else
		return s->s_worker;
	return NULL;
}

struct tao_server *
tao_server_new(void)
{
	struct tao_server *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;	/* errno ENOMEM */
	s->s_magic = TAO_SERVER_MAGIC;
	tao__config_defaults(&s->s_config);
	return s;
}

void
tao_server_free(struct tao_server *s)
{
	if (!server_ok(s) || s->s_worker != NULL)
		return;
	tao__registry_free(&s->s_registry);
	free(s->s_config_path);
	s->s_magic = 0;
	free(s);
}

int
tao_server_config(struct tao_server *s, const char *path)
{
	char err[TAO_CONFIG_ERRLEN];
	char *copy;
	int rc;

	if ((rc = setup_check(s)) < 0)
		return rc;
	if (path == NULL)
		return TAO_EINVAL;
	if ((copy = strdup(path)) == NULL)
		return TAO_ENOMEM;
	if (tao__config_file(&s->s_config, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		s->s_config_error = 1;
		free(copy);
		return TAO_ECONFIG;
	}
	free(s->s_config_path);
	s->s_config_path = copy;
	return 0;
}

int
tao_server_config_line(struct tao_server *s, const char *line)
{
	char err[TAO_CONFIG_ERRLEN];
	int rc;

	if ((rc = setup_check(s)) < 0)
		return rc;
	if (line == NULL)
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
tao_server_register(struct tao_server *s, int32_t type, tao_decode_fn decode,
    tao_handler_fn handler, void *arg)
{
	int rc;

	if ((rc = setup_check(s)) < 0)
		return rc;
	return tao__registry_add(&s->s_registry, type, decode, handler, arg);
}

int
tao_server_codec(struct tao_server *s, const char *name,
    const struct tao_codec *codec)
{
	int rc;

	if ((rc = setup_check(s)) < 0)
		return rc;
	return tao__codec_set_add(&s->s_codecs, name, codec);
}

/* The on_* setters: fn NULL removes the callback. */
#define SET_CALLBACK(s, field, fn, arg) do {				\
	int rc_ = setup_check(s);					\
	if (rc_ < 0)							\
		return rc_;						\
	(s)->s_registry.r_##field = (fn);				\
	(s)->s_registry.r_##field##_arg = (arg);			\
	return 0;							\
} while (0)

int
tao_server_on_message(struct tao_server *s, tao_handler_fn fn, void *arg)
{
	SET_CALLBACK(s, on_message, fn, arg);
}

int
tao_server_on_connect(struct tao_server *s, tao_connect_fn fn, void *arg)
{
	SET_CALLBACK(s, on_connect, fn, arg);
}

int
tao_server_on_close(struct tao_server *s, tao_close_fn fn, void *arg)
{
	SET_CALLBACK(s, on_close, fn, arg);
}

int
tao_server_on_error(struct tao_server *s, tao_error_fn fn, void *arg)
{
	SET_CALLBACK(s, on_error, fn, arg);
}

int
tao_server_on_worker_start(struct tao_server *s, tao_worker_fn fn, void *arg)
{
	SET_CALLBACK(s, on_worker_start, fn, arg);
}

int
tao_server_on_deliver(struct tao_server *s, tao_deliver_fn fn, void *arg)
{
	SET_CALLBACK(s, on_deliver, fn, arg);
}

int
tao_server_run(struct tao_server *s)
{
	char err[TAO_CONFIG_ERRLEN];
	int rc;

	if ((rc = setup_check(s)) < 0)
		return rc;
	if (s->s_config_error)
		return TAO_ECONFIG;
	if (tao__config_finish(&s->s_config, err, sizeof(err)) == -1 ||
	    tao__config_codecs(&s->s_config, &s->s_codecs, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return TAO_ECONFIG;
	}
	return tao__master_run(s) == 0 ? 0 : TAO_ESYS;
}

/* ---- inside a worker ------------------------------------------------ */

int
tao_server_broadcast(struct tao_server *s, int32_t type, const void *data,
    size_t len)
{
	struct tao_worker *w;
	int rc;

	if ((w = running(s, &rc)) == NULL)
		return rc;
	return tao__wring_broadcast(w, type, data, len);
}

int
tao_server_unicast(struct tao_server *s, uint64_t netid, int32_t type,
    const void *data, size_t len)
{
	struct tao_worker *w;
	int rc;

	if ((w = running(s, &rc)) == NULL)
		return rc;
	return tao__wring_unicast(w, netid, type, data, len);
}

int64_t
tao_server_timer_after(struct tao_server *s, uint64_t ms, tao_timer_fn fn,
    void *arg)
{
	struct tao_worker *w;
	int rc;

	if ((w = running(s, &rc)) == NULL)
		return rc;
	return tao__worker_timer_add(w, ms, 0, fn, arg);
}

int64_t
tao_server_timer_every(struct tao_server *s, uint64_t ms, tao_timer_fn fn,
    void *arg)
{
	struct tao_worker *w;
	int rc;

	if ((w = running(s, &rc)) == NULL)
		return rc;
	if (ms == 0)
		return TAO_EINVAL;
	return tao__worker_timer_add(w, ms, ms, fn, arg);
}

int
tao_server_timer_cancel(struct tao_server *s, int64_t timer_id)
{
	struct tao_worker *w;
	int rc;

	if ((w = running(s, &rc)) == NULL)
		return rc;
	return tao__worker_timer_cancel(w, timer_id);
}
