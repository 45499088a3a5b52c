/*
 * config.c - the taod.conf(5) parser.
 *
 * A table maps each directive to a setter (words in, message out, never
 * stderr).  Numbers are range-checked; sizes accept k, m and g.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netdb.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/config.h"
#include "proto/codec.h"
#include "core/log.h"

/* worker_cpu_affinity takes one word per worker slot. */
#define MAX_WORDS	(TAO_MAX_WORKERS + 2)

/* Fuzzing turns name lookups off (numeric addresses only). */
int tao__config_resolve_names = 1;

struct directive {
	const char	*name;
	int		 min_args, max_args;
	int		(*set)(struct tao_config *, char **argv, int argc,
			    char *msg, size_t msglen);
};

static int
complain(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return -1;
}

static int
parse_u64(const char *s, uint64_t max, int size_suffix, uint64_t *out)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (size_suffix && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 'k': case 'K': mult = 1ull << 10; end++; break;
		case 'm': case 'M': mult = 1ull << 20; end++; break;
		case 'g': case 'G': mult = 1ull << 30; end++; break;
		}
	}
	if (*end != '\0' || (v != 0 && mult > UINT64_MAX / v))
		return -1;
	v *= mult;
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static int
set_number(char **argv, uint64_t min, uint64_t max, int size_suffix,
    uint64_t *out, char *msg, size_t msglen)
{
	if (parse_u64(argv[1], max, size_suffix, out) == -1 || *out < min)
		return complain(msg, msglen,
		    "%s: '%s' is not a %s between %llu and %llu", argv[0],
		    argv[1], size_suffix ? "size" : "number",
		    (unsigned long long)min, (unsigned long long)max);
	return 0;
}

static int
set_path(char **argv, char *dst, size_t dstlen, char *msg, size_t msglen)
{
	if (strlcpy(dst, argv[1], dstlen) >= dstlen)
		return complain(msg, msglen, "%s: path too long (max %zu)",
		    argv[0], dstlen - 1);
	return 0;
}

static int
set_workers(struct tao_config *cf, char **argv, int argc, char *msg,
    size_t msglen)
{
	uint64_t n;

	(void)argc;
	if (strcmp(argv[1], "auto") == 0) {
		cf->cf_workers = 0;
		return 0;
	}
	if (set_number(argv, 1, TAO_MAX_WORKERS, 0, &n, msg, msglen) == -1)
		return -1;
	cf->cf_workers = (int)n;
	return 0;
}

/* "HOST:PORT", "[V6]:PORT" or "*:PORT". */
static int
parse_address(const char *text, struct sockaddr_storage *ss, socklen_t *len,
    char *msg, size_t msglen)
{
	char host[64], port[8];
	const char *colon;
	struct addrinfo hints, *res;
	size_t hlen;
	int rc;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':')
			return complain(msg, msglen,
			    "listen: '%s' is not [ADDRESS]:PORT", text);
		hlen = (size_t)(close - text - 1);
		colon = close + 1;
		text++;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL)
			return complain(msg, msglen,
			    "listen: '%s' is not HOST:PORT", text);
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= sizeof(host) ||
	    strlcpy(port, colon + 1, sizeof(port)) >= sizeof(port) ||
	    port[0] == '\0')
		return complain(msg, msglen, "listen: bad address '%s'", text);
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	uint64_t portnum;
	if (parse_u64(port, 65535, 0, &portnum) == -1)
		return complain(msg, msglen, "listen: bad port '%s'", port);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV |
	    (tao__config_resolve_names ? 0 : AI_NUMERICHOST);
	rc = getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, port, &hints,
	    &res);
	if (rc != 0)
		return complain(msg, msglen, "listen: %s: %s", host,
		    gai_strerror(rc));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Port 0 (any free port, chosen at start-up) may repeat. */
static int
port_is_zero(const struct tao_listen_conf *lc)
{
	if (lc->lc_addr.ss_family == AF_INET6)
		return ((const struct sockaddr_in6 *)&lc->lc_addr)->sin6_port
		    == 0;
	return ((const struct sockaddr_in *)&lc->lc_addr)->sin_port == 0;
}

static int
set_listen(struct tao_config *cf, char **argv, int argc, char *msg,
    size_t msglen)
{
	struct tao_listen_conf *lc;

	if (cf->cf_nlistens == TAO_MAX_LISTENS)
		return complain(msg, msglen, "listen: at most %d listeners",
		    TAO_MAX_LISTENS);
	lc = &cf->cf_listens[cf->cf_nlistens];
	memset(lc, 0, sizeof(*lc));
	if (strlcpy(lc->lc_text, argv[1], sizeof(lc->lc_text)) >=
	    sizeof(lc->lc_text))
		return complain(msg, msglen, "listen: address too long");
	if (parse_address(argv[1], &lc->lc_addr, &lc->lc_addrlen, msg,
	    msglen) == -1)
		return -1;
	lc->lc_codec = &tao_codec_tlv;
	lc->lc_line = cf->cf_lineno;
	for (int i = 2; i < argc; i++) {
		const struct tao_codec *codec = tao__codec_by_name(argv[i]);
		if (codec != NULL) {
			lc->lc_codec = codec;
			lc->lc_codec_name[0] = '\0';
		} else if (tao__config_listen_flag(cf, argv[i]))
			continue;	/* tls, proxy */
		else if (lc->lc_codec_name[0] == '\0' && strlcpy(
		    lc->lc_codec_name, argv[i], sizeof(lc->lc_codec_name)) <
		    sizeof(lc->lc_codec_name))
			lc->lc_codec = NULL;	/* tao__config_codecs */
		else
			return complain(msg, msglen, "listen: unknown option "
			    "'%s' (want tlv, line, tls, proxy or a codec name)",
			    argv[i]);
	}
	for (int i = 0; i < cf->cf_nlistens && !port_is_zero(lc); i++)
		if (cf->cf_listens[i].lc_addrlen == lc->lc_addrlen &&
		    memcmp(&cf->cf_listens[i].lc_addr, &lc->lc_addr,
		    lc->lc_addrlen) == 0)
			return complain(msg, msglen,
			    "listen: %s is listed twice", argv[1]);
	cf->cf_nlistens++;
	return 0;
}

/* "app NAME [OPTION ...]": the options are kept as one space-separated
 * string and judged by the app itself when taod installs it. */
static int
set_app(struct tao_config *cf, char **argv, int argc, char *msg, size_t msglen)
{
	if (strlcpy(cf->cf_app, argv[1], sizeof(cf->cf_app)) >=
	    sizeof(cf->cf_app))
		return complain(msg, msglen, "app: name too long");
	if (strchr(argv[1], '/') == NULL && strlen(argv[1]) > 64)
		return complain(msg, msglen, "app: name too long (a path "
		    "names a module)");
	cf->cf_app_options[0] = '\0';
	for (int i = 2; i < argc; i++)
		if ((i > 2 && strlcat(cf->cf_app_options, " ",
		    sizeof(cf->cf_app_options)) >= sizeof(cf->cf_app_options)) ||
		    strlcat(cf->cf_app_options, argv[i],
		    sizeof(cf->cf_app_options)) >= sizeof(cf->cf_app_options))
			return complain(msg, msglen, "app: options too long");
	return 0;
}

/* Checked here so a missing user is reported at its line, by -t too. */
static int
set_user(struct tao_config *cf, char **argv, int argc, char *msg,
    size_t msglen)
{
	(void)argc;
	if (tao__config_resolve_names && getpwnam(argv[1]) == NULL)
		return complain(msg, msglen, "user %s: no such user", argv[1]);
	return set_path(argv, cf->cf_user, sizeof(cf->cf_user), msg, msglen);
}

static int
set_on_off(char **argv, int *out, char *msg, size_t msglen)
{
	if (strcmp(argv[1], "on") == 0)
		*out = 1;
	else if (strcmp(argv[1], "off") == 0)
		*out = 0;
	else
		return complain(msg, msglen, "%s: want on or off, not '%s'",
		    argv[0], argv[1]);
	return 0;
}

#define NUMBER_SETTER(fn, field, type, min, max, suffix)		\
static int								\
fn(struct tao_config *cf, char **argv, int argc, char *msg,		\
    size_t msglen)							\
{									\
	uint64_t v;							\
									\
	(void)argc;							\
	if (set_number(argv, min, max, suffix, &v, msg, msglen) == -1)	\
		return -1;						\
	cf->field = (type)v;						\
	return 0;							\
}

#define MS_MAX		(24ull * 3600 * 1000)	/* one day */
NUMBER_SETTER(set_max_frame, cf_settings.st_max_frame, size_t, 1, 1ull << 30, 1)
NUMBER_SETTER(set_wq_max, cf_settings.st_write_queue_max, size_t, 1024, 1ull << 32, 1)
NUMBER_SETTER(set_max_conns, cf_max_connections, uint32_t, 1, 10000000, 0)
NUMBER_SETTER(set_ring_size, cf_ring_size, size_t, 64 * 1024, 1ull << 30, 1)
NUMBER_SETTER(set_heartbeat, cf_settings.st_heartbeat_ms, uint64_t, 0, MS_MAX, 0)
NUMBER_SETTER(set_idle, cf_settings.st_idle_timeout_ms, uint64_t, 0, MS_MAX, 0)
NUMBER_SETTER(set_frame_to, cf_settings.st_frame_timeout_ms, uint64_t, 0, MS_MAX, 0)
NUMBER_SETTER(set_drain, cf_settings.st_drain_timeout_ms, uint64_t, 0, MS_MAX, 0)
NUMBER_SETTER(set_send_to, cf_settings.st_send_timeout_ms, uint64_t, 0, MS_MAX, 0)
NUMBER_SETTER(set_reload_to, cf_reload_timeout_ms, uint64_t, 100, MS_MAX, 0)
NUMBER_SETTER(set_old_gens, cf_max_old_generations, int, 1, 16, 0)
NUMBER_SETTER(set_bthreads, cf_settings.st_blocking_threads, int, 1, 64, 0)
NUMBER_SETTER(set_bqueue, cf_settings.st_blocking_queue_max, uint32_t, 1, 1000000, 0)

static int
set_hb_reply(struct tao_config *cf, char **argv, int argc, char *msg,
    size_t msglen)
{
	(void)argc;
	return set_on_off(argv, &cf->cf_settings.st_heartbeat_reply, msg,
	    msglen);
}

#define PATH_SETTER(fn, field)						\
static int								\
fn(struct tao_config *cf, char **argv, int argc, char *msg,		\
    size_t msglen)							\
{									\
	(void)argc;							\
	return set_path(argv, cf->field, sizeof(cf->field), msg, msglen); \
}

PATH_SETTER(set_control, cf_control)
PATH_SETTER(set_module_path, cf_module_path)
PATH_SETTER(set_pidfile, cf_pidfile)
PATH_SETTER(set_tls_cert, cf_tls_cert)
PATH_SETTER(set_tls_key, cf_tls_key)
PATH_SETTER(set_tls_client_ca, cf_tls_client_ca)

static int
set_log_level(struct tao_config *cf, char **argv, int argc, char *msg,
    size_t msglen)
{
	int level = tao__log_level_parse(argv[1]);

	(void)argc;
	if (level == -1)
		return complain(msg, msglen, "log_level: want error, warn, "
		    "info or debug, not '%s'", argv[1]);
	cf->cf_log_level = level;
	return 0;
}

static int
set_affinity(struct tao_config *cf, char **argv, int argc, char *msg,
    size_t msglen)
{
	return tao__config_affinity(cf, argv + 1, argc - 1, msg, msglen);
}

/* "metrics HOST:PORT" or "metrics off". */
static int
set_metrics(struct tao_config *cf, char **argv, int argc, char *msg,
    size_t msglen)
{
	char inner[TAO_CONFIG_ERRLEN - 128];

	(void)argc;
	if (strcmp(argv[1], "off") == 0) {
		cf->cf_metrics[0] = '\0';
		return 0;
	}
	if (strlcpy(cf->cf_metrics, argv[1], sizeof(cf->cf_metrics)) >=
	    sizeof(cf->cf_metrics))
		return complain(msg, msglen, "metrics: address too long");
	if (parse_address(argv[1], &cf->cf_metrics_addr,
	    &cf->cf_metrics_addrlen, inner, sizeof(inner)) == -1) {
		cf->cf_metrics[0] = '\0';
		/* parse_address words its errors for listen. */
		return complain(msg, msglen, "metrics: %s",
		    strncmp(inner, "listen: ", 8) == 0 ? inner + 8 : inner);
	}
	return 0;
}

static const struct directive directives[] = {
	{ "workers",		1, 1, set_workers },
	{ "worker_cpu_affinity", 1, MAX_WORDS - 1, set_affinity },
	{ "listen",		1, 4, set_listen },
	{ "app",		1, MAX_WORDS - 2, set_app },
	{ "module_path",	1, 1, set_module_path },
	{ "max_frame",		1, 1, set_max_frame },
	{ "write_queue_max",	1, 1, set_wq_max },
	{ "max_connections",	1, 1, set_max_conns },
	{ "ring_size",		1, 1, set_ring_size },
	{ "heartbeat_ms",	1, 1, set_heartbeat },
	{ "heartbeat_reply",	1, 1, set_hb_reply },
	{ "idle_timeout_ms",	1, 1, set_idle },
	{ "frame_timeout_ms",	1, 1, set_frame_to },
	{ "drain_timeout_ms",	1, 1, set_drain },
	{ "send_timeout_ms",	1, 1, set_send_to },
	{ "reload_timeout_ms",	1, 1, set_reload_to },
	{ "max_old_generations", 1, 1, set_old_gens },
	{ "blocking_threads",	1, 1, set_bthreads },
	{ "blocking_queue_max",	1, 1, set_bqueue },
	{ "control",		1, 1, set_control },
	{ "pidfile",		1, 1, set_pidfile },
	{ "user",		1, 1, set_user },
	{ "log_level",		1, 1, set_log_level },
	{ "tls_cert",		1, 1, set_tls_cert },
	{ "tls_key",		1, 1, set_tls_key },
	{ "tls_client_ca",	1, 1, set_tls_client_ca },
	{ "metrics",		1, 1, set_metrics },
	{ "allow",		1, 1, tao__config_set_allow },
	{ "deny",		1, 1, tao__config_set_deny },
	{ "max_connections_per_ip", 1, 1, tao__config_set_per_ip },
};

void
tao__config_defaults(struct tao_config *cf)
{
	memset(cf, 0, sizeof(*cf));
	cf->cf_workers = 0;
	strlcpy(cf->cf_app, "chat", sizeof(cf->cf_app));
	cf->cf_settings.st_max_frame = 8u << 20;
	cf->cf_settings.st_write_queue_max = 4u << 20;
	cf->cf_settings.st_heartbeat_reply = 1;
	cf->cf_settings.st_frame_timeout_ms = 30000;
	cf->cf_settings.st_drain_timeout_ms = 10000;
	cf->cf_settings.st_send_timeout_ms = 30000;
	cf->cf_settings.st_blocking_threads = 4;
	cf->cf_settings.st_blocking_queue_max = 1024;
	cf->cf_max_connections = 10000;
	cf->cf_ring_size = 4u << 20;
	cf->cf_max_old_generations = 2;
	cf->cf_reload_timeout_ms = 5000;
	strlcpy(cf->cf_control, "taod.sock", sizeof(cf->cf_control));
	cf->cf_log_level = TAO_LOG_INFO;
	tao__config_cluster_defaults(cf);
}

static int
split_words(char *line, char **argv)
{
	int argc = 0;
	char *p = line, *hash;

	if ((hash = strchr(line, '#')) != NULL)
		*hash = '\0';
	while (*p != '\0') {
		while (isspace((unsigned char)*p))
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (argc == MAX_WORDS)
			return -1;
		argv[argc++] = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
	}
	return argc;
}

int
tao__config_line(struct tao_config *cf, const char *file, int lineno,
    const char *line, char *err, size_t errlen)
{
	char copy[1024], msg[TAO_CONFIG_ERRLEN - 64], *argv[MAX_WORDS];
	int argc;

	if (strlcpy(copy, line, sizeof(copy)) >= sizeof(copy)) {
		snprintf(err, errlen, "%s:%d: line too long", file, lineno);
		return -1;
	}
	copy[strcspn(copy, "\r\n")] = '\0';
	if ((argc = split_words(copy, argv)) == 0)
		return 0;
	if (argc < 0) {
		snprintf(err, errlen, "%s:%d: too many words", file, lineno);
		return -1;
	}
	for (size_t i = 0; i < sizeof(directives) / sizeof(directives[0]);
	    i++) {
		const struct directive *d = &directives[i];
		if (strcmp(argv[0], d->name) != 0)
			continue;
		if (argc - 1 < d->min_args || argc - 1 > d->max_args) {
			snprintf(err, errlen, "%s:%d: %s takes %d%s argument%s",
			    file, lineno, d->name, d->min_args,
			    d->max_args > d->min_args ? " or more" : "",
			    d->max_args > 1 ? "s" : "");
			return -1;
		}
		if (strcmp(d->name, "app") == 0)
			cf->cf_app_line = lineno;
		cf->cf_lineno = lineno;
		if (d->set(cf, argv, argc, msg, sizeof(msg)) == -1) {
			snprintf(err, errlen, "%s:%d: %s", file, lineno, msg);
			return -1;
		}
		return 0;
	}
	return tao__config_line_more(cf, file, lineno, argv, argc, err, errlen);
}

int
tao__config_file(struct tao_config *cf, const char *path, char *err,
    size_t errlen)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, rc = 0;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	strlcpy(cf->cf_file, path, sizeof(cf->cf_file));
	while ((n = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if (memchr(line, '\0', (size_t)n) != NULL) {
			snprintf(err, errlen, "%s:%d: NUL byte in line", path,
			    lineno);
			rc = -1;
			break;
		}
		if ((rc = tao__config_line(cf, path, lineno, line, err,
		    errlen)) == -1)
			break;
	}
	if (rc == 0 && ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	free(line);
	fclose(fp);
	if (rc == 0)
		rc = tao__config_finish(cf, err, errlen);
	return rc;
}

int
tao__config_finish(struct tao_config *cf, char *err, size_t errlen)
{
	const char *file = cf->cf_file[0] ? cf->cf_file : "config";
	char msg[TAO_CONFIG_ERRLEN];
	int need_tls = 0;

	if (cf->cf_nlistens == 0) {
		if (tao__config_line(cf, "built-in", 1,
		    "listen 127.0.0.1:12345 tlv", msg, sizeof(msg)) == -1 ||
		    tao__config_line(cf, "built-in", 2,
		    "listen 127.0.0.1:12346 line", msg, sizeof(msg)) == -1) {
			snprintf(err, errlen, "%s", msg);
			return -1;
		}
	}
	for (int i = 0; i < cf->cf_nlistens; i++)
		need_tls |= cf->cf_listens[i].lc_tls;
	if (need_tls && (cf->cf_tls_cert[0] == '\0' ||
	    cf->cf_tls_key[0] == '\0')) {
		snprintf(err, errlen, "%s: a tls listener needs tls_cert and "
		    "tls_key", file);
		return -1;
	}
	return tao__config_cluster_finish(cf, err, errlen);
}

int
tao__config_codecs(struct tao_config *cf, const struct tao_codec_set *set,
    char *err, size_t errlen)
{
	const char *file = cf->cf_file[0] ? cf->cf_file : "config";
	char names[256];

	for (int i = 0; i < cf->cf_nlistens; i++) {
		struct tao_listen_conf *lc = &cf->cf_listens[i];
		if (lc->lc_codec_name[0] == '\0')
			continue;
		if ((lc->lc_codec = tao__codec_find(set, lc->lc_codec_name)) !=
		    NULL)
			continue;
		tao__codec_names(set, names, sizeof(names));
		snprintf(err, errlen, "%s:%d: listen: unknown codec '%s' "
		    "(want %s, tls or proxy)", file, lc->lc_line,
		    lc->lc_codec_name, names);
		return -1;
	}
	return 0;
}

int
tao__config_worker_count(const struct tao_config *cf)
{
	long n;

	if (cf->cf_workers > 0)
		return cf->cf_workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > TAO_MAX_WORKERS)
		n = TAO_MAX_WORKERS;
	return (int)n;
}

size_t
tao__config_ring_bytes(const struct tao_config *cf)
{
	size_t p = 4096;

	while (p < cf->cf_ring_size && p < ((size_t)1 << 30))
		p <<= 1;
	return p;
}
