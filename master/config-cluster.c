/*
 * config-cluster.c - the cluster directives of taod.conf(5):
 *
 *	cluster redis://HOST:PORT[/DB] | off
 *	cluster_password SECRET
 *	cluster_channel PREFIX		default "tao"
 *	cluster_queue_max N		default 10000
 *	node_id N			0..1023; default derived
 *
 * Without node_id a cluster node takes 1 + (FNV-1a of "HOSTNAME:PORT",
 * the first listen port) mod 1023; without cluster the node id is 0.
 * The bridge that uses them is cluster/bridge.c; what a reload may
 * change is checked in master/cluster.c (the node id is in every netid
 * and cannot change while taod runs).
 */
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/config.h"
#include "shm/segment-t.h"

#define QUEUE_MAX_LIMIT		1000000
#define DB_LIMIT		65535

static int
bad(char *err, size_t errlen, const char *file, int lineno, const char *fmt,
    const char *arg)
{
	char msg[TAO_CONFIG_ERRLEN / 2];

	snprintf(msg, sizeof(msg), fmt, arg);
	snprintf(err, errlen, "%s:%d: %s", file, lineno, msg);
	return -1;
}

static int
number(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno != 0 || *end != '\0' || *out > max ? -1 : 0;
}

/* HOST:PORT[/DB] after "redis://"; HOST may be [v6]. */
static const char *
parse_url(struct tao_cluster_conf *cc, const char *url)
{
	const char *p = url + 8, *colon;
	char rest[32], *slash;
	unsigned long v;
	size_t hlen;

	if (strncmp(url, "redis://", 8) != 0)
		return "cluster: expected redis://HOST:PORT[/DB] or off";
	if (*p == '[') {
		if ((colon = strchr(p, ']')) == NULL || colon[1] != ':')
			return "cluster: bad [IPv6] address";
		p++;
		hlen = (size_t)(colon - p);
		colon++;
	} else {
		if ((colon = strrchr(p, ':')) == NULL)
			return "cluster: missing :PORT";
		hlen = (size_t)(colon - p);
	}
	if (hlen == 0 || hlen >= sizeof(cc->cc_host))
		return "cluster: bad host";
	memcpy(cc->cc_host, p, hlen);
	cc->cc_host[hlen] = '\0';
	for (size_t i = 0; i < hlen; i++)
		if (!isalnum((unsigned char)p[i]) && strchr(".-_:", p[i]) ==
		    NULL)
			return "cluster: bad character in host";
	if (strlcpy(rest, colon + 1, sizeof(rest)) >= sizeof(rest))
		return "cluster: bad port";
	if ((slash = strchr(rest, '/')) != NULL)
		*slash++ = '\0';
	if (number(rest, 65535, &v) == -1 || v == 0)
		return "cluster: bad port (1-65535)";
	cc->cc_port = (int)v;
	cc->cc_db = 0;
	if (slash != NULL) {
		if (number(slash, DB_LIMIT, &v) == -1)
			return "cluster: bad database number";
		cc->cc_db = (int)v;
	}
	return NULL;
}

static const char *
set_cluster(struct tao_cluster_conf *cc, const char *arg)
{
	const char *why;

	if (strcmp(arg, "off") == 0) {
		cc->cc_url[0] = cc->cc_host[0] = '\0';
		return NULL;
	}
	if (strlcpy(cc->cc_url, arg, sizeof(cc->cc_url)) >=
	    sizeof(cc->cc_url))
		return "cluster: URL too long";
	if ((why = parse_url(cc, arg)) != NULL)
		cc->cc_url[0] = cc->cc_host[0] = '\0';
	return why;
}

static const char *
set_channel(struct tao_cluster_conf *cc, const char *arg)
{
	if (arg[0] == '\0' || strlen(arg) >= sizeof(cc->cc_channel))
		return "cluster_channel: 1 to 47 characters";
	for (const char *p = arg; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("-_.:{}", *p) == NULL)
			return "cluster_channel: letters, digits and -_.:{} "
			    "only";
	strlcpy(cc->cc_channel, arg, sizeof(cc->cc_channel));
	return NULL;
}

static const char *
set_one(struct tao_cluster_conf *cc, const char *name, const char *arg)
{
	unsigned long v;

	if (strcmp(name, "cluster") == 0)
		return set_cluster(cc, arg);
	if (strcmp(name, "cluster_channel") == 0)
		return set_channel(cc, arg);
	if (strcmp(name, "cluster_password") == 0) {
		if (strlcpy(cc->cc_password, arg, sizeof(cc->cc_password)) >=
		    sizeof(cc->cc_password))
			return "cluster_password: too long";
		return NULL;
	}
	if (strcmp(name, "cluster_queue_max") == 0) {
		if (number(arg, QUEUE_MAX_LIMIT, &v) == -1 || v == 0)
			return "cluster_queue_max: a number from 1 to 1000000";
		cc->cc_queue_max = (uint32_t)v;
		return NULL;
	}
	if (number(arg, TAO_SHM_MAX_NODE, &v) == -1)
		return "node_id: a number from 0 to 1023";
	cc->cc_node_id = (unsigned)v;
	cc->cc_node_set = 1;
	return NULL;
}

int
tao__config_line_more(struct tao_config *cf, const char *file, int lineno,
    char **argv, int argc, char *err, size_t errlen)
{
	static const char *const names[] = { "cluster", "cluster_password",
	    "cluster_channel", "cluster_queue_max", "node_id" };
	const char *why;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(argv[0], names[i]) != 0)
			continue;
		if (argc != 2)
			return bad(err, errlen, file, lineno,
			    "%s takes 1 argument", names[i]);
		cf->cf_lineno = lineno;
		if ((why = set_one(&cf->cf_cluster, names[i], argv[1])) !=
		    NULL)
			return bad(err, errlen, file, lineno, "%s", why);
		return 0;
	}
	return bad(err, errlen, file, lineno, "unknown directive '%s'",
	    argv[0]);
}

void
tao__config_cluster_defaults(struct tao_config *cf)
{
	struct tao_cluster_conf *cc = &cf->cf_cluster;

	memset(cc, 0, sizeof(*cc));
	strlcpy(cc->cc_channel, "tao", sizeof(cc->cc_channel));
	cc->cc_queue_max = 10000;
}

static unsigned
derive_node_id(const struct tao_config *cf)
{
	char host[256], key[300];
	const struct sockaddr_storage *ss = &cf->cf_listens[0].lc_addr;
	unsigned port = 0;
	uint32_t h = 2166136261u;

	if (gethostname(host, sizeof(host)) == -1)
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	if (cf->cf_nlistens > 0 && ss->ss_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
	else if (cf->cf_nlistens > 0 && ss->ss_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	snprintf(key, sizeof(key), "%s:%u", host, port);
	for (const char *p = key; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return 1 + h % TAO_SHM_MAX_NODE;
}

int
tao__config_cluster_finish(struct tao_config *cf, char *err, size_t errlen)
{
	struct tao_cluster_conf *cc = &cf->cf_cluster;

	(void)err;
	(void)errlen;
	if (!cc->cc_node_set)
		cc->cc_node_id = cc->cc_url[0] ? derive_node_id(cf) : 0;
	return 0;
}
